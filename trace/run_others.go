//go:build !linux

package trace

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vifpath/vifpath/launch"
)

// Run traces one VM NIC; it is implemented on Linux only.
func Run(ctx context.Context, cfg *Config, target Target) (*Trace, error) {
	return nil, fmt.Errorf("trace: Run is not implemented on %s", runtime.GOOS)
}

// Server traces a Nova server's ports; it is implemented on Linux only.
func Server(ctx context.Context, cfg *Config, api *launch.Client, serverID string) (*ServerTrace, error) {
	return nil, fmt.Errorf("trace: Server is not implemented on %s", runtime.GOOS)
}

// Node traces every VM NIC on this node; it is implemented on Linux only.
func Node(ctx context.Context, cfg *Config) (*NodeTrace, error) {
	return nil, fmt.Errorf("trace: Node is not implemented on %s", runtime.GOOS)
}

// NodeServers traces every server bound to this node; it is implemented
// on Linux only.
func NodeServers(ctx context.Context, cfg *Config, api *launch.Client) (*NodeTrace, error) {
	return nil, fmt.Errorf("trace: NodeServers is not implemented on %s", runtime.GOOS)
}

// Observe gathers a node's facts; it is implemented on Linux only.
func Observe(ctx context.Context, cfg *Config, req Request, api *launch.Client) (*Observation, error) {
	return nil, fmt.Errorf("trace: Observe is not implemented on %s", runtime.GOOS)
}
