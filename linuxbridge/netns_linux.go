package linuxbridge

import (
	"errors"
	"fmt"
	"io/fs"
	"os"

	"golang.org/x/sys/unix"
)

// The inspected namespace is entered by mdlayher/netlink (Config.NetNS,
// through mdlayher/socket): on a fresh goroutine locked to its OS thread it
// saves the thread's namespace, calls setns(2), opens the socket and moves
// the thread back, unlocking it only if that worked (the thread ends
// otherwise). That is the rule internal/netns follows for the rest of the
// module; here the sockets themselves are bound to the namespace, so no fn
// runs inside it.

// openNetNS opens the namespace file at path, for Config.NetNS, and says
// what to do when it cannot.
func openNetNS(path string) (*os.File, error) {
	f, err := os.Open(path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		return nil, fmt.Errorf("linuxbridge: open network namespace %s: %w: check `ip netns list` or the path", path, ErrNoNetNS)
	case errors.Is(err, fs.ErrPermission):
		return nil, fmt.Errorf("%w: open network namespace %s: %v: run as root", ErrPermission, path, err)
	case err != nil:
		return nil, fmt.Errorf("linuxbridge: open network namespace %s: %w", path, err)
	}
	if f.Fd() != 0 {
		return f, nil
	}
	// Config.NetNS 0 means "no namespace": move the file off fd 0 (free when
	// the process runs with stdin closed).
	defer f.Close()
	fd, err := unix.FcntlInt(0, unix.F_DUPFD_CLOEXEC, 1)
	if err != nil {
		return nil, fmt.Errorf("linuxbridge: open network namespace %s: dup: %w", path, err)
	}
	return os.NewFile(uintptr(fd), path), nil
}

// netNSError says what to do when the sockets could not be opened in the
// namespace at path.
func netNSError(path string, err error) error {
	var se *os.SyscallError
	setns := errors.As(err, &se) && se.Syscall == "setns"
	switch {
	case setns && errors.Is(err, unix.EPERM):
		return fmt.Errorf("%w: setns into %s: grant CAP_SYS_ADMIN (entering another network namespace needs it) or run as root", ErrPermission, path)
	case setns && errors.Is(err, unix.EINVAL):
		return fmt.Errorf("linuxbridge: %s is not a network namespace (setns: %v): pass a file from /run/netns or /proc/<pid>/ns/net", path, se.Err)
	}
	return permission(fmt.Errorf("linuxbridge: open netlink sockets in %s: %w", path, err), "open a netlink socket in "+path)
}
