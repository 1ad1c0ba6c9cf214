package trace

import (
	"cmp"
	"errors"
	"fmt"
	"slices"
	"strings"
	"time"
)

// ErrJoin is the error of halves Join cannot join (no compute half, no
// network half, an observation of another version); errors.Is matches it.
var ErrJoin = errors.New("trace: cannot join the halves")

// Join judges the halves of VM paths recorded on different nodes, a
// compute node's (RoleCompute) and a network node's (RoleNetwork), as one
// path: each NIC the compute half traced, matched with the network half's
// trace of the same port (by port ID, else by the port's MAC), becomes
// one Trace whose compute hops (domain, interface, tap, bridge, physical
// port, FDB, counters) come from the compute half and whose DHCP side
// (qdhcp namespace, dnsmasq, hosts entry, lease, ARP probe) comes from
// the network half, with a KindProviderLink hop between them: both
// physical ports up with carrier and on their bridges, each bridge having
// learned the other node's MAC on its physical port (the VM's on the
// network node, the DHCP port's on the compute node), the network node's
// ARP probes (broadcast and unicast) answered across the link.
//
// A fault of the link is named at that hop, not at either node: a
// provider wire down (a physical port up without carrier), a switch that
// drops unknown unicast (the broadcast probe answered, the unicast one
// not), no frame crossing although both ports have carrier (a mapping to
// the wrong interface on one node, told by a loose wired NIC there). The
// node hops that only show the link's fault (the physical port's missing
// carrier, the unanswered ARP probe, a lease not renewed, the silent ping) are then Warn,
// with the evidence "explained_by". Each hop carries the evidence "node"
// naming the node it was judged on.
//
// The halves are observations in any mode (one NIC, a server, a whole
// node: vmtrace -record, or -all -record). Record the network node's half
// first: its ARP probes are what teaches the compute node's bridge the
// DHCP port's MAC. More than one compute half may be given (a port is
// matched on the node its trace was found on). The result is a NodeTrace
// named "<compute>+<network>" (role aio): its Traces are the compute
// halves' NICs, HostChecks and Orphans both halves'. Join is pure.
func Join(halves ...*Observation) (*NodeTrace, error) {
	var judged []*NodeTrace
	for _, o := range halves {
		if o == nil {
			continue
		}
		if o.Version != ObservationVersion {
			return nil, fmt.Errorf("%w: %s's observation is version %d, this trace reads version %d", ErrJoin, o.Node, o.Version, ObservationVersion)
		}
		nt, err := JudgeHalf(o)
		if err != nil {
			return nil, fmt.Errorf("%w: %s: %w", ErrJoin, o.Node, err)
		}
		judged = append(judged, nt)
	}
	return JoinTraces(judged...)
}

// JoinTraces is Join over halves already judged: each one node's traces
// as a NodeTrace (vmtrace -all -json, an exporter's traces endpoint, or
// JudgeHalf / DecodeHalf of what vmtrace -json printed for a NIC or a
// server). The provider-link hop is judged on the traces' Link facts, so
// a half judged by this vmtrace joins exactly as its observation does;
// a trace without them (an older vmtrace's) leaves the link not judged.
// JoinTraces is pure and does not modify its arguments.
func JoinTraces(halves ...*NodeTrace) (*NodeTrace, error) {
	var comp, netw []*half
	for _, nt := range halves {
		if nt == nil {
			continue
		}
		h := &half{node: nt.Node, started: nt.Started, duration: nt.Duration, traces: nt.Traces,
			hostChecks: slices.Clone(nt.HostChecks), orphans: slices.Clone(nt.Orphans)}
		switch nt.Role {
		case RoleCompute:
			comp = append(comp, h)
		case RoleNetwork:
			netw = append(netw, h)
		default:
			return nil, fmt.Errorf("%w: %s traced the whole path (role %s): join a compute node's half with a network node's (-role compute, -role network)", ErrJoin, nt.Node, nt.Role.String())
		}
	}
	if len(comp) == 0 || len(netw) == 0 {
		return nil, fmt.Errorf("%w: got %d compute and %d network halves: give one of each (vmtrace -role compute -record A, -role network -record B)", ErrJoin, len(comp), len(netw))
	}
	var names []string
	for _, h := range append(append([]*half{}, comp...), netw...) {
		names = append(names, h.node)
	}
	nt := &NodeTrace{Node: strings.Join(names, "+"), Role: RoleAllInOne, Traces: []*Trace{}}
	for i, h := range append(append([]*half{}, comp...), netw...) {
		if i == 0 || h.started.Before(nt.Started) {
			nt.Started = h.started
		}
		nt.Duration += h.duration
		for _, hc := range h.hostChecks {
			hc.Evidence = append([]Evidence{{Key: "node", Value: h.node}}, hc.Evidence...)
			hc.Name = h.node + ": " + hc.Name
			nt.HostChecks = append(nt.HostChecks, hc)
		}
		for _, o := range h.orphans {
			o.Name = h.node + ": " + o.Name
			nt.Orphans = append(nt.Orphans, o)
		}
	}
	for _, c := range comp {
		for _, ct := range c.traces {
			var nh *half
			var ntr *Trace
			for _, n := range netw {
				if t := n.match(ct); t != nil {
					nh, ntr = n, t
					break
				}
			}
			nt.Traces = append(nt.Traces, joinTrace(c, ct, nh, ntr))
		}
	}
	slices.SortStableFunc(nt.Traces, func(a, b *Trace) int {
		return cmp.Or(strings.Compare(a.Tap, b.Tap), strings.Compare(a.PortMAC.String(), b.PortMAC.String()))
	})
	nt.Verdict = Worst(nt.HostChecks)
	for _, t := range nt.Traces {
		nt.Verdict = max(nt.Verdict, t.Verdict)
	}
	for _, o := range nt.Orphans {
		nt.Verdict = max(nt.Verdict, o.Verdict)
	}
	return nt, nil
}

// half is one node's traces, judged on their own.
type half struct {
	node       string
	started    time.Time
	duration   time.Duration
	traces     []*Trace
	hostChecks []Hop
	orphans    []Orphan
}

// JudgeHalf judges an observation the way its mode asks (JudgeTrace,
// JudgeServer or Judge) into one NodeTrace named after its node, the
// shape JoinTraces takes. It is pure.
func JudgeHalf(o *Observation) (*NodeTrace, error) {
	var ts []*Trace
	switch o.Request.Mode {
	case ModeNIC:
		t, err := JudgeTrace(o)
		if err != nil {
			return nil, err
		}
		ts = []*Trace{t}
	case ModeServer:
		st, err := JudgeServer(o)
		if err != nil {
			return nil, err
		}
		ts = st.Traces
	case ModeNode:
		return Judge(o), nil
	default:
		return nil, fmt.Errorf("%w: unknown request mode %q", ErrReplay, o.Request.Mode)
	}
	return halfOf(o.Node, o.Role, ts), nil
}

// halfOf wraps one NIC's or one server's traces as a node's.
func halfOf(node string, role Role, ts []*Trace) *NodeTrace {
	nt := &NodeTrace{Node: node, Role: role, Traces: ts}
	for i, t := range ts {
		if i == 0 || t.Started.Before(nt.Started) {
			nt.Started = t.Started
		}
		nt.Duration = max(nt.Duration, t.Duration)
		nt.Verdict = max(nt.Verdict, t.Verdict)
	}
	return nt
}

// match returns the half's trace of the same port as ct: the same port
// ID (a tap's 11 characters match the full ID), else the same MAC.
func (h *half) match(ct *Trace) *Trace {
	samePort := func(a, b string) bool {
		if len(a) < 11 || len(b) < 11 {
			return false
		}
		n := min(len(a), len(b))
		return strings.EqualFold(a[:n], b[:n])
	}
	for _, t := range h.traces {
		if ct.PortID != "" && samePort(ct.PortID, t.PortID) {
			return t
		}
	}
	for _, t := range h.traces {
		if ct.PortMAC != nil && ct.PortMAC.Equal(t.PortMAC) {
			return t
		}
	}
	return nil
}

// offNodeHop reports whether h is a hop its node's role left to the
// other node.
func offNodeHop(h Hop) bool {
	_, ok := h.Get("role")
	return ok && h.Verdict == Unknown
}

// joinTrace merges a compute trace with its network trace (nil: none
// matched) and judges the provider link between them.
func joinTrace(c *half, ct *Trace, n *half, ntr *Trace) *Trace {
	t := *ct
	t.Role = RoleAllInOne
	t.Hops = nil
	t.Link = nil
	tag := func(h Hop, node string) Hop {
		h.Evidence = append([]Evidence{{Key: "node", Value: node}}, h.Evidence...)
		if h.Kind == KindHostCheck {
			h.Name = node + ": " + h.Name // each node has its own
		}
		return h
	}
	used := map[int]bool{}
	take := func(kind Kind) (Hop, bool) {
		if ntr == nil {
			return Hop{}, false
		}
		for i, h := range ntr.Hops {
			if !used[i] && h.Kind == kind && !offNodeHop(h) {
				used[i] = true
				return h, true
			}
		}
		return Hop{}, false
	}
	have := map[Kind]bool{}
	linkAt := -1
	for _, h := range ct.Hops {
		if offNodeHop(h) {
			if nh, ok := take(h.Kind); ok {
				if linkAt < 0 {
					linkAt = len(t.Hops)
				}
				t.Hops = append(t.Hops, tag(nh, n.node))
				continue
			}
		}
		have[h.Kind] = true
		t.Hops = append(t.Hops, tag(h, c.node))
		if h.Kind == KindFDB || h.Kind == KindPhysicalPort && linkAt < 0 {
			linkAt = len(t.Hops)
		}
	}
	if ntr != nil {
		// Hops of the network half the compute half has no place for
		// (its host checks, hops of kinds the compute role does not
		// emit), after the rest.
		for i, h := range ntr.Hops {
			if !used[i] && !offNodeHop(h) && (h.Kind == KindHostCheck || !have[h.Kind]) {
				used[i] = true
				t.Hops = append(t.Hops, tag(h, n.node))
			}
		}
		if t.NetworkID == "" {
			t.NetworkID = ntr.NetworkID
		}
		if !t.IP.IsValid() {
			t.IP = ntr.IP
		}
		if t.PortMAC == nil {
			t.PortMAC = ntr.PortMAC
		}
	}
	var link Hop
	if ntr == nil {
		link = Hop{Kind: KindProviderLink, Name: c.node + " <-> ?", Summary: "not judged: no network node's half traced this port"}
		link.put("compute", c.node)
		link.add("match", "no network-node trace with port %s or MAC %s", orUnknown(ct.PortID, "?"), ct.PortMAC)
	} else {
		link = judgeLink(linkInput{comp: c.node, net: n.node, ct: ct, nt: ntr})
		if link.Verdict == Fail {
			explain(&t, link)
		}
		if link.Verdict == OK {
			answered(&t, n.node)
		}
	}
	if linkAt < 0 {
		linkAt = len(t.Hops)
	}
	t.Hops = slices.Insert(t.Hops, linkAt, link)
	remoteGroupOnly(&t)
	t.Verdict = Worst(t.Hops)
	return &t
}

// remoteGroupOnly settles the network node's reachability hop when the
// compute node's security-group hop says its groups admit the probe's
// ping and ssh only from a remote group's members (evidence
// admitted_only_from): with the guest answering ARP, probes that went
// silent are what the rules ask for, not a broken path (seen on the aio
// cloud, a rule --remote-group on a server of compute1). A probe that was
// unreachable (no ARP answer or no route) still fails.
func remoteGroupOnly(t *Trace) {
	sg, ok := t.Hop(KindSecurityGroup, "")
	if !ok || sg.Verdict != Warn {
		return
	}
	if _, only := sg.Get("admitted_only_from"); !only {
		return
	}
	if arp, ok := t.Hop(KindARP, ""); !ok || arp.Verdict != OK {
		return
	}
	for i := range t.Hops {
		h := &t.Hops[i]
		if h.Kind != KindReachability || h.Verdict != Fail || !strings.Contains(h.Summary, "silent") || strings.Contains(h.Summary, "unreachable") {
			continue
		}
		h.Verdict = Warn
		h.add("explained_by", "%s: %s", KindSecurityGroup, sg.Summary)
		h.Cause = "the probe's source is not a member of the remote group the port's rules admit (see the security-group hop): this alone does not show the VM unreachable for its clients"
		h.Next = "probe from a member of the group; the security-group hop"
	}
}

// explain marks the node hops that only show the link's fault: Fail or
// Warn becomes Warn, with the evidence "explained_by".
func explain(t *Trace, link Hop) {
	symptom, _ := link.Get("explains")
	for i := range t.Hops {
		h := &t.Hops[i]
		if h.Verdict != Fail && h.Verdict != Warn {
			continue
		}
		node, _ := h.Get("node")
		key := node + "/" + string(h.Kind)
		if !slices.Contains(strings.Split(symptom, ","), key) {
			continue
		}
		h.Verdict = Warn
		h.add("explained_by", "%s: %s", KindProviderLink, link.Summary)
		h.Cause = "a consequence of the provider link's fault (see the provider-link hop): " + h.Cause
	}
}

// answered settles a compute half's counters hop that warned because the
// guest sent nothing during its interval: the probe that makes a guest
// answer runs on the network node, outside that interval, and the joined
// trace knows whether the guest answered it.
func answered(t *Trace, netNode string) {
	arp, ok := t.Hop(KindARP, "")
	if node, _ := arp.Get("node"); !ok || arp.Verdict != OK || node != netNode {
		return
	}
	for i := range t.Hops {
		h := &t.Hops[i]
		if h.Kind != KindCounters || h.Verdict != Warn {
			continue
		}
		if rx, _ := h.Get("rx_packets"); !strings.Contains(rx, "(+0,") {
			continue // the guest sent: the warning is about something else
		}
		h.Verdict = OK
		h.add("guest_answered", "%s's ARP probe of %s (%s), before this interval: the guest is alive", netNode, arp.Name, arp.Summary)
		h.Summary = "the guest sent nothing in the interval, but answered " + netNode + "'s ARP probe (sent from the other node, before it)"
		h.Cause, h.Next = "", ""
	}
}
