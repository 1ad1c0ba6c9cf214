package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
)

// The qdhcp namespace's own iptables (NetworkFacts.Firewall): Neutron's
// DHCP agent writes none of its rules to drop DHCP, the probes or the
// metadata proxy's traffic, so a rule that does was added by hand. Seen
// on the aio cloud: `ip netns exec qdhcp-… iptables -I INPUT -p udp
// --dport 67 -j DROP` left every hop OK while no guest could get or renew
// a lease, and `iptables -I OUTPUT -j DROP` there failed the metadata hop
// first, blaming the proxy.

// nsPacket is a packet the namespace's stack sends or receives, judged
// from a built-in chain (INPUT or OUTPUT).
type nsPacket struct {
	what  string
	chain string
	pkt   firewall.Packet
}

// nsDrops returns, one per packet that a DROP or REJECT of the
// namespace's IPv4 tables stops, what it is and the rule (or policy)
// deciding; nil when the table was not read or admits them all.
func nsDrops(n *NetworkFacts, pkts []nsPacket) []string {
	if n == nil || n.Firewall == nil {
		return nil
	}
	var out []string
	for _, p := range pkts {
		for _, t := range n.Firewall.Tables {
			if t.Family != firewall.IPv4 {
				continue
			}
			r, err := n.Firewall.Evaluate(t.Backend, p.chain, p.pkt)
			if err != nil || r.Verdict == "ACCEPT" {
				continue
			}
			out = append(out, fmt.Sprintf("%s: %s by %s (%s %s)", p.what, strings.ToLower(r.Verdict)+"ped", deciderText(r), t.Backend, p.chain))
			break
		}
	}
	return out
}

// servingAddr is the DHCP port's IPv4 address in the namespace (invalid:
// not read).
func servingAddr(n *NetworkFacts) netip.Addr {
	for _, p := range n.ServingAddrs {
		if p.Addr().Is4() {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// nsFirewallEvidence notes on h that the namespace's firewall was read,
// or why not.
func nsFirewallEvidence(h *Hop, n *NetworkFacts) {
	if n.FirewallError != "" {
		h.add("namespace_iptables", "not read: %s", n.FirewallError)
	}
}

// dhcpFirewall fails the dnsmasq hop when the namespace's own iptables
// drops DHCP: a guest's request coming in on the serving interface
// (broadcast, or unicast to renew) or dnsmasq's reply going out to the
// port's address.
func (v *view) dhcpFirewall(h *Hop, n *NetworkFacts) {
	nsFirewallEvidence(h, n)
	if h.Verdict == Fail || n.Firewall == nil || n.ServingInterface == "" {
		return
	}
	srv, vm := servingAddr(n), v.id.IP
	any4, bcast := netip.IPv4Unspecified(), netip.AddrFrom4([4]byte{255, 255, 255, 255})
	pkts := []nsPacket{{"a DHCP request (broadcast)", "INPUT",
		firewall.Packet{Protocol: "udp", Src: any4, Dst: bcast, SrcPort: 68, DstPort: 67, InIface: n.ServingInterface}}}
	if vm.Is4() && srv.IsValid() {
		pkts = append(pkts,
			nsPacket{"a renewal from " + vm.String(), "INPUT",
				firewall.Packet{Protocol: "udp", Src: vm, Dst: srv, SrcPort: 68, DstPort: 67, InIface: n.ServingInterface}},
			nsPacket{"dnsmasq's reply to " + vm.String(), "OUTPUT",
				firewall.Packet{Protocol: "udp", Src: srv, Dst: vm, SrcPort: 67, DstPort: 68, OutIface: n.ServingInterface}})
	}
	drops := nsDrops(n, pkts)
	if len(drops) == 0 {
		h.add("namespace_iptables", "admit DHCP on %s", n.ServingInterface)
		return
	}
	ns := dhcpns.NamespaceName(n.NetworkID)
	h.Verdict = Fail
	h.Summary = "dnsmasq runs, but the namespace's own iptables drops DHCP: " + strings.Join(drops, "; ")
	h.Cause = "a rule in " + ns + "'s filter table (the DHCP agent writes none that drops DHCP) stops DHCP: guests that boot or renew get no lease; those holding one keep working until it expires"
	h.Next = "ip netns exec " + ns + " iptables -S INPUT; ip netns exec " + ns + " iptables -S OUTPUT; delete the rule, then find who added it"
}

// nsFirewallBlames amends a failing metadata or reachability hop when the
// namespace's own iptables drops what that hop sent or answers: the rule
// is the cause, not the proxy or the path to the VM.
func (v *view) nsFirewallBlames(h *Hop, n *NetworkFacts) {
	if h.Verdict != Fail || n == nil || n.Firewall == nil {
		return
	}
	srv, vm := servingAddr(n), v.id.IP
	md := netip.AddrFrom4([4]byte{169, 254, 169, 254})
	var pkts []nsPacket
	switch h.Kind {
	case KindMetadata:
		pkts = []nsPacket{{"the probe's request to " + md.String() + ":80", "OUTPUT",
			firewall.Packet{Protocol: "tcp", Src: md, Dst: md, SrcPort: 40000, DstPort: 80, OutIface: "lo"}}}
		if vm.Is4() {
			pkts = append(pkts, nsPacket{"a guest's request to " + md.String() + ":80", "INPUT",
				firewall.Packet{Protocol: "tcp", Src: vm, Dst: md, SrcPort: 40000, DstPort: 80, InIface: n.ServingInterface}})
		}
	case KindReachability:
		if !vm.Is4() || !srv.IsValid() {
			return
		}
		pkts = []nsPacket{
			{"the ping to " + vm.String(), "OUTPUT", firewall.Packet{Protocol: "icmp", Src: srv, Dst: vm, ICMPType: 8, OutIface: n.ServingInterface}},
			{"the SYN to " + vm.String() + ":22", "OUTPUT", firewall.Packet{Protocol: "tcp", Src: srv, Dst: vm, SrcPort: 40000, DstPort: 22, OutIface: n.ServingInterface}},
		}
	default:
		return
	}
	drops := nsDrops(n, pkts)
	if len(drops) == 0 {
		return
	}
	ns := dhcpns.NamespaceName(n.NetworkID)
	h.put("namespace_iptables", strings.Join(drops, "; "))
	h.Summary += "; the namespace's own iptables drops " + strings.Join(drops, "; ")
	h.Cause = "a rule in " + ns + "'s filter table (the DHCP agent writes none such) drops it: the fault is that rule, not the path beyond the namespace"
	h.Next = "ip netns exec " + ns + " iptables -S; delete the rule, then find who added it"
}

// bridgeHooksBlame amends a hop that failed because frames between the
// qdhcp port and the VM were lost without a named rule (the ARP probe
// unanswered, a reachability probe silent): the compute node's bridge
// family has base chains outside Neutron's nat table holding rules
// (firewall.Snapshot.BridgeHooks: ebtables' filter table, a native nft
// bridge table), which Neutron never writes and the judges do not model.
// Seen on the aio cloud: `ebtables -A FORWARD -s <VM MAC> -j DROP` and an
// nft bridge table dropping the VM's MAC both failed the ARP hop with a
// cause blaming the guest.
func (v *view) bridgeHooksBlame(h *Hop) {
	fw := v.obs.Firewall
	if h.Verdict != Fail || fw == nil || fw.Before == nil || len(fw.Before.BridgeHooks) == 0 {
		return
	}
	var names []string
	for _, b := range fw.Before.BridgeHooks {
		names = append(names, b.String())
		h.put("bridge_hook", b.String())
	}
	h.Cause = "frames may be dropped on the bridge by a bridge-family filter Neutron does not write (ebtables' filter table, or an nft bridge table): " + strings.Join(names, "; ") + "; otherwise " + h.Cause
	h.Next = "ebtables -L; nft list ruleset bridge (a rule matching the VM's MAC or its tap); then " + h.Next
}

// qdiscBlame amends a hop that failed because frames to the VM were lost
// without a named rule (the ARP probe unanswered, a reachability probe
// silent) when a qdisc of the VM's tap dropped packets between the two
// bridge snapshots, the probes' interval (linuxbridge.Port.Qdiscs). Seen
// on the aio cloud: `tc qdisc replace dev <tap> root pfifo limit 0`
// dropped every frame to the VM, and the ARP hop blamed the guest.
func (v *view) qdiscBlame(h *Hop) {
	if h.Verdict != Fail || v.tap == nil || v.obs.Bridges == nil || v.obs.Bridges.After == nil {
		return
	}
	_, now := v.after()
	var moved []string
	for _, q := range now.Qdiscs {
		var was uint64
		for _, b := range v.tap.Qdiscs {
			if b.Kind == q.Kind && b.Parent == q.Parent {
				was = b.Drops
			}
		}
		if q.Drops > was {
			moved = append(moved, fmt.Sprintf("%s qdisc %s dropped %d packets", q.Parent, q.Kind, q.Drops-was))
			h.put("tap_qdisc", fmt.Sprintf("%s %s: drops %d -> %d", q.Parent, q.Kind, was, q.Drops))
		}
	}
	if len(moved) == 0 {
		return
	}
	h.Summary += "; on " + v.tap.Name + " the " + strings.Join(moved, ", ") + " during the probes"
	h.Cause = "traffic control on the VM's tap drops the frames to the VM (Neutron's QoS sets only rate limits): " + strings.Join(moved, ", ") + " while the probes ran"
	h.Next = "tc -s qdisc show dev " + v.tap.Name + "; tc qdisc del dev " + v.tap.Name + " root (if no QoS policy asks for it)"
}
