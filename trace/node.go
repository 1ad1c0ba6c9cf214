package trace

import "time"

// NodeTrace is the result of tracing every VM NIC on one node from one
// observation (Node): one Trace per NIC, the node's orphans and its host
// checks. It is a plain value that round-trips through JSON.
type NodeTrace struct {
	// Node is the node's name as Nova and Neutron know it (Config.NodeName,
	// else the hostname).
	Node string `json:"node"`
	// Role is the side of the path this node traced.
	Role Role `json:"role"`
	// Verdict is the worst verdict of Traces, Orphans and HostChecks.
	Verdict Verdict `json:"verdict"`
	// Traces holds one trace per VM NIC, sorted by tap name (then MAC).
	// Each carries the node-level host checks only in HostChecks below,
	// not in its own hops.
	Traces []*Trace `json:"traces"`
	// Orphans are objects on the node that belong to no complete NIC.
	Orphans []Orphan `json:"orphans,omitempty"`
	// HostChecks are the node's own checks (bridge-nf-call-iptables,
	// NetworkManager, firewall backends), judged once for all NICs.
	HostChecks []Hop `json:"host_checks,omitempty"`
	// Started is when the observation began; Duration how long observing
	// and judging took.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
}

// OrphanKind says what an orphan lacks.
type OrphanKind string

// Orphan kinds.
const (
	// OrphanTapNoDomain is a tap on a brq bridge that no libvirt domain's
	// interface targets.
	OrphanTapNoDomain OrphanKind = "tap-without-domain"
	// OrphanTapNoPort is a tap on a brq bridge with no Neutron port (API
	// mode only).
	OrphanTapNoPort OrphanKind = "tap-without-port"
	// OrphanInterfaceNoTap is a libvirt interface whose target tap does
	// not exist or is on no bridge.
	OrphanInterfaceNoTap OrphanKind = "interface-without-tap"
	// OrphanPortNoTap is a Neutron port bound to this node with no tap
	// (API mode only).
	OrphanPortNoTap OrphanKind = "port-without-tap"
)

// Orphan is one object on the node that belongs to no complete VM NIC.
type Orphan struct {
	// Kind says what it lacks.
	Kind OrphanKind `json:"kind"`
	// Name is the tap, "domain/interface" or port ID.
	Name string `json:"name"`
	// Verdict is how bad it is (an orphan tap is Warn; a port bound here
	// with no tap is Fail).
	Verdict Verdict `json:"verdict"`
	// Detail says what was found, in one line.
	Detail string `json:"detail,omitempty"`
}
