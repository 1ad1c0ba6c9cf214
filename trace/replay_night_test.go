package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/trace"
)

// TestReplayNightObservations judges faults no issue listed, injected on
// the project's real all-in-one cloud during an operator's night
// (aio-night-*.json, see testdata/observations/README.md): each names the
// hop where the fault is, with its cause, and none fails a hop the fault
// does not break.
func TestReplayNightObservations(t *testing.T) {
	for _, c := range []struct {
		file     string
		verdict  trace.Verdict
		kind     trace.Kind // the first failing hop ("" none)
		has      string     // in its summary (or, with kind "", the check hop's)
		check    trace.Kind // another hop to check ("" none)
		checkV   trace.Verdict
		checkHas string
	}{
		// The brq bridge set down: the kernel disables its ports; the fault
		// is the bridge, the tap and eth2 only warn.
		{"aio-night-brq-down.json", trace.Fail, trace.KindBridge, "is administratively down",
			trace.KindTap, trace.Warn, "disabled because its bridge brq72fe1043-74 is administratively down"},
		// The tap released from the bridge: the libvirt interface is on no
		// bridge, then the tap.
		{"aio-night-tap-nomaster.json", trace.Fail, trace.KindInterface, "is on no bridge",
			trace.KindTap, trace.Fail, "is not a port of any bridge"},
		// The tap's MTU lowered (the bridge followed it): the tap is named.
		{"aio-night-mtu-tap.json", trace.Fail, trace.KindMTU, "tap tap629b1315-2c (MTU 1400)", "", 0, ""},
		// Only the bridge device's MTU lowered: bridged frames still cross
		// at 1500 (a 1500-byte DF ping was answered), so no failure.
		{"aio-night-mtu-bridge.json", trace.OK, "", "", trace.KindMTU, trace.OK, "limits only the host's own traffic"},
		// The port's security groups removed, port security on.
		{"aio-night-no-sg.json", trace.Fail, trace.KindSecurityGroup, "the port has no security group",
			trace.KindReachability, trace.Fail, "dropped by neutron-linuxbri-sg-fallback#1"},
		// A DROP in iptables-legacy's FORWARD while Neutron's chains are in
		// iptables-nft: the kernel applies both.
		{"aio-night-legacy-drop.json", trace.Fail, trace.KindSecurityGroup, "dropped by iptables-legacy FORWARD#1",
			trace.KindReachability, trace.Fail, "dropped by iptables-legacy FORWARD#1"},
		// The DHCP agent stopped: its dnsmasq still serves, the agents hop
		// warns (see TestReplayNightAgents).
		{"aio-night-dhcp-agent-stopped.json", trace.Warn, trace.KindAgents, "every DHCP agent of the network is down",
			trace.KindDnsmasq, trace.OK, "alive"},
		// The port's fixed IP changed through the API (.72 to .78) while
		// the guest keeps its lease of .72 from Neutron's own dnsmasq: the
		// guest hop names both addresses, not a rogue DHCP server.
		{"aio-night-port-ip-changed.json", trace.Fail, trace.KindGuest, "the guest leased 192.168.31.72 but its port has 192.168.31.78 (leased from the network's DHCP port",
			trace.KindHostsEntry, trace.OK, "192.168.31.78"},
		// Changed back: the guest answers at .72 again, but the agent's
		// dhcp_release left dnsmasq with no lease row: a warning, not a
		// failure, on a path that works.
		{"aio-night-lease-released.json", trace.Warn, trace.KindLease, "but the guest holds 192.168.31.72 (answered ARP)",
			trace.KindReachability, trace.OK, "ping 192.168.31.72 answered"},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			if st.Verdict != c.verdict || len(st.Traces) != 1 {
				t.Fatalf("verdict %s, %d traces; want %s, 1: %+v", st.Verdict, len(st.Traces), c.verdict, st.Traces[0].Failing())
			}
			tr := st.Traces[0]
			if c.kind != "" {
				h, ok := tr.FirstFailing()
				if !ok || h.Kind != c.kind || !strings.Contains(h.Summary, c.has) || h.Cause == "" || h.Next == "" {
					t.Errorf("first failing hop %s %s %q (cause %q, next %q); want %s containing %q, with cause and next", h.Kind, h.Verdict, h.Summary, h.Cause, h.Next, c.kind, c.has)
				}
			}
			if c.check != "" {
				h, ok := tr.Hop(c.check, "")
				if !ok || h.Verdict != c.checkV || !strings.Contains(h.Summary, c.checkHas) {
					t.Errorf("%s hop %s %q; want %s containing %q", c.check, h.Verdict, h.Summary, c.checkV, c.checkHas)
				}
			}
		})
	}
}

// TestReplayNightAgents: agents stopped on the real cloud while the
// server ran. Its path kept working, so the agents hop warns (it failed
// before: "the guest gets no address" while dnsmasq, left running by the
// stopped agent, renewed the guest's lease), and the lease row that the
// DHCP agent's restart re-seeded is explained by the guest's ARP answer.
func TestReplayNightAgents(t *testing.T) {
	for _, c := range []struct {
		file, agents, cause string
	}{
		{"aio-night-dhcp-agent-stopped.json", "every DHCP agent of the network is down", "a dnsmasq already running keeps serving"},
		{"aio-night-nova-compute-stopped.json", "nova-compute on vm is not up and enabled", "the running server's network is not affected"},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			tr := st.Traces[0]
			if st.Verdict != trace.Warn {
				t.Errorf("verdict %s; want warn (the path works): %+v", st.Verdict, tr.Failing())
			}
			h, _ := tr.Hop(trace.KindAgents, "")
			if h.Verdict != trace.Warn || !strings.Contains(h.Summary, c.agents) || !strings.Contains(h.Cause, c.cause) {
				t.Errorf("agents hop %s %q (cause %q); want warn %q, cause with %q", h.Verdict, h.Summary, h.Cause, c.agents, c.cause)
			}
			for _, k := range []trace.Kind{trace.KindDnsmasq, trace.KindHostsEntry, trace.KindARP, trace.KindReachability} {
				if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
					t.Errorf("%s hop %s %q; want ok", k, h.Verdict, h.Summary)
				}
			}
			if h, _ := tr.Hop(trace.KindLease, ""); h.Verdict == trace.Warn && (!strings.Contains(h.Summary, "holds the address") || !strings.Contains(h.Cause, "renews at half its lease time")) {
				t.Errorf("lease hop %s %q (cause %q); want the seeded row explained by the guest's ARP answer", h.Verdict, h.Summary, h.Cause)
			}
		})
	}
	// The seeded row is there in the nova-compute observation (recorded
	// right after the DHCP agent's restart).
	_, st := judgeRecorded(t, "aio-night-nova-compute-stopped.json")
	if h, _ := st.Traces[0].Hop(trace.KindLease, ""); h.Verdict != trace.Warn || !strings.Contains(h.Summary, "only Neutron's seed") {
		t.Errorf("lease hop %s %q; want the seed-only warn", h.Verdict, h.Summary)
	}
}

// TestReplayNightLegacyPolicy: the same node with the legacy rule gone
// and iptables-legacy's FORWARD policy DROP instead (what a Docker
// install leaves on a node): the security-group hop names the policy.
func TestReplayNightLegacyPolicy(t *testing.T) {
	obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", "aio-night-legacy-drop.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range []*firewall.Snapshot{obs.Firewall.Before, obs.Firewall.After} {
		for i := range s.Tables {
			tb := &s.Tables[i]
			if tb.Backend != firewall.BackendLegacy {
				continue
			}
			for j := range tb.Chains {
				if c := &tb.Chains[j]; c.Name == "FORWARD" {
					c.Rules, c.Policy = nil, "DROP"
				}
			}
		}
	}
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := st.Traces[0].FirstFailing()
	if !ok || h.Kind != trace.KindSecurityGroup || !strings.Contains(h.Summary, "dropped by iptables-legacy FORWARD's DROP policy") {
		t.Errorf("first failing hop %s %s %q; want the security-group hop naming iptables-legacy's DROP policy", h.Kind, h.Verdict, h.Summary)
	}
}
