//go:build !linux

package fwlayout

import (
	"context"
	"fmt"
	"runtime"

	"github.com/vifpath/vifpath/firewall"
)

// Install is implemented on Linux only.
func Install(ctx context.Context, netnsPath string, b firewall.Backend, ports []Port) error {
	return fmt.Errorf("fwlayout: install: not implemented on %s", runtime.GOOS)
}
