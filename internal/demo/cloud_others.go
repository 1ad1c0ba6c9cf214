//go:build !linux

package demo

import (
	"context"
	"fmt"
	"runtime"
)

// Cloud is the Path's fake cloud (Linux only).
type Cloud struct {
	CloudName, CloudsFile              string
	AuthURL                            string
	ServerID, ServerName, InstanceName string
	NodeName                           string
	SubnetID                           string
}

// StartCloud fails: not implemented on this GOOS.
func (p *Path) StartCloud(ctx context.Context) (*Cloud, error) {
	return nil, fmt.Errorf("demo: not implemented on %s: network namespaces exist only on Linux", runtime.GOOS)
}

// Close does nothing.
func (c *Cloud) Close() error { return nil }
