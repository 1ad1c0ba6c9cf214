package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationScopedRead installs the agent's layout for 12 dual-stack
// ports (IPv4 and IPv6, one group with a remote-group rule) with each
// iptables backend, plus (nft) a host chain FORWARD jumps to, and reads
// the node whole and scoped to one port (Config.Taps): the port's
// firewall (chains, jumps, ebtables) is equal field by field in both
// families, every chain of the scoped table equals the whole read's, the
// host chain was followed, other ports' chains are absent, Backends and
// the ipsets are the same, Evaluate decides the walkthrough's packets
// alike, and StaleTaps is the only thing Scoped says a judge must not
// ask for.
func TestIntegrationScopedRead(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "iptables-nft", "iptables")
	for _, b := range []firewall.Backend{firewall.BackendNFT, firewall.BackendLegacy} {
		t.Run(string(b), func(t *testing.T) {
			ns := testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fs-n", 16))
			g := fwlayout.Group{ID: testGroup, Rules: []fwlayout.Rule{
				{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: testGroup},
				{Direction: "egress", Ethertype: "IPv4"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp", RemoteIPPrefix: "0.0.0.0/0"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "0.0.0.0/0"},
				{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: testGroup},
				{Direction: "egress", Ethertype: "IPv6"},
				{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp", PortMin: 128, RemoteIPPrefix: "::/0"},
			}}
			var ports []fwlayout.Port
			for i := range 12 {
				v4 := netip.AddrFrom4([4]byte{192, 168, 31, byte(10 + i)})
				v6 := netip.MustParseAddr(fmt.Sprintf("2001:db8:31::%x", 10+i))
				g.Members = append(g.Members, v4, v6)
				ports = append(ports, fwlayout.Port{
					ID:  fmt.Sprintf("%08x-7b4d-4e8f-a1b2-c3d4e5f6%04x", 0x3f2a9c00+i, i),
					MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0x5c, 0x21, byte(i)},
					IPs: []netip.Addr{v4, v6},
				})
			}
			for i := range ports {
				ports[i].Groups = []fwlayout.Group{g}
			}
			if err := fwlayout.Install(context.Background(), ns.Path, b, ports); err != nil {
				t.Fatal(err)
			}
			extra := ""
			if b == firewall.BackendNFT {
				// A host chain on FORWARD's path (as docker's): a scoped
				// read must follow FORWARD's jumps, not only the agent's.
				extra = testutil.RandName("fs-x")
				ns.Run(t, "/usr/sbin/iptables-nft", "-N", extra)
				ns.Run(t, "/usr/sbin/iptables-nft", "-A", extra, "-p", "udp", "--dport", "9", "-j", "DROP")
				ns.Run(t, "/usr/sbin/iptables-nft", "-I", "FORWARD", "-j", extra)
			}
			eq := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
			me := ports[5]
			tap := me.Tap()
			full, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: ns.Path})
			if err != nil {
				t.Fatalf("Read whole: %v", err)
			}
			sc, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: ns.Path, Taps: []string{me.ID}})
			if err != nil {
				t.Fatalf("Read scoped: %v", err)
			}
			if full.Scoped() || !sc.Scoped() || !slices.Equal(sc.Scope, []string{tap}) {
				t.Fatalf("Scope: whole %v, scoped %v; want none and [%s]", full.Scope, sc.Scope, tap)
			}
			if d := cmp.Diff(full.Backends(), sc.Backends(), eq); d != "" {
				t.Errorf("Backends differ (-whole +scoped):\n%s", d)
			}
			// The scoped read has the sets the port's rules name (here
			// the group's two, all there are), in the order named.
			byName := cmpopts.SortSlices(func(a, b firewall.Set) bool { return a.Name < b.Name })
			if d := cmp.Diff(full.Sets, sc.Sets, eq, byName); d != "" {
				t.Errorf("ipsets differ (-whole +scoped):\n%s", d)
			}
			// ebtables: the built-in chains and the port's two, each as
			// the whole read has it; other ports' chains left out.
			var names []string
			for _, c := range sc.Ebtables.Chains {
				names = append(names, c.Name)
				if d := cmp.Diff(full.Ebtables.Chain(c.Name), &c, eq); d != "" {
					t.Errorf("ebtables chain %s differs (-whole +scoped):\n%s", c.Name, d)
				}
			}
			if want := []string{"PREROUTING", "OUTPUT", "POSTROUTING", firewall.EbARPChain(tap), firewall.EbMACChain(tap)}; !slices.Equal(names, want) {
				t.Errorf("scoped ebtables chains %v, want %v", names, want)
			}
			if d := cmp.Diff(full.Missing, sc.Missing, eq); d != "" {
				t.Errorf("Missing differs (-whole +scoped):\n%s", d)
			}
			byPlace := func(a, b firewall.Rule) int {
				if c := strings.Compare(a.Chain, b.Chain); c != 0 {
					return c
				}
				return a.Num - b.Num
			}
			for _, f := range []firewall.Family{firewall.IPv4, firewall.IPv6} {
				pw, ps := full.Port(tap, f), sc.Port(tap, f)
				if !pw.Filtered() || pw.Spoof == nil || pw.MACChain == nil || (f == firewall.IPv4 && pw.ARPChain == nil) {
					t.Fatalf("%s: whole read's Port incomplete: %+v", f, pw)
				}
				slices.SortFunc(pw.Jumps, byPlace)
				slices.SortFunc(ps.Jumps, byPlace)
				if len(pw.Jumps) < 3 {
					t.Errorf("%s: %d jumps for %s in the whole read, want the FORWARD, sg-chain and INPUT ones", f, len(pw.Jumps), tap)
				}
				if d := cmp.Diff(pw, ps, eq); d != "" {
					t.Errorf("%s: Port(%s) differs (-whole +scoped):\n%s", f, tap, d)
				}
				ts, tw := sc.Table(b, f), full.Table(b, f)
				if ts == nil || tw == nil {
					t.Fatalf("%s: no %s table (whole %v, scoped %v)", f, b, tw != nil, ts != nil)
				}
				for _, c := range ts.Chains {
					if d := cmp.Diff(tw.Chain(c.Name), &c, eq); d != "" {
						t.Errorf("%s: chain %s differs (-whole +scoped):\n%s", f, c.Name, d)
					}
				}
				other := firewall.PortChain(ports[6].ID, firewall.Ingress)
				if b == firewall.BackendNFT {
					if ts.Chain(other) != nil {
						t.Errorf("%s: scoped read holds another port's chain %s", f, other)
					}
					if f == firewall.IPv4 && ts.Chain(extra) == nil {
						t.Errorf("%s: scoped read did not follow FORWARD to %s", f, extra)
					}
					if len(ts.Chains) >= len(tw.Chains) {
						t.Errorf("%s: scoped read has %d chains, the whole %d: nothing left out", f, len(ts.Chains), len(tw.Chains))
					}
				} else if len(ts.Chains) != len(tw.Chains) {
					t.Errorf("%s: legacy is read whole, but scoped has %d chains and whole %d", f, len(ts.Chains), len(tw.Chains))
				}
				src, dst := netip.MustParseAddr("192.168.31.70"), me.IPs[0]
				proto := "icmp"
				if f == firewall.IPv6 {
					src, dst, proto = netip.MustParseAddr("2001:db8:31::70"), me.IPs[1], "ipv6-icmp"
				}
				for _, pk := range []firewall.Packet{
					{Protocol: proto, ICMPType: 8, Src: src, Dst: dst, PhysOut: tap, Bridged: true},
					{Protocol: "tcp", DstPort: 22, Src: src, Dst: dst, PhysOut: tap, Bridged: true},
					{Protocol: "udp", DstPort: 9, Src: src, Dst: dst, PhysOut: tap, Bridged: true},
					{Protocol: "tcp", DstPort: 80, Src: dst, Dst: src, PhysIn: tap, Bridged: true},
				} {
					if f == firewall.IPv6 && pk.ICMPType == 8 {
						pk.ICMPType = 128
					}
					rw, errw := full.Evaluate(b, "FORWARD", pk)
					rs, errs := sc.Evaluate(b, "FORWARD", pk)
					if errw != nil || errs != nil {
						t.Fatalf("%s: Evaluate: whole %v, scoped %v", f, errw, errs)
					}
					if rw.Verdict != rs.Verdict || rw.Decider() != rs.Decider() {
						t.Errorf("%s: %+v: whole %s by %s, scoped %s by %s", f, pk, rw.Verdict, rw.Decider(), rs.Verdict, rs.Decider())
					}
				}
			}
		})
	}
}
