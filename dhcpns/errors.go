package dhcpns

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"

	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/internal/sentinel"
)

var (
	// ErrNotFound is returned when a network, dnsmasq, process or file
	// does not exist. It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotFound = sentinel.New("dhcpns: not found", fs.ErrNotExist)
	// ErrNoNetNS is returned when a namespace does not exist, or a live
	// Namespace's namespace was deleted (or replaced by another with the
	// same name) after Open. It is the same value as linuxbridge.ErrNoNetNS
	// and satisfies errors.Is(err, fs.ErrNotExist).
	ErrNoNetNS = netns.ErrNoNetNS
	// ErrNamespaceGone is ErrNoNetNS.
	//
	// Deprecated: use ErrNoNetNS, the name linuxbridge uses too.
	ErrNamespaceGone = ErrNoNetNS
	// ErrClosed is returned by methods of a closed Namespace or Prober. It
	// satisfies errors.Is(err, fs.ErrClosed).
	ErrClosed = sentinel.New("dhcpns: use of closed handle", fs.ErrClosed)
	// ErrNoReply is returned by probes that got no answer before the
	// deadline.
	ErrNoReply = sentinel.New("dhcpns: no reply", nil)
	// ErrNotImplemented is returned on operating systems other than Linux.
	ErrNotImplemented = sentinel.New("dhcpns: not implemented on "+runtime.GOOS, errors.ErrUnsupported)
)

// IsNotFound reports whether err means something asked for does not exist.
func IsNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// NamespaceError is the error of one namespace in InspectAll.
type NamespaceError struct {
	// Namespace is the namespace's name.
	Namespace string
	// Op is what was being done ("open", "inspect links", …).
	Op string
	// Err is the underlying error.
	Err error
}

// Error implements error.
func (e *NamespaceError) Error() string {
	return fmt.Sprintf("dhcpns: %s namespace %s: %v", e.Op, e.Namespace, e.Err)
}

// Unwrap returns the underlying error.
func (e *NamespaceError) Unwrap() error { return e.Err }
