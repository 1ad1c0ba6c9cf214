package netns

import (
	"errors"
	"io/fs"

	"github.com/vifpath/vifpath/internal/sentinel"
)

// ErrNoNetNS means a network namespace does not exist, or no longer does
// (deleted, or replaced by another under the same name, while a handle was
// live). It satisfies errors.Is(err, fs.ErrNotExist). linuxbridge and
// dhcpns export it under the same name.
var ErrNoNetNS = sentinel.New("network namespace not found", fs.ErrNotExist)

// ErrNotNetNS means a file that was to be entered as a network namespace
// is not one (a regular file, or another kind of namespace): pass
// /run/netns/<name> or /proc/<pid>/ns/net.
var ErrNotNetNS = sentinel.New("not a network namespace file (want /run/netns/<name> or /proc/<pid>/ns/net)", nil)

// Error is a failed step of entering, leaving or creating a namespace.
type Error struct {
	// Op is the step: "open", "check" (Handle.Check), "setns", "unshare",
	// "bind mount", "restore" or "open own namespace".
	Op string
	// Path is the namespace's file, "" for an anonymous new namespace.
	Path string
	// Err is the cause (an *fs.PathError or a unix.Errno).
	Err error
}

// Error implements error.
func (e *Error) Error() string {
	s := "netns: " + e.Op
	if e.Path != "" {
		s += " " + e.Path
	}
	// An *fs.PathError repeats the path: keep its cause only.
	err := e.Err
	var pe *fs.PathError
	if errors.As(err, &pe) && pe.Path == e.Path {
		err = pe.Err
	}
	if e.Is(ErrNoNetNS) {
		return s + ": " + ErrNoNetNS.Error() + " (" + err.Error() + ")"
	}
	return s + ": " + err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes a missing namespace file match ErrNoNetNS.
func (e *Error) Is(target error) bool {
	return target == ErrNoNetNS && e.Op == "open" && errors.Is(e.Err, fs.ErrNotExist)
}
