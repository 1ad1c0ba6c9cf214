package firewall_test

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"slices"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// node is the walkthrough's compute node in throwaway namespaces: a brq
// bridge in "node" with the VM's tap (a veth to "vm") and the DHCP port's
// tap (a veth to "dhcp", the qdhcp namespace), and the agent's firewall
// for the VM's port installed with one iptables backend.
type node struct {
	node, vm, dhcp *testutil.NetNS
	port           fwlayout.Port
	dhcpIP, vmIP   netip.Addr
	dhcpTap        string
}

var (
	testGroup = "5e0d8f4c-3a6b-4f1e-9d2a-8b7c6d5e4f3a"
	testPort  = "3f2a9c1e-7b4d-4e8f-a1b2-c3d4e5f60718"
)

func walkthroughPort(id string, ip netip.Addr) fwlayout.Port {
	return fwlayout.Port{
		ID:  id,
		MAC: hwaddr.MustParse("fa:16:3e:5c:21:0a"),
		IPs: []netip.Addr{ip},
		Groups: []fwlayout.Group{{
			ID: testGroup,
			Rules: []fwlayout.Rule{
				{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: testGroup},
				{Direction: "egress", Ethertype: "IPv4"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp", RemoteIPPrefix: "0.0.0.0/0"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "0.0.0.0/0"},
			},
			Members: []netip.Addr{ip},
		}},
	}
}

func newNode(t *testing.T, b firewall.Backend, port fwlayout.Port) *node {
	t.Helper()
	testutil.RequireRoot(t)
	for _, bin := range []string{"/usr/sbin/iptables-nft-restore", "/usr/sbin/iptables-legacy-restore", "/usr/sbin/ebtables-nft-restore", "/usr/sbin/ipset", "/usr/bin/nsenter"} {
		if _, err := os.Stat(bin); err != nil {
			testutil.SkipOrFail(t, "%s missing: install iptables, ebtables, ipset and util-linux (`make deps`)", bin)
		}
	}
	n := &node{
		node:   testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fw-n", 16)),
		vm:     testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fw-v", 16)),
		dhcp:   testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fw-d", 16)),
		port:   port,
		vmIP:   port.IPs[0],
		dhcpIP: netip.MustParseAddr("192.168.31.70"),
	}
	br := testutil.RandName("brqfw")
	n.node.Bridge(t, br)
	n.node.Veth(t, port.Tap(), n.vm, "eth0")
	n.dhcpTap = testutil.RandName("tapfw")
	n.node.Veth(t, n.dhcpTap, n.dhcp, "ns-fw")
	for _, l := range []string{port.Tap(), n.dhcpTap} {
		n.node.Enslave(t, l, br)
		n.node.SetUp(t, l)
	}
	n.vm.SetMAC(t, "eth0", net.HardwareAddr(port.MAC))
	n.vm.AddAddr(t, "eth0", n.vmIP.String()+"/27")
	n.vm.SetUp(t, "eth0")
	n.vm.SetUp(t, "lo")
	n.dhcp.AddAddr(t, "ns-fw", n.dhcpIP.String()+"/27")
	n.dhcp.SetUp(t, "ns-fw")
	n.node.Run(t, "/usr/sbin/sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1")
	if err := fwlayout.Install(context.Background(), n.node.Path, b, []fwlayout.Port{port}); err != nil {
		t.Fatal(err)
	}
	return n
}

func read(t *testing.T, n *node) *firewall.Snapshot {
	t.Helper()
	s, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: n.node.Path})
	if err != nil {
		t.Fatalf("Read: %v", err)
	}
	return s
}

// probe is the walkthrough's ping and ssh from the qdhcp namespace.
func probe(t *testing.T, n *node) dhcpns.ReachResult {
	t.Helper()
	res, err := dhcpns.ProbeReach(context.Background(), &dhcpns.Config{NetNSDir: testutil.DefaultNetNSDir}, n.dhcp.Name, []netip.Addr{n.vmIP}, &dhcpns.ReachOptions{Timeout: 700 * time.Millisecond})
	if err != nil {
		t.Fatalf("ProbeReach: %v", err)
	}
	return res[0]
}

func TestIntegrationAgentLayout(t *testing.T) {
	for _, b := range []firewall.Backend{firewall.BackendNFT, firewall.BackendLegacy} {
		t.Run(string(b), func(t *testing.T) {
			ip := netip.MustParseAddr("192.168.31.74")
			n := newNode(t, b, walkthroughPort(testPort, ip))
			s := read(t, n)

			// The backend split: Neutron's chains in b, nothing in the other.
			bs := s.Backends()
			if !slices.Equal(bs.Neutron, []firewall.Backend{b}) || len(bs.Others) != 0 {
				t.Errorf("Backends() = %+v, want Neutron [%s] and no other filtering", bs, b)
			}
			compareWithCLI(t, n, s, b)

			p := s.Port(testPort, firewall.IPv4)
			if !p.Filtered() || p.Spoof == nil || p.MACChain == nil || p.ARPChain == nil || p.MACJump == nil || p.ARPJump == nil {
				t.Fatalf("Port(%s) incomplete: %+v", testPort, p)
			}
			if got, want := p.Ingress.Name, "neutron-linuxbri-i3f2a9c1e-7"; got != want {
				t.Errorf("ingress chain %q, want %q (Neutron's truncation)", got, want)
			}

			// The walkthrough's ping and ssh, evaluated and then sent.
			icmpPkt := firewall.Packet{Protocol: "icmp", Src: n.dhcpIP, Dst: ip, ICMPType: 8, PhysIn: n.dhcpTap, PhysOut: p.Tap, Bridged: true}
			sshPkt := firewall.Packet{Protocol: "tcp", Src: n.dhcpIP, Dst: ip, SrcPort: 40000, DstPort: 22, PhysIn: n.dhcpTap, PhysOut: p.Tap, Bridged: true}
			for _, pk := range []firewall.Packet{icmpPkt, sshPkt} {
				r, err := s.Evaluate(b, "FORWARD", pk)
				if err != nil {
					t.Fatal(err)
				}
				admit := lastIn(r.Path, p.Ingress.Name)
				if r.Verdict != "ACCEPT" || admit == nil || admit.Target != "RETURN" || admit.Match.Protocol != pk.Protocol {
					t.Errorf("%s: Evaluate = %s by %s, admitted by %+v; want ACCEPT through the %s rule of %s", pk.Protocol, r.Verdict, r.Decider(), admit, pk.Protocol, p.Ingress.Name)
				}
			}
			got := probe(t, n)
			if got.ICMP != dhcpns.ReachAnswered || got.TCP != dhcpns.ReachRefused {
				t.Errorf("healthy: probe = %+v, want icmp answered, tcp refused (no sshd)", got)
			}
			// The ICMP rule's counter moved with the probe.
			after := read(t, n)
			moved := firewall.Moved(s, after, b, firewall.IPv4)
			if !hasMoved(moved, p.Ingress.Name, "icmp", "RETURN") {
				t.Errorf("after a ping, no counter moved on %s's icmp RETURN rule: %+v", p.Ingress.Name, moved)
			}

			// Fault: the ICMP rule deleted from the port's chain.
			ipt := map[firewall.Backend]string{firewall.BackendNFT: "/usr/sbin/iptables-nft", firewall.BackendLegacy: "/usr/sbin/iptables-legacy"}[b]
			n.node.Run(t, ipt, "-D", p.Ingress.Name, "-p", "icmp", "-j", "RETURN")
			before := read(t, n)
			r, err := before.Evaluate(b, "FORWARD", icmpPkt)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != "DROP" || r.Rule == nil || r.Rule.Chain != firewall.FallbackChain {
				t.Errorf("without the icmp rule: Evaluate = %s by %s, want DROP by %s", r.Verdict, r.Decider(), firewall.FallbackChain)
			}
			got = probe(t, n)
			if got.ICMP != dhcpns.ReachSilent || got.TCP != dhcpns.ReachRefused {
				t.Errorf("without the icmp rule: probe = %+v, want icmp silent, tcp refused", got)
			}
			moved = firewall.Moved(before, read(t, n), b, firewall.IPv4)
			if !hasMoved(moved, firewall.FallbackChain, "", "DROP") {
				t.Errorf("a silent ping moved no DROP counter in %s: %+v", firewall.FallbackChain, moved)
			}

			// Fault: a DROP inserted at the top of the ingress chain.
			n.node.Run(t, ipt, "-I", p.Ingress.Name, "1", "-p", "tcp", "--dport", "22", "-j", "DROP")
			s = read(t, n)
			r, _ = s.Evaluate(b, "FORWARD", sshPkt)
			if r.Verdict != "DROP" || r.Rule == nil || r.Rule.Chain != p.Ingress.Name || r.Rule.Num != 1 {
				t.Errorf("with a DROP first: Evaluate = %s by %s, want DROP by %s#1", r.Verdict, r.Decider(), p.Ingress.Name)
			}
			if got := probe(t, n); got.TCP != dhcpns.ReachSilent {
				t.Errorf("with a DROP first: tcp %s, want silent", got.TCP)
			}

			// Anti-spoofing: the VM's ARP is admitted; its IP removed, dropped.
			arp := firewall.Frame{InIface: p.Tap, SrcMAC: n.port.MAC, ARP: true, ARPSrcIP: ip}
			er, err := s.EvaluateEbtables(arp)
			if err != nil {
				t.Fatal(err)
			}
			if er.Verdict != "ACCEPT" || er.Rule == nil || er.Rule.Chain != firewall.EbARPChain(p.Tap) {
				t.Errorf("VM's ARP: %s by %+v, want ACCEPT in %s", er.Verdict, er.Rule, firewall.EbARPChain(p.Tap))
			}
			n.node.Run(t, "/usr/sbin/ebtables-nft", "-t", "nat", "-D", firewall.EbARPChain(p.Tap), "-p", "ARP", "--arp-ip-src", ip.String(), "-j", "ACCEPT")
			er, _ = read(t, n).EvaluateEbtables(arp)
			if er.Verdict != "DROP" || er.Rule == nil || er.Rule.Chain != firewall.EbARPChain(p.Tap) {
				t.Errorf("VM's ARP without its rule: %s by %+v, want DROP in %s", er.Verdict, er.Rule, firewall.EbARPChain(p.Tap))
			}
		})
	}
}

// TestIntegrationReadOnly reads a fresh namespace and checks the read
// created nothing: no legacy table instantiated (naming one with -t
// would), no nf_tables table, no ebtables table.
func TestIntegrationReadOnly(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fw-r", 16))
	s, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: ns.Path})
	if err != nil {
		t.Fatal(err)
	}
	if bs := s.Backends(); len(bs.Neutron) != 0 || len(bs.Others) != 0 || len(bs.Read) != 2 {
		t.Errorf("fresh namespace: %+v, want both backends read, no Neutron, no filtering", bs)
	}
	out := ns.Run(t, "/bin/sh", "-c", "cat /proc/net/ip_tables_names /proc/net/ip6_tables_names; /usr/sbin/iptables-nft-save; /usr/sbin/ip6tables-nft-save; /usr/sbin/ebtables-nft-save")
	if len(strings.TrimSpace(string(out))) != 0 {
		t.Errorf("Read left tables in a fresh namespace:\n%s", out)
	}
}

func lastIn(path []firewall.Rule, chain string) *firewall.Rule {
	for i := len(path) - 1; i >= 0; i-- {
		if path[i].Chain == chain {
			return &path[i]
		}
	}
	return nil
}

func hasMoved(d []firewall.RuleDelta, chain, proto, target string) bool {
	for _, m := range d {
		if m.Rule.Chain == chain && m.Rule.Match.Protocol == proto && m.Rule.Target == target && m.Packets > 0 {
			return true
		}
	}
	return false
}

// compareWithCLI checks the snapshot against the tools' other listings:
// `iptables -S` (rule text) and `iptables -L -v -x -n` (counters) per
// chain, `ipset save` against the netlink read, and ebtables-nft-save -c
// against the -L --Lc listing.
func compareWithCLI(t *testing.T, n *node, s *firewall.Snapshot, b firewall.Backend) {
	t.Helper()
	ipt := "/usr/sbin/iptables-" + string(b)
	tab := s.Table(b, firewall.IPv4)
	for _, c := range tab.Chains {
		var want []string
		for _, line := range strings.Split(strings.TrimSpace(string(n.node.Run(t, ipt, "-S", c.Name))), "\n") {
			if strings.HasPrefix(line, "-A ") {
				want = append(want, line)
			}
		}
		var got []string
		for _, r := range c.Rules {
			got = append(got, "-A "+c.Name+" "+r.Spec)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("chain %s: rules differ from `iptables -S` (-want +got):\n%s", c.Name, d)
		}
		var wantCnt []uint64
		lines := strings.Split(strings.TrimSpace(string(n.node.Run(t, ipt, "-L", c.Name, "-v", "-x", "-n"))), "\n")
		for _, l := range lines {
			// Skip the chain and column headers (and a "# Warning:" line
			// iptables-nft prints when legacy tables exist too).
			f := strings.Fields(l)
			if len(f) == 0 {
				continue
			}
			if v, err := strconv.ParseUint(f[0], 10, 64); err == nil {
				wantCnt = append(wantCnt, v)
			}
		}
		var gotCnt []uint64
		for _, r := range c.Rules {
			gotCnt = append(gotCnt, r.Packets)
		}
		// The listing runs after Read: a counter may only have grown.
		if len(wantCnt) != len(gotCnt) {
			t.Errorf("chain %s: %d counters in `iptables -L -v -x`, %d rules read", c.Name, len(wantCnt), len(gotCnt))
		}
		for i := range min(len(wantCnt), len(gotCnt)) {
			if wantCnt[i] < gotCnt[i] {
				t.Errorf("chain %s#%d: read %d packets, `iptables -L -v -x` later %d", c.Name, i+1, gotCnt[i], wantCnt[i])
			}
		}
	}
	// ipsets: Read parses `ipset save`; netlink's dump is the independent
	// reading.
	nsf := n.node.Open(t)
	h, err := netlink.NewHandleAt(netns.NsHandle(nsf.Fd()), unix.NETLINK_NETFILTER)
	nsf.Close()
	if err != nil {
		t.Fatal(err)
	}
	res, err := h.IpsetListAll()
	h.Close()
	if err != nil {
		t.Fatal(err)
	}
	var viaNetlink []firewall.Set
	for _, r := range res {
		set := firewall.Set{Name: r.SetName, Type: r.TypeName, Members: []netip.Prefix{}}
		for _, e := range r.Entries {
			a, _ := netip.AddrFromSlice(e.IP)
			bits := int(e.CIDR)
			if bits == 0 {
				bits = a.Unmap().BitLen()
			}
			set.Members = append(set.Members, netip.PrefixFrom(a.Unmap(), bits))
		}
		viaNetlink = append(viaNetlink, set)
	}
	if d := cmp.Diff(fmt.Sprint(viaNetlink), fmt.Sprint(s.Sets)); d != "" {
		t.Errorf("ipsets differ between netlink and Read (-want +got):\n%s", d)
	}
	saved, err := firewall.ParseIPTablesSave(string(n.node.Run(t, "/usr/sbin/ebtables-nft-save", "-c")), firewall.BackendNFT, "")
	if err != nil {
		t.Fatal(err)
	}
	for _, c := range saved[0].Chains {
		ec := s.Ebtables.Chain(c.Name)
		if ec == nil {
			t.Errorf("ebtables chain %s in ebtables-save is missing from the listing", c.Name)
			continue
		}
		var want, got []string
		for _, r := range c.Rules {
			want = append(want, r.Spec)
		}
		for _, r := range ec.Rules {
			got = append(got, r.Spec)
		}
		if d := cmp.Diff(want, got); d != "" {
			t.Errorf("ebtables chain %s: listing differs from ebtables-save -c (-want +got):\n%s", c.Name, d)
		}
		// Counters: the save ran after the listing, so never smaller.
		for i := range min(len(c.Rules), len(ec.Rules)) {
			if c.Rules[i].Packets < ec.Rules[i].Packets {
				t.Errorf("ebtables %s#%d: listed %d packets, ebtables-save later %d: counters went back", c.Name, i+1, ec.Rules[i].Packets, c.Rules[i].Packets)
			}
		}
	}
}
