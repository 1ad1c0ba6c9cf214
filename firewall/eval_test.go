package firewall

import (
	"encoding/json"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/hwaddr"
)

const evalTable = `*filter
:FORWARD DROP [7:700]
:c - [0:0]
:loop - [0:0]
[1:2] -A FORWARD -i br0 -o br0 -j c
[0:0] -A c -p tcp -m multiport --dports 80,8000:8080 -j ACCEPT
[0:0] -A c ! -s 10.0.0.0/8 -p udp -j DROP
[0:0] -A c -p icmp -m icmp --icmp-type 3/1 -j REJECT --reject-with icmp-port-unreachable
[0:0] -A c -m set --match-set NIPv4g src -p icmp -j ACCEPT
[0:0] -A c -m mac --mac-source FA:16:3E:00:00:01 -j ACCEPT
[0:0] -A c -m conntrack --ctstate ESTABLISHED -j ACCEPT
[0:0] -A c -m foo --bar 1 -j ACCEPT
[0:0] -A c -p sctp -j loop
[0:0] -A loop -j c
COMMIT
`

func TestEvaluate(t *testing.T) {
	tables, err := ParseIPTablesSave(evalTable, BackendLegacy, IPv4)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Tables: tables, Sets: []Set{{Name: "NIPv4g", Members: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}}}
	in, out := netip.MustParseAddr("10.1.1.1"), netip.MustParseAddr("10.2.2.2")
	base := Packet{Src: in, Dst: out, InIface: "br0", OutIface: "br0"}
	with := func(f func(*Packet)) Packet { p := base; f(&p); return p }
	for _, tc := range []struct {
		name    string
		p       Packet
		verdict string
		decider string
		skipped int
	}{
		{"multiport hit", with(func(p *Packet) { p.Protocol = "tcp"; p.DstPort = 8001 }), "ACCEPT", "c#1", 0},
		{"multiport miss falls to policy", with(func(p *Packet) { p.Protocol = "tcp"; p.DstPort = 81 }), "DROP", "FORWARD policy", 1},
		{"negated source", with(func(p *Packet) { p.Protocol = "udp"; p.Src = netip.MustParseAddr("192.0.2.1") }), "DROP", "c#2", 0},
		{"negated source miss", with(func(p *Packet) { p.Protocol = "udp" }), "DROP", "FORWARD policy", 1},
		{"icmp type/code", with(func(p *Packet) { p.Protocol = "icmp"; p.ICMPType = 3; p.ICMPCode = 1 }), "REJECT", "c#3", 0},
		{"ipset member", with(func(p *Packet) { p.Protocol = "icmp"; p.ICMPType = 8; p.Src = netip.MustParseAddr("10.9.3.4") }), "ACCEPT", "c#4", 0},
		{"ipset non-member", with(func(p *Packet) { p.Protocol = "icmp"; p.ICMPType = 8 }), "DROP", "FORWARD policy", 1},
		{"mac source", with(func(p *Packet) { p.Protocol = "icmp"; p.SrcMAC = hwaddr.MustParse("fa:16:3e:00:00:01") }), "ACCEPT", "c#5", 0},
		{"established", with(func(p *Packet) { p.Protocol = "icmp"; p.State = "ESTABLISHED" }), "ACCEPT", "c#6", 0},
		{"other interface: policy", with(func(p *Packet) { p.InIface = "eth0"; p.Protocol = "tcp"; p.DstPort = 80 }), "DROP", "FORWARD policy", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			r, err := s.Evaluate(BackendLegacy, "FORWARD", tc.p)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != tc.verdict || r.Decider() != tc.decider || len(r.Skipped) != tc.skipped {
				t.Errorf("Evaluate = %s by %s (%d skipped), want %s by %s (%d skipped)", r.Verdict, r.Decider(), len(r.Skipped), tc.verdict, tc.decider, tc.skipped)
			}
		})
	}
	if _, err := s.Evaluate(BackendLegacy, "FORWARD", with(func(p *Packet) { p.Protocol = "sctp" })); err == nil {
		t.Error("a c → loop → c cycle evaluated without error")
	}
	if _, err := s.Evaluate(BackendNFT, "FORWARD", base); err == nil {
		t.Error("evaluating a table that was not read gave no error")
	}
	if _, err := s.Evaluate(BackendLegacy, "c", base); err == nil {
		t.Error("starting at a user chain gave no error")
	}
}

func TestParseRuleTyped(t *testing.T) {
	r, err := parseRuleLine(`[12:3456] -A neutron-linuxbri-s3f2a9c1e-7 -s 192.168.31.74/32 -m mac --mac-source FA:16:3E:5C:21:0A -m comment --comment "Allow traffic from defined IP/MAC pairs." -j RETURN`)
	if err != nil {
		t.Fatal(err)
	}
	want := Rule{
		Chain: "neutron-linuxbri-s3f2a9c1e-7", Packets: 12, Bytes: 3456,
		Spec:    `-s 192.168.31.74/32 -m mac --mac-source FA:16:3E:5C:21:0A -m comment --comment "Allow traffic from defined IP/MAC pairs." -j RETURN`,
		Match:   Match{Source: netip.MustParsePrefix("192.168.31.74/32"), MACSource: hwaddr.MustParse("fa:16:3e:5c:21:0a")},
		Target:  "RETURN",
		Comment: "Allow traffic from defined IP/MAC pairs.",
	}
	if d := cmp.Diff(want, r, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("parseRuleLine (-want +got):\n%s", d)
	}
}

func TestParseEbtablesList(t *testing.T) {
	eb, err := ParseEbtablesList(`Bridge table: nat

Bridge chain: PREROUTING, entries: 2, policy: ACCEPT
-i tapabc -j neutronMAC-tapabc , pcnt = 5 -- bcnt = 300
-p ARP -i tapabc -j neutronARP-tapabc , pcnt = 2 -- bcnt = 56

Bridge chain: neutronARP-tapabc, entries: 2, policy: RETURN
-p ARP --arp-ip-src 10.0.0.5 -j ACCEPT , pcnt = 2 -- bcnt = 56
-j DROP , pcnt = 0 -- bcnt = 0

Bridge chain: neutronMAC-tapabc, entries: 2, policy: RETURN
-i tapabc --among-src fa:16:3e:0:0:1, -j RETURN , pcnt = 5 -- bcnt = 300
-j DROP , pcnt = 0 -- bcnt = 0
`, BackendNFT)
	if err != nil {
		t.Fatal(err)
	}
	s := &Snapshot{Ebtables: eb}
	mac := hwaddr.MustParse("fa:16:3e:00:00:01")
	for _, tc := range []struct {
		f       Frame
		verdict string
		rule    string
	}{
		{Frame{InIface: "tapabc", SrcMAC: mac, ARP: true, ARPSrcIP: netip.MustParseAddr("10.0.0.5")}, "ACCEPT", "neutronARP-tapabc#1"},
		{Frame{InIface: "tapabc", SrcMAC: mac, ARP: true, ARPSrcIP: netip.MustParseAddr("10.0.0.6")}, "DROP", "neutronARP-tapabc#2"},
		{Frame{InIface: "tapabc", SrcMAC: hwaddr.MustParse("fa:16:3e:00:00:02")}, "DROP", "neutronMAC-tapabc#2"},
		{Frame{InIface: "tapabc", SrcMAC: mac}, "ACCEPT", ""},
	} {
		r, err := s.EvaluateEbtables(tc.f)
		if err != nil {
			t.Fatal(err)
		}
		got := ""
		if r.Rule != nil {
			got = r.Rule.Chain + "#" + string(rune('0'+r.Rule.Num))
		}
		if r.Verdict != tc.verdict || got != tc.rule {
			t.Errorf("%+v: %s by %q, want %s by %q", tc.f, r.Verdict, got, tc.verdict, tc.rule)
		}
	}
	p := s.Port("tapabc", IPv4)
	if p.MACJump == nil || p.ARPJump == nil || p.ARPChain == nil || p.MACChain.Rules[0].Packets != 5 {
		t.Errorf("Port(tapabc) = %+v", p)
	}
	if got := s.StaleTaps([]string{"tapother"}); !cmp.Equal(got, []string{"tapabc"}) {
		t.Errorf("StaleTaps = %v, want [tapabc]", got)
	}
}

// TestJSONRoundTrip walks the exported result types through JSON.
func TestJSONRoundTrip(t *testing.T) {
	tables, _ := ParseIPTablesSave(evalTable, BackendLegacy, IPv4)
	s := Snapshot{Tables: tables, Sets: []Set{{Name: "NIPv4g", Type: "hash:net", Members: []netip.Prefix{netip.MustParsePrefix("10.9.0.0/16")}}},
		Ebtables:             &EbTable{Backend: BackendNFT, Name: "nat", Chains: []EbChain{{Name: "x", Policy: "DROP", Rules: []EbRule{{Chain: "x", Num: 1, AmongSrc: []hwaddr.MAC{hwaddr.MustParse("fa:16:3e:00:00:01")}, ARPIPSrc: netip.MustParsePrefix("10.0.0.5/32"), Target: "ACCEPT"}}}}},
		BridgeNFCallIptables: "1", Missing: []string{"x"},
		EbtablesTool: &EbtablesTool{Path: "/usr/local/sbin/ebtables", Wrapper: WrapperAIO, Real: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: BackendNFT}}
	pol := Policy{PortID: "p", MAC: hwaddr.MustParse("fa:16:3e:00:00:01"), FixedIPs: []netip.Addr{netip.MustParseAddr("10.0.0.5")},
		AllowedAddressPairs: []AddressPair{{IP: netip.MustParsePrefix("10.0.0.0/24")}}, PortSecurityEnabled: true,
		SecurityGroups: []SecurityGroup{{ID: "g", Rules: []SecurityGroupRule{{ID: "r", Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 22, PortRangeMax: 22}}}}}
	r, _ := s.Evaluate(BackendLegacy, "FORWARD", Packet{Protocol: "tcp", DstPort: 80, Src: netip.MustParseAddr("10.0.0.1"), Dst: netip.MustParseAddr("10.0.0.2"), InIface: "br0", OutIface: "br0"})
	for name, v := range map[string]any{"snapshot": &s, "policy": &pol, "result": &r, "port": ptr(s.Port("tapx", IPv4)), "split": ptr(s.Backends()), "moved": &[]RuleDelta{{Rule: tables[0].Chains[0].Rules[0], Packets: 1}}} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		back := newLike(v)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%s: %v", name, err)
		}
		b2, _ := json.Marshal(back)
		if string(b) != string(b2) {
			t.Errorf("%s does not round-trip:\n%s\n%s", name, b, b2)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func newLike(v any) any {
	switch v.(type) {
	case *Snapshot:
		return new(Snapshot)
	case *Policy:
		return new(Policy)
	case *Result:
		return new(Result)
	case *Port:
		return new(Port)
	case *BackendSplit:
		return new(BackendSplit)
	case *[]RuleDelta:
		return new([]RuleDelta)
	}
	panic("type")
}
