package trace_test

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
	"github.com/vishvananda/netlink"
)

// topo is the walkthrough's path in throwaway namespaces: a "host"
// namespace with brq<net> holding a tap<port> veth to a guest namespace
// (MAC fa:16:3e:…, the tap fe:16:3e:… as libvirt makes it), an "eth2" veth
// to a gateway namespace holding 192.168.31.65, and the DHCP side from
// testutil.NewDHCPNetwork with a real dnsmasq and Neutron's files.
type topo struct {
	dir    string
	n      *testutil.DHCPNetwork
	dns    *testutil.Dnsmasq
	guest  *testutil.NetNS
	portID string
	tap    string
	mac    net.HardwareAddr
	ip     netip.Addr
	cfg    *trace.Config
}

type topoOpts struct {
	dhcp bool // the guest runs udhcpc (a renewed lease); else it only sends frames
	// netID, portID, mac and ip are the Neutron identities to build with
	// (an API's); zero: random network and port, a random fa:16:3e MAC,
	// 192.168.31.72.
	netID  string
	portID string
	mac    net.HardwareAddr
	ip     netip.Addr
}

// dhcpNetworkWithID is testutil.NewDHCPNetwork with a chosen network ID
// (to match a fake cloud's network), built the same way.
func dhcpNetworkWithID(t testing.TB, dir string, subnet netip.Prefix, netID string) *testutil.DHCPNetwork {
	t.Helper()
	d := &testutil.DHCPNetwork{NetworkID: netID, Subnet: subnet.Masked()}
	d.Host = testutil.NewNetNSAt(t, dir, testutil.RandNameN("trhost-", 16))
	d.Bridge = linuxbridge.NetworkBridgeName(netID)
	d.Host.Bridge(t, d.Bridge)
	d.QDHCP = testutil.NewNetNSAt(t, dir, "qdhcp-"+netID)
	h := randHex(32)
	d.DHCPPortID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	tap := linuxbridge.PortTapName(d.DHCPPortID)
	d.ServeIf = linuxbridge.PortNSName(d.DHCPPortID)
	d.Host.Veth(t, tap, d.QDHCP, d.ServeIf)
	d.Host.Enslave(t, tap, d.Bridge)
	d.Host.SetUp(t, tap)
	d.QDHCP.SetUp(t, "lo")
	d.QDHCP.SetUp(t, d.ServeIf)
	d.ServeMAC = d.QDHCP.Link(t, d.ServeIf).Attrs().HardwareAddr
	d.Host.WaitOperUp(t, tap)
	// The subnet's 2nd address (.66): the fake cloud allocates from .70,
	// where NewDHCPNetwork puts the server.
	a := d.Subnet.Addr().Next().Next()
	d.ServerIP = a
	d.QDHCP.AddAddr(t, d.ServeIf, netip.PrefixFrom(a, d.Subnet.Bits()).String())
	return d
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return fmt.Sprintf("%x", b)[:n]
}

func newTopo(t testing.TB, o topoOpts) *topo {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	testutil.RequireBinary(t, "busybox", "busybox")
	tp := &topo{dir: t.TempDir()}
	if o.netID != "" {
		tp.n = dhcpNetworkWithID(t, tp.dir, netip.MustParsePrefix("192.168.31.64/27"), o.netID)
	} else {
		tp.n = testutil.NewDHCPNetwork(t, tp.dir, netip.MustParsePrefix("192.168.31.64/27"), false)
	}
	h := randHex(32)
	tp.portID = h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
	if o.portID != "" {
		tp.portID = o.portID
	}
	tp.tap = linuxbridge.PortTapName(tp.portID)
	tp.mac = net.HardwareAddr{0xfa, 0x16, 0x3e, 0, 0, 0}
	rand.Read(tp.mac[3:])
	if o.mac != nil {
		tp.mac = o.mac
	}
	tp.ip = netip.MustParseAddr("192.168.31.72")
	if o.ip.IsValid() {
		tp.ip = o.ip
	}

	tp.guest = testutil.NewNetNSAt(t, tp.dir, testutil.RandNameN("trguest-", 16))
	// No IPv6 chatter: the guest sends only what the test makes it send.
	tp.guest.Run(t, "sysctl", "-qw", "net.ipv6.conf.all.disable_ipv6=1", "net.ipv6.conf.default.disable_ipv6=1")
	host := tp.n.Host
	host.Veth(t, tp.tap, tp.guest, "eth0")
	host.SetMAC(t, tp.tap, linuxbridge.TapMAC(trace.MAC(tp.mac)))
	tp.guest.SetMAC(t, "eth0", tp.mac)
	host.Enslave(t, tp.tap, tp.n.Bridge)
	host.SetUp(t, tp.tap)
	tp.guest.SetUp(t, "lo")
	tp.guest.SetUp(t, "eth0")

	gw := testutil.NewNetNSAt(t, tp.dir, testutil.RandNameN("trgw-", 16))
	host.Veth(t, "eth2", gw, "trgw0")
	host.Enslave(t, "eth2", tp.n.Bridge)
	host.SetUp(t, "eth2")
	gw.SetUp(t, "trgw0")
	gw.AddAddr(t, "trgw0", "192.168.31.65/27")
	waitOperUp(t, host, tp.tap, "eth2")

	other := net.HardwareAddr{0xfa, 0x16, 0x3e, 0xee, 0xee, 0x01}
	tp.dns = tp.n.StartDnsmasq(t, testutil.DnsmasqOptions{
		Hosts:      []testutil.DnsmasqHost{{MAC: tp.mac, IP: tp.ip}, {MAC: other, IP: netip.MustParseAddr("192.168.31.78")}},
		SeedLeases: true,
	})
	if o.dhcp {
		l := tp.guest.RunDHCPClient(t, "eth0", "vm1")
		if l.IP != tp.ip {
			t.Fatalf("guest leased %s, want %s", l.IP, tp.ip)
		}
	} else {
		tp.guest.SendFrames(t, "eth0", 3)
	}
	tp.guest.AddAddr(t, "eth0", tp.ip.String()+"/27")
	// The linuxbridge agent's config as the all-in-one writes it.
	agentINI := filepath.Join(tp.dir, "linuxbridge_agent.ini")
	if err := os.WriteFile(agentINI, []byte("[DEFAULT]\n[linux_bridge]\nphysical_interface_mappings = provider:eth2\n[vxlan]\nenable_vxlan = false\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.cfg = &trace.Config{NoFirewall: true, NoReach: true,
		AgentConfig:     agentINI,
		BridgeNetNSPath: host.Path,
		NetNSDir:        tp.dir,
		StateDir:        tp.dns.StateDir,
		NMRunDir:        t.TempDir(), // no NetworkManager here
		CounterInterval: 300 * time.Millisecond,
		ARPTimeout:      600 * time.Millisecond,
	}
	return tp
}

func waitOperUp(t testing.TB, ns *testutil.NetNS, names ...string) {
	t.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for _, name := range names {
		for ns.Link(t, name).Attrs().OperState != netlink.OperUp {
			if time.Now().After(deadline) {
				t.Fatalf("%s not operationally up after 3 s", name)
			}
			time.Sleep(5 * time.Millisecond)
		}
	}
}

func (tp *topo) run(t *testing.T, target trace.Target) *trace.Trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := runRec(t, ctx, tp.cfg, target)
	if err != nil {
		t.Fatalf("Run(%s): %v", target, err)
	}
	t.Logf("\n%s", tr)
	return tr
}

// want asserts the verdict of every hop of the no-API path; kinds not in
// want must be OK, except the two host checks, asserted separately.
func want(t *testing.T, tr *trace.Trace, want map[trace.Kind]trace.Verdict) {
	t.Helper()
	kinds := []trace.Kind{trace.KindGuest, trace.KindTap, trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindBridge, trace.KindPhysicalPort, trace.KindMTU, trace.KindFDB,
		trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindMetadata, trace.KindARP, trace.KindReachability, trace.KindCounters}
	if len(tr.Hops) != len(kinds)+5 {
		t.Fatalf("%d hops, want %d", len(tr.Hops), len(kinds)+5)
	}
	noLibvirt(t, tr)
	hops := tr.Hops[3:]
	for i, k := range kinds {
		h := hops[i]
		if h.Kind != k {
			t.Errorf("hop %d is %s, want %s", i, h.Kind, k)
			continue
		}
		v, ok := want[k]
		if !ok {
			v = trace.OK
			// These topologies have no agent firewall: the tests run with
			// NoFirewall and NoReach (the firewall's own are in package
			// firewall and the demo's verdict tests).
			if k == trace.KindSecurityGroup || k == trace.KindAntiSpoofing || k == trace.KindReachability {
				v = trace.Unknown
			}
			// No libvirt client (no console) and no metadata proxy
			// (isolated metadata off) in these topologies.
			if k == trace.KindGuest || k == trace.KindMetadata {
				v = trace.Unknown
			}
		}
		if h.Verdict != v {
			t.Errorf("%s %s: verdict %s (%s), want %s", h.Kind, h.Name, h.Verdict, h.Summary, v)
		}
		if (h.Verdict == trace.Fail || h.Verdict == trace.Warn) && (h.Cause == "" || h.Next == "") {
			t.Errorf("%s %s: %s without cause/next: %+v", h.Kind, h.Name, h.Verdict, h)
		}
	}
	if h := hops[len(kinds)+1]; h.Kind != trace.KindHostCheck || h.Name != "networkmanager" || h.Verdict != trace.Unknown {
		t.Errorf("networkmanager hop = %+v, want unknown (no NetworkManager in the test's run dir)", h)
	}
}

// noLibvirt asserts the first hop is the agents hop (unknown without the
// API, judged with it) and the next two the domain and interface hops,
// unknown for want of a libvirt client (the no-libvirt topologies).
func noLibvirt(t *testing.T, tr *trace.Trace) {
	t.Helper()
	if h := tr.Hops[0]; h.Kind != trace.KindAgents {
		t.Errorf("hop 0 = %+v, want the agents hop", h)
	} else if _, api := h.Get("api"); api && (h.Verdict != trace.Unknown || !strings.Contains(h.Summary, "-cloud")) {
		t.Errorf("agents hop without the API = %+v, want unknown saying run with -cloud", h)
	}
	for i, k := range []trace.Kind{trace.KindDomain, trace.KindInterface} {
		h := tr.Hops[i+1]
		if v, _ := h.Get("libvirt"); h.Kind != k || h.Verdict != trace.Unknown || v != "no libvirt client" {
			t.Errorf("hop %d = %+v, want %s unknown with evidence libvirt: no libvirt client", i, h, k)
		}
	}
}

// checkBrNF compares the bridge-nf-call-iptables hop with `cat` run inside
// the bridges' namespace.
func checkBrNF(t *testing.T, tp *topo, tr *trace.Trace) {
	t.Helper()
	h, ok := tr.Hop(trace.KindHostCheck, "bridge-nf-call-iptables")
	if !ok {
		t.Fatal("no bridge-nf-call-iptables hop")
	}
	out, err := tp.n.Host.Command("cat", "/proc/sys/net/bridge/bridge-nf-call-iptables").Output()
	if err != nil {
		if h.Verdict != trace.Warn || !strings.Contains(h.Summary, "not loaded") {
			t.Errorf("cat failed (%v) but hop = %+v", err, h)
		}
		return
	}
	v, _ := h.Get("value")
	if v != strings.TrimSpace(string(out)) {
		t.Errorf("hop value %q, cat in the namespace says %q", v, out)
	}
	wantV := map[string]trace.Verdict{"1": trace.OK, "0": trace.Warn}[v]
	if h.Verdict != wantV {
		t.Errorf("bridge-nf-call-iptables=%s: verdict %s, want %s", v, h.Verdict, wantV)
	}
}

func TestIntegrationTraceHealthy(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	want(t, tr, nil)
	checkBrNF(t, tp, tr)
	if tr.Verdict != trace.OK {
		t.Errorf("overall %s, want ok", tr.Verdict)
	}
	if tr.Tap != tp.tap || tr.PortMAC.String() != tp.mac.String() || tr.NetworkID != tp.n.NetworkID || tr.IP != tp.ip {
		t.Errorf("resolved tap %s mac %s network %s ip %s; want %s %s %s %s", tr.Tap, tr.PortMAC, tr.NetworkID, tr.IP, tp.tap, tp.mac, tp.n.NetworkID, tp.ip)
	}
	if h, _ := tr.Hop(trace.KindPhysicalPort, ""); h.Name != "eth2" {
		t.Errorf("physical port %q, want eth2", h.Name)
	}
	compareTapWithIP(t, tp, tr.Hops[4])
	if h, _ := tr.Hop(trace.KindBridge, ""); h.Name != tp.n.Bridge {
		t.Errorf("bridge %q, want %s", h.Name, tp.n.Bridge)
	}
	if h, _ := tr.Hop(trace.KindARP, ""); !strings.Contains(h.Summary, tp.mac.String()) {
		t.Errorf("arp hop does not name the port's MAC: %+v", h)
	}
	if h, _ := tr.Hop(trace.KindFDB, ""); !strings.Contains(h.Summary, "learned on "+tp.tap) {
		t.Errorf("fdb hop: %+v", h)
	}
	// JSON of a real trace reads back hop for hop.
	js, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var back trace.Trace
	if err := json.Unmarshal(js, &back); err != nil {
		t.Fatal(err)
	}
	if len(back.Hops) != len(tr.Hops) || back.Verdict != tr.Verdict || back.PortMAC.String() != tp.mac.String() {
		t.Errorf("JSON round trip: %d hops verdict %s mac %s", len(back.Hops), back.Verdict, back.PortMAC)
	}
	for i := range back.Hops {
		if back.Hops[i].Kind != tr.Hops[i].Kind || back.Hops[i].Verdict != tr.Hops[i].Verdict || len(back.Hops[i].Evidence) != len(tr.Hops[i].Evidence) {
			t.Errorf("hop %d after JSON: %+v, want %+v", i, back.Hops[i], tr.Hops[i])
		}
	}
	// (The same NIC on a compute node whose DHCP agent runs elsewhere is
	// TestIntegrationTraceComputeRole.) The same NIC by MAC and by port ID.
	for _, target := range []trace.Target{{MAC: trace.MAC(tp.mac)}, {PortID: tp.portID}} {
		tr2 := tp.run(t, target)
		if tr2.Verdict != trace.OK || tr2.Tap != tp.tap || tr2.PortMAC.String() != tp.mac.String() {
			t.Errorf("target %s: verdict %s tap %s mac %s", target, tr2.Verdict, tr2.Tap, tr2.PortMAC)
		}
	}
}

func TestIntegrationTraceTapDown(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tp.n.Host.SetDown(t, tp.tap)
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	// A port going down flushes what the bridge learned on it; the guest
	// behind it cannot answer ARP; the counters see the probe only on the
	// other ports.
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindTap: trace.Fail, trace.KindFDB: trace.Fail, trace.KindARP: trace.Fail, trace.KindCounters: trace.Warn})
	if h, _ := tr.Hop(trace.KindTap, ""); !strings.Contains(h.Summary, "administratively down") {
		t.Errorf("tap hop: %+v", h)
	}
	// The diagrams mark the failing tap.
	var dot, mmd strings.Builder
	tr.WriteDOT(&dot)
	tr.WriteMermaid(&mmd)
	if !strings.Contains(dot.String(), `h4 [label="tap\n`+tp.tap+`\nFAIL\n`) || !strings.Contains(dot.String(), "fillcolor=salmon, color=red") {
		t.Errorf("DOT does not mark the tap failing:\n%s", dot.String())
	}
	if !strings.Contains(mmd.String(), `h4["tap<br/>`+tp.tap+`<br/>FAIL<br/>`) || !strings.Contains(mmd.String(), "]:::fail\n") {
		t.Errorf("Mermaid does not mark the tap failing:\n%s", mmd.String())
	}
}

func TestIntegrationTracePhysicalPortMissing(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tp.n.Host.Release(t, "eth2")
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindPhysicalPort: trace.Fail})
	// The hop names the NIC physical_interface_mappings expects.
	h, _ := tr.Hop(trace.KindPhysicalPort, "")
	if h.Name != "eth2" || h.Summary != "eth2 missing from "+tp.n.Bridge+": it exists but is not enslaved" || h.Cause == h.Summary {
		t.Errorf("physical-port hop: %+v", h)
	}
	if v, _ := h.Get("expected"); v != "eth2 (physical_interface_mappings provider:eth2, the only mapping)" {
		t.Errorf("physical-port expected = %q", v)
	}
	// ip -j link agrees: eth2 exists, up, with no master.
	var links []struct {
		Master    string   `json:"master"`
		Flags     []string `json:"flags"`
		Operstate string   `json:"operstate"`
	}
	if err := json.Unmarshal(tp.n.Host.Run(t, "ip", "-j", "link", "show", "dev", "eth2"), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j link show dev eth2: %v", err)
	}
	if v, _ := h.Get("link"); links[0].Master != "" || v != fmt.Sprintf("eth2 exists: up %t lower_up %t oper %s, no master", slices.Contains(links[0].Flags, "UP"), slices.Contains(links[0].Flags, "LOWER_UP"), strings.ToLower(links[0].Operstate)) {
		t.Errorf("link evidence %q; ip -j link: master %q flags %v", v, links[0].Master, links[0].Flags)
	}
}

func TestIntegrationTraceDnsmasqDead(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tp.dns.Kill(t, true)
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	if h, _ := tr.Hop(trace.KindDnsmasq, ""); h.Verdict != trace.Fail || h.Cause == h.Summary || !strings.HasPrefix(h.Cause, "no live dnsmasq serves the network") || h.Next == "" {
		t.Errorf("dnsmasq hop %s, want fail with a cause of its own: %+v", h.Verdict, h)
	}
	for _, k := range []trace.Kind{trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindDHCPNS} {
		if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
			t.Errorf("%s hop %s, want ok: %+v", k, h.Verdict, h)
		}
	}
	// With dnsmasq dead its command line (the subnet) cannot be read: the
	// interface hop warns for that reason, and says so, not that the
	// interface is down.
	if h, _ := tr.Hop(trace.KindDHCPIf, ""); h.Verdict != trace.Warn || !strings.Contains(h.Cause, "the interface itself is up with an address") || !strings.HasPrefix(h.Next, "the dnsmasq hop first") {
		t.Errorf("dhcp-interface hop %s (cause %q, next %q), want warn blaming the dead dnsmasq", h.Verdict, h.Cause, h.Next)
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("overall %s, want fail", tr.Verdict)
	}
}

func TestIntegrationTraceMACNotInHosts(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	hosts := filepath.Join(tp.dns.Dir, "host")
	if err := os.WriteFile(hosts, []byte("fa:16:3e:ee:ee:01,host-192-168-31-73.openstacklocal,192.168.31.73\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	tp.dns.Reload(t)
	tr := tp.run(t, trace.Target{MAC: trace.MAC(tp.mac)})
	// No hosts entry: no IP to probe, so the ARP hop is unknown, and
	// without the probe's request nothing makes the guest send.
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.Fail, trace.KindARP: trace.Unknown, trace.KindCounters: trace.Warn})
	if tr.IP.IsValid() {
		t.Errorf("IP %s resolved without a hosts entry", tr.IP)
	}
}

func TestIntegrationTraceLeaseOnlySeeded(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: false})
	tr := tp.run(t, trace.Target{PortID: tp.portID})
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindLease: trace.Warn})
	if tr.Verdict != trace.Warn {
		t.Errorf("overall %s, want warn", tr.Verdict)
	}
	if h, _ := tr.Hop(trace.KindLease, ""); !strings.Contains(h.Summary, "seed") {
		t.Errorf("lease hop: %+v", h)
	}
}

func TestIntegrationTraceBridgeNeverLearned(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tp.n.Host.Run(t, "ip", "link", "set", "dev", tp.tap, "type", "bridge_slave", "learning", "off", "fdb_flush")
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	// Unknown unicast is flooded, so ARP still works: only the FDB hop fails.
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindFDB: trace.Fail})
	h, _ := tr.Hop(trace.KindFDB, "")
	if v, _ := h.Get("tap_learning"); v != "false" || !strings.Contains(h.Cause, "learning is off") {
		t.Errorf("fdb hop: %+v", h)
	}
	out := string(tp.n.Host.Run(t, "bridge", "fdb", "show", "br", tp.n.Bridge))
	if strings.Contains(out, tp.mac.String()+" dev "+tp.tap) {
		t.Errorf("bridge fdb still shows %s on %s:\n%s", tp.mac, tp.tap, out)
	}
}

// compareTapWithIP checks the tap hop's evidence field by field against
// `ip -j -d link show dev <tap>` run in the bridges' namespace.
func compareTapWithIP(t *testing.T, tp *topo, h trace.Hop) {
	t.Helper()
	var links []struct {
		Address   string   `json:"address"`
		Flags     []string `json:"flags"`
		Operstate string   `json:"operstate"`
		Master    string   `json:"master"`
		Linkinfo  struct {
			SlaveData struct {
				State    string `json:"state"`
				Learning bool   `json:"learning"`
			} `json:"info_slave_data"`
		} `json:"linkinfo"`
	}
	if err := json.Unmarshal(tp.n.Host.Run(t, "ip", "-j", "-d", "link", "show", "dev", tp.tap), &links); err != nil || len(links) != 1 {
		t.Fatalf("ip -j -d link show dev %s: %v (%d links)", tp.tap, err, len(links))
	}
	l := links[0]
	get := func(k string) string { v, _ := h.Get(k); return v }
	checks := map[string]string{
		"bridge":     l.Master,
		"mac":        l.Address,
		"up":         fmt.Sprint(slices.Contains(l.Flags, "UP")),
		"lower_up":   fmt.Sprint(slices.Contains(l.Flags, "LOWER_UP")),
		"oper_state": strings.ToLower(l.Operstate),
		"stp_state":  l.Linkinfo.SlaveData.State,
		"learning":   fmt.Sprint(l.Linkinfo.SlaveData.Learning),
	}
	for k, want := range checks {
		if got := get(k); got != want {
			t.Errorf("tap evidence %s = %q, ip -j -d link says %q", k, got, want)
		}
	}
}

func TestIntegrationTraceTapMissing(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tr := tp.run(t, trace.Target{Tap: "tapdeadbeef-00"})
	noLibvirt(t, tr)
	if tr.Hops[4].Kind != trace.KindTap || tr.Hops[4].Verdict != trace.Fail || tr.Hops[4].Name != "tapdeadbeef-00" {
		t.Errorf("tap hop: %+v", tr.Hops[4])
	}
	// Nothing after the tap can be judged, except the host checks.
	for _, h := range tr.Hops[5:] {
		if h.Kind != trace.KindHostCheck && h.Verdict != trace.Unknown {
			t.Errorf("%s %s: %s (%s), want unknown", h.Kind, h.Name, h.Verdict, h.Summary)
		}
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("overall %s", tr.Verdict)
	}
}

func TestIntegrationTraceTapOnWrongBridge(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	host := tp.n.Host
	host.Bridge(t, "trbr0")
	host.Enslave(t, tp.tap, "trbr0")
	waitOperUp(t, host, tp.tap)
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	want(t, tr, map[trace.Kind]trace.Verdict{
		trace.KindTap: trace.Fail, trace.KindBridge: trace.Warn, trace.KindPhysicalPort: trace.Fail, trace.KindFDB: trace.Fail,
		// No brq bridge, so no network ID: the DHCP side is not reached.
		trace.KindDHCPNS: trace.Unknown, trace.KindDnsmasq: trace.Unknown, trace.KindDHCPIf: trace.Unknown,
		trace.KindHostsEntry: trace.Unknown, trace.KindLease: trace.Unknown, trace.KindARP: trace.Unknown,
		trace.KindCounters: trace.Warn,
		// No network: what DHCP tells the guest is unknown.
		trace.KindMTU: trace.Unknown,
	})
	h := tr.Hops[4]
	if !strings.Contains(h.Summary, "trbr0, which is not a Neutron network's bridge") {
		t.Errorf("tap hop: %+v", h)
	}
	compareTapWithIP(t, tp, h)
}

func TestIntegrationTraceARPWrongMAC(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	// Another VM on the same network holds the port's IP.
	dup := testutil.NewNetNSAt(t, tp.dir, testutil.RandNameN("trdup-", 16))
	dupTap := linuxbridge.PortTapName(randHex(8) + "-" + randHex(4))
	dupMAC := net.HardwareAddr{0xfa, 0x16, 0x3e, 0xdd, 0xdd, 0x01}
	tp.n.Host.Veth(t, dupTap, dup, "eth0")
	dup.SetMAC(t, "eth0", dupMAC)
	tp.n.Host.Enslave(t, dupTap, tp.n.Bridge)
	tp.n.Host.SetUp(t, dupTap)
	dup.SetUp(t, "eth0")
	dup.AddAddr(t, "eth0", tp.ip.String()+"/27")
	waitOperUp(t, tp.n.Host, dupTap)
	tr := tp.run(t, trace.Target{Tap: tp.tap})
	want(t, tr, map[trace.Kind]trace.Verdict{trace.KindARP: trace.Fail})
	h, _ := tr.Hop(trace.KindARP, "")
	if !strings.Contains(h.Summary, "answered by "+dupMAC.String()) || !strings.Contains(h.Cause, "duplicate") {
		t.Errorf("arp hop: %+v", h)
	}
	var replies []string
	for _, e := range h.Evidence {
		if e.Key == "reply" {
			replies = append(replies, strings.Fields(e.Value)[0])
		}
	}
	slices.Sort(replies)
	w := []string{dupMAC.String(), tp.mac.String()}
	slices.Sort(w)
	if !slices.Equal(replies, w) {
		t.Errorf("replies %v, want %v", replies, w)
	}
}

// Run honours ctx during the counter wait and leaves no goroutine behind.
func TestIntegrationTraceCancelNoLeak(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	cfg := *tp.cfg
	cfg.CounterInterval = 10 * time.Second
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithTimeout(context.Background(), 200*time.Millisecond)
	defer cancel()
	t0 := time.Now()
	tr, err := trace.Run(ctx, &cfg, trace.Target{Tap: tp.tap})
	if !errors.Is(err, context.DeadlineExceeded) || tr != nil {
		t.Fatalf("Run with a 200 ms deadline and a 10 s counter interval = %v, %v; want the deadline error", tr, err)
	}
	if d := time.Since(t0); d > 2*time.Second {
		t.Errorf("Run returned %s after its deadline", d)
	}
	cfg.CounterInterval = -1
	for range 3 {
		if _, err := trace.Run(context.Background(), &cfg, trace.Target{Tap: tp.tap}); err != nil {
			t.Fatal(err)
		}
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after 4 runs, %d before", n, before)
	}
}
