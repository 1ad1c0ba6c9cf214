//go:build !linux

package firewall

import (
	"context"
	"fmt"
	"runtime"
)

// Read is implemented on Linux only.
func Read(ctx context.Context, cfg *Config) (*Snapshot, error) {
	return nil, fmt.Errorf("firewall: read: not implemented on %s: run on the Linux compute node", runtime.GOOS)
}
