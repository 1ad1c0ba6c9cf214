package dhcpns

import "strings"

// Neutron's names on a linuxbridge node. Kept unexported: the linuxbridge
// package owns the public helpers.
const (
	qdhcpPrefix  = "qdhcp-"
	nsPortPrefix = "ns-" // the DHCP port's veth inside qdhcp-<network>
	tapPrefix    = "tap" // its host end, and VM taps, on the bridge
	bridgePrefix = "brq" // brq + network id[:11]
	idLen        = 11    // how much of an ID fits after a 3-letter prefix
)

// NamespaceName returns Neutron's DHCP namespace name for a network ID.
func NamespaceName(networkID string) string { return qdhcpPrefix + networkID }

// NetworkIDFromNamespace returns the network ID in a "qdhcp-<id>" name, and
// false for any other name.
func NetworkIDFromNamespace(name string) (string, bool) {
	id, ok := strings.CutPrefix(name, qdhcpPrefix)
	if !ok || id == "" {
		return "", false
	}
	return id, true
}

func bridgeName(networkID string) string {
	return bridgePrefix + truncID(networkID)
}

func truncID(id string) string {
	if len(id) > idLen {
		return id[:idLen]
	}
	return id
}
