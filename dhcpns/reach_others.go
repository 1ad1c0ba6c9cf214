//go:build !linux

package dhcpns

import (
	"context"
	"net/netip"
)

// ProbeReach is not implemented on this OS.
func ProbeReach(ctx context.Context, cfg *Config, namespace string, targets []netip.Addr, opts *ReachOptions) ([]ReachResult, error) {
	return nil, ErrNotImplemented
}
