package linuxbridge

import (
	"errors"
	"io/fs"

	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/internal/sentinel"
)

// Sentinel errors. Test for them with errors.Is; the errors the package
// returns wrap them with what was asked and what to do.
var (
	// ErrNotFound means the bridge, network or MAC asked for does not exist
	// in the namespace. It satisfies errors.Is(err, fs.ErrNotExist).
	ErrNotFound = sentinel.New("linuxbridge: not found", fs.ErrNotExist)
	// ErrNotBridge means the named device exists but is not a bridge.
	ErrNotBridge = sentinel.New("linuxbridge: not a bridge", nil)
	// ErrNoNetNS means the network namespace to inspect does not exist, or
	// was deleted (or replaced under the same name) after Open. It is the
	// same value as dhcpns.ErrNoNetNS and satisfies errors.Is(err,
	// fs.ErrNotExist).
	ErrNoNetNS = netns.ErrNoNetNS
	// ErrPermission means the process lacks a capability; the wrapping
	// error names it. It satisfies errors.Is(err, fs.ErrPermission).
	ErrPermission = sentinel.New("linuxbridge: permission denied", fs.ErrPermission)
	// ErrClosed means the Inspector was closed. It satisfies
	// errors.Is(err, fs.ErrClosed).
	ErrClosed = sentinel.New("linuxbridge: inspector closed", fs.ErrClosed)
)

// IsNotFound reports whether err means a bridge, network, MAC or namespace
// was not found.
func IsNotFound(err error) bool { return errors.Is(err, fs.ErrNotExist) }

// IsPermission reports whether err is a missing capability.
func IsPermission(err error) bool { return errors.Is(err, ErrPermission) }
