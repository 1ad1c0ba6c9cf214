package firewall

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
)

// Packet describes one packet for Evaluate: what iptables would see in
// the filter table. Zero fields are absent (no port, no MAC).
type Packet struct {
	// Protocol is tcp, udp, icmp or ipv6-icmp.
	Protocol string `json:"protocol"`
	// Src and Dst are the addresses; their family picks the table.
	Src netip.Addr `json:"src"`
	Dst netip.Addr `json:"dst"`
	// SrcPort and DstPort are TCP/UDP ports.
	SrcPort uint16 `json:"src_port,omitempty"`
	DstPort uint16 `json:"dst_port,omitempty"`
	// ICMPType and ICMPCode are for icmp and ipv6-icmp.
	ICMPType uint8 `json:"icmp_type,omitempty"`
	ICMPCode uint8 `json:"icmp_code,omitempty"`
	// SrcMAC is the Ethernet source.
	SrcMAC hwaddr.MAC `json:"src_mac,omitempty"`
	// InIface and OutIface are -i/-o (the bridge for bridged traffic).
	InIface  string `json:"in_iface,omitempty"`
	OutIface string `json:"out_iface,omitempty"`
	// PhysIn and PhysOut are the bridge ports the frame enters and leaves
	// by; Bridged says it is bridged (physdev --physdev-is-bridged).
	PhysIn  string `json:"phys_in,omitempty"`
	PhysOut string `json:"phys_out,omitempty"`
	Bridged bool   `json:"bridged,omitempty"`
	// State is the conntrack state; "" means NEW.
	State string `json:"state,omitempty"`
}

// Family returns the packet's family from its destination address.
func (p Packet) Family() Family {
	if p.Dst.Is4() || p.Dst.Is4In6() {
		return IPv4
	}
	return IPv6
}

// Result is where a packet ends in a table.
type Result struct {
	// Verdict is ACCEPT, DROP or REJECT.
	Verdict string `json:"verdict"`
	// Rule is the rule that decided (a DROP, ACCEPT or REJECT rule); nil
	// when a built-in chain's policy did.
	Rule *Rule `json:"rule,omitempty"`
	// Policy names the built-in chain whose policy decided.
	Policy string `json:"policy,omitempty"`
	// Path lists every rule the packet matched, in order, the deciding
	// one last (jumps and RETURNs included).
	Path []Rule `json:"path"`
	// Skipped lists rules that hold options this package does not model,
	// passed over as not matching; a non-empty list makes the verdict an
	// approximation.
	Skipped []Rule `json:"skipped,omitempty"`
}

// Decider returns the deciding rule's chain and number ("chain#3") or the
// policy ("FORWARD policy").
func (r Result) Decider() string {
	if r.Rule != nil {
		return fmt.Sprintf("%s#%d", r.Rule.Chain, r.Rule.Num)
	}
	return r.Policy + " policy"
}

// Evaluate walks the filter table of backend b (the packet's family)
// from the built-in chain start (FORWARD for bridged traffic) and returns
// where the packet ends. It is a pure function of the snapshot.
func (s *Snapshot) Evaluate(b Backend, start string, p Packet) (Result, error) {
	t := s.Table(b, p.Family())
	if t == nil {
		return Result{}, fmt.Errorf("firewall: evaluate: no %s %s filter table in the snapshot: read it first (missing: %s)", b, p.Family(), strings.Join(s.Missing, "; "))
	}
	c := s.chain(t, start)
	if c == nil || c.Policy == "" {
		return Result{}, fmt.Errorf("firewall: evaluate: %q is not a built-in chain of the %s %s filter table: start at FORWARD, INPUT or OUTPUT", start, b, p.Family())
	}
	sets := s.setsByName()
	type frame struct {
		chain *Chain
		next  int
	}
	var res Result
	stack := []frame{{chain: c}}
	for steps := 0; len(stack) > 0; steps++ {
		if steps > 100000 || len(stack) > 64 {
			return res, fmt.Errorf("firewall: evaluate: chain loop from %s (depth %d): the table is not what iptables accepts", start, len(stack))
		}
		top := &stack[len(stack)-1]
		if top.next >= len(top.chain.Rules) {
			if len(stack) == 1 {
				res.Verdict = top.chain.Policy
				res.Policy = top.chain.Name
				return res, nil
			}
			stack = stack[:len(stack)-1]
			continue
		}
		r := &top.chain.Rules[top.next]
		top.next++
		if len(r.Match.Unknown) > 0 {
			res.Skipped = append(res.Skipped, *r)
			continue
		}
		if !matches(&r.Match, &p, sets) {
			continue
		}
		res.Path = append(res.Path, *r)
		switch r.Target {
		case "ACCEPT", "DROP", "REJECT":
			res.Verdict, res.Rule = r.Target, r
			return res, nil
		case "RETURN":
			if len(stack) == 1 {
				res.Verdict = top.chain.Policy
				res.Policy = top.chain.Name
				return res, nil
			}
			stack = stack[:len(stack)-1]
		default:
			if sub := s.chain(t, r.Target); sub != nil && sub.Policy == "" {
				stack = append(stack, frame{chain: sub})
			}
			// Other targets (CT, LOG, MARK, "") go on to the next rule.
		}
	}
	return res, nil
}

var protoNumbers = map[string]string{"1": "icmp", "6": "tcp", "17": "udp", "58": "ipv6-icmp", "icmpv6": "ipv6-icmp", "icmp6": "ipv6-icmp"}

func normProto(s string) string {
	s = strings.ToLower(s)
	if n, ok := protoNumbers[s]; ok {
		return n
	}
	return s
}

func matchIface(pattern, name string) bool {
	neg := strings.HasPrefix(pattern, "!")
	pattern = strings.TrimPrefix(pattern, "!")
	var ok bool
	if base, plus := strings.CutSuffix(pattern, "+"); plus {
		ok = strings.HasPrefix(name, base)
	} else {
		ok = pattern == name
	}
	return ok != neg
}

func inRanges(rs []PortRange, port uint16) bool {
	for _, r := range rs {
		if port >= r.First && port <= r.Last {
			return true
		}
	}
	return false
}

func matches(m *Match, p *Packet, sets map[string]*Set) bool {
	if m.Protocol != "" && normProto(m.Protocol) != "all" {
		if (normProto(m.Protocol) == normProto(p.Protocol)) == m.NotProtocol {
			return false
		}
	}
	if m.Source.IsValid() && m.Source.Contains(p.Src) == m.NotSource {
		return false
	}
	if m.Destination.IsValid() && m.Destination.Contains(p.Dst) == m.NotDestination {
		return false
	}
	if m.InIface != "" && !matchIface(m.InIface, p.InIface) {
		return false
	}
	if m.OutIface != "" && !matchIface(m.OutIface, p.OutIface) {
		return false
	}
	if m.PhysdevIn != "" && !matchIface(m.PhysdevIn, p.PhysIn) {
		return false
	}
	if m.PhysdevOut != "" && !matchIface(m.PhysdevOut, p.PhysOut) {
		return false
	}
	if m.PhysdevIsBridged && !p.Bridged {
		return false
	}
	if len(m.SrcPorts) > 0 && !inRanges(m.SrcPorts, p.SrcPort) {
		return false
	}
	if len(m.DstPorts) > 0 && !inRanges(m.DstPorts, p.DstPort) {
		return false
	}
	if m.ICMP != nil && !m.ICMP.Any {
		if m.ICMP.Type != p.ICMPType || (m.ICMP.HasCode && m.ICMP.Code != p.ICMPCode) {
			return false
		}
	}
	if len(m.States) > 0 {
		st := p.State
		if st == "" {
			st = "NEW"
		}
		if !slices.Contains(m.States, st) {
			return false
		}
	}
	if m.Set != "" {
		addr := p.Src
		if m.SetDir == "dst" {
			addr = p.Dst
		}
		in := false
		if s := sets[m.Set]; s != nil {
			in = s.Contains(addr)
		}
		if in == m.NotSet {
			return false
		}
	}
	if m.MACSource != nil && !m.MACSource.Equal(p.SrcMAC) {
		return false
	}
	return true
}

// EbResult is where an ARP or Ethernet frame from a tap ends in the
// ebtables nat PREROUTING chain.
type EbResult struct {
	// Verdict is ACCEPT or DROP.
	Verdict string `json:"verdict"`
	// Rule is the deciding rule; nil when a policy decided.
	Rule *EbRule `json:"rule,omitempty"`
	// Policy names the chain whose policy decided.
	Policy string `json:"policy,omitempty"`
	// Path lists every rule the frame matched.
	Path []EbRule `json:"path"`
}

// Frame is an Ethernet frame for EvaluateEbtables: from a tap, with a
// source MAC, and for ARP the sender IP.
type Frame struct {
	// InIface is the bridge port the frame enters by; SrcMAC its source MAC.
	InIface string     `json:"in_iface"`
	SrcMAC  hwaddr.MAC `json:"src_mac"`
	// ARP marks an ARP frame; ARPSrcIP is its sender address.
	ARP      bool       `json:"arp,omitempty"`
	ARPSrcIP netip.Addr `json:"arp_src_ip,omitzero"`
}

// EvaluateEbtables walks the ebtables nat PREROUTING chain for a frame. A
// user chain's end returns to its caller (ebtables-nft lists the agent's
// DROP policy as RETURN; the agent's explicit final DROP rule decides).
func (s *Snapshot) EvaluateEbtables(f Frame) (EbResult, error) {
	eb := s.Ebtables
	if eb == nil {
		return EbResult{}, fmt.Errorf("firewall: evaluate ebtables: the snapshot has no ebtables nat table (missing: %s)", strings.Join(s.Missing, "; "))
	}
	pre := s.ebChain("PREROUTING")
	if pre == nil {
		return EbResult{}, fmt.Errorf("firewall: evaluate ebtables: no PREROUTING chain in table %q", eb.Name)
	}
	type frame struct {
		chain *EbChain
		next  int
	}
	var res EbResult
	stack := []frame{{chain: pre}}
	for steps := 0; len(stack) > 0; steps++ {
		if steps > 100000 || len(stack) > 64 {
			return res, fmt.Errorf("firewall: evaluate ebtables: chain loop")
		}
		top := &stack[len(stack)-1]
		if top.next >= len(top.chain.Rules) {
			if len(stack) == 1 || top.chain.Policy == "DROP" || top.chain.Policy == "ACCEPT" {
				res.Verdict = top.chain.Policy
				if res.Verdict == "RETURN" || res.Verdict == "" {
					res.Verdict = "ACCEPT"
				}
				res.Policy = top.chain.Name
				return res, nil
			}
			stack = stack[:len(stack)-1]
			continue
		}
		r := &top.chain.Rules[top.next]
		top.next++
		if len(r.Unknown) > 0 || !ebMatches(r, &f) {
			continue
		}
		res.Path = append(res.Path, *r)
		switch r.Target {
		case "ACCEPT", "DROP":
			res.Verdict, res.Rule = r.Target, r
			return res, nil
		case "RETURN":
			if len(stack) == 1 {
				res.Verdict, res.Policy = pre.Policy, pre.Name
				return res, nil
			}
			stack = stack[:len(stack)-1]
		case "CONTINUE":
		default:
			if sub := s.ebChain(r.Target); sub != nil {
				stack = append(stack, frame{chain: sub})
			}
		}
	}
	return res, nil
}

func ebMatches(r *EbRule, f *Frame) bool {
	if r.Proto != "" {
		if !strings.EqualFold(r.Proto, "ARP") || !f.ARP {
			return false
		}
	}
	if r.InIface != "" && !matchIface(r.InIface, f.InIface) {
		return false
	}
	if len(r.AmongSrc) > 0 && !r.HasMAC(f.SrcMAC) {
		return false
	}
	if r.SrcMAC != nil && !r.SrcMAC.Equal(f.SrcMAC) {
		return false
	}
	if r.ARPIPSrc.IsValid() && (!f.ARP || !r.ARPIPSrc.Contains(f.ARPSrcIP)) {
		return false
	}
	return true
}
