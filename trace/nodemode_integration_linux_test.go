package trace_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// computeKinds are the hops a network node leaves to the compute node.
var computeKinds = []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindGuest, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindMTU, trace.KindFDB, trace.KindCounters}

// dhcpKinds are the hops a compute node leaves to the network node.
var dhcpKinds = []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP}

// offNode asserts each hop of kinds is Unknown with the role's evidence.
func offNode(t *testing.T, tr *trace.Trace, why string, kinds ...trace.Kind) {
	t.Helper()
	for _, k := range kinds {
		h, ok := tr.Hop(k, "")
		if !ok {
			t.Errorf("no %s hop", k)
			continue
		}
		if v, _ := h.Get("role"); h.Verdict != trace.Unknown || !strings.HasPrefix(v, why) {
			t.Errorf("%s hop %+v: want unknown with evidence role: %s", k, h, why)
		}
	}
}

// verdicts asserts the verdict of each hop of the given kinds.
func verdicts(t *testing.T, tr *trace.Trace, v trace.Verdict, kinds ...trace.Kind) {
	t.Helper()
	for _, k := range kinds {
		if h, _ := tr.Hop(k, ""); h.Verdict != v {
			t.Errorf("%s %s: %s (%s), want %s", k, h.Name, h.Verdict, h.Summary, v)
		}
	}
}

// jsonRole returns the "role" field of the trace's JSON.
func jsonRole(t *testing.T, v any) string {
	t.Helper()
	b, err := json.Marshal(v)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Role   string `json:"role"`
		Traces []struct {
			Role string `json:"role"`
		} `json:"traces"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	if m.Role == "" && len(m.Traces) > 0 {
		return m.Traces[0].Role
	}
	return m.Role
}

// The network role without the API: the MAC finds the network through
// the state directory's hosts files; the DHCP side and the ARP probe are
// judged, the compute side is left unknown.
func TestIntegrationTraceNetworkRoleByMAC(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	cfg := *tp.cfg
	cfg.Role = trace.RoleNetwork
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	t0 := time.Now()
	tr, err := runRec(t, ctx, &cfg, trace.Target{MAC: trace.MAC(tp.mac)})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tr)
	if len(tr.Hops) != 22 {
		t.Fatalf("%d hops, want 22", len(tr.Hops))
	}
	offNode(t, tr, "compute side not on this node (role network)", computeKinds...)
	verdicts(t, tr, trace.OK, dhcpKinds...)
	if tr.Verdict != trace.OK || tr.Role != trace.RoleNetwork || tr.NetworkID != tp.n.NetworkID || tr.IP != tp.ip || tr.PortMAC.String() != tp.mac.String() {
		t.Errorf("trace: verdict %s role %s network %s ip %s mac %s", tr.Verdict, tr.Role, tr.NetworkID, tr.IP, tr.PortMAC)
	}
	if r := jsonRole(t, tr); r != "network" {
		t.Errorf("JSON role %q", r)
	}
	ns, _ := tr.Hop(trace.KindDHCPNS, "")
	if v, _ := ns.Get("network_from"); ns.Name != "qdhcp-"+tp.n.NetworkID || !strings.Contains(v, filepath.Join(tp.dns.StateDir, tp.n.NetworkID, "host")) {
		t.Errorf("dhcp-namespace hop %+v: network not found through the hosts file", ns)
	}
	// The serving interface is the one `ip -j addr` shows with the DHCP
	// port's address in the qdhcp namespace.
	var addrs []struct {
		Ifname   string `json:"ifname"`
		AddrInfo []struct {
			Local string `json:"local"`
		} `json:"addr_info"`
	}
	if err := json.Unmarshal(tp.n.QDHCP.Run(t, "ip", "-j", "addr", "show", "dev", tp.n.ServeIf), &addrs); err != nil || len(addrs) != 1 {
		t.Fatalf("ip -j addr: %v", err)
	}
	ifh, _ := tr.Hop(trace.KindDHCPIf, "")
	if ifh.Name != addrs[0].Ifname || len(addrs[0].AddrInfo) == 0 || addrs[0].AddrInfo[0].Local != tp.n.ServerIP.String() {
		t.Errorf("dhcp-interface hop %q; ip -j addr says %+v (want %s)", ifh.Name, addrs, tp.n.ServerIP)
	}
	if arp, _ := tr.Hop(trace.KindARP, ""); !strings.Contains(arp.Summary, tp.mac.String()) {
		t.Errorf("arp hop %+v", arp)
	}
	// No bridge was opened: the compute hops are not even named.
	if h, _ := tr.Hop(trace.KindBridge, ""); h.Name != "" {
		t.Errorf("bridge hop named %q on a network node", h.Name)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("network-role trace took %s", d)
	}

	// A MAC in no hosts file: the hosts entry fails, naming the search.
	other := net.HardwareAddr{0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56}
	tr, err = runRec(t, ctx, &cfg, trace.Target{MAC: trace.MAC(other)})
	if err != nil {
		t.Fatal(err)
	}
	he, _ := tr.Hop(trace.KindHostsEntry, "")
	if v, _ := he.Get("searched"); he.Verdict != trace.Fail || v != "1 hosts files under "+tp.dns.StateDir || he.Cause == "" || he.Next == "" {
		t.Errorf("hosts-entry hop for an unknown MAC: %+v", he)
	}
	verdicts(t, tr, trace.Unknown, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindLease, trace.KindARP)
	if tr.Verdict != trace.Fail {
		t.Errorf("unknown MAC: overall %s", tr.Verdict)
	}

	// Dnsmasq dead on the network node: a cause, not the summary again.
	tp.dns.Kill(t, true)
	tr, err = runRec(t, ctx, &cfg, trace.Target{MAC: trace.MAC(tp.mac)})
	if err != nil {
		t.Fatal(err)
	}
	dh, _ := tr.Hop(trace.KindDnsmasq, "")
	if dh.Verdict != trace.Fail || dh.Cause == dh.Summary || !strings.Contains(dh.Cause, "no live dnsmasq") || !strings.Contains(dh.Next, "DHCP agent") {
		t.Errorf("dnsmasq hop after kill: %+v", dh)
	}
}

// The compute role: the DHCP side and the ARP probe are unknown with the
// role's evidence; SkipDHCP is the same role.
func TestIntegrationTraceComputeRole(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	for _, cfg := range []trace.Config{{Role: trace.RoleCompute}, {SkipDHCP: true}} {
		c := *tp.cfg
		c.Role, c.SkipDHCP = cfg.Role, cfg.SkipDHCP
		tr, err := runRec(t, context.Background(), &c, trace.Target{Tap: tp.tap})
		if err != nil {
			t.Fatal(err)
		}
		want(t, tr, map[trace.Kind]trace.Verdict{trace.KindDHCPNS: trace.Unknown, trace.KindDnsmasq: trace.Unknown, trace.KindDHCPIf: trace.Unknown,
			trace.KindHostsEntry: trace.Unknown, trace.KindLease: trace.Unknown, trace.KindARP: trace.Unknown,
			// DHCP's option 26 is read on the DHCP side and the topology's
			// interface sets no <mtu>: what the guest is told is unknown.
			trace.KindMTU: trace.Unknown,
			// Without the probe nothing makes this idle guest send.
			trace.KindCounters: trace.Warn})
		offNode(t, tr, "DHCP side not on this node (role compute)", append(dhcpKinds, trace.KindMetadata)...)
		if tr.Role != trace.RoleCompute || jsonRole(t, tr) != "compute" {
			t.Errorf("role %q (JSON %q), want compute", tr.Role, jsonRole(t, tr))
		}
		if tr.NetworkID != "" {
			t.Errorf("compute role read the DHCP side: network %s", tr.NetworkID)
		}
	}
}

// With the API on a network node: the port's network, MAC and IP come from
// Neutron; the port bound to another host is expected, not a warning.
func TestIntegrationServerNetworkRole(t *testing.T) {
	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	id, port, _ := launchFake(t, c, "trvmnet")
	tp := topoForPort(t, port)
	cfg := *tp.cfg
	cfg.Role = trace.RoleNetwork
	cfg.NodeName = "trnetnode"
	st := runServer(t, &cfg, c, id)
	tr := st.Traces[0]
	if sh, ph := tr.Hops[0], tr.Hops[1]; sh.Verdict != trace.OK || ph.Verdict != trace.OK {
		t.Errorf("server hop %s, port hop %s (%s): want ok (a network node traces ports bound elsewhere)", sh.Verdict, ph.Verdict, ph.Summary)
	}
	offNode(t, tr, "compute side not on this node (role network)", computeKinds...)
	verdicts(t, tr, trace.OK, dhcpKinds...)
	if tr.NetworkID != port.NetworkID || tr.IP != port.FixedIPs[0].Address || tr.PortMAC.String() != port.MAC.String() || st.Verdict != trace.OK {
		t.Errorf("identities: network %s ip %s mac %s verdict %s", tr.NetworkID, tr.IP, tr.PortMAC, st.Verdict)
	}
	if h, _ := tr.Hop(trace.KindHostsEntry, ""); !strings.Contains(func() string { v, _ := h.Get("port_mac"); return v }(), "Neutron port") {
		t.Errorf("hosts-entry hop: the MAC did not come from Neutron: %+v", h)
	}
	if ns, _ := tr.Hop(trace.KindDHCPNS, ""); ns.Name != "qdhcp-"+port.NetworkID {
		t.Errorf("dhcp-namespace hop %+v", ns)
	}
	if r := jsonRole(t, st); r != "network" {
		t.Errorf("JSON role %q", r)
	}
	// A port ID alone is refused on a network node; by MAC it works.
	if _, err := trace.Run(context.Background(), &cfg, trace.Target{PortID: port.ID}); !errors.Is(err, trace.ErrRole) {
		t.Errorf("Run by port ID on a network node: %v", err)
	}

	// A server on a network no DHCP agent of this node hosts.
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: "trelsewhere", Type: launch.NetworkFlat, PhysicalNetwork: "physnet2"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.EnsureSubnet(ctx, launch.SubnetSpec{Name: "trelsewhere-v4", Network: nw.ID, CIDR: netip.MustParsePrefix("10.9.0.0/24"),
		PoolStart: netip.MustParseAddr("10.9.0.10"), PoolEnd: netip.MustParseAddr("10.9.0.20"), Gateway: netip.MustParseAddr("10.9.0.1")}); err != nil {
		t.Fatal(err)
	}
	srv, err := c.Launch(ctx, launch.ServerSpec{Name: "trvmelsewhere", Flavor: "m1.nano", Image: "aio-tiny", Network: "trelsewhere"})
	if err != nil {
		t.Fatal(err)
	}
	st = runServer(t, &cfg, c, srv.ID)
	ns, _ := st.Traces[0].Hop(trace.KindDHCPNS, "")
	if ns.Verdict != trace.Fail || ns.Name != "qdhcp-"+nw.ID || !strings.HasPrefix(ns.Cause, "no DHCP agent on this node hosts the network") || !strings.Contains(ns.Next, "--network "+nw.ID) {
		t.Errorf("network not hosted here: %+v", ns)
	}
}

// The tap is missing but the API knows the network: the DHCP side is
// still judged (the port's MAC is in the hosts file, dnsmasq serves it);
// the bridge side is not reached. Without the API, a MAC whose NIC is on
// no bridge finds its network through the hosts file the same way.
func TestIntegrationTraceTapMissingDHCPJudged(t *testing.T) {
	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	id, port, _ := launchFake(t, c, "trvmnotap")
	// The local guest has the port's MAC and IP but sits on another
	// port's tap: Nova's tap for this port does not exist.
	local := port
	local.ID = "0badc0de-0000-4000-8000-" + randHex(12)
	tp := topoForPort(t, local)
	st := runServer(t, tp.cfg, c, id)
	tr := st.Traces[0]
	if h, _ := tr.Hop(trace.KindTap, ""); h.Verdict != trace.Fail || h.Name != linuxbridge.PortTapName(port.ID) {
		t.Errorf("tap hop %+v, want fail for %s", h, linuxbridge.PortTapName(port.ID))
	}
	verdicts(t, tr, trace.Unknown, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindCounters)
	verdicts(t, tr, trace.OK, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP)
	if tr.NetworkID != port.NetworkID || tr.IP != port.FixedIPs[0].Address {
		t.Errorf("network %s ip %s", tr.NetworkID, tr.IP)
	}

	// No API, all-in-one: the guest's tap leaves the bridge; by MAC the
	// tap is not found, the hosts file names the network.
	tp.n.Host.Release(t, tp.tap)
	tr2 := tp.run(t, trace.Target{MAC: trace.MAC(port.MAC)})
	if h, _ := tr2.Hop(trace.KindTap, ""); h.Verdict != trace.Fail || h.Name != "(none)" {
		t.Errorf("tap hop %+v", h)
	}
	verdicts(t, tr2, trace.OK, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease)
	// The guest is cut off the bridge: the probe goes unanswered.
	verdicts(t, tr2, trace.Fail, trace.KindARP)
	if ns, _ := tr2.Hop(trace.KindDHCPNS, ""); !strings.Contains(func() string { v, _ := ns.Get("network_from"); return v }(), port.NetworkID) {
		t.Errorf("dhcp-namespace hop does not say the hosts file named the network: %+v", ns)
	}
	if tr2.NetworkID != port.NetworkID || tr2.Role != trace.RoleAllInOne {
		t.Errorf("network %s role %s", tr2.NetworkID, tr2.Role)
	}
}

// The physical-port hop by physical_interface_mappings: the NIC down, a
// VLAN interface of it, on another bridge, deleted; a mapping naming
// another NIC; and no agent config (the guess, with a warn evidence).
func TestIntegrationTraceUplinkMappings(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: false})
	host := tp.n.Host
	br := tp.n.Bridge
	phys := func(cfg *trace.Config) trace.Hop {
		t.Helper()
		if cfg == nil {
			cfg = tp.cfg
		}
		c := *cfg
		c.NoARP, c.CounterInterval = true, -1
		tr, err := runRec(t, context.Background(), &c, trace.Target{Tap: tp.tap})
		if err != nil {
			t.Fatal(err)
		}
		h, _ := tr.Hop(trace.KindPhysicalPort, "")
		t.Logf("physical-port: %s %s: %s", h.Verdict, h.Name, h.Summary)
		return h
	}
	check := func(h trace.Hop, v trace.Verdict, name, summary string) {
		t.Helper()
		if h.Verdict != v || h.Name != name || h.Summary != summary {
			t.Errorf("physical-port hop %+v\nwant %s %s %q", h, v, name, summary)
		}
		if v == trace.Fail && (h.Cause == "" || h.Next == "" || h.Cause == h.Summary) {
			t.Errorf("fail without a cause of its own / next: %+v", h)
		}
	}
	check(phys(nil), trace.OK, "eth2", "eth2 up and forwarding on "+br+" (physical_interface_mappings provider:eth2, the only mapping)")

	host.SetDown(t, "eth2")
	h := phys(nil)
	check(h, trace.Fail, "eth2", "eth2 exists but is down (on "+br+")")
	if v, _ := h.Get("eth2"); !strings.Contains(v, "up false") {
		t.Errorf("eth2 evidence %q", v)
	}

	// NetworkManager manages the down NIC. Its run directory and procfs
	// are Config paths: a NetworkManager.pid naming a pid that the fake
	// procfs has, a device state file for eth2's real ifindex, and
	// self/ns/net pointing at the bridges' namespace (NetworkManager
	// manages the namespace vmtrace runs in).
	nmDir, procDir := t.TempDir(), t.TempDir()
	idx := host.Link(t, "eth2").Attrs().Index
	os.MkdirAll(filepath.Join(nmDir, "devices"), 0o755)
	os.WriteFile(filepath.Join(nmDir, "NetworkManager.pid"), []byte("4242\n"), 0o644)
	os.WriteFile(filepath.Join(nmDir, "devices", fmt.Sprint(idx)), []byte("# NetworkManager device state\n[device]\nmanaged=true\n"), 0o644)
	os.MkdirAll(filepath.Join(procDir, "4242"), 0o755)
	os.MkdirAll(filepath.Join(procDir, "self", "ns"), 0o755)
	if err := os.Symlink(host.Path, filepath.Join(procDir, "self", "ns", "net")); err != nil {
		t.Fatal(err)
	}
	nm := *tp.cfg
	nm.NMRunDir, nm.ProcDir = nmDir, procDir
	h = phys(&nm)
	check(h, trace.Fail, "eth2", "eth2 exists but is down (on "+br+")")
	if v, _ := h.Get("networkmanager"); !strings.HasPrefix(h.Cause, "NetworkManager manages eth2 and has taken it down") || v != filepath.Join(nmDir, "devices", fmt.Sprint(idx))+": managed=true" {
		t.Errorf("NetworkManager managing eth2: %+v", h)
	}
	// Released from the bridge and still managed: the same cause, and
	// the host check names eth2 too.
	host.Release(t, "eth2")
	c := nm
	c.NoARP, c.CounterInterval = true, -1
	tr, err := runRec(t, context.Background(), &c, trace.Target{Tap: tp.tap})
	if err != nil {
		t.Fatal(err)
	}
	h, _ = tr.Hop(trace.KindPhysicalPort, "")
	if h.Summary != "eth2 exists but is down and not on "+br || !strings.HasPrefix(h.Cause, "NetworkManager manages eth2") {
		t.Errorf("released and managed: %+v", h)
	}
	if h, _ := tr.Hop(trace.KindHostCheck, "networkmanager"); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "eth2") {
		t.Errorf("networkmanager host check: %+v", h)
	}
	host.Enslave(t, "eth2", br)
	host.SetUp(t, "eth2")
	waitOperUp(t, host, "eth2")

	// Two mappings, no API: the one on the bridge is chosen.
	two := *tp.cfg
	two.InterfaceMappings = map[string]string{"provider": "eth2", "physnet2": "eth3"}
	check(phys(&two), trace.OK, "eth2", "eth2 up and forwarding on "+br+" (physical_interface_mappings provider:eth2, the mapped interface on the bridge)")

	// A mapping naming a NIC that does not exist, with eth2 on the bridge.
	wrong := *tp.cfg
	wrong.InterfaceMappings = map[string]string{"provider": "eth3"}
	h = phys(&wrong)
	check(h, trace.Fail, "eth3", "eth3 missing from "+br+": no such interface on this node")
	if v, _ := h.Get("other_port"); !strings.HasPrefix(v, "eth2 ") {
		t.Errorf("other_port evidence %q", v)
	}

	// No agent config: the guess, and the evidence says so.
	none := *tp.cfg
	none.AgentConfig = filepath.Join(t.TempDir(), "missing.ini")
	h = phys(&none)
	if v, _ := h.Get("mappings"); h.Verdict != trace.OK || h.Name != "eth2" || !strings.HasPrefix(v, "warn: ") {
		t.Errorf("without an agent config: %+v", h)
	}
	// A broken one is named in the same evidence.
	bad := filepath.Join(t.TempDir(), "bad.ini")
	os.WriteFile(bad, []byte("[linux_bridge]\nphysical_interface_mappings = provider\n"), 0o644)
	none.AgentConfig = bad
	h = phys(&none)
	if v, _ := h.Get("mappings"); !strings.Contains(v, "invalid mapping") {
		t.Errorf("broken agent config: mappings evidence %q", v)
	}

	// A VLAN interface of eth2 on the bridge instead of eth2 (no API, so
	// the VLAN ID is read from the bridge port's name). The test kernels
	// may lack 8021q, so a veth named eth2.100 stands in: the hop goes by
	// the name, as the agent names it.
	host.Release(t, "eth2")
	host.Veth(t, "eth2.100", host, "trvlanpeer")
	host.Enslave(t, "eth2.100", br)
	host.SetUp(t, "trvlanpeer")
	host.SetUp(t, "eth2.100")
	waitOperUp(t, host, "eth2.100")
	check(phys(nil), trace.OK, "eth2.100", "eth2.100 up and forwarding on "+br+" (physical_interface_mappings provider:eth2, the only mapping, a VLAN interface of it on the bridge)")
	host.Run(t, "ip", "link", "del", "eth2.100")

	// eth2 on another bridge.
	host.Bridge(t, "trother0")
	host.Enslave(t, "eth2", "trother0")
	h = phys(nil)
	check(h, trace.Fail, "eth2", "eth2 is on another bridge, trother0, not on "+br)
	if out := string(host.Run(t, "ip", "-j", "link", "show", "dev", "eth2")); !strings.Contains(out, `"master":"trother0"`) {
		t.Errorf("ip -j link does not agree: %s", out)
	}

	// eth2 deleted: named, not "(none)".
	host.Run(t, "ip", "link", "del", "eth2")
	check(phys(nil), trace.Fail, "eth2", "eth2 missing from "+br+": no such interface on this node")
}

// With the API the network's provider attributes choose the uplink: a
// flat network on physnet "provider" expects the mapped eth2 even with two
// mappings; a VLAN network (segment 100) expects eth2.100, and says the
// agent did not create it while only eth2 exists.
func TestIntegrationServerUplinkFromNetwork(t *testing.T) {
	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	mappings := map[string]string{"provider": "eth2", "physnet2": "eth3"}

	id, port, _ := launchFake(t, c, "trvmflat")
	tp := topoForPort(t, port)
	cfg := *tp.cfg
	cfg.InterfaceMappings = mappings
	st := runServer(t, &cfg, c, id)
	tr := st.Traces[0]
	ph, _ := tr.Hop(trace.KindPhysicalPort, "")
	if ph.Verdict != trace.OK || ph.Name != "eth2" || ph.Summary != "eth2 up and forwarding on "+tp.n.Bridge+" (physical_interface_mappings provider:eth2, the network's physical network)" {
		t.Errorf("flat network: physical-port hop %+v", ph)
	}
	for k, want := range map[string]string{"network_type": "flat", "physical_network": "provider"} {
		if v, _ := tr.Hops[1].Get(k); v != want {
			t.Errorf("port hop %s = %q, want %q", k, v, want)
		}
	}
	if tr.Verdict != trace.OK {
		t.Errorf("flat network: verdict %s", tr.Verdict)
	}
	// bridge_mappings gives physnet "provider" an existing bridge: the
	// tap on the brq bridge is then on the wrong one.
	bm := *tp.cfg
	bm.InterfaceMappings, bm.BridgeMappings = map[string]string{}, map[string]string{"provider": "br-ex"}
	st = runServer(t, &bm, c, id)
	ph, _ = st.Traces[0].Hop(trace.KindPhysicalPort, "")
	if ph.Verdict != trace.Fail || ph.Name != "br-ex" || ph.Summary != "physical network provider uses the existing bridge br-ex (bridge_mappings), but the tap is on "+tp.n.Bridge {
		t.Errorf("bridge_mappings: physical-port hop %+v", ph)
	}

	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	nw, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: "trvlan", Type: launch.NetworkVLAN, PhysicalNetwork: "provider", SegmentationID: 100})
	if err != nil {
		t.Fatalf("EnsureNetwork: %v", err)
	}
	if _, err := c.EnsureSubnet(ctx, launch.SubnetSpec{Name: "trvlan-v4", Network: nw.ID, CIDR: netip.MustParsePrefix("192.168.31.64/27"),
		PoolStart: netip.MustParseAddr("192.168.31.70"), PoolEnd: netip.MustParseAddr("192.168.31.90"), Gateway: netip.MustParseAddr("192.168.31.65")}); err != nil {
		t.Fatalf("EnsureSubnet: %v", err)
	}
	srv, err := c.Launch(ctx, launch.ServerSpec{Name: "trvmvlan", Flavor: "m1.nano", Image: "aio-tiny", Network: "trvlan"})
	if err != nil || len(srv.Ports) != 1 || len(srv.Ports[0].FixedIPs) != 1 {
		t.Fatalf("Launch on the VLAN network: %+v, %v", srv, err)
	}
	vp := srv.Ports[0]
	tv := topoForPort(t, vp)
	cfg = *tv.cfg
	cfg.InterfaceMappings = mappings
	st = runServer(t, &cfg, c, srv.ID)
	tr = st.Traces[0]
	ph, _ = tr.Hop(trace.KindPhysicalPort, "")
	if ph.Verdict != trace.Fail || ph.Name != "eth2.100" || ph.Summary != "eth2.100 missing from "+tv.n.Bridge+": no such interface on this node" ||
		!strings.Contains(ph.Cause, "did not create the VLAN interface eth2.100") {
		t.Errorf("VLAN network, eth2 untagged on the bridge: physical-port hop %+v", ph)
	}
	if v, _ := ph.Get("other_port"); !strings.HasPrefix(v, "eth2 ") {
		t.Errorf("other_port evidence %q, want eth2", v)
	}
	if v, _ := tr.Hops[1].Get("segmentation_id"); v != "100" {
		t.Errorf("port hop segmentation_id %q", v)
	}
	// The agent's VLAN interface in place of eth2 (a veth of that name
	// stands in where the kernel lacks 8021q).
	host := tv.n.Host
	host.Release(t, "eth2")
	host.Veth(t, "eth2.100", host, "trvlanpeer")
	host.Enslave(t, "eth2.100", tv.n.Bridge)
	host.SetUp(t, "trvlanpeer")
	host.SetUp(t, "eth2.100")
	waitOperUp(t, host, "eth2.100")
	st = runServer(t, &cfg, c, srv.ID)
	ph, _ = st.Traces[0].Hop(trace.KindPhysicalPort, "")
	if ph.Verdict != trace.OK || ph.Summary != "eth2.100 up and forwarding on "+tv.n.Bridge+" (physical_interface_mappings provider:eth2, the network's physical network, VLAN 100)" {
		t.Errorf("VLAN interface on the bridge: physical-port hop %+v", ph)
	}
}
