package linuxbridge

import (
	"bytes"
	"fmt"
	"strings"
)

// OperState is an interface's RFC 2863 operational state. Its zero value
// is OperUnknown, which is also what the kernel reports for devices (such
// as a running guest's tap) that do not track it.
type OperState uint8

// Operational states, in the kernel's IF_OPER_* order.
const (
	OperUnknown OperState = iota
	OperNotPresent
	OperDown
	OperLowerLayerDown
	OperTesting
	OperDormant
	OperUp
)

var operNames = [...]string{"unknown", "notpresent", "down", "lowerlayerdown", "testing", "dormant", "up"}

// String returns the state in lower case, as `ip link` prints it.
func (s OperState) String() string {
	if int(s) < len(operNames) {
		return operNames[s]
	}
	return fmt.Sprintf("operstate(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s OperState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it accepts any case,
// and the dashed spelling of vishvananda/netlink ("lower-layer-down").
func (s *OperState) UnmarshalText(b []byte) error {
	return unmarshalEnum(bytes.ReplaceAll(b, []byte("-"), nil), operNames[:], (*uint8)(s), "oper state")
}

// STPState is a bridge port's spanning tree state. Its zero value is
// STPUnknown (not read); the others follow the kernel's BR_STATE_* values
// shifted by one.
type STPState uint8

// Bridge port states.
const (
	STPUnknown STPState = iota
	STPDisabled
	STPListening
	STPLearning
	STPForwarding
	STPBlocking
)

var stpNames = [...]string{"unknown", "disabled", "listening", "learning", "forwarding", "blocking"}

// String returns the state as `bridge link` prints it.
func (s STPState) String() string {
	if int(s) < len(stpNames) {
		return stpNames[s]
	}
	return fmt.Sprintf("stpstate(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s STPState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *STPState) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, stpNames[:], (*uint8)(s), "stp state")
}

// PortKind is the kind of device a bridge port is. Its zero value is
// PortKindUnknown.
type PortKind uint8

// Port kinds.
const (
	PortKindUnknown PortKind = iota
	// PortTap is a tun/tap device in tap mode (a libvirt guest NIC).
	PortTap
	// PortVeth is one end of a veth pair (Neutron's DHCP port, a router leg).
	PortVeth
	// PortPhysical is a device without a link kind: a real NIC such as eth2.
	PortPhysical
	// PortVLAN is an 802.1Q sub-interface (eth2.100).
	PortVLAN
	// PortBond is a bonding master.
	PortBond
	// PortOther is any other link kind (vxlan, tun in tun mode, ...).
	PortOther
)

var kindNames = [...]string{"unknown", "tap", "veth", "physical", "vlan", "bond", "other"}

// String returns the kind's name.
func (k PortKind) String() string {
	if int(k) < len(kindNames) {
		return kindNames[k]
	}
	return fmt.Sprintf("portkind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k PortKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *PortKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, kindNames[:], (*uint8)(k), "port kind")
}

// FDBState says how a forwarding database entry got there. Its zero value
// is FDBUnknown.
type FDBState uint8

// FDB entry states, as `bridge fdb` names them.
const (
	FDBUnknown FDBState = iota
	// FDBReachable is a recently learned entry (bridge fdb prints no state).
	FDBReachable
	// FDBStale is a learned entry not refreshed for a while.
	FDBStale
	// FDBPermanent is a local address: the bridge's or a port's own MAC.
	FDBPermanent
	// FDBStatic is an entry an administrator added (bridge fdb add ... static).
	FDBStatic
)

var fdbNames = [...]string{"unknown", "learned", "stale", "permanent", "static"}

// String returns the state's name; FDBReachable is "learned".
func (s FDBState) String() string {
	if int(s) < len(fdbNames) {
		return fdbNames[s]
	}
	return fmt.Sprintf("fdbstate(%d)", uint8(s))
}

// MarshalText implements encoding.TextMarshaler.
func (s FDBState) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (s *FDBState) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, fdbNames[:], (*uint8)(s), "fdb state")
}

func unmarshalEnum(b []byte, names []string, dst *uint8, what string) error {
	for i, n := range names {
		if strings.EqualFold(string(b), n) {
			*dst = uint8(i)
			return nil
		}
	}
	return fmt.Errorf("linuxbridge: unknown %s %q: want one of %s", what, b, strings.Join(names, ", "))
}
