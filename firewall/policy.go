package firewall

import (
	"net/netip"

	"github.com/vifpath/vifpath/hwaddr"
)

// Policy is what Neutron's API asks the agent to enforce on one port:
// its addresses, whether port security is on, and its security groups
// with their rules. launch.Client.PortPolicy fills it from the API.
type Policy struct {
	// PortID and MAC are the Neutron port's ID and MAC.
	PortID string     `json:"port_id"`
	MAC    hwaddr.MAC `json:"mac"`
	// FixedIPs are the port's addresses.
	FixedIPs []netip.Addr `json:"fixed_ips"`
	// AllowedAddressPairs are extra (IP or prefix, MAC) the port may
	// send from.
	AllowedAddressPairs []AddressPair `json:"allowed_address_pairs,omitempty"`
	// PortSecurityEnabled false means the agent installs no chains and no
	// anti-spoofing for the port (they are then expected absent).
	PortSecurityEnabled bool `json:"port_security_enabled"`
	// SecurityGroups are the port's groups with their rules.
	SecurityGroups []SecurityGroup `json:"security_groups"`
}

// AddressPair is one allowed address pair; MAC nil means the port's.
type AddressPair struct {
	// IP and MAC are one allowed_address_pairs entry (MAC nil: the port's own).
	IP  netip.Prefix `json:"ip"`
	MAC hwaddr.MAC   `json:"mac,omitempty"`
}

// SecurityGroup is a Neutron security group.
type SecurityGroup struct {
	// ID, Name and Rules are the group as Neutron shows it.
	ID    string              `json:"id"`
	Name  string              `json:"name"`
	Rules []SecurityGroupRule `json:"rules"`
}

// SecurityGroupRule is one rule of a group as the API holds it.
type SecurityGroupRule struct {
	// ID is the rule's Neutron ID.
	ID string `json:"id"`
	// Direction is ingress or egress; EtherType IPv4 or IPv6.
	Direction string `json:"direction"`
	EtherType string `json:"ethertype"`
	// Protocol is "" (any), icmp, tcp, udp, ipv6-icmp or a number.
	Protocol string `json:"protocol,omitempty"`
	// PortRangeMin and PortRangeMax are the port range, or for ICMP the
	// type and code; 0 is unset (the API's null).
	PortRangeMin int `json:"port_range_min,omitempty"`
	PortRangeMax int `json:"port_range_max,omitempty"`
	// RemoteIPPrefix and RemoteGroupID say who may send (ingress) or be
	// sent to (egress); both empty is anyone.
	RemoteIPPrefix string `json:"remote_ip_prefix,omitempty"`
	RemoteGroupID  string `json:"remote_group_id,omitempty"`
}
