package trace

import (
	"github.com/vifpath/vifpath/firewall"

	"sync"

	"fmt"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// MACSource says where an Identity's port MAC came from. The sources are
// tried in this order of trust, and the first that has the MAC wins:
//
//  1. MACFromTarget: the caller gave it (Target.MAC);
//  2. MACFromNeutron: the Neutron port (API mode);
//  3. MACFromLibvirt: the guest interface of the domain holding the tap;
//  4. MACFromHosts: the row of the network's dnsmasq hosts file that is
//     the same NIC as the tap (linuxbridge.SameNIC);
//  5. MACFromTap: the tap's own MAC with libvirt's fe: rule reversed
//     (linuxbridge.GuestMACOfTap), a guess.
//
// The zero value "" means the MAC is unknown.
type MACSource string

// MAC sources, in order of trust.
const (
	MACFromTarget  MACSource = "target"
	MACFromNeutron MACSource = "neutron"
	MACFromLibvirt MACSource = "libvirt"
	MACFromHosts   MACSource = "hosts-file"
	MACFromTap     MACSource = "tap"
)

// Identity is one VM NIC as resolved from what was asked (Target, the
// API's port) and an Observation: which tap, bridge, MAC, network, IP and
// domain are this NIC's. Resolve computes it once; every hop is judged on
// it, nothing changes it afterwards. It is a plain value.
type Identity struct {
	// Target is what the trace was asked for.
	Target Target `json:"target"`
	// ServerID, ServerName and PortID name the server and port (API,
	// or the domain's Nova metadata and the tap's name).
	ServerID   string `json:"server_id,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	PortID     string `json:"port_id,omitempty"`
	// Tap is the tap's name (found, or the one the target names); Bridge
	// the bridge it is a port of ("" when it is on none).
	Tap    string `json:"tap,omitempty"`
	Bridge string `json:"bridge,omitempty"`
	// MAC is the port's (guest's) MAC, MACSource where it came from and
	// MACFrom the detail said in evidence.
	MAC       hwaddr.MAC `json:"mac,omitempty"`
	MACSource MACSource  `json:"mac_source,omitempty"`
	MACFrom   string     `json:"mac_from,omitempty"`
	// WantNetwork is the network the port is on according to the API or
	// the hosts-file search ("" unknown); NetworkID the network whose
	// qdhcp namespace was found for it.
	WantNetwork string `json:"want_network,omitempty"`
	NetworkID   string `json:"network_id,omitempty"`
	// IP is the port's IPv4: the hosts file's, else the API's first fixed
	// IPv4.
	IP netip.Addr `json:"ip,omitzero"`
	// Domain is the UUID of the libvirt domain holding the NIC, DomainHow
	// how it was found.
	Domain    string `json:"domain,omitempty"`
	DomainHow string `json:"domain_how,omitempty"`
	// NetType, PhysNet and SegID are the network's provider attributes
	// (API).
	NetType string `json:"net_type,omitempty"`
	PhysNet string `json:"physnet,omitempty"`
	SegID   int    `json:"seg_id,omitempty"`
}

// nicReq is one NIC to observe and judge: its target and what the API
// said of its port.
type nicReq struct {
	target Target
	hint   *portHint
}

// portHint is what the API says about the port before the local trace.
type portHint struct {
	port     *launch.Port
	serverID string
	net      *NetworkInfo
}

// exact reports whether the MAC is the port's own, not a guess.
func (id *Identity) exact() bool { return id.MAC != nil && id.MACSource != MACFromTap }

// view is one NIC's resolved identity with the observation's objects it
// points at: what every judge reads. It is built by resolve and not
// changed afterwards.
type view struct {
	id     Identity
	obs    *Observation
	role   Role
	bridge *linuxbridge.Bridge // in obs.Bridges.Before
	tap    *linuxbridge.Port
	phys   []linuxbridge.Port // ports of the bridge Neutron did not name
	dom    *DomainFacts
	iface  *libvirtinspect.Interface
	// netw is the network's DHCP facts (nil: none found); seen the
	// qdhcp namespaces matching the network's prefix; prefix the prefix.
	netw   *NetworkFacts
	seen   []string
	prefix string
	// hostsRow is the hosts-file row of the MAC (nil: none); hits the
	// hosts-search rows of the MAC (network role without the API).
	hostsRow *dhcpns.Host
	hits     []HostsHit
	searched bool
	// ix indexes obs (nil: none).
	ix *obsIndex
	// needLinks, when set, collects interfaces the physical-port hop
	// looked up that the observation lacks (the observer reads them).
	needLinks linkCollector
	// up is the uplink the last bridgeHops of trace judged.
	up uplink
}

// resolve turns a target and the API's hint into the NIC's view of obs.
// It is pure: the same observation resolves the same way.
func resolve(obs *Observation, t Target, hint *portHint) *view {
	return resolveIx(obs, nil, t, hint)
}

// obsIndex indexes an observation's taps and domains by name, for
// resolving many NICs of one observation (node mode).
type obsIndex struct {
	ports    map[string][2]int // tap → bridge and port index in Bridges.Before
	domByTap map[string]int    // interface device in a domain's Stats → domain index
	lowerNS  []string          // DHCP.Namespaces lowercased (nil: no DHCP facts)
	network  map[string]int    // network ID → index in DHCP.Networks (first)
	// fw is the firewall's snapshot before the probes, indexed
	// (firewall.Snapshot.Indexed) for judging many ports on it, and moved
	// the counters that grew across the probes (firewallMoved); both are
	// node-wide, built once by the first NIC that needs them.
	fwOnce sync.Once
	fw     *firewall.Snapshot
	moved  []firewall.RuleDelta
}

func newIndex(obs *Observation) *obsIndex {
	ix := &obsIndex{ports: map[string][2]int{}, domByTap: map[string]int{}}
	if d := obs.DHCP; d != nil {
		ix.lowerNS = make([]string, len(d.Namespaces))
		for i, n := range d.Namespaces {
			ix.lowerNS[i] = strings.ToLower(n)
		}
		ix.network = make(map[string]int, len(d.Networks))
		for i := range d.Networks {
			if _, dup := ix.network[d.Networks[i].NetworkID]; !dup {
				ix.network[d.Networks[i].NetworkID] = i
			}
		}
	}
	if obs.Bridges != nil && obs.Bridges.Before != nil {
		for i, b := range obs.Bridges.Before.Bridges {
			for j, p := range b.Ports {
				ix.ports[p.Name] = [2]int{i, j}
			}
		}
	}
	if obs.Libvirt != nil {
		for i, d := range obs.Libvirt.Domains {
			for _, is := range d.Stats {
				ix.domByTap[is.Name] = i
			}
		}
	}
	return ix
}

// resolveIx is resolve with an index of obs (nil: none).
func resolveIx(obs *Observation, ix *obsIndex, t Target, hint *portHint) *view {
	v := &view{obs: obs, role: obs.Role, id: Identity{Target: t}, ix: ix}
	id := &v.id
	if hint != nil {
		id.ServerID = hint.serverID
		if p := hint.port; p != nil {
			id.PortID = p.ID
			id.WantNetwork = p.NetworkID
			for _, f := range p.FixedIPs {
				if f.Address.Is4() && !id.IP.IsValid() {
					id.IP = f.Address
				}
			}
		}
		if n := hint.net; n != nil {
			id.NetType, id.PhysNet, id.SegID = n.Type, n.PhysicalNetwork, n.SegmentationID
		}
	}
	// The port MAC the caller or Neutron gave, before anything local.
	var given hwaddr.MAC
	var givenFrom MACSource
	switch {
	case t.MAC != nil:
		given, givenFrom = t.MAC, MACFromTarget
	case hint != nil && hint.port != nil && len(hint.port.MAC) == 6:
		given, givenFrom = hint.port.MAC, MACFromNeutron
	}

	if obs.Role.compute() && obs.Bridges != nil && obs.Bridges.Before != nil {
		v.findTap(t)
	}
	if v.tap != nil {
		id.Tap = v.tap.Name
	} else if t.PortID != "" {
		id.Tap = linuxbridge.PortTapName(t.PortID)
	} else {
		id.Tap = t.Tap
	}
	if v.bridge != nil {
		id.Bridge = v.bridge.Name
	}
	if id.PortID == "" && t.PortID != "" {
		id.PortID = t.PortID
	}
	if obs.Libvirt != nil && obs.Libvirt.Error == "" && obs.Role.compute() {
		v.findDomain(t, given)
	}

	// Network: the API's, else the hosts-file search's (no bridge to go
	// by), else the bridge's prefix.
	if obs.Role.dhcp() && obs.DHCP != nil {
		if id.WantNetwork == "" && v.bridge == nil && given != nil && obs.DHCP.HostsSearch != nil {
			v.searched = true
			for _, h := range obs.DHCP.HostsSearch.Rows {
				if h.MAC.Equal(given) {
					v.hits = append(v.hits, h)
					if id.WantNetwork == "" {
						id.WantNetwork = h.NetworkID
						if h.IP.IsValid() && !id.IP.IsValid() {
							id.IP = h.IP
						}
					}
				}
			}
		}
		if id.WantNetwork == "" && v.bridge == nil && given != nil && obs.DHCP.HostsSearch == nil && obs.Role == RoleNetwork {
			// A network node's node mode searched no hosts files: its
			// NICs are the observed networks' hosts rows themselves.
			for _, n := range obs.DHCP.Networks {
				for _, h := range n.Hosts {
					if h.MAC.Equal(given) && id.WantNetwork == "" {
						id.WantNetwork = n.NetworkID
						if h.IP.IsValid() && !id.IP.IsValid() {
							id.IP = h.IP
						}
					}
				}
			}
		}
		v.findNetwork()
	}

	// The MAC, in the order of trust (see MACSource): set here only.
	mac, src, from := given, givenFrom, string(givenFrom)
	if givenFrom == MACFromNeutron {
		from = "Neutron port"
	}
	if mac == nil && v.iface != nil && len(v.iface.MAC) == 6 {
		mac, src, from = v.iface.MAC, MACFromLibvirt, "libvirt interface of "+v.dom.Name
	}
	if v.netw != nil {
		best := -1
		for i := range v.netw.Hosts {
			h := &v.netw.Hosts[i]
			if h.MAC == nil {
				continue
			}
			if (mac != nil && h.MAC.Equal(mac)) || (mac == nil && v.tap != nil && linuxbridge.SameNIC(v.tap.MAC, h.MAC)) {
				if mac == nil {
					mac, src, from = h.MAC, MACFromHosts, fmt.Sprintf("%s line %d", v.netw.HostsPath, h.Line)
				}
				// A port with several fixed IPs on the subnet has a row
				// for each, but the guest leases one of them (DHCP gives a
				// client one IPv4 address): the address to probe is the
				// one the guest renewed, else one Neutron seeded a lease
				// row for (it seeds every address after a DHCP agent
				// restart), else the first row's (seen on the aio cloud: a
				// fixed IP added to a running port came first, and ARP
				// and ping of it failed while the guest answered at its
				// leased address).
				if r := leaseRank(v.netw, h.MAC, h.IP); r > best {
					v.hostsRow, best = h, r
					if r == leaseRenewed {
						break
					}
				}
			}
		}
	}
	if mac == nil && v.tap != nil {
		if g := linuxbridge.GuestMACOfTap(v.tap.MAC); g != nil {
			mac, src, from = g, MACFromTap, "tap MAC with fa: (libvirt's fe: rule, unconfirmed)"
		}
	}
	id.MAC, id.MACSource, id.MACFrom = mac, src, from
	if v.hostsRow != nil && v.hostsRow.IP.IsValid() {
		id.IP = v.hostsRow.IP
	}
	if v.dom != nil {
		id.Domain = v.dom.UUID
		if id.ServerID == "" && v.dom.Nova != nil {
			id.ServerID = v.dom.Nova.InstanceUUID
		}
		if v.dom.Nova != nil {
			id.ServerName = v.dom.Nova.Name
		}
	}
	if id.PortID == "" && v.tap != nil && v.tap.Neutron.Kind == linuxbridge.DeviceTap && v.dom != nil && v.dom.Nova != nil {
		for _, p := range v.dom.Nova.Ports {
			if v.tap.Neutron.Matches(p) {
				id.PortID = p
			}
		}
	}
	return v
}

// findTap finds the tap and its bridge in the first snapshot, and the
// bridge's provider ports.
func (v *view) findTap(t Target) {
	snap := v.obs.Bridges.Before
	name := t.Tap
	if t.PortID != "" {
		name = linuxbridge.PortTapName(t.PortID)
	}
	if v.ix != nil && name != "" {
		if at, ok := v.ix.ports[name]; ok {
			v.bridge = &snap.Bridges[at[0]]
			v.tap = &v.bridge.Ports[at[1]]
		}
	} else {
		v.scanTap(snap, t, name)
	}
	if v.bridge != nil {
		for _, p := range v.bridge.Ports {
			// The provider NIC: a port Neutron did not name, that is not
			// a tap. Names starting with "tap" are Neutron's (or a
			// guest's) even when the 11 characters do not look like a
			// UUID prefix.
			if p.Neutron.Kind == linuxbridge.DeviceOther && p.Kind != linuxbridge.PortTap && !strings.HasPrefix(p.Name, "tap") {
				v.phys = append(v.phys, p)
			}
		}
	}
}

// scanTap finds the tap by name, or the port that is the target MAC's
// NIC, the last that matches.
func (v *view) scanTap(snap *linuxbridge.Snapshot, t Target, name string) {
	for i := range snap.Bridges {
		b := &snap.Bridges[i]
		for j := range b.Ports {
			p := &b.Ports[j]
			if (name != "" && p.Name == name) || (t.MAC != nil && name == "" && v.tap == nil && linuxbridge.SameNIC(p.MAC, t.MAC)) {
				v.bridge, v.tap = b, p
			}
		}
	}
}

// domainByRef returns the observed domain a reference (name or UUID)
// names.
func (lv *LibvirtFacts) domainByRef(ref string) *DomainFacts {
	for i := range lv.Domains {
		d := &lv.Domains[i]
		if d.Name == ref || strings.EqualFold(d.UUID, ref) {
			return d
		}
	}
	return nil
}

// findDomain finds the domain holding the NIC: the one the target names
// (else the server's UUID), the running one with an interface on the tap,
// else one whose XML has an interface of the NIC.
func (v *view) findDomain(t Target, given hwaddr.MAC) {
	lv := v.obs.Libvirt
	tap := v.id.Tap
	var d *DomainFacts
	how := ""
	switch {
	case t.Domain != "":
		if d = lv.domainByRef(t.Domain); d != nil {
			how = "named by the caller"
		} else if v.id.ServerID != "" && v.id.ServerID != t.Domain {
			if d = lv.domainByRef(v.id.ServerID); d != nil {
				how = "its UUID is the server's"
			}
		}
	case tap != "" && v.ix != nil:
		if i, ok := v.ix.domByTap[tap]; ok {
			d, how = &lv.Domains[i], "running, with an interface on "+tap
		}
	case tap != "":
		for i := range lv.Domains {
			for _, is := range lv.Domains[i].Stats {
				if is.Name == tap {
					d, how = &lv.Domains[i], "running, with an interface on "+tap
				}
			}
		}
	}
	if d == nil && t.Domain == "" {
		for i := range lv.Domains {
			c := &lv.Domains[i]
			if tap != "" && c.Running {
				continue // its interfaces' devices are in Stats: not the tap
			}
			if i := pickInterface(c, tap, given, v.tap); i != nil && (tap == "" || i.Target == tap) {
				d, how = c, "its XML has an interface on "+tap
				if tap == "" {
					d, how = c, "its XML has an interface with MAC "+given.String()
				}
				break
			}
		}
	}
	if d == nil {
		return
	}
	v.dom, v.id.DomainHow = d, how
	v.iface = pickInterface(d, tap, given, v.tap)
}

// pickInterface returns the domain interface of the NIC: the one whose
// target is the tap, else the one with the port's MAC, else the one that
// is the same NIC as the tap's MAC (fe: rule).
func pickInterface(d *DomainFacts, tapName string, mac hwaddr.MAC, tap *linuxbridge.Port) *libvirtinspect.Interface {
	for i := range d.Interfaces {
		if tapName != "" && d.Interfaces[i].Target == tapName {
			return &d.Interfaces[i]
		}
	}
	for i := range d.Interfaces {
		if mac != nil && mac.Equal(d.Interfaces[i].MAC) {
			return &d.Interfaces[i]
		}
	}
	if tap != nil {
		for i := range d.Interfaces {
			if linuxbridge.SameNIC(tap.MAC, d.Interfaces[i].MAC) {
				return &d.Interfaces[i]
			}
		}
	}
	return nil
}

// findNetwork finds the qdhcp namespace of the NIC's network by the
// API's or search's network ID, else the bridge's 11-character prefix.
func (v *view) findNetwork() {
	id := &v.id
	switch {
	case id.WantNetwork != "":
		v.prefix = strings.ToLower(id.WantNetwork)
	case v.bridge != nil && v.bridge.Neutron.Kind == linuxbridge.DeviceBridge:
		v.prefix = strings.ToLower(v.bridge.Neutron.IDPrefix)
	default:
		return
	}
	lower := v.ix.lowerNamespaces(v.obs.DHCP)
	for i, n := range v.obs.DHCP.Namespaces {
		if strings.HasPrefix(lower[i], v.prefix) {
			v.seen = append(v.seen, "qdhcp-"+n)
			if id.NetworkID == "" {
				id.NetworkID = n
			}
		}
	}
	if id.NetworkID != "" {
		v.netw = v.ix.networkOf(v.obs.DHCP, id.NetworkID)
	}
}

// lowerNamespaces is d.Namespaces lowercased, from the index when there is
// one (ix may be nil).
func (ix *obsIndex) lowerNamespaces(d *DHCPFacts) []string {
	if ix != nil && len(ix.lowerNS) == len(d.Namespaces) {
		return ix.lowerNS
	}
	out := make([]string, len(d.Namespaces))
	for i, n := range d.Namespaces {
		out[i] = strings.ToLower(n)
	}
	return out
}

// networkOf is d.network(id), from the index when it knows id (ix may be
// nil, or older than d: then d is searched).
func (ix *obsIndex) networkOf(d *DHCPFacts, id string) *NetworkFacts {
	if ix != nil {
		if i, ok := ix.network[id]; ok && i < len(d.Networks) && d.Networks[i].NetworkID == id {
			return &d.Networks[i]
		}
	}
	return d.network(id)
}

// network returns the observed facts of a network, nil if not observed.
func (d *DHCPFacts) network(id string) *NetworkFacts {
	for i := range d.Networks {
		if d.Networks[i].NetworkID == id {
			return &d.Networks[i]
		}
	}
	return nil
}

// arp returns the observed ARP probe of ip from the network's namespace.
func (n *NetworkFacts) arp(ip netip.Addr) *ARPFacts {
	for i := range n.ARP {
		if n.ARP[i].IP == ip {
			return &n.ARP[i]
		}
	}
	return nil
}

// The ranks leaseRank gives a hosts row's address.
const (
	leaseNone    = 0 // no lease row
	leaseSeeded  = 1 // only Neutron's seeded row
	leaseRenewed = 2 // the guest renewed it
)

// leaseRank ranks the lease of ip to mac in n's lease file.
func leaseRank(n *NetworkFacts, mac hwaddr.MAC, ip netip.Addr) int {
	r := leaseNone
	for i := range n.Leases {
		if l := &n.Leases[i]; l.IP == ip && l.MAC.Equal(mac) {
			if l.Renewed() {
				return leaseRenewed
			}
			r = leaseSeeded
		}
	}
	return r
}
