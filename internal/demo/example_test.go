package demo_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// Build the walkthrough's path, trace it, break dnsmasq, trace again.
// Needs root, dnsmasq and busybox (no Output: compile-only).
func ExampleBuildPath() {
	ctx := context.Background()
	p, err := demo.BuildPath(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer p.Close()
	cfg := &trace.Config{BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig}
	before, err := trace.Run(ctx, cfg, trace.Target{PortID: p.PortID})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	if err := p.Break(demo.BreakDnsmasq); err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	after, err := trace.Run(ctx, cfg, trace.Target{PortID: p.PortID})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(before.Verdict, "->", after.Verdict)
}
