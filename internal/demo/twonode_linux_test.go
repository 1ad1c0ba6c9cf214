package demo

import (
	"context"
	"encoding/json"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// buildTwoNode builds the two-node demo for a test and removes it after,
// checking nothing is left.
func buildTwoNode(t *testing.T) *TwoNode {
	t.Helper()
	requirePath(t)
	tn, err := BuildTwoNode(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		dir := tn.Dir
		if err := tn.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if left := tn.Leftovers(); len(left) > 0 {
			t.Errorf("left behind: %v", left)
		}
		if left := Residue(dir, false); len(left) > 0 {
			t.Errorf("residue: %v", left)
		}
	})
	return tn
}

// joinTwoNode observes both halves and joins them; with VIFPATH_RECORD_JOIN
// set to a directory it also records the halves there as NAME.network.json
// and NAME.compute.json (how trace/testdata/join was made).
func joinTwoNode(t *testing.T, tn *TwoNode, name string) *trace.Trace {
	t.Helper()
	nobs, cobs, err := tn.Observe(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	if dir := os.Getenv("VIFPATH_RECORD_JOIN"); dir != "" {
		for what, o := range map[string]*trace.Observation{"network": nobs, "compute": cobs} {
			if err := o.WriteFile(filepath.Join(dir, name+"."+what+".json")); err != nil {
				t.Fatal(err)
			}
		}
	}
	nt, err := trace.Join(cobs, nobs)
	if err != nil {
		t.Fatal(err)
	}
	if len(nt.Traces) != 1 {
		t.Fatalf("Join: %d traces, want 1: %+v", len(nt.Traces), nt)
	}
	tr := nt.Traces[0]
	if t.Failed() || testing.Verbose() {
		var b strings.Builder
		tr.WriteText(&b)
		t.Logf("%s: joined trace:\n%s", name, b.String())
	}
	// The joined trace round-trips through JSON.
	b, err := json.Marshal(nt)
	if err != nil {
		t.Fatal(err)
	}
	var back trace.NodeTrace
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	return tr
}

// firstFail is the first hop that fails, and the hop itself.
func firstFail(tr *trace.Trace) (trace.Hop, bool) {
	for _, h := range tr.Hops {
		if h.Verdict == trace.Fail {
			return h, true
		}
	}
	return trace.Hop{}, false
}

// TestIntegrationTwoNodeHealthy: the two-node demo's halves, each traced
// with its role, join into one OK path whose provider link saw frames
// cross both ways, with every node hop judged on its node.
func TestIntegrationTwoNodeHealthy(t *testing.T) {
	tn := buildTwoNode(t)
	tr := joinTwoNode(t, tn, "healthy")
	if tr.Verdict != trace.OK {
		var b strings.Builder
		tr.WriteText(&b)
		t.Fatalf("verdict %s, want ok:\n%s", tr.Verdict, b.String())
	}
	link, ok := tr.Hop(trace.KindProviderLink, "")
	if !ok || link.Verdict != trace.OK {
		t.Fatalf("provider link %+v", link)
	}
	want := map[trace.Kind]string{trace.KindTap: ComputeName, trace.KindFDB: ComputeName, trace.KindDnsmasq: ControllerName, trace.KindARP: ControllerName, trace.KindLease: ControllerName}
	for k, node := range want {
		h, ok := tr.Hop(k, "")
		if got, _ := h.Get("node"); !ok || got != node || h.Verdict != trace.OK {
			t.Errorf("%s hop: node %q verdict %s, want %s ok", k, got, h.Verdict, node)
		}
	}
	if v, _ := link.Get("arp_unicast"); !strings.Contains(v, "answered") {
		t.Errorf("unicast probe: %q", v)
	}
}

// TestIntegrationTwoNodeBreaks: each fault of the link is diagnosed at the
// provider-link hop (the node hops it explains demoted to warn); each
// fault of one node at that node's hop, the link still judged ok.
func TestIntegrationTwoNodeBreaks(t *testing.T) {
	for _, c := range []struct {
		b        Breakage
		at       trace.Kind
		node     string
		summary  string
		link     trace.Verdict
		explains []trace.Kind
	}{
		{BreakProviderWire, trace.KindProviderLink, "", "provider wire down: compute1's eth2", trace.Fail, []trace.Kind{trace.KindPhysicalPort, trace.KindARP}},
		{BreakUnknownUnicast, trace.KindProviderLink, "", "unicast to the VM's MAC is dropped", trace.Fail, nil},
		{BreakWrongMapping, trace.KindProviderLink, "", "compute1's eth2 is wired and unused", trace.Fail, []trace.Kind{trace.KindARP}},
		{BreakTapDown, trace.KindTap, ComputeName, "administratively down", trace.OK, nil},
		{BreakDnsmasq, trace.KindDnsmasq, ControllerName, "", trace.OK, nil},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			tn := buildTwoNode(t)
			if err := tn.Break(c.b); err != nil {
				t.Fatal(err)
			}
			tr := joinTwoNode(t, tn, string(c.b))
			if tr.Verdict != trace.Fail {
				t.Errorf("verdict %s, want fail", tr.Verdict)
			}
			h, ok := firstFail(tr)
			if !ok || h.Kind != c.at {
				t.Fatalf("first failing hop %s %q (%s), want %s", h.Kind, h.Name, h.Summary, c.at)
			}
			if node, _ := h.Get("node"); c.node != "" && node != c.node {
				t.Errorf("%s judged on %q, want %s", h.Kind, node, c.node)
			}
			if !strings.Contains(h.Summary, c.summary) {
				t.Errorf("summary %q, want it to say %q", h.Summary, c.summary)
			}
			if c.at == trace.KindProviderLink && (h.Cause == "" || h.Next == "") {
				t.Errorf("link fault without cause or next: %+v", h)
			}
			link, _ := tr.Hop(trace.KindProviderLink, "")
			if link.Verdict != c.link {
				t.Errorf("provider link %s (%s), want %s", link.Verdict, link.Summary, c.link)
			}
			for _, k := range c.explains {
				s, _ := tr.Hop(k, "")
				if _, ok := s.Get("explained_by"); !ok || s.Verdict != trace.Warn {
					t.Errorf("%s hop %s (%s) not explained by the link", k, s.Verdict, s.Summary)
				}
			}
		})
	}
}

// TestIntegrationTwoNodeServer: the two nodes' fake cloud knows both
// hosts (launch.Preflight: nova-compute and a Linux bridge agent up on
// compute1, the DHCP agent alive on the controller for provider1, the
// conductor and scheduler there, compute1 the only hypervisor); with it
// each node traces the server as vmtrace -role … -server cirros1 does
// (TwoNode.Join), the joined trace starting at the server and port hops;
// the halves join by the port's ID, the network's physical network
// choosing each node's mapping; a provider wire down is named at the link.
func TestIntegrationTwoNodeServer(t *testing.T) {
	tn := buildTwoNode(t)
	ctx := context.Background()
	cloud, err := tn.StartCloud(ctx)
	if err != nil {
		t.Fatal(err)
	}
	api, err := launch.Open(ctx, &launch.Config{Cloud: cloud.CloudName, CloudsFile: cloud.CloudsFile})
	if err != nil {
		t.Fatal(err)
	}
	rep, err := api.Preflight(ctx, &launch.PreflightOptions{Network: "provider1"})
	if err != nil {
		t.Fatal(err)
	}
	hosts := map[string][]string{}
	for _, s := range rep.Services {
		hosts[s.Host] = append(hosts[s.Host], s.Binary)
	}
	for _, a := range rep.Agents {
		hosts[a.Host] = append(hosts[a.Host], a.Binary)
	}
	for host, want := range map[string][]string{
		ComputeName:    {"nova-compute", "neutron-linuxbridge-agent"},
		ControllerName: {"nova-conductor", "nova-scheduler", "neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-metadata-agent"},
	} {
		for _, b := range want {
			if !slices.Contains(hosts[host], b) {
				t.Errorf("preflight: %s not on %s (services and agents by host: %v)", b, host, hosts)
			}
		}
	}
	if len(hosts) != 2 || !rep.ComputeUp[ComputeName] || !rep.LinuxBridgeUp[ComputeName] || !rep.DHCPAlive ||
		len(rep.DHCPAgents) != 1 || rep.DHCPAgents[0].Host != ControllerName || len(rep.Problems) != 0 {
		t.Errorf("preflight over the two nodes: hosts %v, compute up %v, linuxbridge up %v, DHCP alive %t agents %+v, problems %+v",
			hosts, rep.ComputeUp, rep.LinuxBridgeUp, rep.DHCPAlive, rep.DHCPAgents, rep.Problems)
	}
	if rep.Placement == nil || len(rep.Placement.Hypervisors) != 1 || rep.Placement.Hypervisors[0].Hostname != ComputeName {
		t.Errorf("preflight placement: %+v, want compute1 the only hypervisor", rep.Placement)
	}
	join := func() *trace.Trace {
		t.Helper()
		nt, err := tn.Join(ctx)
		if err != nil {
			t.Fatal(err)
		}
		if len(nt.Traces) != 1 || nt.Traces[0].PortID != tn.PortID || nt.Traces[0].ServerID != cloud.ServerID {
			t.Fatalf("joined %d traces, first %+v", len(nt.Traces), nt.Traces[0])
		}
		return nt.Traces[0]
	}
	tr := join()
	link, _ := tr.Hop(trace.KindProviderLink, "")
	if tr.Verdict != trace.OK || link.Verdict != trace.OK {
		var b strings.Builder
		tr.WriteText(&b)
		t.Fatalf("healthy: %s, link %s:\n%s", tr.Verdict, link.Verdict, b.String())
	}
	if len(tr.Hops) < 2 || tr.Hops[0].Kind != trace.KindServer || tr.Hops[1].Kind != trace.KindPort {
		t.Errorf("the joined trace starts at %+v, want the server and port hops", tr.Hops[:2])
	}
	for _, k := range []trace.Kind{trace.KindServer, trace.KindPort} {
		if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
			t.Errorf("%s hop %s %q", k, h.Verdict, h.Summary)
		} else if n, _ := h.Get("node"); n != ComputeName {
			t.Errorf("%s hop judged on %q, want %s", k, n, ComputeName)
		}
	}
	if err := tn.Break(BreakProviderWire); err != nil {
		t.Fatal(err)
	}
	tr = join()
	if h, ok := firstFail(tr); !ok || h.Kind != trace.KindProviderLink {
		t.Errorf("wire down: first failing hop %s %q, want the provider link", h.Kind, h.Summary)
	}
}
