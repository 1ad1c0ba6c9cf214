package dhcpns

import (
	"net/netip"
	"time"
)

// The reachability probe lives here, not in package firewall: it runs in
// the qdhcp namespace (the network node), as the ARP probe does, while
// the firewall it crosses is read on the compute node. The caller reads
// the firewall's counters before and after a probe and names the rule
// whose drop counter moved (firewall.Moved); this package only sends and
// listens.

// ReachOutcome is what one reachability probe saw.
type ReachOutcome string

// Probe outcomes.
const (
	// ReachAnswered: an ICMP echo reply, or a TCP SYN-ACK (the port is
	// open).
	ReachAnswered ReachOutcome = "answered"
	// ReachRefused: a TCP RST: the host is reachable through the
	// firewall, nothing listens on the port.
	ReachRefused ReachOutcome = "refused"
	// ReachSilent: no answer before the timeout (dropped on the way, or
	// the host is down).
	ReachSilent ReachOutcome = "silent"
	// ReachUnreachable: the namespace's own stack gave up (no ARP answer,
	// no route: EHOSTUNREACH, ENETUNREACH) or an ICMP unreachable came
	// back.
	ReachUnreachable ReachOutcome = "unreachable"
)

// ReachOptions tunes ProbeReach. A nil *ReachOptions means defaults.
type ReachOptions struct {
	// Timeout bounds each probe (all run at once). Zero: 1 s.
	Timeout time.Duration
	// TCPPort is the port of the TCP probe. Zero: 22 (the walkthrough's
	// ssh).
	TCPPort uint16
}

// ReachResult is the outcome of the ICMP echo and the TCP SYN to one
// address, as the walkthrough's `ping` and `ssh`.
type ReachResult struct {
	// Target is the probed address; Source the namespace's address the
	// probes left from (the DHCP port's).
	Target netip.Addr `json:"target"`
	Source netip.Addr `json:"source,omitzero"`
	// ICMP is the echo's outcome, ICMPRTT its round trip when answered.
	ICMP    ReachOutcome  `json:"icmp"`
	ICMPRTT time.Duration `json:"icmp_rtt,omitempty"`
	// TCPPort and TCP are the SYN's port and outcome.
	TCPPort uint16       `json:"tcp_port"`
	TCP     ReachOutcome `json:"tcp"`
	// Errno names the socket error behind an unreachable TCP outcome
	// ("EHOSTUNREACH").
	Errno string `json:"errno,omitempty"`
}

// Reached reports whether the address answered either probe: an echo
// reply, a SYN-ACK or a RST (a host that refuses the port is reachable).
func (r ReachResult) Reached() bool {
	return r.ICMP == ReachAnswered || r.TCP == ReachAnswered || r.TCP == ReachRefused
}

func (o *ReachOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return time.Second
	}
	return o.Timeout
}

func (o *ReachOptions) port() uint16 {
	if o == nil || o.TCPPort == 0 {
		return 22
	}
	return o.TCPPort
}
