package demo

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"

	"github.com/vifpath/vifpath/trace"
)

// TraceConfigs returns the configs each node traces its half with: the
// controller's (trace.RoleNetwork, its bridges in ControllerNS, the qdhcp
// namespace and state directory) and compute1's (trace.RoleCompute, its
// bridges in Path.HostPath; with the libvirt guest, the client of the
// demo's libvirtd once Observe has opened it). Both use short probe
// timeouts. The two nodes have no Neutron firewall (BuildPath's one-node
// demo installs one), so compute1's half is traced with
// trace.Config.NoFirewall.
func (tn *TwoNode) TraceConfigs() (network, compute *trace.Config) {
	p := tn.Path
	network = &trace.Config{Role: trace.RoleNetwork, NodeName: ControllerName, BridgeNetNSPath: tn.ControllerNS,
		NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: tn.ControllerAgentConfig,
		ARPTimeout: 500 * time.Millisecond, Logger: p.log}
	compute = &trace.Config{Role: trace.RoleCompute, NodeName: ComputeName, BridgeNetNSPath: p.HostPath,
		NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		CounterInterval: 300 * time.Millisecond, NoFirewall: true, Logger: p.log, Libvirt: tn.lv}
	return network, compute
}

// libvirt opens the read-only client of the demo's libvirtd on compute1
// (the libvirt guest's), once; Close closes it.
func (tn *TwoNode) libvirt(ctx context.Context) error {
	if tn.lv != nil || tn.LibvirtSocketRO == "" {
		return nil
	}
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: tn.LibvirtSocketRO, ReadOnly: true, Logger: tn.log})
	if err != nil {
		return fmt.Errorf("demo: compute1's libvirtd: %w", err)
	}
	tn.lv = lv
	return nil
}

// Close closes the libvirt client Observe opened and removes both nodes
// (Path.Close). It is idempotent.
func (tn *TwoNode) Close() error {
	var err error
	if tn.lv != nil {
		err = tn.lv.Close()
		tn.lv = nil
	}
	return errors.Join(err, tn.Path.Close())
}

// StartCloud starts the two nodes' fake cloud: Path.StartCloud's (the
// server cirros1, its port, the DHCP port, provider1 and its subnet) as
// two hosts (fakecloud.Config.ControllerHost): compute1 runs
// nova-compute and a Linux bridge agent, is the only hypervisor and
// holds the server (its port bound there); the controller runs
// nova-conductor, nova-scheduler, the DHCP and metadata agents (the DHCP
// port bound there) and its own Linux bridge agent, so launch.Preflight
// lists both nodes. Once it is started, Observe and Join trace the
// server through it on each node, as vmtrace -cloud … -server cirros1
// does: the traces start at the server and port hops. Close stops it.
func (tn *TwoNode) StartCloud(ctx context.Context) (*Cloud, error) {
	c, err := tn.Path.startCloud(ctx, ControllerName)
	if err != nil {
		return nil, err
	}
	tn.api, err = launch.Open(ctx, &launch.Config{Cloud: c.CloudName, CloudsFile: c.CloudsFile, Logger: tn.log})
	if err != nil {
		return nil, fmt.Errorf("demo: open the two nodes' fake cloud: %w", err)
	}
	return c, nil
}

// Observe records both halves of the VM's path as vmtrace -record does on
// each node: the controller's, then compute1's (the network node first:
// its ARP probes are what teach compute1's bridge the DHCP port's MAC).
// With the cloud started (StartCloud) each node traces the server
// (-cloud … -server cirros1, mode server); without, the controller
// traces the port's MAC and compute1 its tap. trace.Join joins them.
func (tn *TwoNode) Observe(ctx context.Context) (network, compute *trace.Observation, err error) {
	if err := tn.libvirt(ctx); err != nil {
		return nil, nil, err
	}
	nc, cc := tn.TraceConfigs()
	netReq := trace.Request{Mode: trace.ModeNIC, Target: &trace.Target{MAC: hwaddr.MAC(tn.MAC)}}
	compReq := trace.Request{Mode: trace.ModeNIC, Target: &trace.Target{Tap: tn.Tap}}
	if tn.api != nil && tn.cloud != nil {
		netReq = trace.Request{Mode: trace.ModeServer, Server: tn.cloud.ServerName}
		compReq = netReq
	}
	network, err = trace.Observe(ctx, nc, netReq, tn.api)
	if err != nil {
		return nil, nil, fmt.Errorf("demo: trace the controller's half: %w", err)
	}
	compute, err = trace.Observe(ctx, cc, compReq, tn.api)
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
