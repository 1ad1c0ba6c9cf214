package trace_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/trace"
)

// TestReplayNight3DHCPOff judges the server n3vm1 recorded on the real
// aio cloud with a second NIC on a subnet created with --no-dhcp
// (aio-night3-dhcp-off.json, see testdata/observations/README.md): the
// first NIC, on the DHCP subnet, is OK; the second, unconfigured in the
// guest, fails first at its ARP hop and at reachability (nothing answers
// at its address), and its FDB, hosts-entry and lease hops warn; each
// names the DHCP-off subnet where it blamed the DHCP agent before. Its L2
// hops stay OK. The same facts with the subnet's DHCP on, or without the
// subnets (an older recording), fail as they did.
func TestReplayNight3DHCPOff(t *testing.T) {
	const file = "aio-night3-dhcp-off.json"
	const offMAC = "fa:16:3e:cf:1f:41"
	byMAC := func(st *trace.ServerTrace) (on, off *trace.Trace) {
		if len(st.Traces) != 2 {
			t.Fatalf("%d traces; want 2", len(st.Traces))
		}
		for _, tr := range st.Traces {
			if tr.PortMAC.String() == offMAC {
				off = tr
			} else {
				on = tr
			}
		}
		if on == nil || off == nil {
			t.Fatalf("no trace of %s", offMAC)
		}
		return on, off
	}
	_, st := judgeRecorded(t, file)
	on, off := byMAC(st)
	if on.Verdict != trace.OK {
		t.Errorf("DHCP NIC: %s: %+v", on.Verdict, on.Failing())
	}
	// The unconfigured second NIC answers nothing at its address: the
	// trace fails, first at the ARP hop, and every hop the missing
	// address explains names the DHCP-off subnet instead of the agent.
	if off.Verdict != trace.Fail {
		t.Errorf("DHCP-off NIC: %s; want fail (nothing answers at its address): %+v", off.Verdict, off.Failing())
	}
	for _, h := range off.Hops {
		if h.Verdict == trace.Fail {
			if h.Kind != trace.KindARP {
				t.Errorf("DHCP-off NIC: first failing hop %s %q; want the ARP hop", h.Kind, h.Summary)
			}
			break
		}
	}
	for k, want := range map[trace.Kind]trace.Verdict{trace.KindFDB: trace.Warn, trace.KindHostsEntry: trace.Warn, trace.KindLease: trace.Warn, trace.KindARP: trace.Fail, trace.KindReachability: trace.Fail} {
		h, _ := off.Hop(k, "")
		if h.Verdict != want || !strings.Contains(h.Summary, "DHCP is off on subnet n3-nodhcp") || !strings.Contains(h.Cause, "static") || h.Next == "" {
			t.Errorf("%s hop %s %q (cause %q); want %s naming subnet n3-nodhcp", k, h.Verdict, h.Summary, h.Cause, want)
		}
	}
	for _, k := range []trace.Kind{trace.KindInterface, trace.KindTap, trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindBridge, trace.KindPhysicalPort} {
		if h, _ := off.Hop(k, ""); h.Verdict != trace.OK {
			t.Errorf("%s hop %s %q; the L2 path is OK", k, h.Verdict, h.Summary)
		}
	}
	// The one console holds both NICs' DHCP clients: the first NIC's
	// lease says nothing of the second.
	if h, _ := on.Hop(trace.KindGuest, ""); h.Verdict != trace.OK {
		t.Errorf("DHCP NIC: guest hop %s %q; want ok", h.Verdict, h.Summary)
	}
	if h, _ := off.Hop(trace.KindGuest, ""); h.Verdict != trace.Unknown || !strings.Contains(h.Summary, "another of the domain's NICs: nothing of this NIC's 10.31.99.10") {
		t.Errorf("DHCP-off NIC: guest hop %s %q; want unknown (the lease is the other NIC's)", h.Verdict, h.Summary)
	}
	if h, _ := off.Hop(trace.KindHostsEntry, ""); !strings.Contains(h.Summary, "the guest needs a static address or config drive") {
		t.Errorf("hosts-entry hop %q", h.Summary)
	}

	// Never a wrong OK: the same NIC on a DHCP-on subnet, or with the
	// subnets unknown, fails.
	for name, edit := range map[string]func(*trace.Observation){
		"dhcp on": func(o *trace.Observation) {
			for _, sn := range o.API.Subnets {
				sn.DHCP = true
			}
		},
		"subnets not read": func(o *trace.Observation) { o.API.Subnets = nil },
	} {
		obs, _ := judgeRecorded(t, file)
		edit(obs)
		st, err := trace.JudgeServer(obs)
		if err != nil {
			t.Fatal(err)
		}
		_, off := byMAC(st)
		h, ok := off.FirstFailing()
		if off.Verdict != trace.Fail || !ok || h.Kind != trace.KindFDB {
			t.Errorf("%s: %s, first failing %s %q; want fail at the FDB hop", name, off.Verdict, h.Kind, h.Summary)
		}
		if hh, _ := off.Hop(trace.KindHostsEntry, ""); hh.Verdict != trace.Fail {
			t.Errorf("%s: hosts-entry hop %s %q; want fail", name, hh.Verdict, hh.Summary)
		}
	}
}

// TestReplayNight3PortRewired judges the server n3vm7 recorded on the
// real aio cloud while its port was in BUILD after `openstack port set
// --allowed-address` on the ACTIVE server (aio-night3-port-build.json):
// the agents hop warns that the port is being rewired, and the
// anti-spoofing hop, whose ebtables chain lacked the new pair that
// iptables already had, warns too instead of failing with "restart the
// agent". The same facts with the update 2 minutes before the look fail
// both, as stuck.
func TestReplayNight3PortRewired(t *testing.T) {
	for _, c := range []struct {
		name    string
		ago     time.Duration // updated_at set this long before the agents were read (0: as recorded)
		verdict trace.Verdict
		has     string
	}{
		{"as recorded", 0, trace.Warn, "being rewired after an update at 2026-12-06T22:30:18Z"},
		{"two minutes later", 2 * time.Minute, trace.Fail, "has not reported port"},
	} {
		t.Run(c.name, func(t *testing.T) {
			obs, _ := judgeRecorded(t, "aio-night3-port-build.json")
			p := &obs.API.Servers[0].Ports[0]
			if p.Status != "BUILD" || p.UpdatedAt.IsZero() || obs.API.Agents == nil {
				t.Fatalf("the recording lacks the port in BUILD, its updated_at or the agents: %+v", p)
			}
			if c.ago != 0 {
				p.UpdatedAt = obs.API.Agents.ReadAt.Add(-c.ago).Truncate(time.Second)
			}
			st, err := trace.JudgeServer(obs)
			if err != nil {
				t.Fatal(err)
			}
			tr := st.Traces[0]
			if tr.Verdict != c.verdict {
				t.Errorf("verdict %s; want %s: %+v", tr.Verdict, c.verdict, tr.Failing())
			}
			h, _ := tr.Hop(trace.KindAgents, "")
			if h.Verdict != c.verdict || !strings.Contains(h.Summary, c.has) || h.Cause == "" || h.Next == "" {
				t.Errorf("agents hop %s %q (cause %q); want %s containing %q", h.Verdict, h.Summary, h.Cause, c.verdict, c.has)
			}
			if ev, ok := h.Get("port_updated"); !ok || !strings.Contains(ev, p.UpdatedAt.Format(time.RFC3339)) {
				t.Errorf("port_updated evidence %q", ev)
			}
			as, _ := tr.Hop(trace.KindAntiSpoofing, "")
			rewired := strings.Contains(as.Summary, "being rewired")
			if as.Verdict != c.verdict || !strings.Contains(as.Summary, "lacks --arp-ip-src 192.168.31.95") || rewired != (c.verdict == trace.Warn) {
				t.Errorf("anti-spoofing hop %s %q; want %s, the missing pair named", as.Verdict, as.Summary, c.verdict)
			}
		})
	}
}

// TestReplayNight3Observations judges the faults of a third operator's
// night on the real aio cloud (aio-night3-<fault>.json, see
// testdata/observations/README.md), each on a fresh server on the
// controller: the first non-OK hop and its cause, and that a fault that
// leaves the path working (a rogue DHCP server the guest did not take)
// fails nothing.
func TestReplayNight3Observations(t *testing.T) {
	for _, c := range []struct {
		file    string
		verdict trace.Verdict
		kind    trace.Kind // the first non-OK hop ("" none)
		name    string     // its name ("" any)
		has     string     // in its summary
		cause   string     // in its cause
	}{
		{"aio-night3-healthy.json", trace.OK, "", "", "", ""},
		// Another namespace on the brq holding the VM's address: two ARP
		// replies, the stranger's MAC named.
		{"aio-night3-dup-ip.json", trace.Fail, trace.KindARP, "192.168.31.72", "answered by 62:66:c6:49:99:0c, not (only) by the port's", "duplicate address"},
		// A rogue dnsmasq on the brq: the guest's lease (taken before it
		// ran, and again after a hard reboot in its presence: the guest
		// chose Neutron's offer) and the path are fine. The trace sends no
		// DHCP probe, so it cannot see the rogue itself.
		{"aio-night3-rogue-present.json", trace.OK, "", "", "", ""},
		{"aio-night3-rogue-dhcp.json", trace.OK, "", "", "", ""},
		// The pid file names a dead pid, dnsmasq alive under its own: a
		// warning, the hop not named by the dead pid.
		{"aio-night3-stale-pid.json", trace.Warn, trace.KindDnsmasq, "dnsmasq (pid file: 13963)", "dnsmasq pid 5405 runs in the namespace but the pid file does not name it", "the DHCP agent will think it dead"},
		// The controller's eth2 down: the physical port, first.
		{"aio-night3-eth2-down.json", trace.Fail, trace.KindPhysicalPort, "eth2", "eth2 exists but is down", "administratively down"},
		// The guest's NIC re-attached with another MAC (virsh
		// detach-interface/attach-interface, same tap): the interface hop.
		{"aio-night3-mac-changed.json", trace.Fail, trace.KindInterface, "", "guest MAC fa:16:3e:0e:03:01 is not the port's fa:16:3e:e5:95:9d", "anti-spoofing rules expect the port's MAC"},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			if len(st.Traces) != 1 || st.Verdict != c.verdict {
				t.Fatalf("%d traces, verdict %s; want 1, %s: %+v", len(st.Traces), st.Verdict, c.verdict, st.Traces[0].Failing())
			}
			if c.kind == "" {
				return
			}
			var h trace.Hop
			for _, o := range st.Traces[0].Hops {
				if o.Verdict == trace.Warn || o.Verdict == trace.Fail {
					h = o
					break
				}
			}
			if h.Kind != c.kind || (c.name != "" && h.Name != c.name) || !strings.Contains(h.Summary, c.has) || !strings.Contains(h.Cause, c.cause) || h.Next == "" {
				t.Errorf("first non-OK hop %s %s %q %q (cause %q, next %q); want %s %q containing %q, cause with %q", h.Kind, h.Verdict, h.Name, h.Summary, h.Cause, h.Next, c.kind, c.name, c.has, c.cause)
			}
		})
	}
}

// TestReplayNight3ProviderDown joins the two halves recorded with the
// controller's eth2 set down under the server n3vm6 on compute1
// (aio-night3-c1-eth2-down-{network,compute}.json): the provider link is
// the first failure, naming the controller's end, and it explains the
// silent probes.
func TestReplayNight3ProviderDown(t *testing.T) {
	nt := joinRecorded(t, "aio-night3-c1-eth2-down")
	if len(nt.Traces) != 1 || nt.Traces[0].Verdict != trace.Fail {
		t.Fatalf("%d traces, verdict %s; want 1, fail", len(nt.Traces), nt.Verdict)
	}
	h, ok := nt.Traces[0].FirstFailing()
	if !ok || h.Kind != trace.KindProviderLink || !strings.Contains(h.Summary, "vm's eth2 is administratively down") || !strings.Contains(h.Cause, "network node's provider NIC was set down") {
		t.Errorf("first failing hop %s %q (cause %q); want the provider link, vm's eth2 down", h.Kind, h.Summary, h.Cause)
	}
	if ev, _ := h.Get("explains"); !strings.Contains(ev, "vm/reachability") {
		t.Errorf("explains %q; want the silent reachability probe", ev)
	}
}

// TestReplayNight3TwoFixedIPs judges the server n3vm2 recorded after a
// second fixed IP (192.168.31.74) was added to its running port, which
// Neutron lists before the leased one (aio-night3-two-fixed-ips.json).
// DHCP gives the guest one address, .76: the trace probes that one (it
// probed .74 and failed its ARP and reachability hops while the guest
// answered at .76), and the reachability hop warns that the guest does
// not hold .74. Never a wrong OK: with .76 silent too, it fails.
func TestReplayNight3TwoFixedIPs(t *testing.T) {
	const file = "aio-night3-two-fixed-ips.json"
	obs, st := judgeRecorded(t, file)
	if len(st.Traces) != 1 {
		t.Fatalf("%d traces; want 1", len(st.Traces))
	}
	tr := st.Traces[0]
	if tr.IP.String() != "192.168.31.76" {
		t.Errorf("trace IP %s; want the leased 192.168.31.76", tr.IP)
	}
	if tr.Verdict != trace.Warn {
		t.Errorf("verdict %s; want warn: %+v", tr.Verdict, tr.Failing())
	}
	if h, _ := tr.Hop(trace.KindARP, ""); h.Verdict == trace.Fail {
		t.Errorf("ARP hop %s %q; the guest answers at its leased address", h.Verdict, h.Summary)
	}
	h, _ := tr.Hop(trace.KindReachability, "")
	if h.Verdict != trace.Warn || !strings.Contains(h.Summary, "the guest answers at 192.168.31.76, so it does not hold 192.168.31.74") || !strings.Contains(h.Cause, "DHCP gives a client one address") {
		t.Errorf("reachability hop %s %q (cause %q); want a warning that the guest does not hold .74", h.Verdict, h.Summary, h.Cause)
	}

	// After a DHCP agent restart Neutron seeds a lease row for every
	// fixed IP: the renewed lease still decides the address probed.
	seeded, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", file))
	if err != nil {
		t.Fatal(err)
	}
	for i := range seeded.DHCP.Networks {
		n := &seeded.DHCP.Networks[i]
		for _, l := range n.Leases {
			if l.IP.String() == "192.168.31.76" {
				l.IP, l.ClientID, l.Origin = netip.MustParseAddr("192.168.31.74"), "", dhcpns.OriginSeeded
				n.Leases = append([]dhcpns.Lease{l}, n.Leases...)
				break
			}
		}
	}
	if st, err := trace.JudgeServer(seeded); err != nil || st.Traces[0].IP.String() != "192.168.31.76" {
		t.Errorf("with a seeded lease row of .74 first: %v, trace IP %v; want the renewed 192.168.31.76", err, st.Traces[0].IP)
	}

	for i := range obs.DHCP.Networks {
		n := &obs.DHCP.Networks[i]
		for j := range n.Reach {
			n.Reach[j].ICMP, n.Reach[j].TCP, n.Reach[j].ICMPRTT, n.Reach[j].Errno = dhcpns.ReachSilent, dhcpns.ReachSilent, 0, ""
		}
	}
	st, err = trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Traces[0].Hop(trace.KindReachability, ""); h.Verdict != trace.Fail {
		t.Errorf("both addresses silent: reachability %s %q; want fail", h.Verdict, h.Summary)
	}
}
