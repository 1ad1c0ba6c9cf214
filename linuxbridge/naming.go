package linuxbridge

import (
	"bytes"
	"fmt"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
)

// Neutron's Linux bridge agent names devices after the first 11 characters
// of a UUID (8 hex digits, a dash, 2 hex digits), behind a 3-letter prefix,
// so every name fits the kernel's 15-character limit.
const (
	// NeutronIDPrefixLen is how many characters of a Neutron UUID a device
	// name keeps.
	NeutronIDPrefixLen = 11

	bridgePrefix = "brq"
	tapPrefix    = "tap"
	nsPrefix     = "ns-"
)

// DeviceKind is what a device name says a device is to Neutron. Its zero
// value, DeviceOther, means the name is not one Neutron gives.
type DeviceKind uint8

// Device kinds.
const (
	// DeviceOther is a name Neutron does not give (eth2, virbr0, ...).
	DeviceOther DeviceKind = iota
	// DeviceBridge is "brq" + network ID prefix: the bridge of a network.
	DeviceBridge
	// DeviceTap is "tap" + port ID prefix: the bridge side of a port (a
	// guest's tap, or the bridge end of a DHCP or router veth).
	DeviceTap
	// DeviceNS is "ns-" + port ID prefix: the namespace side of a DHCP or
	// router port's veth, inside qdhcp-… or qrouter-….
	DeviceNS
)

var deviceKindNames = [...]string{"other", "bridge", "tap", "ns"}

// String returns the kind's name.
func (k DeviceKind) String() string {
	if int(k) < len(deviceKindNames) {
		return deviceKindNames[k]
	}
	return fmt.Sprintf("devicekind(%d)", uint8(k))
}

// MarshalText implements encoding.TextMarshaler.
func (k DeviceKind) MarshalText() ([]byte, error) { return []byte(k.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler.
func (k *DeviceKind) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, deviceKindNames[:], (*uint8)(k), "device kind")
}

// DeviceName is what a device name says about Neutron.
type DeviceName struct {
	// Kind is the kind of device the name stands for.
	Kind DeviceKind `json:"kind"`
	// IDPrefix is the first 11 characters of the network ID (DeviceBridge)
	// or port ID (DeviceTap, DeviceNS); empty for DeviceOther.
	IDPrefix string `json:"id_prefix,omitempty"`
}

// Matches reports whether the name stands for the Neutron object with the
// given full or shortened UUID (compared case-insensitively).
func (d DeviceName) Matches(id string) bool {
	if d.Kind == DeviceOther || len(id) < NeutronIDPrefixLen {
		return false
	}
	return strings.EqualFold(id[:NeutronIDPrefixLen], d.IDPrefix)
}

// ParseDeviceName says what a device name stands for: a network's bridge
// ("brq" + 11 characters of the network ID), a port's tap ("tap" + 11 of
// the port ID) or its namespace end ("ns-" + 11). The 11 characters must
// look like the start of a UUID (8 hex digits, "-", 2 hex digits); any
// other name is DeviceOther.
func ParseDeviceName(name string) DeviceName {
	if len(name) != 3+NeutronIDPrefixLen || !isUUIDPrefix(name[3:]) {
		return DeviceName{}
	}
	var k DeviceKind
	switch name[:3] {
	case bridgePrefix:
		k = DeviceBridge
	case tapPrefix:
		k = DeviceTap
	case nsPrefix:
		k = DeviceNS
	default:
		return DeviceName{}
	}
	return DeviceName{Kind: k, IDPrefix: strings.ToLower(name[3:])}
}

// isUUIDPrefix reports whether s is 8 hex digits, a dash and 2 hex digits.
func isUUIDPrefix(s string) bool {
	if len(s) != NeutronIDPrefixLen {
		return false
	}
	for i := 0; i < len(s); i++ {
		c := s[i]
		if i == 8 {
			if c != '-' {
				return false
			}
			continue
		}
		if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
			return false
		}
	}
	return true
}

// idPrefix is Python's id[:11], as Neutron computes it.
func idPrefix(id string) string {
	if len(id) > NeutronIDPrefixLen {
		return id[:NeutronIDPrefixLen]
	}
	return id
}

// NetworkBridgeName returns the bridge Neutron's Linux bridge agent makes
// for a network: "brq" + networkID[:11].
func NetworkBridgeName(networkID string) string { return bridgePrefix + idPrefix(networkID) }

// PortTapName returns the bridge-side device of a Neutron port:
// "tap" + portID[:11] (a guest's libvirt tap, or the bridge end of a DHCP
// port's veth).
func PortTapName(portID string) string { return tapPrefix + idPrefix(portID) }

// PortNSName returns the namespace-side device of a DHCP or router port:
// "ns-" + portID[:11].
func PortNSName(portID string) string { return nsPrefix + idPrefix(portID) }

// TapMAC returns the MAC libvirt gives the tap of a guest NIC whose MAC
// (the Neutron port's, fa:16:3e:…) is portMAC: the same address with the
// first byte set to 0xfe, so the bridge never adopts the tap's address.
// It returns nil unless portMAC is a 6-byte Ethernet address.
func TapMAC(portMAC hwaddr.MAC) hwaddr.MAC {
	if len(portMAC) != 6 {
		return nil
	}
	m := make(hwaddr.MAC, 6)
	copy(m, portMAC)
	m[0] = 0xfe
	return m
}

// SameNIC reports whether a tap's MAC and a Neutron port's (or guest
// NIC's) MAC belong to the same virtual NIC: both are 6-byte Ethernet
// addresses with equal low five bytes. It is true for equal addresses too.
func SameNIC(tapMAC, portMAC hwaddr.MAC) bool {
	return len(tapMAC) == 6 && len(portMAC) == 6 && bytes.Equal(tapMAC[1:], portMAC[1:])
}
