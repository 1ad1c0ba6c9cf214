package firewall_test

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationIPv6Layout installs the agent's layout for a dual-stack
// port under each iptables backend, reads it, compares the IPv6 chains
// with `ip6tables -S`, and checks what Evaluate says against real IPv6
// traffic from the qdhcp namespace: a ping answered through the ICMPv6
// echo rule; with the agent's NS/NA rules deleted from the ingress chain
// (the group rules left open), Evaluate drops neighbour solicitation at
// the fallback, the ping goes silent and the fallback's IPv6 counter
// moves; the MAC's link-local is in the spoof chain.
func TestIntegrationIPv6Layout(t *testing.T) {
	testutil.RequireBinary(t, "ping", "iputils-ping")
	for _, b := range []firewall.Backend{firewall.BackendNFT, firewall.BackendLegacy} {
		t.Run(string(b), func(t *testing.T) {
			v4, v6 := netip.MustParseAddr("192.168.31.74"), netip.MustParseAddr("2001:db8:31::74")
			port := walkthroughPort(testPort, v4)
			port.IPs = append(port.IPs, v6)
			g := &port.Groups[0]
			g.Members = append(g.Members, v6)
			g.Rules = append(g.Rules,
				fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: testGroup},
				fwlayout.Rule{Direction: "egress", Ethertype: "IPv6"},
				// Echo request only, so ND rests on the agent's own rules.
				fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp", PortMin: 128, RemoteIPPrefix: "::/0"},
				fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "::/0"})
			n := newNode(t, b, port)
			dhcp6 := netip.MustParseAddr("2001:db8:31::70")
			n.vm.Run(t, "/usr/sbin/ip", "-6", "addr", "add", v6.String()+"/64", "dev", "eth0", "nodad")
			n.dhcp.Run(t, "/usr/sbin/ip", "-6", "addr", "add", dhcp6.String()+"/64", "dev", "ns-fw", "nodad")

			s := read(t, n)
			p := s.Port(testPort, firewall.IPv6)
			if !p.Filtered() || p.Spoof == nil {
				t.Fatalf("Port(%s, IPv6) incomplete: %+v", testPort, p)
			}
			// The parsed IPv6 rules against ip6tables -S.
			ip6t := "/usr/sbin/ip6tables-" + string(b)
			for _, c := range s.Table(b, firewall.IPv6).Chains {
				var want, got []string
				for _, line := range strings.Split(strings.TrimSpace(string(n.node.Run(t, ip6t, "-S", c.Name))), "\n") {
					if strings.HasPrefix(line, "-A ") {
						want = append(want, line)
					}
				}
				for _, r := range c.Rules {
					got = append(got, "-A "+c.Name+" "+r.Spec)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("IPv6 chain %s differs from `ip6tables -S` (-want +got):\n%s", c.Name, d)
				}
			}
			lla := firewall.LinkLocal(port.MAC)
			if !strings.Contains(strings.Join(specs(p.Spoof), "\n"), "-s "+lla.String()+"/128 -m mac --mac-source") {
				t.Errorf("spoof chain lacks the MAC's link-local %s: %q", lla, specs(p.Spoof))
			}
			echo := firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 128, Src: dhcp6, Dst: v6, PhysIn: n.dhcpTap, PhysOut: p.Tap, Bridged: true}
			ns := firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 135, Src: dhcp6, Dst: netip.MustParseAddr("ff02::1:ff00:74"), PhysIn: n.dhcpTap, PhysOut: p.Tap, Bridged: true}
			for _, pk := range []firewall.Packet{echo, ns} {
				r, err := s.Evaluate(b, "FORWARD", pk)
				if err != nil {
					t.Fatal(err)
				}
				admit := lastIn(r.Path, p.Ingress.Name)
				if r.Verdict != "ACCEPT" || admit == nil || admit.Match.ICMP == nil || admit.Match.ICMP.Type != pk.ICMPType {
					t.Errorf("ICMPv6 type %d: %s by %s, admitted by %+v; want ACCEPT through the type %d rule of %s", pk.ICMPType, r.Verdict, r.Decider(), admit, pk.ICMPType, p.Ingress.Name)
				}
			}
			facts := func(s *firewall.Snapshot) trace.FirewallFacts {
				return trace.FirewallFacts{Tap: port.Tap(), MAC: port.MAC, FixedIPs: port.IPs, Snapshot: s, ProbeSource: n.dhcpIP, ProbeSourceTap: n.dhcpTap}
			}
			for _, h := range []trace.Hop{trace.JudgeSecurityGroup(facts(s)), trace.JudgeAntiSpoofing(facts(s))} {
				if h.Verdict != trace.OK || !strings.Contains(h.Summary, v6.String()) {
					t.Errorf("healthy dual-stack port: %s %s %q, want ok naming %s", h.Kind, h.Verdict, h.Summary, v6)
				}
			}
			if out, err := n.dhcp.Command("/usr/bin/ping", "-6", "-c", "1", "-W", "2", v6.String()).CombinedOutput(); err != nil {
				t.Fatalf("healthy: ping -6 %s from the qdhcp namespace: %v\n%s", v6, err, out)
			}

			// Fault: the agent's NS and NA RETURNs gone from the ingress chain.
			for _, typ := range []string{"135", "136"} {
				n.node.Run(t, ip6t, "-D", p.Ingress.Name, "-p", "ipv6-icmp", "-m", "icmp6", "--icmpv6-type", typ, "-j", "RETURN")
			}
			for _, x := range []*testutil.NetNS{n.dhcp, n.vm} {
				x.Run(t, "/usr/sbin/ip", "-6", "neigh", "flush", "all")
			}
			before := read(t, n)
			r, err := before.Evaluate(b, "FORWARD", ns)
			if err != nil {
				t.Fatal(err)
			}
			if r.Verdict != "DROP" || r.Rule == nil || r.Rule.Chain != firewall.FallbackChain {
				t.Errorf("without ND: NS %s by %s, want DROP by %s", r.Verdict, r.Decider(), firewall.FallbackChain)
			}
			if h := trace.JudgeSecurityGroup(facts(before)); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "neighbour solicitation to "+v6.String()+" is dropped by "+firewall.FallbackChain) {
				t.Errorf("without ND: security-group %s %q, want fail naming the NS dropped by %s", h.Verdict, h.Summary, firewall.FallbackChain)
			}
			if r, _ := before.Evaluate(b, "FORWARD", echo); r.Verdict != "ACCEPT" {
				t.Errorf("without ND: the echo itself should still be admitted, got %s by %s", r.Verdict, r.Decider())
			}
			if out, err := n.dhcp.Command("/usr/bin/ping", "-6", "-c", "1", "-W", "2", v6.String()).CombinedOutput(); err == nil {
				t.Errorf("without ND the ping was answered (the rules say NS is dropped):\n%s", out)
			}
			if !hasMoved(firewall.Moved(before, read(t, n), b, firewall.IPv6), firewall.FallbackChain, "", "DROP") {
				t.Errorf("a silent IPv6 ping moved no DROP counter in %s's IPv6 table", firewall.FallbackChain)
			}
		})
	}
}

func specs(c *firewall.Chain) []string {
	var out []string
	for _, r := range c.Rules {
		out = append(out, r.Spec)
	}
	return out
}
