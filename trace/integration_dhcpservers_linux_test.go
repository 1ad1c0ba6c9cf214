package trace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationProbeDHCPServers traces the demo VM with
// Config.ProbeDHCPServers: with Neutron's dnsmasq alone the dnsmasq hop
// is OK and says no other server offered; with a real dnsmasq with a
// dynamic pool in another namespace on the demo's bridge (a rogue) it
// warns, naming the rogue's address, MAC and offer, while the VM's path
// still works (nothing fails). The probe's endpoint is gone before the
// bridges' second snapshot, and from the node after the trace.
func TestIntegrationProbeDHCPServers(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, host := buildDemoPath(ctx, t)
	cfg := &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		CounterInterval: 300 * time.Millisecond, ARPTimeout: 500 * time.Millisecond, NoFirewall: true, NoReach: true,
		ProbeDHCPServers: true, DHCPServersTimeout: 4 * time.Second,
	}
	trace1 := func(stage string) (*trace.Observation, *trace.Trace, trace.Hop) {
		t.Helper()
		obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNIC, Target: &trace.Target{Tap: p.Tap}}, nil)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		tr, err := trace.JudgeTrace(obs)
		if err != nil {
			t.Fatalf("%s: %v", stage, err)
		}
		h, _ := tr.Hop(trace.KindDnsmasq, "")
		for _, b := range obs.Bridges.After.Bridges {
			for _, port := range b.Ports {
				if strings.HasPrefix(port.Name, "dhp-") {
					t.Errorf("%s: the probe's endpoint %s is in the bridges' second snapshot", stage, port.Name)
				}
			}
		}
		if out := string(host.Run(t, "ip", "-o", "link")); strings.Contains(out, "dhp-") {
			t.Errorf("%s: the probe's endpoint is left on the node:\n%s", stage, out)
		}
		if !obs.Settings.ProbeDHCPServers || obs.DHCP.Networks[0].DHCPServers == nil {
			t.Fatalf("%s: the observation records no DHCP servers probe: %+v", stage, obs.DHCP.Networks[0].DHCPServers)
		}
		return obs, tr, h
	}

	_, tr, h := trace1("Neutron's dnsmasq alone")
	if ev, _ := h.Get("dhcp_servers"); tr.Verdict != trace.OK || h.Verdict != trace.OK || !strings.Contains(ev, "no other DHCP server") {
		t.Errorf("Neutron's dnsmasq alone: trace %s, dnsmasq %s %q (%q); want ok, no other server\n%s", tr.Verdict, h.Verdict, h.Summary, ev, tr)
	}

	rogue := testutil.NewNetNSAt(t, t.TempDir(), testutil.RandNameN("rogue-", 16))
	hostEnd := testutil.RandName("rgh")
	host.Veth(t, hostEnd, rogue, "rg0")
	host.Enslave(t, hostEnd, p.Bridge)
	host.SetUp(t, hostEnd)
	rogue.SetUp(t, "rg0")
	rogue.AddAddr(t, "rg0", "192.168.31.87/27")
	log := rogue.StartDynamicDnsmasq(t, "rg0", "192.168.31.88,192.168.31.92,255.255.255.224,1h")
	rogueMAC := rogue.Link(t, "rg0").Attrs().HardwareAddr.String()
	obs, tr, h := trace1("a rogue on the bridge")
	if h.Verdict != trace.Warn || !strings.Contains(h.Summary, "another DHCP server answers on the network: 192.168.31.87 ("+rogueMAC+") offered 192.168.31.") ||
		!strings.Contains(h.Next, rogueMAC) {
		t.Errorf("rogue: dnsmasq %s %q (next %q); want a warning naming 192.168.31.87 (%s)\noffers %+v\nrogue's log:\n%s", h.Verdict, h.Summary, h.Next, rogueMAC, obs.DHCP.Networks[0].DHCPServers, log())
	}
	if tr.Verdict != trace.Warn || firstFailing(tr) != nil {
		t.Errorf("rogue: trace %s, failing %+v; want warn, nothing failing (the VM's path works)\n%s", tr.Verdict, firstFailing(tr), tr)
	}
}
