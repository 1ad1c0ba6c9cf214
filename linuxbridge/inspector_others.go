//go:build !linux

package linuxbridge

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vifpath/vifpath/hwaddr"
)

var errNotLinux = fmt.Errorf("linuxbridge: not implemented on %s: Linux bridges exist only on Linux", runtime.GOOS)

// Inspector reads bridges of a network namespace. On this platform every
// method fails: Linux bridges exist only on Linux.
type Inspector struct{}

// Open fails: not implemented on this GOOS.
func Open(ctx context.Context, cfg *Config) (*Inspector, error) { return nil, errNotLinux }

// OpenNamespace fails: not implemented on this GOOS.
func OpenNamespace(ctx context.Context, cfg *Config, name string) (*Inspector, error) {
	return nil, errNotLinux
}

// Close does nothing.
func (in *Inspector) Close() error { return nil }

// Snapshot fails: not implemented on this GOOS.
func (in *Inspector) Snapshot(ctx context.Context) (*Snapshot, error) { return nil, errNotLinux }

// Bridges fails: not implemented on this GOOS.
func (in *Inspector) Bridges(ctx context.Context) ([]Bridge, error) { return nil, errNotLinux }

// Bridge fails: not implemented on this GOOS.
func (in *Inspector) Bridge(ctx context.Context, name string) (*Bridge, error) {
	return nil, errNotLinux
}

// BridgeForNetwork fails: not implemented on this GOOS.
func (in *Inspector) BridgeForNetwork(ctx context.Context, networkID string) (*Bridge, error) {
	return nil, errNotLinux
}

// FDB fails: not implemented on this GOOS.
func (in *Inspector) FDB(ctx context.Context) ([]FDBEntry, error) { return nil, errNotLinux }

// WhereIs fails: not implemented on this GOOS.
func (in *Inspector) WhereIs(ctx context.Context, mac hwaddr.MAC) ([]FDBEntry, error) {
	return nil, errNotLinux
}

// Link returns one interface; it is implemented on Linux only.
func (in *Inspector) Link(ctx context.Context, name string) (*Link, error) { return nil, errNotLinux }
