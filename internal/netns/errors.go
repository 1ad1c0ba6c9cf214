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

// Error is a failed step of entering, leaving or creating a namespace.
type Error struct {
	// Op is the step: "open", "setns", "unshare", "bind mount", "restore"
	// or "open own namespace".
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
	return s + ": " + e.Err.Error()
}

// Unwrap returns the cause.
func (e *Error) Unwrap() error { return e.Err }

// Is makes a missing namespace file match ErrNoNetNS.
func (e *Error) Is(target error) bool {
	return target == ErrNoNetNS && e.Op == "open" && errors.Is(e.Err, fs.ErrNotExist)
}
