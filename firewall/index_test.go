package firewall_test

import (
	"encoding/json"
	"fmt"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
)

// TestIndexedAnswersAsScanned checks that an indexed snapshot answers
// every lookup as the snapshot itself does, on the agent's layout for 30
// ports in both families (with address pairs, two groups, one port
// missing its ebtables jumps and one its FORWARD jump) and on edits an
// operator's night makes: a DROP inserted in FORWARD for one tap, a
// chain of another port holding a rule for this one, a duplicate chain
// name. Port for every tap and an unknown one, Evaluate of ingress and
// egress ICMP, SSH and spoofed packets, EvaluateEbtables of good and
// spoofed frames, NeutronBackend and the JSON must be equal.
func TestIndexedAnswersAsScanned(t *testing.T) {
	var ports []fwlayout.Port
	for i := range 30 {
		g := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i%3)
		ip4 := netip.AddrFrom4([4]byte{10, 2, 0, byte(i + 10)})
		ip6 := netip.MustParseAddr(fmt.Sprintf("fd00::%x", i+10))
		p := fwlayout.Port{ID: fmt.Sprintf("%08x-2222-4222-8222-222222222222", i), MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 1, 0, byte(i)}, IPs: []netip.Addr{ip4, ip6},
			Groups: []fwlayout.Group{{ID: g, Members: []netip.Addr{ip4}, Rules: []fwlayout.Rule{
				{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: g},
				{Direction: "egress", Ethertype: "IPv4"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
				{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp"}}}}}
		if i%7 == 0 {
			p.Pairs = []fwlayout.Pair{{IP: netip.MustParsePrefix(fmt.Sprintf("10.2.1.%d/32", i))}}
		}
		if i%5 == 0 {
			p.NoSSH = true
		}
		ports = append(ports, p)
	}
	edits := map[string]func(s *firewall.Snapshot){
		"agent's layout": func(*firewall.Snapshot) {},
		"DROP for one tap in FORWARD and a rule of another port's chain naming it": func(s *firewall.Snapshot) {
			t4 := s.Table(firewall.BackendNFT, firewall.IPv4)
			fwd := t4.Chain("FORWARD")
			drop := firewall.Rule{Chain: "FORWARD", Num: 1, Target: "DROP", Spec: "-A FORWARD -m physdev --physdev-out " + ports[3].Tap() + " -j DROP"}
			drop.Match.PhysdevOut = ports[3].Tap()
			fwd.Rules = append([]firewall.Rule{drop}, fwd.Rules...)
			other := t4.Chain(firewall.PortChain(ports[4].Tap(), firewall.Ingress))
			r := firewall.Rule{Chain: other.Name, Num: len(other.Rules) + 1, Target: "RETURN"}
			r.Match.PhysdevIn = ports[3].Tap()
			other.Rules = append(other.Rules, r)
		},
		"duplicate chain name and missing jumps": func(s *firewall.Snapshot) {
			t4 := s.Table(firewall.BackendNFT, firewall.IPv4)
			dup := *t4.Chain(firewall.PortChain(ports[5].Tap(), firewall.Ingress))
			dup.Rules = nil
			t4.Chains = append(t4.Chains, dup)
			pre := s.Ebtables.Chain("PREROUTING")
			var keep []firewall.EbRule
			for _, r := range pre.Rules {
				if r.InIface != ports[6].Tap() {
					keep = append(keep, r)
				}
			}
			pre.Rules = keep
			fwd := t4.Chain(firewall.SGChain)
			var rules []firewall.Rule
			for _, r := range fwd.Rules {
				if r.Match.PhysdevOut != ports[7].Tap() {
					rules = append(rules, r)
				}
			}
			fwd.Rules = rules
		},
	}
	addrs := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	src := netip.MustParseAddr("10.2.0.200")
	for name, edit := range edits {
		t.Run(name, func(t *testing.T) {
			s, err := fwlayout.Snapshot(ports, firewall.BackendNFT)
			if err != nil {
				t.Fatal(err)
			}
			edit(s)
			ix := s.Indexed()
			eq := func(what string, want, got any) {
				t.Helper()
				if d := cmp.Diff(want, got, addrs); d != "" {
					t.Errorf("%s: indexed differs (-scanned +indexed):\n%s", what, d)
				}
			}
			wb, wok := s.NeutronBackend()
			gb, gok := ix.NeutronBackend()
			eq("NeutronBackend", [2]any{wb, wok}, [2]any{gb, gok})
			ws, _ := json.Marshal(s)
			gs, _ := json.Marshal(ix)
			eq("JSON", string(ws), string(gs))
			taps := []string{"tapdeadbeef-00"}
			for _, p := range ports {
				taps = append(taps, p.Tap())
			}
			jumps := 0
			for _, tap := range taps {
				for _, f := range []firewall.Family{firewall.IPv4, firewall.IPv6} {
					want := s.Port(tap, f)
					eq("Port "+tap+" "+string(f), want, ix.Port(tap, f))
					jumps += len(want.Jumps)
				}
			}
			if jumps == 0 {
				t.Fatal("no port has a jump: the layout is not the agent's")
			}
			verdicts := map[string]int{}
			for i, p := range ports {
				tap, dst := p.Tap(), p.IPs[0]
				for _, pk := range []firewall.Packet{
					{Protocol: "icmp", Src: src, Dst: dst, ICMPType: 8, PhysOut: tap, Bridged: true},
					{Protocol: "tcp", Src: src, Dst: dst, DstPort: 22, PhysOut: tap, Bridged: true},
					{Protocol: "tcp", Src: dst, Dst: src, DstPort: 80, SrcMAC: p.MAC, PhysIn: tap, Bridged: true},
					{Protocol: "icmp", Src: netip.MustParseAddr("10.9.9.9"), Dst: src, SrcMAC: p.MAC, PhysIn: tap, Bridged: true},
					{Protocol: "ipv6-icmp", Src: netip.MustParseAddr("fd00::1"), Dst: p.IPs[1], ICMPType: 128, PhysOut: tap, Bridged: true},
				} {
					wr, werr := s.Evaluate(firewall.BackendNFT, "FORWARD", pk)
					verdicts[wr.Verdict]++
					gr, gerr := ix.Evaluate(firewall.BackendNFT, "FORWARD", pk)
					eq(fmt.Sprintf("Evaluate %+v", pk), [2]any{wr, fmt.Sprint(werr)}, [2]any{gr, fmt.Sprint(gerr)})
				}
				for _, fr := range []firewall.Frame{
					{InIface: tap, SrcMAC: p.MAC},
					{InIface: tap, SrcMAC: ports[(i+1)%len(ports)].MAC},
					{InIface: tap, SrcMAC: p.MAC, ARP: true, ARPSrcIP: dst},
					{InIface: tap, SrcMAC: p.MAC, ARP: true, ARPSrcIP: src},
				} {
					wr, werr := s.EvaluateEbtables(fr)
					gr, gerr := ix.EvaluateEbtables(fr)
					eq(fmt.Sprintf("EvaluateEbtables %+v", fr), [2]any{wr, fmt.Sprint(werr)}, [2]any{gr, fmt.Sprint(gerr)})
				}
			}
			if verdicts["ACCEPT"] == 0 || verdicts["DROP"] == 0 {
				t.Errorf("the packets' verdicts are %v: want both ACCEPT and DROP", verdicts)
			}
		})
	}
	// An indexed snapshot with no tables or ebtables answers as an empty one.
	var empty firewall.Snapshot
	if d := cmp.Diff(empty.Port(ports[0].Tap(), firewall.IPv4), empty.Indexed().Port(ports[0].Tap(), firewall.IPv4), addrs); d != "" {
		t.Errorf("empty snapshot: indexed differs:\n%s", d)
	}
}
