//go:build !linux

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"runtime"
)

// Config tunes Build.
type Config struct {
	// Dir is where the namespaces would be mounted.
	Dir string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
}

// Port is one Neutron port of the demo network.
type Port struct {
	ID      string           `json:"id"`
	Device  string           `json:"device"`
	MAC     net.HardwareAddr `json:"mac"`
	Role    string           `json:"role"`
	Running bool             `json:"running"`
}

// Topology is a built demo.
type Topology struct {
	Dir, Host, HostPath, Gateway, DHCP string
	NetworkID, Bridge, Uplink          string
	GatewayMAC                         net.HardwareAddr
	Ports                              []Port
}

// Build fails: network namespaces exist only on Linux.
func Build(ctx context.Context, cfg *Config) (*Topology, error) {
	return nil, fmt.Errorf("demo: not implemented on %s: network namespaces exist only on Linux", runtime.GOOS)
}

// Close does nothing.
func (t *Topology) Close() error { return nil }
