package linuxbridge

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetNS runs fn on a fresh goroutine locked to its OS thread, with that
// thread moved into the network namespace at path. It is the package's
// only way into a namespace. The thread goes back to its own namespace
// after fn and is returned to the runtime only if that worked; otherwise
// the goroutine exits still locked and the runtime ends the thread. fn
// must be short and synchronous: goroutines it starts do not run in the
// namespace.
func inNetNS(path string, fn func() error) error {
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("linuxbridge: open own network namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			if errors.Is(err, os.ErrNotExist) {
				errc <- fmt.Errorf("%w: %s does not exist: check `ip netns list` or the Config's NetNSDir", ErrNoNetNS, path)
				return
			}
			if errors.Is(err, os.ErrPermission) {
				errc <- fmt.Errorf("%w: open network namespace %s: %v: run as root", ErrPermission, path, err)
				return
			}
			errc <- fmt.Errorf("linuxbridge: open network namespace %s: %w", path, err)
			return
		}
		err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
		target.Close()
		if err != nil {
			runtime.UnlockOSThread()
			switch {
			case errors.Is(err, unix.EPERM):
				errc <- fmt.Errorf("%w: setns into %s: grant CAP_SYS_ADMIN (entering another network namespace needs it) or run as root", ErrPermission, path)
			case errors.Is(err, unix.EINVAL):
				errc <- fmt.Errorf("linuxbridge: %s is not a network namespace (setns: %v): pass a file from /run/netns or /proc/<pid>/ns/net", path, err)
			default:
				errc <- fmt.Errorf("linuxbridge: setns into %s: %w", path, err)
			}
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime ends this thread when we return.
			errc <- errors.Join(ferr, fmt.Errorf("linuxbridge: restore thread's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
