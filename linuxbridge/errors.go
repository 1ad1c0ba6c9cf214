package linuxbridge

import (
	"errors"
	"io/fs"
)

// Sentinel errors. Test for them with errors.Is; the errors the package
// returns wrap them with what was asked and what to do.
var (
	// ErrNotFound means the bridge, network or MAC asked for does not exist
	// in the namespace. It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotFound error = &sentinel{"linuxbridge: not found", fs.ErrNotExist}
	// ErrNotBridge means the named device exists but is not a bridge.
	ErrNotBridge error = &sentinel{"linuxbridge: not a bridge", nil}
	// ErrNoNetNS means the network namespace to inspect does not exist
	// (or was deleted). It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNoNetNS error = &sentinel{"linuxbridge: network namespace not found", fs.ErrNotExist}
	// ErrPermission means the process lacks a capability; the wrapping
	// error names it. It satisfies errors.Is(err, fs.ErrPermission).
	ErrPermission error = &sentinel{"linuxbridge: permission denied", fs.ErrPermission}
	// ErrClosed means the Inspector was closed.
	ErrClosed error = &sentinel{"linuxbridge: inspector closed", fs.ErrClosed}
)

type sentinel struct {
	msg string
	is  error
}

func (e *sentinel) Error() string { return e.msg }

func (e *sentinel) Is(target error) bool { return e.is != nil && target == e.is }

// IsNotFound reports whether err means a bridge, network, MAC or namespace
// was not found.
func IsNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// IsPermission reports whether err is a missing capability.
func IsPermission(err error) bool { return errors.Is(err, ErrPermission) }
