package trace

import (
	"slices"

	"github.com/vifpath/vifpath/linuxbridge"
)

// LinkEnd is one node's end of the provider link for one NIC: the facts
// Join judges the provider-link hop on, besides the hops. The judges
// (JudgeTrace, JudgeServer, Judge, and so Run, Server and Node) fill
// Trace.Link on the traces of a compute or a network node (never on an
// all-in-one's, which has no link), so a half printed with vmtrace -json
// or served by an exporter joins (JoinTraces) as well as its recorded
// observation does. The facts are trimmed to the NIC: the node's bridge
// for the NIC's network and that bridge's FDB, the probes of the NIC's
// address. It is a plain value.
type LinkEnd struct {
	// Node and Role are the node's name (Observation.Node) and role.
	Node string `json:"node"`
	Role Role   `json:"role"`
	// Bridges holds the node's bridge for the NIC (a compute node's: the
	// bridge its tap is on, after the ARP probe; a network node's: the
	// network's brq, after its probes) and its FDB, nil when the bridge
	// was not found or not read (Error says why, when known).
	Bridges *linuxbridge.Snapshot `json:"bridges,omitempty"`
	Error   string                `json:"error,omitempty"`
	// Loose are the node's wired interfaces on no bridge without an
	// address (ProviderFacts.Loose).
	Loose      []LinkFacts `json:"loose,omitempty"`
	LooseError string      `json:"loose_error,omitempty"`
	// Agent are the linuxbridge agent's mappings (nil: AgentError says
	// why there are none).
	Agent      *linuxbridge.AgentMappings `json:"agent,omitempty"`
	AgentError string                     `json:"agent_error,omitempty"`
	// Network is what the API said of the NIC's network (its physical
	// network picks the mapping); nil without an API.
	Network *NetworkInfo `json:"network,omitempty"`
	// The network node's probes: its DHCP port on the network, the
	// broadcast ARP probe of the NIC's address and the unicast ones
	// (ProviderFacts.Unicast). Empty on a compute node.
	DHCPPort *DHCPPortFacts    `json:"dhcp_port,omitempty"`
	ARP      *ARPFacts         `json:"arp,omitempty"`
	Unicast  []UnicastARPFacts `json:"unicast,omitempty"`
}

// attachLinkEnds fills Link on each trace of a compute or network node's
// observation (see LinkEnd). It is pure.
func attachLinkEnds(obs *Observation, traces []*Trace) {
	if obs.Role != RoleCompute && obs.Role != RoleNetwork {
		return
	}
	for _, t := range traces {
		t.Link = linkEndOf(obs, t)
	}
}

// linkEndOf is obs's end of the provider link for its trace t; nil for a
// network node that recorded no provider facts (an older vmtrace).
func linkEndOf(obs *Observation, t *Trace) *LinkEnd {
	e := &LinkEnd{Node: obs.Node, Role: obs.Role}
	if obs.API != nil && t.NetworkID != "" {
		e.Network = obs.API.Networks[t.NetworkID]
	}
	pf := obs.Provider
	if pf != nil {
		e.Loose, e.LooseError = pf.Loose, pf.LooseError
	}
	if obs.Role == RoleCompute {
		var snap *linuxbridge.Snapshot
		if b := obs.Bridges; b != nil {
			snap = b.After
			if snap == nil {
				snap = b.Before
			}
			e.Agent, e.AgentError = b.Agent, b.AgentError
			if snap == nil {
				e.Error = b.AfterError
			}
		}
		if bh, ok := t.Hop(KindBridge, ""); ok {
			e.Bridges = trimSnapshot(snap, bh.Name)
		}
		return e
	}
	if pf == nil {
		return nil
	}
	e.Agent, e.AgentError, e.Error = pf.Agent, pf.AgentError, pf.Error
	e.Bridges = trimSnapshot(pf.Bridges, linuxbridge.NetworkBridgeName(t.NetworkID))
	for _, d := range pf.DHCPPorts {
		if d.NetworkID == t.NetworkID {
			e.DHCPPort = &d
		}
	}
	ip := t.IP
	for _, u := range pf.Unicast {
		if u.NetworkID == t.NetworkID && (!ip.IsValid() || u.IP == ip) {
			e.Unicast = append(e.Unicast, u)
		}
	}
	if obs.DHCP != nil && ip.IsValid() {
		if nf := obs.DHCP.network(t.NetworkID); nf != nil {
			if a := nf.arp(ip); a != nil {
				c := *a
				e.ARP = &c
			}
		}
	}
	return e
}

// trimSnapshot returns the part of s about the bridge named name (the
// bridge and its FDB entries): nil when s is nil, empty when s has no
// such bridge.
func trimSnapshot(s *linuxbridge.Snapshot, name string) *linuxbridge.Snapshot {
	if s == nil {
		return nil
	}
	out := &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{}, FDB: []linuxbridge.FDBEntry{}}
	br := snapBridge(s, name)
	if br == nil {
		return out
	}
	out.Bridges = append(out.Bridges, *br)
	for _, f := range s.FDB {
		if f.Bridge == name {
			out.FDB = append(out.FDB, f)
		}
	}
	out.FDB = slices.Clip(out.FDB)
	return out
}
