//go:build !linux

package demo

import (
	"context"
	"fmt"
	"runtime"
)

// pathState is empty: a Path is built only on Linux.
type pathState struct{}

// errNotLinux is what every builder returns off Linux.
var errNotLinux = fmt.Errorf("demo: not implemented on %s: network namespaces exist only on Linux", runtime.GOOS)

// BuildPath fails: network namespaces exist only on Linux.
func BuildPath(ctx context.Context, cfg *PathConfig) (*Path, error) { return nil, errNotLinux }

// Break fails: not implemented on this GOOS.
func (p *Path) Break(b Breakage) error { return errNotLinux }

// Close does nothing.
func (p *Path) Close() error { return nil }

// Leftovers returns nil.
func (p *Path) Leftovers() []string { return nil }

// Residue returns nil.
func Residue(dir string, keep bool) []string { return nil }

// ReclaimStale does nothing: demos run only on Linux.
func ReclaimStale(tmp string) ([]string, error) { return nil, nil }
