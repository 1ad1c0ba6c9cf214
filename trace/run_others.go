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
