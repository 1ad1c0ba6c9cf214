package netns

import (
	"errors"
	"fmt"
	"os"

	"golang.org/x/sys/unix"
)

// Open opens the network namespace file at path (/run/netns/<name>,
// /proc/<pid>/ns/net) and checks that it is one. A missing file is an
// *Error satisfying errors.Is(err, ErrNoNetNS) and errors.Is(err,
// fs.ErrNotExist); a file that is not a network namespace one satisfying
// errors.Is(err, ErrNotNetNS); no read access errors.Is(err,
// fs.ErrPermission). Close the Handle when done.
func Open(path string) (*Handle, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	var st unix.Stat_t
	if err := unix.Fstat(int(f.Fd()), &st); err != nil {
		f.Close()
		return nil, &Error{Op: "open", Path: path, Err: err}
	}
	// NS_GET_NSTYPE answers only on nsfs files (ENOTTY elsewhere): the
	// file is a namespace, and of which kind.
	typ, err := unix.IoctlRetInt(int(f.Fd()), unix.NS_GET_NSTYPE)
	if err != nil || typ != unix.CLONE_NEWNET {
		f.Close()
		return nil, &Error{Op: "open", Path: path, Err: ErrNotNetNS}
	}
	return &Handle{f: f, path: path, dev: uint64(st.Dev), ino: st.Ino}, nil
}

// Do runs fn with its thread inside the namespace, as DoFile does. It
// enters the namespace the Handle holds open, even if the path names
// another one by now.
func (h *Handle) Do(fn func() error) error {
	if h.f == nil {
		return &Error{Op: "setns", Path: h.path, Err: os.ErrClosed}
	}
	return DoFile(h.f, h.path, fn)
}

// Check returns nil if the path still names the namespace the Handle was
// opened on. Otherwise (deleted, or another namespace under the same name)
// it returns an *Error satisfying errors.Is(err, ErrNoNetNS) that names the
// path and both inodes. It stats the path only, so it also works after
// Close.
func (h *Handle) Check() error {
	var st unix.Stat_t
	err := unix.Stat(h.path, &st)
	switch {
	case errors.Is(err, unix.ENOENT):
		return &Error{Op: "check", Path: h.path, Err: fmt.Errorf("%w: it was inode %d when opened and is gone", ErrNoNetNS, h.ino)}
	case err != nil:
		return &Error{Op: "check", Path: h.path, Err: err}
	case uint64(st.Dev) != h.dev || st.Ino != h.ino:
		return &Error{Op: "check", Path: h.path, Err: fmt.Errorf("%w: it was inode %d when opened and is inode %d now, another namespace", ErrNoNetNS, h.ino, st.Ino)}
	}
	return nil
}

// Same reports whether the namespace files a and b are the same namespace
// (same device and inode); false if either cannot be read.
func Same(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}
