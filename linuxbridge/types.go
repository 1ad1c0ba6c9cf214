package linuxbridge

import (
	"fmt"
	"net/netip"

	"github.com/vifpath/vifpath/hwaddr"
)

// Snapshot is one full inspection of a namespace: every bridge with its
// ports and the whole bridge forwarding database, read with a fixed number
// of netlink dumps.
type Snapshot struct {
	// Bridges are the namespace's bridges, sorted by name.
	Bridges []Bridge `json:"bridges"`
	// FDB is every bridge's forwarding database, sorted by bridge, port, MAC.
	FDB []FDBEntry `json:"fdb"`
}

// Bridge is a Linux bridge and its ports, as seen at one moment.
type Bridge struct {
	// Name is the interface name, e.g. "brqc3e375fb-0a".
	Name string `json:"name"`
	// Index is the ifindex inside the inspected namespace.
	Index int `json:"index"`
	// MAC is the bridge's own hardware address.
	MAC hwaddr.MAC `json:"mac"`
	// MTU is the bridge device's MTU.
	MTU int `json:"mtu"`
	// OperState is the RFC 2863 operational state.
	OperState OperState `json:"oper_state"`
	// Up reports whether the administrator set the link up (IFF_UP).
	Up bool `json:"up"`
	// Addrs are the IPv4 and IPv6 addresses assigned to the bridge device.
	Addrs []netip.Prefix `json:"addrs"`
	// STP reports whether the spanning tree protocol is enabled.
	STP bool `json:"stp"`
	// Neutron is what the name says about Neutron (a "brq" bridge names a
	// network); Kind is DeviceOther for bridges Neutron did not name.
	Neutron DeviceName `json:"neutron"`
	// Ports are the bridge's ports, sorted by name.
	Ports []Port `json:"ports"`
}

// Port returns the port with the given name and whether it exists.
func (b *Bridge) Port(name string) (Port, bool) {
	for _, p := range b.Ports {
		if p.Name == name {
			return p, true
		}
	}
	return Port{}, false
}

// Port is one interface enslaved to a bridge.
type Port struct {
	// Name is the interface name, e.g. "tap31f2d3e9-8d".
	Name string `json:"name"`
	// Index is the ifindex inside the inspected namespace.
	Index int `json:"index"`
	// Kind is the driver family (tap, veth, physical, ...).
	Kind PortKind `json:"kind"`
	// MAC is the port's own hardware address (for a libvirt tap, fe:16:3e:…).
	MAC hwaddr.MAC `json:"mac"`
	// MTU is the port's MTU.
	MTU int `json:"mtu"`
	// OperState is the RFC 2863 operational state (a tap without a guest
	// attached is "down"; a running guest's tap is usually "unknown").
	OperState OperState `json:"oper_state"`
	// Up reports whether the administrator set the link up (IFF_UP).
	Up bool `json:"up"`
	// LowerUp reports carrier (IFF_LOWER_UP).
	LowerUp bool `json:"lower_up"`
	// STPState is the bridge port state (forwarding, blocking, ...).
	STPState STPState `json:"stp_state"`
	// Priority and Cost are the port's STP priority and path cost.
	Priority int `json:"priority"`
	Cost     int `json:"cost"`
	// Learning reports whether the bridge learns source MACs on this port.
	Learning bool `json:"learning"`
	// Flood reports whether unknown unicast is flooded to this port.
	Flood bool `json:"flood"`
	// Hairpin reports whether frames may be sent back out of the port they
	// came in on.
	Hairpin bool `json:"hairpin"`
	// Isolated reports the port isolated (`bridge link set dev X isolated
	// on`): the bridge forwards nothing between two isolated ports, only
	// between an isolated port and the others. Neutron never sets it.
	Isolated bool `json:"isolated"`
	// Stats are the port's interface counters.
	Stats Stats `json:"stats"`
	// Qdiscs are the port's traffic-control qdiscs other than noqueue
	// (`tc -s qdisc show dev X`: a root pfifo, tbf or htb, an ingress or
	// clsact), read by Snapshot only when Config.Qdiscs is set (nil
	// otherwise, from Bridges and Bridge, for a port with none, and in
	// snapshots older than the field). A qdisc
	// drops frames on their way out of the port: for a VM's tap, to the
	// VM.
	Qdiscs []Qdisc `json:"qdiscs,omitempty"`
	// Peer is the other end of a veth port; nil for other kinds.
	Peer *VethPeer `json:"peer,omitempty"`
	// Neutron is what the name says about Neutron (a "tap" port names a
	// Neutron port).
	Neutron DeviceName `json:"neutron"`
}

// Qdisc is one traffic-control queueing discipline of a port, with its
// counters as `tc -s qdisc show` prints them.
type Qdisc struct {
	// Kind is the qdisc's kind (pfifo_fast, pfifo, tbf, htb, ingress, …).
	Kind string `json:"kind"`
	// Parent is "root", "ingress" (an ingress or clsact qdisc) or the
	// parent class's handle ("1:10").
	Parent string `json:"parent"`
	// Packets is how many packets it sent; Drops how many it dropped.
	Packets uint64 `json:"packets"`
	Drops   uint64 `json:"drops"`
}

// VethPeer identifies the other end of a veth pair.
type VethPeer struct {
	// NetNSID is the inspected namespace's id for the namespace holding the
	// peer (what `ip -j link` prints as link_netnsid), or -1 when the peer
	// is in the inspected namespace itself.
	NetNSID int `json:"netnsid"`
	// Index is the peer's ifindex inside its own namespace.
	Index int `json:"index"`
}

// Stats are interface counters (rtnl_link_stats64), as `ip -s link`
// prints them. Rx counts what the device received: for a guest's tap, what
// the guest sent; Tx what it transmitted: what the bridge sent the guest.
type Stats struct {
	// RxPackets and TxPackets are packets received and transmitted.
	RxPackets uint64 `json:"rx_packets"`
	TxPackets uint64 `json:"tx_packets"`
	// RxBytes and TxBytes are bytes received and transmitted.
	RxBytes uint64 `json:"rx_bytes"`
	TxBytes uint64 `json:"tx_bytes"`
	// RxErrors and TxErrors are packets with errors.
	RxErrors uint64 `json:"rx_errors"`
	TxErrors uint64 `json:"tx_errors"`
	// RxDropped and TxDropped are packets dropped (no buffer, guest not
	// reading its tap, ...).
	RxDropped uint64 `json:"rx_dropped"`
	TxDropped uint64 `json:"tx_dropped"`
}

// FDBEntry is one entry of a bridge's forwarding database.
type FDBEntry struct {
	// MAC is the hardware address.
	MAC hwaddr.MAC `json:"mac"`
	// Bridge and BridgeIndex name the bridge whose database holds the entry.
	Bridge      string `json:"bridge"`
	BridgeIndex int    `json:"bridge_index"`
	// Port and PortIndex name the port frames to MAC leave through. For the
	// bridge's own addresses they name the bridge itself.
	Port      string `json:"port"`
	PortIndex int    `json:"port_index"`
	// VLAN is the entry's VLAN id, 0 when the bridge does no VLAN filtering.
	VLAN int `json:"vlan,omitempty"`
	// State says how the entry got there (learned, permanent, static).
	State FDBState `json:"state"`
	// ExtLearned reports an entry added by an external learner (a switchdev
	// driver or a controller), not by the bridge itself.
	ExtLearned bool `json:"ext_learned,omitempty"`
}

// Learned reports whether the bridge learned the entry from traffic (it
// saw a frame from MAC arrive on Port).
func (e FDBEntry) Learned() bool { return e.State == FDBReachable || e.State == FDBStale }

// Local reports whether the entry is one of the bridge's or a port's own
// addresses (bridge fdb's "permanent").
func (e FDBEntry) Local() bool { return e.State == FDBPermanent }

// String formats the entry like `bridge fdb show`.
func (e FDBEntry) String() string {
	s := fmt.Sprintf("%s dev %s", e.MAC, e.Port)
	if e.VLAN != 0 {
		s += fmt.Sprintf(" vlan %d", e.VLAN)
	}
	s += " master " + e.Bridge
	if e.State != FDBReachable {
		s += " " + e.State.String()
	}
	return s
}
