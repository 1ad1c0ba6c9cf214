package firewall

import (
	"errors"
	"fmt"
	"os"
	"runtime"

	"golang.org/x/sys/unix"
)

// inNetNS runs fn on a fresh goroutine locked to its OS thread, moved
// into the network namespace at path (the caller's own when path is "").
// It is the package's only way into a namespace, written as dhcpns and
// linuxbridge write theirs: the thread goes back after fn and is returned
// to the runtime only if that worked; otherwise the goroutine exits locked
// and the runtime ends the thread. fn must be short and synchronous: it
// starts processes (which inherit the thread's namespace) and opens
// sockets (which stay bound to it); goroutines it starts do not run in
// the namespace. The caller's thread never moves.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		orig, err := os.Open("/proc/thread-self/ns/net")
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: open own network namespace: %w", err)
			return
		}
		defer orig.Close()
		target, err := os.Open(path)
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: open network namespace %s: %w: check `ip netns list` or Config.NetNS", path, err)
			return
		}
		err = unix.Setns(int(target.Fd()), unix.CLONE_NEWNET)
		target.Close()
		if err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("firewall: enter network namespace %s: %w: grant CAP_SYS_ADMIN or run as root", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(orig.Fd()), unix.CLONE_NEWNET); err != nil {
			// Stay locked: the runtime ends this thread when we return.
			errc <- errors.Join(ferr, fmt.Errorf("firewall: restore thread's network namespace: %w", err))
			return
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
