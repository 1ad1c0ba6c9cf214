//go:build !linux

package demo

import (
	"context"

	"github.com/vifpath/vifpath/trace"
)

// BuildTwoNode fails: network namespaces exist only on Linux.
func BuildTwoNode(ctx context.Context, cfg *PathConfig) (*TwoNode, error) {
	return nil, errNotLinux
}

// Break fails: see BuildTwoNode.
func (tn *TwoNode) Break(b Breakage) error {
	return errNotLinux
}

// Join fails: see BuildTwoNode.
func (tn *TwoNode) Join(ctx context.Context) (*trace.NodeTrace, error) {
	return nil, errNotLinux
}

// StartCloud fails: see BuildTwoNode.
func (tn *TwoNode) StartCloud(ctx context.Context) (*Cloud, error) {
	return nil, errNotLinux
}
