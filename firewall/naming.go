package firewall

import (
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
)

// Names the linuxbridge agent gives its firewall objects. The iptables
// manager wraps every chain as "neutron-linuxbri-" (the binary name
// neutron-linuxbridge-agent cut to 16, plus "-") and cuts the chain's own
// part to 11 characters (MAX_IPTABLES_CHAIN_LEN_WRAP), so a port's chains
// are the direction letter plus the port ID's first 10 characters
// (neutron/agent/linux/iptables_firewall.py _port_chain_name,
// iptables_manager.get_chain_name). ipsets are "NIPv4"/"NIPv6" + the
// group ID, cut to 29 characters (ipset_manager.get_name). The ebtables
// chains are "neutronARP-"/"neutronMAC-" + the tap name (arp_protect.py).
const (
	// ChainPrefix starts every chain the agent wraps.
	ChainPrefix = "neutron-linuxbri-"
	// SGChain is the chain FORWARD jumps to for every filtered tap.
	SGChain = ChainPrefix + "sg-chain"
	// FallbackChain is the chain every port chain ends in (one DROP).
	FallbackChain = ChainPrefix + "sg-fallback"
	// EbARPPrefix and EbMACPrefix start the agent's ebtables nat chains.
	EbARPPrefix = "neutronARP-"
	EbMACPrefix = "neutronMAC-"
	// TapPrefix starts a port's tap; the rest is the port ID's first 11
	// characters.
	TapPrefix = "tap"
)

const (
	chainWrapLen = 11
	ipsetNameMax = 29
	tapIDLen     = 11
)

// Direction is a port chain's direction.
type Direction string

// The agent's three per-port chains.
const (
	// Ingress is traffic to the VM (the chain's letter is "i").
	Ingress Direction = "ingress"
	// Egress is traffic from the VM ("o").
	Egress Direction = "egress"
	// Spoof is the egress source check on MAC and IP ("s").
	Spoof Direction = "spoof"
)

// TapName returns the tap the agent names for a port ID ("tap" + its
// first 11 characters). A tap name is returned as is.
func TapName(portIDOrTap string) string {
	if strings.HasPrefix(portIDOrTap, TapPrefix) {
		return portIDOrTap
	}
	id := portIDOrTap
	if len(id) > tapIDLen {
		id = id[:tapIDLen]
	}
	return TapPrefix + id
}

// PortChain returns the chain name of a port (given by its ID or tap) in
// one direction, exactly as the agent truncates it.
func PortChain(portIDOrTap string, d Direction) string {
	letter := map[Direction]string{Ingress: "i", Egress: "o", Spoof: "s"}[d]
	name := letter + strings.TrimPrefix(TapName(portIDOrTap), TapPrefix)
	if len(name) > chainWrapLen {
		name = name[:chainWrapLen]
	}
	return ChainPrefix + name
}

// IPSetName returns the ipset the agent keeps for a security group's
// members of one family.
func IPSetName(groupID string, f Family) string {
	n := "NIPv4" + groupID
	if f == IPv6 {
		n = "NIPv6" + groupID
	}
	if len(n) > ipsetNameMax {
		n = n[:ipsetNameMax]
	}
	return n
}

// EbARPChain and EbMACChain return the ebtables nat chains of a tap.
func EbARPChain(tap string) string { return EbARPPrefix + tap }

// EbMACChain returns the MAC anti-spoofing chain of a tap.
func EbMACChain(tap string) string { return EbMACPrefix + tap }

// LinkLocal is the IPv6 link-local address Neutron derives from a port's
// MAC (EUI-64 in fe80::/64: the universal/local bit flipped, ff:fe in the
// middle), which the agent admits in the port's IPv6 spoof chain next to
// its fixed IPv6 addresses. A MAC that is not 6 bytes gives fe80::.
func LinkLocal(mac hwaddr.MAC) netip.Addr {
	var a [16]byte
	a[0], a[1] = 0xfe, 0x80
	if len(mac) == 6 {
		a[8], a[9], a[10], a[11] = mac[0]^2, mac[1], mac[2], 0xff
		a[12], a[13], a[14], a[15] = 0xfe, mac[3], mac[4], mac[5]
	}
	return netip.AddrFrom16(a)
}
