//go:build !linux

package demo

import (
	"context"
)

// StartCloud fails: not implemented on this GOOS.
func (p *Path) StartCloud(ctx context.Context) (*Cloud, error) {
	return nil, errNotLinux
}

// Close does nothing.
func (c *Cloud) Close() error { return nil }
