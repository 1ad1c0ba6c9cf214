package linuxbridge

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/vifpath/vifpath/internal/netns"
	"golang.org/x/sys/unix"
)

// inNetNS runs fn inside the network namespace at path through the
// module's one namespace helper (internal/netns: a fresh locked goroutine,
// the thread moved back or ended), and says what to do when it cannot.
func inNetNS(path string, fn func() error) error {
	err := netns.Do(path, fn)
	var ne *netns.Error
	if !errors.As(err, &ne) {
		return err // fn's own error, or nil
	}
	switch {
	case ne.Op == "restore":
		return fmt.Errorf("linuxbridge: %w", err)
	case errors.Is(err, ErrNoNetNS):
		return fmt.Errorf("linuxbridge: open network namespace %s: %w: check `ip netns list` or the Config's NetNSDir", path, ErrNoNetNS)
	case ne.Op == "open" && errors.Is(err, fs.ErrPermission):
		return fmt.Errorf("%w: open network namespace %s: %v: run as root", ErrPermission, path, ne.Err)
	case ne.Op == "setns" && errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: setns into %s: grant CAP_SYS_ADMIN (entering another network namespace needs it) or run as root", ErrPermission, path)
	case ne.Op == "setns" && errors.Is(err, unix.EINVAL):
		return fmt.Errorf("linuxbridge: %s is not a network namespace (setns: %v): pass a file from /run/netns or /proc/<pid>/ns/net", path, ne.Err)
	}
	return fmt.Errorf("linuxbridge: %w", err)
}
