package dhcpns

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// doInNetNS is the one place this package enters a namespace. It opens
// path, then on a fresh goroutine locks the OS thread, saves its namespace,
// setns into path, runs fn, setns back, and unlocks only if the restore
// worked; otherwise the goroutine exits locked and the runtime ends the
// thread. fn must be short and synchronous; goroutines it starts do not run
// in the namespace. The caller's thread never moves.
func doInNetNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	return doInNetNSFd(int(target.Fd()), path, fn)
}

func doInNetNSFd(fd int, name string, fn func() error) error {
	return inNetNS(fd, name, fn)
}

// newNetNS creates an anonymous network namespace and returns an fd for
// it; the namespace lives while the fd (or anything created inside it)
// is open. It goes through the same helper as doInNetNS.
func newNetNS() (*os.File, error) {
	var f *os.File
	err := inNetNS(-1, "a new namespace", func() error {
		var err error
		f, err = os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		return err
	})
	return f, err
}

// inNetNS runs fn on a fresh locked goroutine inside the namespace fd, or,
// with fd -1, inside a new namespace made with unshare(CLONE_NEWNET).
func inNetNS(fd int, name string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("dhcpns: open own namespace: %w", err)
			return
		}
		defer orig.Close()
		if fd < 0 {
			err = unix.Unshare(unix.CLONE_NEWNET)
		} else {
			err = unix.Setns(fd, unix.CLONE_NEWNET)
		}
		if err != nil {
			// unshare/setns failed: the thread did not move.
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("dhcpns: enter %s: %w (needs CAP_SYS_ADMIN)", name, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime ends this thread when we return.
			errc <- errors.Join(ferr, fmt.Errorf("dhcpns: restore namespace after %s: %w", name, err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
