package netns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// Do runs fn on a fresh goroutine whose OS thread is inside the network
// namespace at path (/run/netns/<name>, /proc/<pid>/ns/net) and returns
// fn's error, joined with the helper's own. See the package doc for the
// thread rules; fn must be short and synchronous.
func Do(path string, fn func() error) error {
	return inside(path, func() error {
		f, err := os.Open(path)
		if err != nil {
			return &Error{Op: "open", Path: path, Err: err}
		}
		defer f.Close()
		return setns(f, path)
	}, fn)
}

// DoFile is Do for a namespace file the caller holds open (it keeps a
// deleted namespace alive, so fn runs in the same namespace the caller
// checked). name is for messages.
func DoFile(f *os.File, name string, fn func() error) error {
	return inside(name, func() error { return setns(f, name) }, fn)
}

// NewFile creates an anonymous network namespace and returns a file that
// refers to it. The namespace lives while the file, or anything created in
// it, is open. The calling thread is not moved.
func NewFile() (*os.File, error) {
	var f *os.File
	err := inside("", unshare, func() error {
		var err error
		f, err = os.Open("/proc/thread-self/ns/net")
		if err != nil {
			return &Error{Op: "open new namespace", Err: err}
		}
		return nil
	})
	if err != nil {
		if f != nil {
			f.Close()
		}
		return nil, err
	}
	return f, nil
}

// Add creates a network namespace bind-mounted at path, as `ip netns add`
// does; path must not exist and its directory must. Remove it with
// unix.Unmount(path, unix.MNT_DETACH) and os.Remove(path).
func Add(path string) error {
	f, err := os.OpenFile(path, os.O_RDONLY|os.O_CREATE|os.O_EXCL, 0o444)
	if err != nil {
		return &Error{Op: "create mount point", Path: path, Err: err}
	}
	f.Close()
	err = inside(path, unshare, func() error {
		if err := unix.Mount(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()), path, "none", unix.MS_BIND, ""); err != nil {
			return &Error{Op: "bind mount", Path: path, Err: err}
		}
		return nil
	})
	if err != nil {
		os.Remove(path)
		return err
	}
	return nil
}

func unshare() error {
	if err := unix.Unshare(unix.CLONE_NEWNET); err != nil {
		return &Error{Op: "unshare", Err: err}
	}
	return nil
}

func setns(f *os.File, name string) error {
	if err := unix.Setns(int(f.Fd()), unix.CLONE_NEWNET); err != nil {
		return &Error{Op: "setns", Path: name, Err: err}
	}
	return nil
}

// inside is the one implementation: lock a fresh goroutine's thread, save
// its namespace, enter (setns or unshare), run fn, move back, and unlock
// only if moving back worked.
func inside(name string, enter, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- &Error{Op: "open own namespace", Err: err}
			return
		}
		defer orig.Close()
		if err := enter(); err != nil {
			// setns and unshare either move the thread or fail without
			// moving it: the thread is still in orig.
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime ends this thread when the goroutine
			// returns, so no other goroutine runs inside name.
			errc <- errors.Join(ferr, &Error{Op: "restore", Path: name, Err: err})
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
