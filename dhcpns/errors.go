package dhcpns

import (
	"errors"
	"fmt"
	"io/fs"
	"runtime"
)

var (
	// ErrNotFound is returned when a namespace, network, dnsmasq or file
	// does not exist. It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotFound = fmt.Errorf("dhcpns: not found: %w", fs.ErrNotExist)
	// ErrNamespaceGone is returned by a live Namespace whose namespace was
	// deleted (or replaced by another with the same name) after Open. It
	// satisfies errors.Is(err, fs.ErrNotExist).
	ErrNamespaceGone = fmt.Errorf("dhcpns: namespace deleted under a live handle: %w", fs.ErrNotExist)
	// ErrClosed is returned by methods of a closed Namespace or Prober.
	ErrClosed = errors.New("dhcpns: use of closed handle")
	// ErrNoReply is returned by probes that got no answer before the
	// deadline.
	ErrNoReply = errors.New("dhcpns: no reply")
	// ErrNotImplemented is returned on operating systems other than Linux.
	ErrNotImplemented = fmt.Errorf("dhcpns: not implemented on %s", runtime.GOOS)
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
