package demo

import (
	"context"
	"fmt"
	"time"

	"github.com/vifpath/vifpath/hwaddr"

	"github.com/vifpath/vifpath/trace"
)

// TraceConfigs returns the configs each node traces its half with: the
// controller's (trace.RoleNetwork, its bridges in ControllerNS, the qdhcp
// namespace and state directory) and compute1's (trace.RoleCompute, its
// bridges in Path.HostPath). Both use short probe timeouts. The two nodes
// have no Neutron firewall (BuildPath's one-node demo installs one), so
// compute1's half is traced with trace.Config.NoFirewall.
func (tn *TwoNode) TraceConfigs() (network, compute *trace.Config) {
	p := tn.Path
	network = &trace.Config{Role: trace.RoleNetwork, NodeName: ControllerName, BridgeNetNSPath: tn.ControllerNS,
		NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: tn.ControllerAgentConfig,
		ARPTimeout: 500 * time.Millisecond, Logger: p.log}
	compute = &trace.Config{Role: trace.RoleCompute, NodeName: ComputeName, BridgeNetNSPath: p.HostPath,
		NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		CounterInterval: 300 * time.Millisecond, NoFirewall: true, Logger: p.log}
	return network, compute
}

// Observe records both halves of the VM's path as vmtrace -record does on
// each node, without an API: the controller's by the port's MAC, then
// compute1's by its tap (the network node first: its ARP probes are what
// teach compute1's bridge the DHCP port's MAC). trace.Join joins them.
func (tn *TwoNode) Observe(ctx context.Context) (network, compute *trace.Observation, err error) {
	nc, cc := tn.TraceConfigs()
	network, err = trace.Observe(ctx, nc, trace.Request{Mode: trace.ModeNIC, Target: &trace.Target{MAC: hwaddr.MAC(tn.MAC)}}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: trace the controller's half: %w", err)
	}
	compute, err = trace.Observe(ctx, cc, trace.Request{Mode: trace.ModeNIC, Target: &trace.Target{Tap: tn.Tap}}, nil)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: trace compute1's half: %w", err)
	}
	return network, compute, nil
}

// Join observes both halves (Observe) and joins them (trace.Join).
func (tn *TwoNode) Join(ctx context.Context) (*trace.NodeTrace, error) {
	network, compute, err := tn.Observe(ctx)
	if err != nil {
		return nil, err
	}
	return trace.Join(compute, network)
}
