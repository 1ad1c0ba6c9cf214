package trace

import (
	"net/netip"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
)

// ProviderFacts are the facts of a node's end of the provider network that
// only a joined trace (Join) judges: what the other node's half needs to
// say whether frames cross the link. Observe gathers them after the ARP
// probes on a compute or network node (not on an all-in-one, which has no
// link to judge). It is a plain value.
type ProviderFacts struct {
	// Bridges is a snapshot of the node's bridges and FDB taken after the
	// ARP probes (network role only: a compute node's is
	// Observation.Bridges.After). Nil when it failed: Error says why.
	Bridges *linuxbridge.Snapshot `json:"bridges,omitempty"`
	At      time.Time             `json:"at,omitzero"`
	Error   string                `json:"error,omitempty"`
	// Agent are the linuxbridge agent's mappings on a network node (a
	// compute node's are Observation.Bridges.Agent); AgentError why there
	// are none.
	Agent      *linuxbridge.AgentMappings `json:"agent,omitempty"`
	AgentError string                     `json:"agent_error,omitempty"`
	// DHCPPorts are the MACs of the qdhcp namespaces' serving interfaces
	// (the DHCP ports), one per network observed.
	DHCPPorts []DHCPPortFacts `json:"dhcp_ports,omitempty"`
	// Unicast are ARP requests sent from a qdhcp namespace to a VM's MAC
	// rather than to the broadcast address: a switch (or a hypervisor's
	// NIC without promiscuous mode) that drops unknown unicast passes the
	// broadcast probe and drops this one.
	Unicast []UnicastARPFacts `json:"unicast,omitempty"`
	// Loose are the node's interfaces that are up with carrier, on no
	// bridge and without an IPv4 address: a wired NIC nothing uses,
	// perhaps the provider NIC the agent's mapping should name. Links
	// that are not Ethernet, veths into a qdhcp namespace and lo are left
	// out. LooseError says why they could not be read.
	Loose      []LinkFacts `json:"loose,omitempty"`
	LooseError string      `json:"loose_error,omitempty"`
}

// DHCPPortFacts is the serving interface of one network's qdhcp
// namespace.
type DHCPPortFacts struct {
	// NetworkID, Interface and MAC are the network's qdhcp serving interface and its MAC; Error says why they could not be read ("" when they were).
	NetworkID string     `json:"network_id"`
	Interface string     `json:"interface"`
	MAC       hwaddr.MAC `json:"mac,omitempty"`
	Error     string     `json:"error,omitempty"`
}

// UnicastARPFacts is one ARP request for IP sent to MAC (not broadcast)
// from a qdhcp namespace's serving interface.
type UnicastARPFacts struct {
	// NetworkID, IP and MAC are what was asked; From is who answered.
	NetworkID string     `json:"network_id"`
	IP        netip.Addr `json:"ip"`
	MAC       hwaddr.MAC `json:"mac"`
	From      string     `json:"from"`
	// Attempts is how many requests were sent at most (the prober stops
	// at the first answer); Answered whether MAC answered, after RTT.
	Attempts int           `json:"attempts"`
	Answered bool          `json:"answered"`
	RTT      time.Duration `json:"rtt,omitempty"`
	// Error is set when the probe could not run.
	Error string `json:"error,omitempty"`
}
