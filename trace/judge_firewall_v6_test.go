package trace

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
)

const v6Group = "351acb45-01f6-4d2c-9bba-2feb56697def"

// dualStack is the walkthrough's port with an IPv6 address too, in a
// group with the walkthrough's rules for both families.
func dualStack() fwlayout.Port {
	v4, v6 := netip.MustParseAddr("192.168.31.74"), netip.MustParseAddr("2001:db8:31::74")
	return fwlayout.Port{ID: "63035db3-5975-4705-9464-f93d0e4d0c61", MAC: hwaddr.MustParse("fa:16:3e:1a:7f:cf"),
		IPs: []netip.Addr{v4, v6},
		Groups: []fwlayout.Group{{ID: v6Group, Members: []netip.Addr{v4, v6}, Rules: []fwlayout.Rule{
			{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: v6Group},
			{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: v6Group},
			{Direction: "egress", Ethertype: "IPv4"},
			{Direction: "egress", Ethertype: "IPv6"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp", RemoteIPPrefix: "0.0.0.0/0"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "0.0.0.0/0"},
			{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp", PortMin: 128, RemoteIPPrefix: "::/0"}, // echo request only: ND rests on the agent's own rules
			{Direction: "ingress", Ethertype: "IPv6", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "::/0"},
		}}}}
}

// dualStackFacts renders the agent's layout for p (and the API's view of
// it) into the facts the judges take.
func dualStackFacts(t *testing.T, p fwlayout.Port, rules []fwlayout.Rule) FirewallFacts {
	t.Helper()
	s, err := fwlayout.Snapshot([]fwlayout.Port{p}, firewall.BackendNFT)
	if err != nil {
		t.Fatal(err)
	}
	pol := &firewall.Policy{PortID: p.ID, MAC: p.MAC, FixedIPs: p.IPs, PortSecurityEnabled: true}
	g := firewall.SecurityGroup{ID: v6Group, Name: "default"}
	if rules == nil {
		rules = p.Groups[0].Rules
	}
	for i, r := range rules {
		g.Rules = append(g.Rules, firewall.SecurityGroupRule{ID: "r" + string(rune('a'+i)), Direction: r.Direction, EtherType: r.Ethertype, Protocol: r.Protocol,
			PortRangeMin: r.PortMin, PortRangeMax: r.PortMax, RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID})
	}
	pol.SecurityGroups = []firewall.SecurityGroup{g}
	return FirewallFacts{Tap: p.Tap(), MAC: p.MAC, FixedIPs: p.IPs, Policy: pol, Snapshot: s,
		ProbeSource: netip.MustParseAddr("192.168.31.70"), ProbeSourceTap: "tap18b546fb-90"}
}

// TestJudgeFirewallIPv6 judges a dual-stack port's IPv6 chains as the
// IPv4 ones: the walkthrough's ping and ssh over IPv6, neighbour
// discovery both ways, the API's IPv6 rules in the chain, and the spoof
// chain's IPv6 addresses with the MAC's link-local.
func TestJudgeFirewallIPv6(t *testing.T) {
	type want struct {
		verdict Verdict
		has     []string
	}
	check := func(t *testing.T, h Hop, w want) {
		t.Helper()
		if h.Verdict != w.verdict {
			t.Errorf("%s: %s %q, want %s", h.Kind, h.Verdict, h.Summary, w.verdict)
		}
		for _, s := range w.has {
			if !strings.Contains(h.Summary, s) {
				t.Errorf("%s summary %q lacks %q", h.Kind, h.Summary, s)
			}
		}
		if h.Verdict > OK && (h.Cause == "" || h.Next == "") {
			t.Errorf("%s: %s without cause or next step", h.Kind, h.Verdict)
		}
	}
	noV6Walkthrough := func(p fwlayout.Port) []fwlayout.Rule {
		var rs []fwlayout.Rule
		for _, r := range p.Groups[0].Rules {
			if !(r.Ethertype == "IPv6" && r.RemoteGroupID == "" && r.Direction == "ingress") {
				rs = append(rs, r)
			}
		}
		return rs
	}
	for _, tc := range []struct {
		name      string
		edit      func(*fwlayout.Port)
		apiRules  func(fwlayout.Port) []fwlayout.Rule // nil: the port's
		sg, spoof want
	}{
		{"healthy", nil, nil,
			want{OK, []string{"ICMP and SSH to 192.168.31.74", "ICMPv6, SSH and neighbour discovery to 2001:db8:31::74 admitted by neutron-linuxbri-i63035db3-5"}},
			want{OK, []string{"IPv6 from 2001:db8:31::74, fe80::f816:3eff:fe1a:7fcf admitted"}}},
		{"ND not admitted: IPv6 broken with the groups open", func(p *fwlayout.Port) { p.NoND = true }, nil,
			want{Fail, []string{"ICMPv6 neighbour solicitation to 2001:db8:31::74 is dropped by neutron-linuxbri-sg-fallback#1", "neighbour advertisement to 2001:db8:31::74", "fails even with the groups open"}},
			want{OK, nil}},
		{"ICMPv6 rule missing from the chain", func(p *fwlayout.Port) { p.Groups[0].Rules = noV6ICMP(p.Groups[0].Rules) }, nil,
			want{Fail, []string{"ICMPv6 echo to 2001:db8:31::74 is dropped by neutron-linuxbri-sg-fallback#1", "though an IPv6 ingress rule", "(ipv6-icmp type 128 from ::/0) is not in neutron-linuxbri-i63035db3-5"}},
			want{OK, nil}},
		{"no IPv6 rule asks for ping or ssh", func(p *fwlayout.Port) { p.Groups[0].Rules = noV6Walkthrough(*p) }, func(p fwlayout.Port) []fwlayout.Rule { return p.Groups[0].Rules },
			want{Warn, []string{"ICMPv6 echo to 2001:db8:31::74 is dropped by neutron-linuxbri-sg-fallback#1", "no IPv6 ingress rule admits it", "SSH over IPv6"}},
			want{OK, nil}},
		{"link-local not in the spoof chain", func(p *fwlayout.Port) { p.NoSpoofFor = []netip.Addr{firewall.LinkLocal(p.MAC)} }, nil,
			want{Fail, []string{"ICMPv6 neighbour solicitation from fe80::f816:3eff:fe1a:7fcf is dropped by neutron-linuxbri-s63035db3-5#2"}},
			want{Fail, []string{"IPv6 traffic from fe80::f816:3eff:fe1a:7fcf (link-local of the port's MAC, fa:16:3e:1a:7f:cf) is dropped by neutron-linuxbri-s63035db3-5#2"}}},
		{"IPv6 address not in the spoof chain", func(p *fwlayout.Port) { p.NoSpoofFor = []netip.Addr{netip.MustParseAddr("2001:db8:31::74")} }, nil,
			want{Fail, []string{"neighbour advertisement from 2001:db8:31::74 is dropped by neutron-linuxbri-s63035db3-5#2"}},
			want{Fail, []string{"IPv6 traffic from 2001:db8:31::74 (fixed IP"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			p := dualStack()
			api := p.Groups[0].Rules
			if tc.edit != nil {
				p.Groups[0].Rules = append([]fwlayout.Rule(nil), api...)
				tc.edit(&p)
			}
			if tc.apiRules != nil {
				api = tc.apiRules(p)
			}
			f := dualStackFacts(t, p, api)
			check(t, JudgeSecurityGroup(f), tc.sg)
			check(t, JudgeAntiSpoofing(f), tc.spoof)
		})
	}
	t.Run("a foreign DROP for ssh in the IPv6 chain", func(t *testing.T) {
		p := dualStack()
		f := dualStackFacts(t, p, nil)
		tb := f.Snapshot.Table(firewall.BackendNFT, firewall.IPv6)
		c := tb.Chain(firewall.PortChain(p.ID, firewall.Ingress))
		drop := firewall.Rule{Chain: c.Name, Spec: "-p tcp -m tcp --dport 22 -j DROP", Target: "DROP", Match: firewall.Match{Protocol: "tcp", DstPorts: []firewall.PortRange{{First: 22, Last: 22}}}}
		c.Rules = append([]firewall.Rule{drop}, c.Rules...)
		for i := range c.Rules {
			c.Rules[i].Num = i + 1
		}
		check(t, JudgeSecurityGroup(f), want{Fail, []string{"SSH over IPv6 to 2001:db8:31::74 is dropped by neutron-linuxbri-i63035db3-5#1 (-p tcp -m tcp --dport 22 -j DROP), a rule the agent does not write"}})
	})
	t.Run("IPv6-only port: no IPv4 walkthrough", func(t *testing.T) {
		p := dualStack()
		p.IPs = p.IPs[1:]
		f := dualStackFacts(t, p, nil)
		check(t, JudgeSecurityGroup(f), want{OK, []string{"ICMPv6, SSH and neighbour discovery"}})
		if h := JudgeSecurityGroup(f); strings.Contains(h.Summary, "192.") {
			t.Errorf("an IPv6-only port judged on IPv4: %q", h.Summary)
		}
	})
}

func noV6ICMP(rs []fwlayout.Rule) []fwlayout.Rule {
	var out []fwlayout.Rule
	for _, r := range rs {
		if !(r.Ethertype == "IPv6" && r.Protocol == "ipv6-icmp") {
			out = append(out, r)
		}
	}
	return out
}
