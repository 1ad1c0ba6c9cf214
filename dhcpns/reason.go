package dhcpns

import (
	"fmt"
	"strings"
)

// Reason says, as a typed fact, why a health check is not ok, so callers
// branch on it rather than on Check.Summary's wording. The zero value,
// ReasonNone, means the check gave no particular reason (it is ok, or the
// summary is all there is).
type Reason uint8

// Reasons of the dnsmasq and interface checks.
const (
	ReasonNone Reason = iota
	// ReasonDnsmasqZombie: the pid file's dnsmasq exited and was not
	// reaped.
	ReasonDnsmasqZombie
	// ReasonDnsmasqStopped: the pid file's dnsmasq is stopped (SIGSTOP);
	// Neutron counts it alive.
	ReasonDnsmasqStopped
	// ReasonNamespaceGone: dnsmasq is alive but the qdhcp namespace is
	// missing.
	ReasonNamespaceGone
	// ReasonOtherNamespace: dnsmasq is alive in another network namespace.
	ReasonOtherNamespace
	// ReasonStalePIDFile: the pid file names a process that is not this
	// network's dnsmasq.
	ReasonStalePIDFile
	// ReasonPIDFileMismatch: a dnsmasq runs in the namespace but the pid
	// file does not name it.
	ReasonPIDFileMismatch
	// ReasonNoDnsmasq: no dnsmasq serves the network.
	ReasonNoDnsmasq
	// ReasonSubnetUnknown: the serving interface is up with an address,
	// but no dnsmasq command line says which subnet it serves.
	ReasonSubnetUnknown
)

var reasonNames = [...]string{"", "dnsmasq-zombie", "dnsmasq-stopped", "namespace-gone", "other-namespace", "stale-pid-file", "pid-file-mismatch", "no-dnsmasq", "subnet-unknown"}

// String returns the reason's name ("dnsmasq-zombie", …; "" for
// ReasonNone).
func (r Reason) String() string {
	if int(r) < len(reasonNames) {
		return reasonNames[r]
	}
	return fmt.Sprintf("reason(%d)", uint8(r))
}

// MarshalText implements encoding.TextMarshaler.
func (r Reason) MarshalText() ([]byte, error) {
	if int(r) >= len(reasonNames) {
		return nil, fmt.Errorf("dhcpns: invalid reason %d", uint8(r))
	}
	return []byte(r.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler.
func (r *Reason) UnmarshalText(b []byte) error {
	for i, n := range reasonNames {
		if strings.EqualFold(string(b), n) {
			*r = Reason(i)
			return nil
		}
	}
	return fmt.Errorf("dhcpns: unknown reason %q", b)
}
