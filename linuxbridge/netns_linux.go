package linuxbridge

import (
	"errors"
	"fmt"
	"io/fs"

	"github.com/vifpath/vifpath/internal/netns"
	"golang.org/x/sys/unix"
)

// The inspected namespace is opened and entered through the module's one
// namespace helper, internal/netns: it checks the path is a network
// namespace, and opens the sockets with the thread inside it on a fresh
// goroutine locked to its OS thread, moved back after (the thread ends if
// that fails). The sockets stay bound to the namespace they were created
// in, so nothing else runs inside it.

// openNetNS opens the namespace at path and says what to do when it
// cannot.
func openNetNS(path string) (*netns.Handle, error) {
	h, err := netns.Open(path)
	switch {
	case errors.Is(err, ErrNoNetNS):
		return nil, fmt.Errorf("linuxbridge: %w: check `ip netns list` or the path", err)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: %v: run as root", ErrPermission, err)
	case errors.Is(err, netns.ErrNotNetNS):
		return nil, fmt.Errorf("linuxbridge: %w", err)
	case err != nil:
		return nil, fmt.Errorf("linuxbridge: open network namespace: %w", err)
	}
	return h, nil
}

// netNSError says what to do when the sockets could not be opened in the
// namespace at path.
func netNSError(path string, err error) error {
	var ne *netns.Error
	if errors.As(err, &ne) && ne.Op == "setns" && errors.Is(err, unix.EPERM) {
		return fmt.Errorf("%w: setns into %s: grant CAP_SYS_ADMIN (entering another network namespace needs it) or run as root", ErrPermission, path)
	}
	return permission(fmt.Errorf("linuxbridge: open netlink sockets in %s: %w", path, err), "open a netlink socket in "+path)
}
