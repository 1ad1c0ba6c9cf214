package libvirtinspect

import (
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"strings"
	"syscall"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/vifpath/vifpath/internal/sentinel"
)

var (
	// ErrNotFound is returned when the asked-for domain does not exist (or
	// was undefined between two calls). It satisfies
	// errors.Is(err, fs.ErrNotExist).
	ErrNotFound = sentinel.New("libvirtinspect: domain not found", fs.ErrNotExist)

	// ErrUnavailable is returned when libvirtd cannot be reached: the
	// socket is missing, refuses the connection, or the dial timed out.
	ErrUnavailable = sentinel.New("libvirtinspect: libvirtd unavailable", nil)

	// ErrConnectionLost is returned when an established connection to
	// libvirtd broke (the daemon stopped, was killed, or the Client tore a
	// hung connection down). The next call dials again.
	ErrConnectionLost = sentinel.New("libvirtinspect: connection to libvirtd lost", nil)

	// ErrClosed is returned by calls made after Close. It satisfies
	// errors.Is(err, fs.ErrClosed).
	ErrClosed = sentinel.New("libvirtinspect: client closed", fs.ErrClosed)
)

// OpError describes a failed call: which operation, against which URI and
// domain, and the cause. Err wraps one of the sentinels above when one
// applies, together with the underlying libvirt or network error.
type OpError struct {
	// Op is the operation, such as "list domains" or "domain stats".
	Op string
	// URI is the libvirt URI the client is connected to.
	URI string
	// Domain is the domain reference the caller passed, "" for
	// connection-wide calls.
	Domain string
	// Err is the cause.
	Err error
}

// Error says what failed, where, why, and what to check.
func (e *OpError) Error() string {
	s := "libvirtinspect: " + e.Op
	if e.Domain != "" {
		s += " " + fmt.Sprintf("%q", e.Domain)
	}
	if e.URI != "" {
		s += " on " + e.URI
	}
	s += ": " + strings.TrimPrefix(e.Err.Error(), "libvirtinspect: ")
	switch {
	case errors.Is(e.Err, ErrNotFound):
		s += " (check the name or UUID with `virsh list --all --uuid`; a Nova instance UUID is the domain UUID, on the compute node that hosts it)"
	case errors.Is(e.Err, ErrSSHHostKey):
		// The message already says what to check and how to fix it.
	case errors.As(e.Err, new(*sshError)):
		s += " (check that sshd runs on that host and port and accepts the user and key in the URI, and that libvirtd listens on the remote ?socket=)"
	case errors.Is(e.Err, ErrUnavailable):
		s += " (is libvirtd running? start it with `libvirtd -d`, check the socket path and its permissions)"
	case errors.Is(e.Err, ErrConnectionLost):
		s += " (libvirtd went away or hung; the next call reconnects)"
	}
	return s
}

// Unwrap returns the cause.
func (e *OpError) Unwrap() error { return e.Err }

// IsNotFound reports whether err says a domain does not exist.
func IsNotFound(err error) bool { return errors.Is(err, ErrNotFound) }

// IsConnectionLost reports whether err says the connection to libvirtd broke
// during the call (or libvirtd could not be reached at all).
func IsConnectionLost(err error) bool {
	return errors.Is(err, ErrConnectionLost) || errors.Is(err, ErrUnavailable)
}

// isBrokenConn reports whether an error from a go-libvirt RPC means the
// connection is gone.
func isBrokenConn(err error) bool {
	var ne net.Error
	return errors.Is(err, libvirt.ErrInterrupted) ||
		errors.Is(err, syscall.EINVAL) ||
		errors.Is(err, syscall.EPIPE) ||
		errors.Is(err, syscall.ECONNRESET) ||
		errors.Is(err, io.EOF) ||
		errors.Is(err, net.ErrClosed) ||
		errors.As(err, &ne)
}

// classify maps a libvirt error onto our sentinels.
func classify(err error) error {
	switch {
	case err == nil:
		return nil
	case libvirt.IsNotFound(err):
		return fmt.Errorf("%w: %w", ErrNotFound, err)
	case isBrokenConn(err):
		return fmt.Errorf("%w: %w", ErrConnectionLost, err)
	}
	return err
}
