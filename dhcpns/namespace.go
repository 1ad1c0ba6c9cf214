package dhcpns

import (
	"net/netip"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
)

// NamespaceInfo names one qdhcp namespace found in the netns run directory.
type NamespaceInfo struct {
	// Name is the file name, "qdhcp-<network id>".
	Name string `json:"name"`
	// Path is the bind mount (NetNSDir/Name).
	Path string `json:"path"`
	// NetworkID is the Neutron network the namespace serves.
	NetworkID string `json:"network_id"`
	// Inode identifies the namespace; /proc/<pid>/ns/net of a process inside
	// links to "net:[Inode]".
	Inode uint64 `json:"inode"`
}

// OperState is a link's RFC 2863 operational state: the module's one
// enum for it, linuxbridge.OperState, which prints in lower case as `ip
// link` does ("up", "down", "unknown").
type OperState = linuxbridge.OperState

// Operational states, the same constants as linuxbridge's.
const (
	OperUnknown        = linuxbridge.OperUnknown
	OperNotPresent     = linuxbridge.OperNotPresent
	OperDown           = linuxbridge.OperDown
	OperLowerLayerDown = linuxbridge.OperLowerLayerDown
	OperTesting        = linuxbridge.OperTesting
	OperDormant        = linuxbridge.OperDormant
	OperUp             = linuxbridge.OperUp
)

// Link is one network interface inside a namespace.
type Link struct {
	// Index is the ifindex, meaningful only inside the namespace.
	Index int `json:"index"`
	// Name is the interface name ("ns-10a8e6a2-5d").
	Name string `json:"name"`
	// Kind is the link type: "veth", "bridge", "tuntap", "device" (for
	// loopback and physical devices), ….
	Kind string `json:"kind"`
	// MAC is the hardware address.
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// MTU is the link's MTU.
	MTU int `json:"mtu"`
	// AdminUp is true when the link is set up (IFF_UP).
	AdminUp bool `json:"admin_up"`
	// LowerUp is true when the link has carrier (IFF_LOWER_UP).
	LowerUp bool `json:"lower_up"`
	// State is the operational state.
	State OperState `json:"state"`
	// PeerIndex is, for a veth, the peer's ifindex inside the peer's
	// namespace (what `ip -j` prints as link_index); 0 if none.
	PeerIndex int `json:"peer_index,omitempty"`
	// PeerNetNSID is the namespace id (in this namespace's numbering) of the
	// veth peer's namespace (`ip -j` link_netnsid), -1 if the peer is in the
	// same namespace or there is no peer.
	PeerNetNSID int `json:"peer_netnsid"`
	// PeerName is the veth peer's name when the peer is in the same
	// namespace, "" otherwise (the name in another namespace would need
	// entering it).
	PeerName string `json:"peer_name,omitempty"`
	// MasterIndex is the ifindex of the bridge the link is a port of, 0 if
	// none.
	MasterIndex int `json:"master_index,omitempty"`
}

// Addr is an address on a link.
type Addr struct {
	// LinkIndex and Link identify the interface.
	LinkIndex int    `json:"link_index"`
	Link      string `json:"link"`
	// Prefix is the address with its prefix length (192.168.31.70/27).
	Prefix netip.Prefix `json:"prefix"`
	// Scope is "global", "link", "host" or a number.
	Scope string `json:"scope"`
	// Label is the address label (IPv4).
	Label string `json:"label,omitempty"`
}

// Route is a route of the main table.
type Route struct {
	// Dst is the destination; 0.0.0.0/0 or ::/0 for a default route.
	Dst netip.Prefix `json:"dst"`
	// Gateway is the next hop, invalid for a directly connected route.
	Gateway netip.Addr `json:"gateway,omitzero"`
	// PrefSrc is the preferred source, invalid if unset.
	PrefSrc netip.Addr `json:"prefsrc,omitzero"`
	// LinkIndex and Link name the output interface.
	LinkIndex int    `json:"link_index"`
	Link      string `json:"link"`
	// Protocol is "kernel", "boot", "static", "dhcp" or a number.
	Protocol string `json:"protocol"`
	// Scope is "global", "link", "host" or a number.
	Scope string `json:"scope"`
	// Metric is the route priority.
	Metric int `json:"metric,omitempty"`
}

// Neighbor is a neighbour (ARP or NDP) table entry, what `arp -n` and
// `ip neigh` show.
type Neighbor struct {
	// IP is the neighbour's address.
	IP netip.Addr `json:"ip"`
	// MAC is its link-layer address, nil while unresolved (INCOMPLETE or
	// FAILED).
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// LinkIndex and Link name the interface.
	LinkIndex int    `json:"link_index"`
	Link      string `json:"link"`
	// State lists the NUD states as `ip -j neigh` prints them
	// ("REACHABLE", "STALE", "FAILED", "PERMANENT", "NOARP", …).
	State []string `json:"state"`
}

// Snapshot is what one namespace looked like at one moment.
type Snapshot struct {
	// Namespace says which namespace.
	Namespace NamespaceInfo `json:"namespace"`
	// Time is when the snapshot was taken.
	Time time.Time `json:"time"`
	// Links, Addrs, Routes and Neighbors are the namespace's tables.
	Links     []Link     `json:"links"`
	Addrs     []Addr     `json:"addrs"`
	Routes    []Route    `json:"routes"`
	Neighbors []Neighbor `json:"neighbors"`
}

// LinkByName returns the link with the given name.
func (s *Snapshot) LinkByName(name string) (Link, bool) {
	for _, l := range s.Links {
		if l.Name == name {
			return l, true
		}
	}
	return Link{}, false
}

// AddrsOf returns the addresses on the named link.
func (s *Snapshot) AddrsOf(link string) []Addr {
	var out []Addr
	for _, a := range s.Addrs {
		if a.Link == link {
			out = append(out, a)
		}
	}
	return out
}

// NeighborsOf returns the neighbour entries for ip.
func (s *Snapshot) NeighborsOf(ip netip.Addr) []Neighbor {
	var out []Neighbor
	for _, n := range s.Neighbors {
		if n.IP == ip {
			out = append(out, n)
		}
	}
	return out
}

// InspectResult is the outcome for one namespace in InspectAll: exactly one
// of Snapshot and Err is set.
type InspectResult struct {
	// Namespace says which namespace.
	Namespace NamespaceInfo `json:"namespace"`
	// Snapshot is set on success.
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Dnsmasq lists the dnsmasq processes found inside the namespace in the
	// same pass over /proc (usually one; none if dnsmasq is down).
	Dnsmasq []Process `json:"dnsmasq"`
	// Err is this namespace's error; other namespaces are unaffected.
	Err error `json:"-"`
	// Error is Err as text, for JSON.
	Error string `json:"error,omitempty"`
}
