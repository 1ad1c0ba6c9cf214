//go:build !linux

package netns

import (
	"errors"
	"os"
	"runtime"
)

var errNotLinux = errors.New("netns: network namespaces exist only on Linux, not on " + runtime.GOOS)

// Do returns an error: network namespaces exist only on Linux.
func Do(path string, fn func() error) error { return &Error{Op: "open", Path: path, Err: errNotLinux} }

// DoFile returns an error: network namespaces exist only on Linux.
func DoFile(f *os.File, name string, fn func() error) error {
	return &Error{Op: "setns", Path: name, Err: errNotLinux}
}

// NewFile returns an error: network namespaces exist only on Linux.
func NewFile() (*os.File, error) { return nil, &Error{Op: "unshare", Err: errNotLinux} }

// Add returns an error: network namespaces exist only on Linux.
func Add(path string) error { return &Error{Op: "unshare", Path: path, Err: errNotLinux} }

// Open returns an error: network namespaces exist only on Linux.
func Open(path string) (*Handle, error) { return nil, &Error{Op: "open", Path: path, Err: errNotLinux} }

// Do returns an error: network namespaces exist only on Linux.
func (h *Handle) Do(fn func() error) error {
	return &Error{Op: "setns", Path: h.path, Err: errNotLinux}
}

// Check returns an error: network namespaces exist only on Linux.
func (h *Handle) Check() error { return &Error{Op: "check", Path: h.path, Err: errNotLinux} }

// Same reports false: network namespaces exist only on Linux.
func Same(a, b string) bool { return false }
