//go:build !linux

package demo

import (
	"context"
	"fmt"
	"net"
	"runtime"

	"github.com/vifpath/vifpath/trace"
)

// TwoNode is the walkthrough's two nodes (Linux only).
type TwoNode struct {
	*Path
	ControllerNS, SwitchNS, ControllerAgentConfig, Switch string
	SwitchPorts                                           map[string]string
	DHCPMAC                                               net.HardwareAddr
}

// BuildTwoNode fails: network namespaces exist only on Linux.
func BuildTwoNode(ctx context.Context, cfg *PathConfig) (*TwoNode, error) {
	return nil, fmt.Errorf("demo: not implemented on %s: network namespaces are Linux-only", runtime.GOOS)
}

// Break fails: see BuildTwoNode.
func (tn *TwoNode) Break(b Breakage) error {
	return fmt.Errorf("demo: not implemented on %s", runtime.GOOS)
}

// Join fails: see BuildTwoNode.
func (tn *TwoNode) Join(ctx context.Context) (*trace.NodeTrace, error) {
	return nil, fmt.Errorf("demo: not implemented on %s", runtime.GOOS)
}

// StartCloud fails: see BuildTwoNode.
func (tn *TwoNode) StartCloud(ctx context.Context) (*Cloud, error) {
	return nil, fmt.Errorf("demo: not implemented on %s", runtime.GOOS)
}
