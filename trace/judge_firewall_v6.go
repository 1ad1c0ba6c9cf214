package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// anywhere6 stands for "a client on the internet" over IPv6 when the
// probe's own IPv6 source is unknown (2001:db8::/32, RFC 3849).
var anywhere6 = netip.MustParseAddr("2001:db8:ffff::10")

// routerLLA is the link-local source of the neighbour discovery the
// judge evaluates into the port (a router or a neighbour on the link).
var routerLLA = netip.MustParseAddr("fe80::1")

// ipv6 are the port's global (not link-local) IPv6 fixed addresses.
func (f FirewallFacts) ipv6() []netip.Addr {
	var out []netip.Addr
	for _, a := range f.FixedIPs {
		if a.Is6() && !a.Is4In6() && !a.IsLinkLocalUnicast() {
			out = append(out, a)
		}
	}
	if len(out) == 0 && f.Policy != nil && len(f.FixedIPs) == 0 {
		for _, a := range f.Policy.FixedIPs {
			if a.Is6() && !a.IsLinkLocalUnicast() {
				out = append(out, a)
			}
		}
	}
	return out
}

// solicitedNode is the solicited-node multicast address of a (RFC 4291
// 2.7.1), where a neighbour solicitation for it goes.
func solicitedNode(a netip.Addr) netip.Addr {
	b := a.As16()
	return netip.AddrFrom16([16]byte{0xff, 0x02, 11: 0x01, 12: 0xff, 13: b[13], 14: b[14], 15: b[15]})
}

// judgeIPv6 evaluates the port's IPv6 ingress as JudgeSecurityGroup does
// for IPv4: the ICMPv6 echo and TCP/22 to its first IPv6 address, and the
// neighbour discovery the agent must admit both ways (NS and NA into the
// port, NS from its link-local and NA from its address out of it):
// without ND, IPv6 to the port fails even with every group rule open.
// It adds evidence to h and returns the failures, the warnings and, when
// all is admitted, a sentence for the summary.
func judgeIPv6(h *Hop, f FirewallFacts, s *firewall.Snapshot, b firewall.Backend, mac hwaddr.MAC) (fail, warn []string, ok string) {
	dsts := f.ipv6()
	if len(dsts) == 0 {
		return nil, nil, ""
	}
	dst := dsts[0]
	p := s.Port(f.Tap, firewall.IPv6)
	if p.Ingress == nil || p.Egress == nil {
		var missing []string
		if p.Ingress == nil {
			missing = append(missing, firewall.PortChain(f.Tap, firewall.Ingress))
		}
		if p.Egress == nil {
			missing = append(missing, firewall.PortChain(f.Tap, firewall.Egress))
		}
		return []string{fmt.Sprintf("the port has IPv6 address %s but its ip6tables chains are missing: %s", dst, strings.Join(missing, ", "))}, nil, ""
	}
	h.add("chain6", "%s: %d rules", p.Ingress.Name, len(p.Ingress.Rules))
	src := f.ProbeSource
	if !src.Is6() {
		src = anywhere6
	}
	eval := func(pk firewall.Packet) (firewall.Result, error) {
		r, err := s.Evaluate(b, "FORWARD", pk)
		for _, sk := range r.Skipped {
			h.add("skipped", "%s: options not modelled: %s", ruleText(&sk), strings.Join(sk.Match.Unknown, " "))
		}
		return r, err
	}
	apiCovers := map[string]bool{}
	if f.Policy != nil {
		for _, g := range f.Policy.SecurityGroups {
			for _, ar := range g.Rules {
				if ar.Direction == "ingress" && ar.EtherType == "IPv6" {
					apiCovers["icmpv6"] = apiCovers["icmpv6"] || coversICMPv6(ar)
					apiCovers["ssh6"] = apiCovers["ssh6"] || coversSSH(ar)
				}
			}
		}
	}
	// The walkthrough's ping and ssh, over IPv6.
	for _, c := range []struct {
		name, what string
		pk         firewall.Packet
	}{
		{"icmpv6", "ICMPv6 echo", firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 128, Src: src, Dst: dst, PhysIn: f.ProbeSourceTap, PhysOut: f.Tap, Bridged: true}},
		{"ssh6", "SSH over IPv6", walkthroughPacket("tcp", src, dst, f.ProbeSourceTap, f.Tap)},
	} {
		r, err := eval(c.pk)
		if err != nil {
			h.add(c.name, "cannot evaluate: %v", err)
			continue
		}
		if r.Verdict == "ACCEPT" {
			h.add(c.name, "from %s to %s admitted by %s", src, dst, ruleText(admittedBy(r, p.Ingress.Name)))
			continue
		}
		verb := strings.ToLower(r.Verdict) + "ped"
		h.add(c.name, "from %s to %s %s by %s", src, dst, verb, deciderText(r))
		msg := fmt.Sprintf("%s to %s is %s by %s", c.what, dst, verb, deciderText(r))
		switch {
		case r.Rule != nil && r.Rule.Chain == p.Ingress.Name && !isAgentDrop(*r.Rule):
			fail = append(fail, msg+", a rule the agent does not write")
		case apiCovers[c.name]:
			fail = append(fail, msg+", though an IPv6 ingress rule of the port's groups admits it")
		case f.Policy != nil:
			warn = append(warn, msg+": no IPv6 ingress rule admits it (the walkthrough's rules are IPv4; add one with --ethertype IPv6)")
		default:
			warn = append(warn, msg)
		}
	}
	// Neighbour discovery, both ways.
	lla := firewall.LinkLocal(mac)
	for _, c := range []struct {
		what string
		pk   firewall.Packet
		out  bool
	}{
		{"neighbour solicitation to " + dst.String(), firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 135, Src: routerLLA, Dst: solicitedNode(dst), PhysOut: f.Tap, Bridged: true}, false},
		{"neighbour advertisement to " + dst.String(), firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 136, Src: routerLLA, Dst: dst, PhysOut: f.Tap, Bridged: true}, false},
		{"neighbour solicitation from " + lla.String(), firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 135, Src: lla, Dst: solicitedNode(routerLLA), SrcMAC: mac, PhysIn: f.Tap, Bridged: true}, true},
		{"neighbour advertisement from " + dst.String(), firewall.Packet{Protocol: "ipv6-icmp", ICMPType: 136, Src: dst, Dst: routerLLA, SrcMAC: mac, PhysIn: f.Tap, Bridged: true}, true},
	} {
		if c.out && mac == nil {
			continue
		}
		r, err := eval(c.pk)
		if err != nil {
			h.add("nd", "%s: cannot evaluate: %v", c.what, err)
			continue
		}
		if r.Verdict == "ACCEPT" {
			chain := p.Ingress.Name
			if c.out {
				chain = p.Egress.Name
			}
			h.add("nd", "%s admitted by %s", c.what, ruleText(admittedBy(r, chain)))
			continue
		}
		fail = append(fail, fmt.Sprintf("ICMPv6 %s is %sped by %s: without neighbour discovery IPv6 to the port fails even with the groups open", c.what, strings.ToLower(r.Verdict), deciderText(r)))
	}
	if len(fail) == 0 && len(warn) == 0 {
		ok = fmt.Sprintf("ICMPv6, SSH and neighbour discovery to %s admitted by %s", dst, p.Ingress.Name)
	}
	return fail, warn, ok
}

func coversICMPv6(r firewall.SecurityGroupRule) bool {
	if r.RemoteGroupID != "" {
		return false
	}
	switch strings.ToLower(r.Protocol) {
	case "", "icmp", "icmpv6", "ipv6-icmp", "58":
		return r.PortRangeMin == 0 || r.PortRangeMin == 128
	}
	return false
}
