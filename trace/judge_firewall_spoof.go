package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// JudgeAntiSpoofing judges the port's anti-spoofing: the ebtables nat
// chains (neutronMAC-tap… admitting the port's MAC, neutronARP-tap…
// admitting each fixed IPv4 address and allowed address pair as ARP
// sender) with their PREROUTING jumps, and the iptables spoof chain
// (neutron-linuxbri-s…) admitting each (IP, MAC) pair. A mismatch names
// the address that is dropped and the rule that drops it.
func JudgeAntiSpoofing(f FirewallFacts) Hop {
	h, unknown := unknownFirewallHop(KindAntiSpoofing, f)
	if unknown {
		return h
	}
	s := f.Snapshot
	h.Name = firewall.EbARPChain(f.Tap)
	if f.portSecurityOff() {
		h.add("port_security_enabled", "false")
		p := s.Port(f.Tap, firewall.IPv4)
		if p.ARPChain != nil || p.MACChain != nil {
			h.Verdict = Warn
			h.Summary = "port security is off, but anti-spoofing chains for the tap remain"
			h.Cause = "stale ebtables chains (on ebtables-nft the Zed agent cannot delete its --among-src rules after a restart)"
			h.Next = "ebtables -t nat -L; remove the tap's neutronMAC/neutronARP chains and their PREROUTING jumps by hand, then restart the agent"
			return h
		}
		h.Verdict = OK
		h.Summary = "port security is off: no anti-spoofing for this port, as asked"
		return h
	}
	mac := f.MAC
	addrs := f.ipv4()
	var pairs []firewall.AddressPair
	if f.Policy != nil {
		if mac == nil {
			mac = f.Policy.MAC
		}
		if len(addrs) == 0 {
			for _, a := range f.Policy.FixedIPs {
				if a.Is4() {
					addrs = append(addrs, a)
				}
			}
		}
		pairs = f.Policy.AllowedAddressPairs
	}
	if mac == nil {
		h.Summary = "the port's MAC is unknown: cannot say what anti-spoofing should admit"
		return h
	}
	if s.Ebtables == nil {
		h.add("ebtables", "not read")
		h.Summary = "ebtables could not be read: anti-spoofing unknown"
		return h
	}
	p := s.Port(f.Tap, firewall.IPv4)
	var fail, warn []string
	if p.MACChain == nil || p.MACJump == nil {
		fail = append(fail, fmt.Sprintf("%s or its PREROUTING jump is missing", firewall.EbMACChain(f.Tap)))
	}
	if p.ARPChain == nil || p.ARPJump == nil {
		fail = append(fail, fmt.Sprintf("%s or its PREROUTING jump is missing", firewall.EbARPChain(f.Tap)))
	}
	// Ethernet from the port's MAC (an IPv4 frame, not ARP).
	if r, err := s.EvaluateEbtables(firewall.Frame{InIface: f.Tap, SrcMAC: mac}); err == nil {
		if r.Verdict == "DROP" {
			fail = append(fail, fmt.Sprintf("frames from the port's MAC %s are dropped by %s", mac, ebDecider(r)))
		} else {
			h.add("mac", "%s admitted (%s)", mac, ebPathText(r))
		}
	}
	// ARP from each address the port may use.
	type sender struct {
		ip  netip.Addr
		mac hwaddr.MAC
		why string
	}
	var senders []sender
	for _, a := range addrs {
		senders = append(senders, sender{a, mac, "fixed IP"})
	}
	for _, pr := range pairs {
		if pr.IP.Addr().Is4() && pr.IP.Bits() == 32 {
			m := pr.MAC
			if m == nil {
				m = mac
			}
			senders = append(senders, sender{pr.IP.Addr(), m, "allowed address pair"})
		}
	}
	for _, sd := range senders {
		r, err := s.EvaluateEbtables(firewall.Frame{InIface: f.Tap, SrcMAC: sd.mac, ARP: true, ARPSrcIP: sd.ip})
		if err != nil {
			continue
		}
		if r.Verdict == "DROP" {
			msg := fmt.Sprintf("ARP from %s (%s, %s) is dropped by %s", sd.ip, sd.why, sd.mac, ebDecider(r))
			if r.Rule != nil && r.Rule.Chain == firewall.EbARPChain(f.Tap) {
				msg += fmt.Sprintf(": %s lacks --arp-ip-src %s", r.Rule.Chain, sd.ip)
			}
			fail = append(fail, msg)
		} else {
			h.add("arp", "%s from %s admitted by %s", sd.ip, sd.mac, ebDecider(r))
		}
	}
	// Addresses the ARP chain admits that the port does not hold.
	if p.ARPChain != nil {
		for _, r := range p.ARPChain.Rules {
			if !r.ARPIPSrc.IsValid() || r.Target != "ACCEPT" {
				continue
			}
			known := false
			for _, sd := range senders {
				if r.ARPIPSrc.Contains(sd.ip) {
					known = true
				}
			}
			for _, pr := range pairs {
				if pr.IP == r.ARPIPSrc {
					known = true
				}
			}
			if !known && len(senders) > 0 {
				warn = append(warn, fmt.Sprintf("%s admits ARP from %s, which the port does not hold", r.Chain, r.ARPIPSrc))
			}
		}
	}
	// The iptables spoof chain, for traffic the VM sends.
	if b, ok := s.NeutronBackend(); ok && p.Spoof != nil {
		for _, sd := range senders {
			pk := firewall.Packet{Protocol: "udp", Src: sd.ip, Dst: netip.MustParseAddr("192.0.2.1"), SrcPort: 40000, DstPort: 53, SrcMAC: sd.mac, PhysIn: f.Tap, Bridged: true}
			r, err := s.Evaluate(b, "FORWARD", pk)
			if err != nil {
				continue
			}
			if r.Verdict != "ACCEPT" && r.Rule != nil && r.Rule.Chain == p.Spoof.Name {
				fail = append(fail, fmt.Sprintf("IP traffic from %s (%s) is dropped by %s: no IP/MAC pair for it", sd.ip, sd.mac, ruleText(r.Rule)))
			} else {
				h.add("spoof", "%s from %s passes %s", sd.ip, sd.mac, p.Spoof.Name)
			}
		}
	}
	// The ip6tables spoof chain: each IPv6 address, the link-local the
	// agent derives from the MAC, and IPv6 allowed address pairs.
	fail6, warn6, ips6 := judgeSpoofIPv6(&h, f, s, mac, pairs)
	fail, warn = append(fail, fail6...), append(warn, warn6...)
	switch {
	case len(fail) > 0:
		h.Verdict = Fail
		h.Summary = strings.Join(fail, "; ")
		h.Cause = "anti-spoofing drops the VM's own traffic: its ARP never reaches the bridge, so nothing can reach it"
		h.Next = "ebtables -t nat -L " + firewall.EbARPChain(f.Tap) + " --Lc; restart the linuxbridge agent to rebuild the chains (check the port's fixed_ips and allowed_address_pairs)"
	case len(warn) > 0:
		h.Verdict = Warn
		h.Summary = strings.Join(warn, "; ")
		h.Cause = "the anti-spoofing chain admits more than the port's addresses (stale after an address change, or edited by hand)"
		h.Next = "restart the linuxbridge agent to rebuild the chains"
	default:
		h.Verdict = OK
		var ips []string
		for _, sd := range senders {
			ips = append(ips, sd.ip.String())
		}
		h.Summary = fmt.Sprintf("MAC %s and ARP from %s admitted", mac, strings.Join(ips, ", "))
		if len(ips6) > 0 {
			h.Summary += "; IPv6 from " + strings.Join(ips6, ", ") + " admitted"
		}
	}
	return h
}

func ebDecider(r firewall.EbResult) string {
	if r.Rule != nil {
		return ebRuleText(r.Rule)
	}
	return "the " + r.Policy + " policy"
}

func ebPathText(r firewall.EbResult) string {
	var s []string
	for i := range r.Path {
		s = append(s, fmt.Sprintf("%s#%d", r.Path[i].Chain, r.Path[i].Num))
	}
	return strings.Join(s, " → ")
}

// judgeSpoofIPv6 checks the port's IPv6 spoof chain (neutron-linuxbri-s…
// in ip6tables) admits what the agent admits: each fixed IPv6 address and
// IPv6 allowed address pair (/128) with its MAC, and the EUI-64
// link-local of each of those MACs (the VM's own ND and router
// solicitations leave from it). It returns the failures, the warnings
// and the addresses admitted.
func judgeSpoofIPv6(h *Hop, f FirewallFacts, s *firewall.Snapshot, mac hwaddr.MAC, pairs []firewall.AddressPair) (fail, warn, admitted []string) {
	type sender struct {
		ip  netip.Addr
		mac hwaddr.MAC
		why string
	}
	var senders []sender
	add := func(sd sender) {
		for _, o := range senders {
			if o.ip == sd.ip && o.mac.Equal(sd.mac) {
				return
			}
		}
		senders = append(senders, sd)
	}
	for _, a := range f.ipv6() {
		add(sender{a, mac, "fixed IP"})
		add(sender{firewall.LinkLocal(mac), mac, "link-local of the port's MAC"})
	}
	for _, pr := range pairs {
		if pr.IP.Addr().Is6() && pr.IP.Bits() == 128 {
			m := pr.MAC
			if m == nil {
				m = mac
			}
			add(sender{pr.IP.Addr(), m, "allowed address pair"})
			add(sender{firewall.LinkLocal(m), m, "link-local of the pair's MAC"})
		}
	}
	if len(senders) == 0 {
		return nil, nil, nil
	}
	b, ok := s.NeutronBackend()
	if !ok {
		return nil, nil, nil
	}
	p := s.Port(f.Tap, firewall.IPv6)
	if p.Spoof == nil {
		if p.Egress != nil {
			warn = append(warn, fmt.Sprintf("the port has IPv6 addresses but no ip6tables spoof chain %s: the VM may send from any IPv6 address", firewall.PortChain(f.Tap, firewall.Spoof)))
		}
		return fail, warn, nil
	}
	for _, sd := range senders {
		pk := firewall.Packet{Protocol: "udp", Src: sd.ip, Dst: anywhere6, SrcPort: 40000, DstPort: 53, SrcMAC: sd.mac, PhysIn: f.Tap, Bridged: true}
		r, err := s.Evaluate(b, "FORWARD", pk)
		if err != nil {
			continue
		}
		if r.Verdict != "ACCEPT" && r.Rule != nil && r.Rule.Chain == p.Spoof.Name {
			fail = append(fail, fmt.Sprintf("IPv6 traffic from %s (%s, %s) is dropped by %s: no IP/MAC pair for it", sd.ip, sd.why, sd.mac, ruleText(r.Rule)))
		} else {
			h.add("spoof6", "%s (%s) from %s passes %s", sd.ip, sd.why, sd.mac, p.Spoof.Name)
			admitted = append(admitted, sd.ip.String())
		}
	}
	return fail, warn, admitted
}
