//go:build !linux

package trace

import (
	"context"
	"fmt"
	"runtime"
)

// Run traces one VM NIC; it is implemented on Linux only.
func Run(ctx context.Context, cfg *Config, target Target) (*Trace, error) {
	return nil, fmt.Errorf("trace: Run is not implemented on %s", runtime.GOOS)
}
