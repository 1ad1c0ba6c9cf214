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
		if err := unix.Setns(fd, unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("dhcpns: setns %s: %w (needs CAP_SYS_ADMIN)", name, err)
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
