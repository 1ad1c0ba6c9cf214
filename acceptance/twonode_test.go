//go:build acceptance && linux

package acceptance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// compute1, the aio's second node (aio/up.sh's phase compute1): a compute
// node in its own network namespace, with its own libvirtd (socket under
// its state directory), its own linuxbridge agent configuration (under
// /etc/netns, which `ip netns exec` mounts over /etc for its daemons) and
// its eth2 on the provider switch, a bridge in namespace vifpath-aio-sw.
const (
	compute1       = "compute1" // its Nova and Neutron host name, and its availability zone
	compute1NS     = "/run/netns/vifpath-aio-compute1"
	compute1Socket = "/var/lib/vifpath-aio/compute1/run/libvirt/libvirt-sock-ro"
	compute1Agent  = "/etc/netns/vifpath-aio-compute1/neutron/plugins/ml2/linuxbridge_agent.ini"
	switchNS       = "vifpath-aio-sw"
	compute1Port   = "c1-eth2" // compute1's port on the provider switch
)

// computeKinds are the hops the compute node judges in a joined trace,
// networkKinds the network node's.
var (
	computeKinds = []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindCounters}
	networkKinds = []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP}
)

// twoNode is what TestAcceptanceTwoNode traces with: the server on
// compute1 and each node's trace configuration.
type twoNode struct {
	c          *launch.Client
	p          pass
	controller string // the controller's host name (Nova's and Neutron's)
	network    *trace.Config
	compute    *trace.Config
}

// TestAcceptanceTwoNode boots the walkthrough's server on compute1 (zone
// compute1) and traces it as two nodes would: the compute half inside
// compute1's namespace against compute1's libvirtd, the network half on
// the controller, joined with trace.Join into one path whose provider-link
// hop must be OK. Then two faults between the nodes, each undone in
// t.Cleanup even when a check fails: compute1's port on the provider
// switch set down (the wire cut: named at the provider link), compute1's
// eth2 released from its brq (named on compute1: its physical-port or
// bridge hop, or the link). After each, the joined path is healthy again.
func TestAcceptanceTwoNode(t *testing.T) {
	start := time.Now()
	c := cloud(t)
	if _, err := os.Stat(compute1NS); err != nil {
		testutil.SkipOrFail(t, "the aio cloud has no compute1 (%v): bring it up with a current `sudo aio/up.sh`", err)
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	ctrl, err := os.Hostname()
	if err != nil {
		t.Fatal(err)
	}

	// Both compute hosts in the preflight: each one's nova-compute and
	// linuxbridge agent up, placement with both resource providers.
	pf, err := c.Preflight(ctx, nil)
	if err != nil {
		t.Fatalf("preflight: %v", err)
	}
	t.Logf("preflight:\n%s", pf)
	for _, h := range []string{ctrl, compute1} {
		if !pf.ComputeUp[h] || !pf.LinuxBridgeUp[h] {
			t.Errorf("preflight: host %s: nova-compute up %t, linuxbridge agent up %t; want both (compute %v, linuxbridge %v)",
				h, pf.ComputeUp[h], pf.LinuxBridgeUp[h], pf.ComputeUp, pf.LinuxBridgeUp)
		}
		var svc, agent bool
		for _, s := range pf.Services {
			svc = svc || s.Binary == launch.BinaryNovaCompute && s.Host == h && s.Up()
		}
		for _, a := range pf.Agents {
			agent = agent || a.Type == launch.AgentLinuxBridge && a.Host == h && a.Up()
		}
		if !svc || !agent {
			t.Errorf("preflight lists for %s: nova-compute up %t, linuxbridge agent alive %t; want both", h, svc, agent)
		}
	}
	if !pf.Ready || len(pf.ComputeUp) != 2 {
		t.Errorf("preflight: ready %t, compute hosts %v; want ready with %s and %s", pf.Ready, pf.ComputeUp, ctrl, compute1)
	}
	if pl := pf.Placement; pl != nil {
		t.Logf("placement: %+v", *pl)
	}

	p := walkthroughIn(ctx, t, c, 1, compute1)
	if p.server.Host != compute1 {
		t.Fatalf("server %s is on host %q; want %s (zone %s)", p.server.ID, p.server.Host, compute1, compute1)
	}
	port := p.server.Ports[0]
	netID := p.network.ID
	if port.HostID != compute1 {
		t.Errorf("port %s is bound to %q; want %s", port.ID, port.HostID, compute1)
	}

	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{Socket: compute1Socket, ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect on compute1's socket: %v", err)
	}
	defer lv.Close()

	// The guest on compute1 leases its address from the controller's
	// dnsmasq, across the provider switch: the lease renewed in the qdhcp
	// namespace, and the guest's own line in its console log.
	waitRenewed(ctx, t, "a renewed lease for "+port.MAC.String()+" from compute1", netID, hwaddr.MAC(port.MAC))
	ip := port.FixedIPs[0].Address.String()
	waitFor(ctx, t, "the guest's DHCP line on its console", func() (bool, string) {
		l, err := lv.ConsoleLog(ctx, p.server.InstanceName, 0)
		if err != nil {
			return false, err.Error()
		}
		for _, line := range strings.Split(string(l.Data), "\n") {
			if strings.Contains(line, "vifpath-guest: DHCP") && strings.Contains(line, "ip="+ip+" ") {
				t.Logf("console %s: %s", l.Path, strings.TrimSpace(line))
				return true, ""
			}
		}
		return false, fmt.Sprintf("%d bytes of %s, no DHCP line for %s", len(l.Data), l.Path, ip)
	})

	tn := &twoNode{c: c, p: p, controller: ctrl,
		network: &trace.Config{Role: trace.RoleNetwork},
		compute: &trace.Config{Role: trace.RoleCompute, NodeName: compute1, BridgeNetNSPath: compute1NS, AgentConfig: compute1Agent, Libvirt: lv},
	}
	brq := linuxbridge.NetworkBridgeName(netID)
	tap := linuxbridge.PortTapName(port.ID)

	tr := tn.healthy(ctx, t, "two nodes healthy")
	if tr.Tap != tap || tr.Domain != p.server.InstanceName || tr.IP.String() != ip {
		t.Errorf("joined trace: tap %s domain %s IP %s; want %s %s %s", tr.Tap, tr.Domain, tr.IP, tap, p.server.InstanceName, ip)
	}
	if h, _ := tr.Hop(trace.KindPhysicalPort, ""); h.Name != providerNIC {
		t.Errorf("compute1's physical-port hop names %q; want %s", h.Name, providerNIC)
	}
	if h, _ := tr.Hop(trace.KindBridge, ""); h.Name != brq {
		t.Errorf("compute1's bridge hop names %q; want %s", h.Name, brq)
	}

	// Fault 1: the provider wire cut (compute1's switch port down).
	t.Run("provider-wire-cut", func(t *testing.T) {
		t.Cleanup(func() { ipIn(t, switchNS, "link", "set", compute1Port, "up") })
		ipIn(t, switchNS, "link", "set", compute1Port, "down")
		tr := tn.join(ctx, t, "provider wire cut")
		h := wantLinkFault(t, tr, trace.KindProviderLink, "")
		if !strings.Contains(h.Summary, "provider wire down") {
			t.Errorf("provider-link summary %q; want it to say the provider wire is down", h.Summary)
		}
		if pp, _ := tr.Hop(trace.KindPhysicalPort, ""); pp.Verdict == trace.Fail {
			t.Errorf("compute1's physical-port hop fails (%s); want the link to explain it", pp.Summary)
		}
	})
	tn.healthyAgain(ctx, t, "after the switch port is up")

	// Fault 2: compute1's eth2 released from its brq.
	t.Run("compute1-eth2-released", func(t *testing.T) {
		t.Cleanup(func() {
			if m := masterIn(t, compute1NS, providerNIC); m != brq {
				ipIn(t, "vifpath-aio-compute1", "link", "set", providerNIC, "master", brq)
			}
			if m := masterIn(t, compute1NS, providerNIC); m != brq {
				t.Errorf("compute1's %s is on %q after re-enslaving; want %s", providerNIC, m, brq)
			}
		})
		var tr *trace.Trace
		// Twice at most: compute1's linuxbridge agent may put eth2 back
		// on the bridge between the release and the trace.
		for attempt := 1; attempt <= 2; attempt++ {
			ipIn(t, "vifpath-aio-compute1", "link", "set", providerNIC, "nomaster")
			tr = tn.join(ctx, t, "compute1 eth2 released")
			if m := masterIn(t, compute1NS, providerNIC); m == "" {
				break
			}
			t.Logf("attempt %d: compute1's %s was back on %s before the trace ended", attempt, providerNIC, brq)
		}
		h, ok := firstFail(tr)
		node, _ := h.Get("node")
		switch {
		case !ok:
			t.Errorf("no failing hop with compute1's eth2 off its bridge")
		case h.Kind == trace.KindProviderLink:
		case (h.Kind == trace.KindPhysicalPort || h.Kind == trace.KindBridge) && node == compute1:
		default:
			t.Errorf("first failing hop %s %s on %q (%s); want compute1's physical-port or bridge hop, or the provider link", h.Kind, h.Name, node, h.Summary)
		}
		if ok {
			wantLinkFault(t, tr, h.Kind, h.Name)
		}
	})
	tn.healthyAgain(ctx, t, "after compute1's eth2 is back on its bridge")
	t.Logf("two-node acceptance in %s", time.Since(start).Round(time.Second))
}

// join traces the server on each node with its role, the network node
// first (its ARP probes teach compute1's bridge the DHCP port's MAC), and
// joins the halves. It returns the one joined trace (the server has one
// port) and logs it.
func (tn *twoNode) join(ctx context.Context, t *testing.T, label string) *trace.Trace {
	t.Helper()
	nt, tr := tn.tryJoin(ctx, t, label)
	if nt == nil {
		t.FailNow()
	}
	var b strings.Builder
	tr.WriteText(&b)
	t.Logf("%s: joined %s, verdict %s:\n%s", label, nt.Node, nt.Verdict, b.String())
	return tr
}

// tryJoin is join without failing the test on an error (logged, nil).
func (tn *twoNode) tryJoin(ctx context.Context, t *testing.T, label string) (*trace.NodeTrace, *trace.Trace) {
	t.Helper()
	req := trace.Request{Mode: trace.ModeServer, Server: tn.p.server.ID}
	nobs, err := trace.Observe(ctx, tn.network, req, tn.c)
	if err != nil {
		t.Errorf("%s: the controller's half: %v", label, err)
		return nil, nil
	}
	cobs, err := trace.Observe(ctx, tn.compute, req, tn.c)
	if err != nil {
		t.Errorf("%s: compute1's half: %v", label, err)
		return nil, nil
	}
	recordObservation(t, nobs, label+" network")
	recordObservation(t, cobs, label+" compute")
	nt, err := trace.Join(cobs, nobs)
	if err != nil {
		t.Errorf("%s: join: %v", label, err)
		return nil, nil
	}
	if len(nt.Traces) != 1 {
		t.Errorf("%s: join: %d traces; want one (the server has one port)", label, len(nt.Traces))
		return nil, nil
	}
	return nt, nt.Traces[0]
}

// healthy requires the joined path OK: every hop of either node OK and
// judged on its node, the provider link OK with the unicast probe
// answered across it, and the joined verdict OK.
func (tn *twoNode) healthy(ctx context.Context, t *testing.T, label string) *trace.Trace {
	t.Helper()
	tr := tn.join(ctx, t, label)
	for _, side := range []struct {
		node  string
		kinds []trace.Kind
	}{{compute1, computeKinds}, {tn.controller, networkKinds}} {
		for _, k := range side.kinds {
			h, ok := tr.Hop(k, "")
			node, _ := h.Get("node")
			if !ok || h.Verdict != trace.OK || node != side.node {
				t.Errorf("%s: %s hop %s on %q is %s: %s; want ok on %s", label, k, h.Name, node, h.Verdict, h.Summary, side.node)
			}
		}
	}
	link, ok := tr.Hop(trace.KindProviderLink, "")
	if !ok || link.Verdict != trace.OK {
		t.Errorf("%s: provider link %v %s: %s; want ok", label, ok, link.Verdict, link.Summary)
	}
	if v, _ := link.Get("arp_unicast"); !strings.Contains(v, "answered") {
		t.Errorf("%s: provider link's unicast ARP probe %q; want answered", label, v)
	}
	if tr.Verdict != trace.OK {
		t.Errorf("%s: joined verdict %s; want ok; failing %+v", label, tr.Verdict, tr.Failing())
	}
	return tr
}

// healthyAgain waits (bounded) for a joined OK path after a fault was
// undone (the bridges relearn the MACs, the guest answers again), then
// requires it (healthy).
func (tn *twoNode) healthyAgain(ctx context.Context, t *testing.T, label string) {
	t.Helper()
	deadline := time.Now().Add(90 * time.Second)
	for time.Now().Before(deadline) {
		if _, tr := tn.tryJoin(ctx, t, label); tr != nil && tr.Verdict == trace.OK {
			break
		} else if tr != nil {
			var s []string
			for _, h := range tr.Failing() {
				s = append(s, fmt.Sprintf("%s %s %s: %s", h.Verdict, h.Kind, h.Name, h.Summary))
			}
			t.Logf("%s: not yet healthy: %s", label, strings.Join(s, "; "))
		}
		time.Sleep(2 * time.Second)
	}
	tn.healthy(ctx, t, label)
}

// firstFail is the first failing hop of tr in path order.
func firstFail(tr *trace.Trace) (trace.Hop, bool) {
	for _, h := range tr.Hops {
		if h.Verdict == trace.Fail {
			return h, true
		}
	}
	return trace.Hop{}, false
}

// wantLinkFault requires the hop of kind (and name, if set) to be the first
// failing one, with a cause and a next step, and the joined verdict
// failed. Hops before it may warn only when the fault explains them
// (evidence explained_by), as Join demotes the node hops a link fault
// shows through.
func wantLinkFault(t *testing.T, tr *trace.Trace, kind trace.Kind, name string) trace.Hop {
	t.Helper()
	h, ok := tr.Hop(kind, name)
	if !ok {
		t.Fatalf("no %s hop %q", kind, name)
	}
	if h.Verdict != trace.Fail || h.Cause == "" || h.Next == "" {
		t.Errorf("%s hop %s: %s (%s), cause %q, next %q; want fail with a cause and a next step", kind, h.Name, h.Verdict, h.Summary, h.Cause, h.Next)
	}
	if f, _ := firstFail(tr); f.Kind != kind || (name != "" && f.Name != name) {
		t.Errorf("first failing hop %s %s (%s); want %s", f.Kind, f.Name, f.Summary, kind)
	}
	for _, o := range tr.Hops {
		if o.Kind == kind && (name == "" || o.Name == name) {
			break
		}
		if _, explained := o.Get("explained_by"); o.Verdict == trace.Warn && !explained {
			t.Errorf("%s hop %s warns (%s) before the faulty %s hop, unexplained", o.Kind, o.Name, o.Summary, kind)
		}
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("joined verdict %s; want fail", tr.Verdict)
	}
	node, _ := h.Get("node")
	t.Logf("diagnosed: %s %s %s (node %q): %s; cause: %s; next: %s", h.Verdict, h.Kind, h.Name, node, h.Summary, h.Cause, h.Next)
	return h
}

// ipIn runs `ip -n NS ARGS` to inject or undo a fault.
func ipIn(t *testing.T, ns string, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"-n", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("ip -n %s %s: %v: %s", ns, strings.Join(args, " "), err, out)
	}
}
