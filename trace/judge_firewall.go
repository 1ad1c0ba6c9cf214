package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// FirewallFacts is what the firewall judges take: the port's identity, the
// firewall snapshot of the node holding its tap, what the API asks for
// (when known) and the reachability probe's results (when run). It is a
// plain value; every judge is a pure function of it.
type FirewallFacts struct {
	// Tap, MAC and FixedIPs identify the port (from the API or the tap).
	Tap      string       `json:"tap"`
	MAC      hwaddr.MAC   `json:"mac,omitempty"`
	FixedIPs []netip.Addr `json:"fixed_ips,omitempty"`
	// Policy is the API's view of the port (groups, rules, port
	// security, allowed address pairs); nil without the API.
	Policy *firewall.Policy `json:"policy,omitempty"`
	// Snapshot is the compute node's firewall, nil when this node does
	// not hold the tap (role network) or it could not be read
	// (SnapshotErr says why).
	Snapshot    *firewall.Snapshot `json:"snapshot,omitempty"`
	SnapshotErr string             `json:"snapshot_error,omitempty"`
	// ProbeSource is the address the reachability probe leaves from (the
	// DHCP port's, in the qdhcp namespace); zero when unknown.
	ProbeSource netip.Addr `json:"probe_source,omitzero"`
	// ProbeSourceTap is the DHCP port's tap on the bridge ("" unknown).
	ProbeSourceTap string `json:"probe_source_tap,omitempty"`
	// Probes are the reachability results, one per fixed IPv4 address;
	// nil when not run (no qdhcp namespace on this node).
	Probes []dhcpns.ReachResult `json:"probes,omitempty"`
	// ProbeErr says why the probe could not run.
	ProbeErr string `json:"probe_error,omitempty"`
	// Moved are the counters that grew across the probe (before/after
	// snapshots, firewall.Moved); nil when not read. Rules of a backend
	// other than Neutron's carry it in Rule.Chain ("iptables-legacy
	// FORWARD").
	Moved []firewall.RuleDelta `json:"moved,omitempty"`
	// Role is the node's role, for the unknown hops' "run on" advice.
	Role Role `json:"role,omitempty"`
}

// anywhere stands for "a client on the internet" when the probe's own
// source is unknown (TEST-NET-3, RFC 5737).
var anywhere = netip.MustParseAddr("203.0.113.10")

func (f FirewallFacts) portSecurityOff() bool {
	return f.Policy != nil && !f.Policy.PortSecurityEnabled
}

func (f FirewallFacts) ipv4() []netip.Addr {
	var out []netip.Addr
	for _, a := range f.FixedIPs {
		if a.Is4() {
			out = append(out, a)
		}
	}
	return out
}

func ruleText(r *firewall.Rule) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%s#%d (%s)", r.Chain, r.Num, r.Spec)
}

func ebRuleText(r *firewall.EbRule) string {
	if r == nil {
		return ""
	}
	return fmt.Sprintf("%s#%d (%s)", r.Chain, r.Num, r.Spec)
}

func unknownFirewallHop(kind Kind, f FirewallFacts) (Hop, bool) {
	h := Hop{Kind: kind, Name: f.Tap}
	if f.Snapshot != nil {
		return h, false
	}
	if f.SnapshotErr != "" {
		h.put("read", f.SnapshotErr)
		h.Summary = "the firewall could not be read: " + f.SnapshotErr
		return h, true
	}
	if f.Role == RoleNetwork {
		h.Summary = "the firewall lives on the compute node holding the tap: run with -role compute there"
	} else {
		h.Summary = "the firewall was not read"
	}
	return h, true
}

// walkthroughPacket is the walkthrough's ping (ICMP echo) or ssh (TCP
// SYN to 22) from src to dst, bridged out of the VM's tap.
func walkthroughPacket(proto string, src, dst netip.Addr, srcTap, tap string) firewall.Packet {
	p := firewall.Packet{Protocol: proto, Src: src, Dst: dst, PhysIn: srcTap, PhysOut: tap, Bridged: true}
	if proto == "icmp" {
		p.ICMPType = 8
	} else {
		p.SrcPort, p.DstPort = 40000, 22
	}
	return p
}

// admittedBy returns the rule of the port's ingress chain that let the
// packet through (the last matching rule of that chain on its path).
func admittedBy(r firewall.Result, chain string) *firewall.Rule {
	for i := len(r.Path) - 1; i >= 0; i-- {
		if r.Path[i].Chain == chain {
			return &r.Path[i]
		}
	}
	return nil
}

// JudgeSecurityGroup judges the port's security-group chains: present in
// the backend that holds Neutron's chains, jumped to for the tap, the
// walkthrough's ICMP and SSH ingress admitted (and by which rule, or
// which DROP stops them), and, with the API, every ingress rule of the
// port's groups present in the chain and no rule the groups lack.
func JudgeSecurityGroup(f FirewallFacts) Hop {
	h, unknown := unknownFirewallHop(KindSecurityGroup, f)
	if unknown {
		return h
	}
	s := f.Snapshot
	backend, ok := s.NeutronBackend()
	p := s.Port(f.Tap, firewall.IPv4)
	h.Name = firewall.PortChain(f.Tap, firewall.Ingress)
	if f.portSecurityOff() {
		h.add("port_security_enabled", "false")
		if p.Ingress != nil || p.Egress != nil {
			h.Verdict = Warn
			h.Summary = "port security is off, but chains for the tap remain"
			h.Cause = "stale chains from before port security was turned off (the agent did not remove them)"
			h.Next = "restart the linuxbridge agent on this node; check its log for iptables errors"
			return h
		}
		h.Verdict = OK
		h.Summary = "port security is off: the agent filters nothing for this port, as asked"
		return h
	}
	if !ok {
		h.add("neutron_chain", "%s absent in %s", firewall.SGChain, backendNames(s.Backends().Read))
		h.Verdict = Fail
		h.Summary = "no Neutron firewall on this node: " + firewall.SGChain + " is in neither iptables backend"
		h.Cause = "the linuxbridge agent is not running, or its firewall_driver is noop, so security groups are not enforced"
		h.Next = "openstack network agent list --host <this node>; check [securitygroup] firewall_driver = iptables in linuxbridge_agent.ini"
		if f.Policy == nil {
			h.Verdict = Warn
		}
		return h
	}
	h.put("backend", string(backend))
	if !p.Filtered() {
		var missing []string
		if p.Ingress == nil {
			missing = append(missing, firewall.PortChain(f.Tap, firewall.Ingress))
		}
		if p.Egress == nil {
			missing = append(missing, firewall.PortChain(f.Tap, firewall.Egress))
		}
		if len(p.Jumps) == 0 {
			missing = append(missing, "the physdev jumps for "+f.Tap)
		}
		h.add("missing", "%s", strings.Join(missing, ", "))
		h.Verdict = Fail
		h.Summary = "the port's chains are missing: " + strings.Join(missing, ", ")
		h.Cause = "the agent has not set up this port's firewall (port not bound to this host, agent down or still processing it)"
		h.Next = "openstack port show <port> -c binding_host_id -c status; the linuxbridge agent's log for the tap"
		return h
	}
	h.add("chain", "%s: %d rules", p.Ingress.Name, len(p.Ingress.Rules))
	fail, warn := []string{}, []string{}
	noGroups, foreign := false, false

	// The walkthrough's ping and ssh.
	src := f.ProbeSource
	if !src.IsValid() || !src.Is4() {
		src = anywhere
	}
	dsts := f.ipv4()
	v6 := f.ipv6()
	if len(dsts) == 0 && len(v6) == 0 {
		dsts = []netip.Addr{netip.MustParseAddr("192.0.2.1")}
	}
	admits := map[string]bool{}
	remoteOnly := map[string]bool{} // dropped from src, admitted from a remote group's members
	omitted := map[string]string{}  // dropped by the fallback rule: the groups have no rule for it
	for _, proto := range []string{"icmp", "tcp"} {
		if len(dsts) == 0 {
			break // an IPv6-only port: judged below
		}
		name := map[string]string{"icmp": "icmp", "tcp": "ssh"}[proto]
		r, err := s.Evaluate(backend, "FORWARD", walkthroughPacket(proto, src, dsts[0], f.ProbeSourceTap, f.Tap))
		if err != nil {
			h.add(name, "cannot evaluate: %v", err)
			continue
		}
		for _, sk := range r.Skipped {
			h.add("skipped", "%s: options not modelled: %s", ruleText(&sk), strings.Join(sk.Match.Unknown, " "))
		}
		if r.Verdict == "ACCEPT" {
			if d := foreignDrop(s, backend, walkthroughPacket(proto, src, dsts[0], f.ProbeSourceTap, f.Tap)); d != "" {
				h.add(name, "from %s to %s admitted by %s, then dropped by %s", src, dsts[0], ruleText(admittedBy(r, p.Ingress.Name)), d)
				fail = append(fail, fmt.Sprintf("%s to %s is dropped by %s, in the other iptables backend: Neutron cannot see it, the kernel applies it", strings.ToUpper(name), dsts[0], d))
				foreign = true
				continue
			}
			admits[proto] = true
			h.add(name, "from %s to %s admitted by %s", src, dsts[0], ruleText(admittedBy(r, p.Ingress.Name)))
			continue
		}
		h.add(name, "from %s to %s %s by %s", src, dsts[0], strings.ToLower(r.Verdict)+"ped", deciderText(r))
		msg := fmt.Sprintf("%s to %s is %s by %s", strings.ToUpper(name), dsts[0], strings.ToLower(r.Verdict)+"ped", deciderText(r))
		foreignRule := r.Rule != nil && r.Rule.Chain == p.Ingress.Name && !isAgentDrop(*r.Rule)
		if g := remoteGroupAdmitting(f.Policy, proto); g != "" && !foreignRule {
			// A rule from a remote group (seen on the aio cloud): the
			// group's members are admitted, the probe's source is not one.
			remoteOnly[proto] = true
			h.add("admitted_only_from", "%s: members of group %s", proto, g)
			warn = append(warn, fmt.Sprintf("%s to %s is admitted only from members of group %s, not from %s", strings.ToUpper(name), dsts[0], g, src))
			continue
		}
		if foreignRule {
			fail = append(fail, msg+", a rule the agent does not write")
		} else if r.Rule != nil && r.Rule.Chain == firewall.FallbackChain && groupsOmit(f.Policy, proto) {
			omitted[proto] = msg // judged below, once both protocols are
		} else {
			fail = append(fail, msg)
		}
	}
	// One of ping and ssh left out of the port's groups, the other
	// admitted: the groups' own choice, and the VM reachable on what they
	// admit (seen on the aio cloud with only the ICMP rule deleted). Both
	// left out is a VM nothing reaches: that fails.
	policyOnly := map[string]bool{}
	for proto, msg := range omitted {
		if other := otherProto(proto); len(omitted) == 1 && admits[other] {
			policyOnly[proto] = true
			warn = append(warn, fmt.Sprintf("%s; the port's groups admit no %s at all (the agent's fallback rule drops it, as the groups ask), while %s is admitted", msg, walkName(proto), walkName(other)))
			continue
		}
		fail = append(fail, msg)
	}
	mac := f.MAC
	if mac == nil && f.Policy != nil {
		mac = f.Policy.MAC
	}
	fail6, warn6, ok6 := judgeIPv6(&h, f, s, backend, mac)
	fail, warn = append(fail, fail6...), append(warn, warn6...)

	// The API's rules against the chains of both families.
	if f.Policy != nil {
		var names []string
		for _, g := range f.Policy.SecurityGroups {
			names = append(names, groupName(g))
		}
		if len(names) > 0 {
			h.add("groups", "%s", strings.Join(names, ", "))
		}
		apiICMP, apiSSH := false, false
		for _, fam := range []firewall.Family{firewall.IPv4, firewall.IPv6} {
			ethertype := map[firewall.Family]string{firewall.IPv4: "IPv4", firewall.IPv6: "IPv6"}[fam]
			chain := s.Port(f.Tap, fam).Ingress
			have := []bool{}
			if chain != nil {
				have = make([]bool, len(chain.Rules))
			}
			for _, g := range f.Policy.SecurityGroups {
				for _, ar := range g.Rules {
					if ar.Direction != "ingress" || ar.EtherType != ethertype {
						continue
					}
					if fam == firewall.IPv4 && coversICMP(ar) {
						apiICMP = true
					}
					if fam == firewall.IPv4 && coversSSH(ar) {
						apiSSH = true
					}
					if chain == nil {
						h.add("rule", "%s (%s, %s): no %s chain read to compare with", ar.ID, describeAPIRule(ar), ethertype, firewall.PortChain(f.Tap, firewall.Ingress))
						continue
					}
					i := findChainRule(chain.Rules, ar, fam)
					if i < 0 {
						fail = append(fail, fmt.Sprintf("%s rule %s of group %s (%s) is not in %s", ethertype, ar.ID, groupName(g), describeAPIRule(ar), chain.Name))
						continue
					}
					have[i] = true
					h.add("rule", "%s (%s, %s) → %s", ar.ID, describeAPIRule(ar), ethertype, ruleText(&chain.Rules[i]))
				}
			}
			if chain == nil {
				continue
			}
			for i, r := range chain.Rules {
				if have[i] || isAgentFixed(r) {
					continue
				}
				warn = append(warn, fmt.Sprintf("%s has a rule no group asks for", ruleText(&r)))
			}
		}
		in := "in " + strings.Join(names, ", ")
		if len(names) == 0 {
			// port_security_enabled with no group: the agent drops
			// every ingress packet the fallback chain sees.
			h.add("groups", "none: port security is on and the port has no security group, so every ingress is dropped")
			in = "at all: the port has no security group"
			noGroups = true
		}
		if len(dsts) > 0 && !apiICMP && !admits["icmp"] && !remoteOnly["icmp"] && !policyOnly["icmp"] {
			fail = append(fail, fmt.Sprintf("no ingress rule %s admits ICMP (the walkthrough's ping)", in))
		}
		if len(dsts) > 0 && !apiSSH && !admits["tcp"] && !remoteOnly["tcp"] && !policyOnly["tcp"] {
			fail = append(fail, fmt.Sprintf("no ingress rule %s admits TCP 22 (the walkthrough's ssh)", in))
		}
	}
	fail, warn = dedupe(fail), dedupe(warn)
	switch {
	case len(fail) > 0:
		h.Verdict = Fail
		h.Summary = strings.Join(fail, "; ")
		h.Cause = "the port's ingress chain does not admit what the walkthrough needs"
		if foreign {
			h.Cause = "a DROP in the iptables backend that does not hold Neutron's chains (iptables-legacy beside iptables-nft, or the reverse): both backends' FORWARD chains filter every bridged packet"
			h.Next = "list and delete it: iptables-legacy -S FORWARD / iptables-nft -S FORWARD (whichever is not " + string(backend) + "), then find what installed it"
		} else if noGroups {
			h.Cause = "port security is on and the port has no security group: the agent drops every ingress packet"
			h.Next = "openstack port set --security-group default <port> (or --disable-port-security, which turns filtering off)"
		} else if f.Policy != nil {
			h.Next = "openstack security group rule list <group>; add the missing rule (openstack security group rule create --proto icmp|--proto tcp --dst-port 22 default) or remove the foreign DROP (iptables -D " + p.Ingress.Name + " N)"
		} else {
			h.Next = "openstack port show <port> -c security_group_ids, then openstack security group rule list for each"
		}
	case len(warn) > 0:
		h.Verdict = Warn
		h.Summary = strings.Join(warn, "; ")
		h.Cause = "the chain and the API disagree (a rule added by hand, or the agent has not caught up)"
		h.Next = "restart the linuxbridge agent to rebuild the chain, or find who edits iptables on this node"
		if len(policyOnly) > 0 {
			h.Cause = "the port's security groups leave one of the walkthrough's probes out (no rule for it): the agent drops it as asked, and the VM is reachable on what the groups admit"
			h.Next = "nothing, if that is the intent; otherwise add the rule: openstack security group rule create --ingress --protocol icmp <group> (or --protocol tcp --dst-port 22)"
		}
		if len(remoteOnly) > 0 {
			h.Cause = "the port's groups admit the walkthrough's ping or ssh only from a remote group's members (an ipset of their addresses): other sources, the reachability probe's among them, are dropped by design; this alone does not show the VM unreachable for its clients"
			h.Next = "probe from a member of the group, or add a rule for the source you need (openstack security group rule create --remote-ip CIDR)"
		}
	default:
		h.Verdict = OK
		var ok []string
		if len(dsts) > 0 {
			ok = append(ok, fmt.Sprintf("ICMP and SSH to %s admitted by %s", dsts[0], p.Ingress.Name))
		}
		if ok6 != "" {
			ok = append(ok, ok6)
		}
		h.Summary = strings.Join(ok, "; ")
		if f.Policy != nil {
			h.Summary += "; every ingress rule of the port's groups is in the chain"
		}
	}
	return h
}

func backendNames(bs []firewall.Backend) string {
	var s []string
	for _, b := range bs {
		s = append(s, "iptables-"+string(b))
	}
	if len(s) == 0 {
		return "(none readable)"
	}
	return strings.Join(s, " and ")
}

func deciderText(r firewall.Result) string {
	if r.Rule != nil {
		return ruleText(r.Rule)
	}
	return "the " + r.Policy + " policy"
}

func groupName(g firewall.SecurityGroup) string {
	if g.Name != "" {
		return g.Name + " (" + g.ID + ")"
	}
	return g.ID
}

// isAgentDrop reports whether a DROP in a port chain is one the agent
// writes (INVALID state, DHCP spoofing, the spoof chain's last rule).
func isAgentDrop(r firewall.Rule) bool {
	return slices.Contains(r.Match.States, "INVALID") || (len(r.Match.SrcPorts) == 1 && r.Match.SrcPorts[0].First == 67) || r.Comment != ""
}

// isAgentFixed reports whether an ingress chain rule is one the agent
// adds for every port (conntrack state, DHCP replies, INVALID drop, the
// fallback jump).
func isAgentFixed(r firewall.Rule) bool {
	m := r.Match
	switch {
	case len(m.States) > 0:
		return true
	case r.Target == firewall.FallbackChain:
		return true
	case m.Protocol == "udp" && len(m.SrcPorts) == 1 && (m.SrcPorts[0].First == 67 || m.SrcPorts[0].First == 547):
		return true
	case m.Protocol == "ipv6-icmp" && m.ICMP != nil && !m.Source.IsValid() && m.Set == "":
		// MLD query, RA, NS, NA: admitted into every port.
		switch m.ICMP.Type {
		case 130, 134, 135, 136:
			return true
		}
	}
	return false
}

func coversICMP(r firewall.SecurityGroupRule) bool {
	if r.RemoteGroupID != "" {
		return false
	}
	return (r.Protocol == "" || r.Protocol == "icmp" || r.Protocol == "1") && (r.PortRangeMin == 0 || r.PortRangeMin == 8)
}

func coversSSH(r firewall.SecurityGroupRule) bool {
	if r.RemoteGroupID != "" {
		return false
	}
	if r.Protocol == "" {
		return true
	}
	return (r.Protocol == "tcp" || r.Protocol == "6") && (r.PortRangeMin == 0 || r.PortRangeMin <= 22 && r.PortRangeMax >= 22)
}

// groupsOmit reports whether the port's security groups (known, at least
// one) have no IPv4 ingress rule for the walkthrough's proto ("icmp" or
// "tcp", port 22) from any source, remote groups included: dropping it is
// then what the groups ask.
func groupsOmit(pol *firewall.Policy, proto string) bool {
	if pol == nil || len(pol.SecurityGroups) == 0 {
		return false
	}
	for _, g := range pol.SecurityGroups {
		for _, ar := range g.Rules {
			if ar.Direction != "ingress" || ar.EtherType != "IPv4" {
				continue
			}
			ar.RemoteGroupID = ""
			if proto == "icmp" && coversICMP(ar) || proto == "tcp" && coversSSH(ar) {
				return false
			}
		}
	}
	return true
}

// otherProto is the walkthrough's other protocol; walkName a protocol's
// name in the verdicts.
func otherProto(proto string) string {
	if proto == "icmp" {
		return "tcp"
	}
	return "icmp"
}

func walkName(proto string) string {
	if proto == "icmp" {
		return "ICMP"
	}
	return "SSH (TCP 22)"
}

func describeAPIRule(r firewall.SecurityGroupRule) string {
	var b []string
	p := r.Protocol
	if p == "" {
		p = "any"
	}
	b = append(b, p)
	if r.PortRangeMin != 0 {
		if p == "icmp" || p == "ipv6-icmp" || p == "icmpv6" {
			b = append(b, fmt.Sprintf("type %d", r.PortRangeMin))
		} else if r.PortRangeMax != 0 && r.PortRangeMax != r.PortRangeMin {
			b = append(b, fmt.Sprintf("ports %d-%d", r.PortRangeMin, r.PortRangeMax))
		} else {
			b = append(b, fmt.Sprintf("port %d", r.PortRangeMin))
		}
	}
	switch {
	case r.RemoteGroupID != "":
		b = append(b, "from group "+r.RemoteGroupID)
	case r.RemoteIPPrefix != "":
		b = append(b, "from "+r.RemoteIPPrefix)
	}
	return strings.Join(b, " ")
}

// findChainRule returns the index of the chain rule the agent renders
// for an API ingress rule, or -1.
func findChainRule(rules []firewall.Rule, ar firewall.SecurityGroupRule, fam firewall.Family) int {
	proto := strings.ToLower(ar.Protocol)
	if proto == "1" {
		proto = "icmp"
	} else if proto == "6" {
		proto = "tcp"
	} else if proto == "17" {
		proto = "udp"
	}
	if fam == firewall.IPv6 && (proto == "icmp" || proto == "icmpv6" || proto == "58") {
		proto = "ipv6-icmp" // the agent's IPV6_ICMP_LEGACY_PROTO_LIST
	}
	for i, r := range rules {
		m := r.Match
		if r.Target != "RETURN" || len(m.States) > 0 {
			continue
		}
		if m.Protocol != proto {
			continue
		}
		if ar.RemoteGroupID != "" {
			if m.Set != firewall.IPSetName(ar.RemoteGroupID, fam) {
				continue
			}
		} else {
			if m.Set != "" {
				continue
			}
			want := ar.RemoteIPPrefix
			if strings.HasSuffix(want, "/0") {
				want = ""
			}
			if want == "" && m.Source.IsValid() || want != "" && (!m.Source.IsValid() || m.Source.String() != mustPrefix(want)) {
				continue
			}
		}
		if proto == "icmp" || proto == "ipv6-icmp" {
			if (ar.PortRangeMin == 0) != (m.ICMP == nil) {
				continue
			}
			if m.ICMP != nil && int(m.ICMP.Type) != ar.PortRangeMin {
				continue
			}
		} else if proto == "tcp" || proto == "udp" {
			if ar.PortRangeMin == 0 {
				if len(m.DstPorts) > 0 {
					continue
				}
			} else {
				hi := ar.PortRangeMax
				if hi == 0 {
					hi = ar.PortRangeMin
				}
				if len(m.DstPorts) != 1 || int(m.DstPorts[0].First) != ar.PortRangeMin || int(m.DstPorts[0].Last) != hi {
					continue
				}
			}
		}
		return i
	}
	return -1
}

func mustPrefix(s string) string {
	if p, err := netip.ParsePrefix(s); err == nil {
		return p.Masked().String()
	}
	if a, err := netip.ParseAddr(s); err == nil {
		return netip.PrefixFrom(a, a.BitLen()).String()
	}
	return s
}

func dedupe(s []string) []string {
	var out []string
	for _, x := range s {
		if !slices.Contains(out, x) {
			out = append(out, x)
		}
	}
	return out
}

// foreignDrop evaluates the packet in the FORWARD chain of every iptables
// backend read besides Neutron's: the kernel runs both backends' hooks, so
// a DROP there stops a packet Neutron's chains admit. It names the rule (or
// policy) that drops it, with its backend; "" when none does.
func foreignDrop(s *firewall.Snapshot, neutron firewall.Backend, pkt firewall.Packet) string {
	for _, b := range s.Backends().Read {
		if b == neutron {
			continue
		}
		r, err := s.Evaluate(b, "FORWARD", pkt)
		if err != nil || (r.Verdict != "DROP" && r.Verdict != "REJECT") {
			continue
		}
		if r.Rule == nil {
			return fmt.Sprintf("iptables-%s %s's %s policy", b, r.Policy, r.Verdict)
		}
		return "iptables-" + string(b) + " " + ruleText(r.Rule)
	}
	return ""
}

// remoteGroupAdmitting names the security group (name and ID) whose IPv4
// ingress rule admits proto ("icmp" or "tcp", the walkthrough's ping and
// ssh) from a remote group's members only; "" when none does.
func remoteGroupAdmitting(pol *firewall.Policy, proto string) string {
	if pol == nil {
		return ""
	}
	for _, g := range pol.SecurityGroups {
		for _, ar := range g.Rules {
			// A rule for the protocol itself: the default group's "any
			// protocol from its members" is no choice to admit ping or
			// ssh from them only (its ICMP rule deleted still fails).
			if ar.Direction != "ingress" || ar.EtherType != "IPv4" || ar.RemoteGroupID == "" || ar.Protocol == "" {
				continue
			}
			any := ar
			any.RemoteGroupID = ""
			if proto == "icmp" && coversICMP(any) || proto == "tcp" && coversSSH(any) {
				for _, rg := range pol.SecurityGroups {
					if rg.ID == ar.RemoteGroupID {
						return groupName(rg)
					}
				}
				return ar.RemoteGroupID
			}
		}
	}
	return ""
}
