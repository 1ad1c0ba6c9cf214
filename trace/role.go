package trace

import (
	"errors"
	"fmt"
	"strings"
)

// Role says which side of a VM NIC's path this node holds. The zero value
// "" is RoleAllInOne.
type Role string

// Roles. A Neutron linuxbridge deployment splits the path between the
// compute node (libvirt, the tap, the brq bridge and its physical port, the
// FDB, the counters) and the network node (the DHCP agent's qdhcp
// namespace and dnsmasq, from which the ARP probe is sent); an all-in-one
// node holds both.
const (
	// RoleAllInOne traces every hop on this node.
	RoleAllInOne Role = "aio"
	// RoleCompute traces the libvirt domain, the tap, the bridge, its
	// physical port, the FDB and the counters; the DHCP side and the ARP
	// probe are Unknown ("DHCP side not on this node (role compute)").
	RoleCompute Role = "compute"
	// RoleNetwork traces the DHCP side (qdhcp namespace, dnsmasq, its
	// serving interface, the hosts entry, the lease) and the ARP probe
	// from the qdhcp namespace; the domain, interface, tap, bridge,
	// physical port, FDB and counter hops are Unknown ("compute side not
	// on this node (role network)"). Without the API the target must be
	// the port's MAC: the network is the one whose hosts file lists it.
	RoleNetwork Role = "network"
)

// ErrRole is the error of an unknown role or a Config whose fields
// contradict its role; errors.Is matches it.
var ErrRole = errors.New("trace: invalid role")

// ParseRole reads a role: "aio" (also "all-in-one", "both" and ""),
// "compute" or "network", in any case.
func ParseRole(s string) (Role, error) {
	switch strings.ToLower(strings.TrimSpace(s)) {
	case "", "aio", "all-in-one", "both":
		return RoleAllInOne, nil
	case "compute":
		return RoleCompute, nil
	case "network":
		return RoleNetwork, nil
	}
	return "", fmt.Errorf("%w %q: want aio, compute or network", ErrRole, s)
}

// String returns "aio", "compute" or "network" ("aio" for the zero value).
func (r Role) String() string {
	if r == "" {
		return string(RoleAllInOne)
	}
	return string(r)
}

// MarshalText implements encoding.TextMarshaler ("aio" for the zero value).
func (r Role) MarshalText() ([]byte, error) {
	p, err := ParseRole(string(r))
	if err != nil {
		return nil, err
	}
	return []byte(p), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (see ParseRole).
func (r *Role) UnmarshalText(b []byte) error {
	p, err := ParseRole(string(b))
	if err != nil {
		return err
	}
	*r = p
	return nil
}

// compute reports whether the role holds the compute side.
func (r Role) compute() bool { return r != RoleNetwork }

// dhcp reports whether the role holds the DHCP side.
func (r Role) dhcp() bool { return r != RoleCompute }

// EffectiveRole returns the role Run and Server trace with: Config.Role,
// where the zero value is RoleAllInOne, except that SkipDHCP (the older
// spelling of the compute role) makes it RoleCompute. A nil Config is
// RoleAllInOne. The error (errors.Is ErrRole) is for an unknown role, or
// SkipDHCP with RoleAllInOne or RoleNetwork set explicitly.
func (c *Config) EffectiveRole() (Role, error) {
	if c == nil {
		return RoleAllInOne, nil
	}
	if c.Role != "" && c.Role != RoleAllInOne && c.Role != RoleCompute && c.Role != RoleNetwork {
		return "", fmt.Errorf("%w %q in Config.Role: want %q, %q or %q", ErrRole, string(c.Role), RoleAllInOne, RoleCompute, RoleNetwork)
	}
	switch {
	case c.SkipDHCP && c.Role == "":
		return RoleCompute, nil
	case c.SkipDHCP && c.Role != RoleCompute:
		return "", fmt.Errorf("%w: Config.SkipDHCP means the compute role, but Config.Role is %q: drop one of them", ErrRole, string(c.Role))
	case c.Role == "":
		return RoleAllInOne, nil
	}
	return c.Role, nil
}

// Evidence lines of hops a role leaves to the other node.
const (
	notDHCPSide    = "DHCP side not on this node (role compute)"
	notComputeSide = "compute side not on this node (role network)"
)

// offNode returns a hop of kind that this node's role does not judge.
func offNode(kind Kind, why string) Hop {
	h := Hop{Kind: kind, Summary: why}
	h.put("role", why)
	return h
}
