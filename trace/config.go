package trace

import (
	"github.com/vifpath/vifpath/firewall"
	"log/slog"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
)

// Config says where Run looks. A nil *Config means every default: the
// process's own namespace holds the bridges, qdhcp namespaces under
// /run/netns, Neutron's state under /var/lib/neutron/dhcp, procfs at /proc,
// NetworkManager's run directory at /run/NetworkManager. A Config must not
// be changed while Run uses it.
type Config struct {
	// BridgeNetNSPath is the path of the network namespace holding the
	// brq bridges and taps (/run/netns/…, /proc/<pid>/ns/net), the name
	// dhcpns.DHCPProbeOptions gives the same path (the module names every
	// namespace path field …NetNSPath, as linuxbridge.Config.NetNSPath).
	// Zero value: the process's own namespace, where the linuxbridge agent
	// puts them.
	BridgeNetNSPath string
	// BridgeNetNS is BridgeNetNSPath, used when that is empty.
	//
	// Deprecated: use BridgeNetNSPath.
	BridgeNetNS string
	// NetNSDir is where the qdhcp-… namespaces are bind-mounted. Zero
	// value: /run/netns.
	NetNSDir string
	// StateDir is Neutron's DHCP state directory (<network>/pid, host,
	// leases). Zero value: /var/lib/neutron/dhcp.
	StateDir string
	// ProcDir is the procfs mount. Zero value: /proc.
	ProcDir string
	// NMRunDir is NetworkManager's run directory (NetworkManager.pid,
	// devices/<ifindex>). Zero value: /run/NetworkManager.
	NMRunDir string
	// Role says which side of the path this node holds (see Role):
	// RoleCompute leaves the DHCP side and the ARP probe Unknown,
	// RoleNetwork the libvirt, tap, bridge, FDB and counter hops. Zero
	// value: RoleAllInOne (both), or RoleCompute when SkipDHCP is set.
	Role Role
	// SkipDHCP is the older spelling of Role: RoleCompute (the DHCP side
	// and the ARP probe are Unknown, for a compute node whose network's
	// DHCP agent runs elsewhere); setting it with another Role is an
	// error. Zero value: the role decides.
	//
	// Deprecated: use Role: RoleCompute.
	SkipDHCP bool
	// AgentConfig is the linuxbridge agent's configuration file, whose
	// [linux_bridge] physical_interface_mappings and bridge_mappings name
	// the interface the physical-port hop expects on the bridge. Zero
	// value: DefaultAgentConfig; "-": read none. When there is no file
	// (and InterfaceMappings is nil) the hop guesses the provider NIC (a
	// bridge port Neutron did not name) and says so in its evidence.
	AgentConfig string
	// InterfaceMappings, when non-nil, is physical_interface_mappings
	// (physical network → interface, e.g. {"provider": "eth2"}) and
	// AgentConfig is not read. Zero value (nil): read AgentConfig.
	InterfaceMappings map[string]string
	// BridgeMappings is bridge_mappings (physical network → existing
	// bridge), used with InterfaceMappings. Zero value: none.
	BridgeMappings map[string]string
	// NoFirewall skips reading the node's firewall (iptables, ebtables,
	// ipsets): the security-group and anti-spoofing hops are then
	// Unknown. Zero value: read it (compute side; needs root).
	NoFirewall bool
	// Firewall says where the firewall's tools are. Zero value (nil):
	// firewall's defaults, read in BridgeNetNSPath. Run and Server scope
	// the read to their NICs' taps (firewall.Config.Taps, unless set
	// here; a NIC given by MAC reads the whole node), Node reads the
	// whole node.
	Firewall *firewall.Config
	// NoReach skips the reachability probe (an ICMP echo and a TCP SYN to
	// port 22 of each fixed IPv4 from the qdhcp namespace, as the
	// walkthrough's ping and ssh); the reachability hop is then Unknown.
	// Zero value: probe (network side), unless NoARP is set.
	NoReach bool
	// NoConsole skips reading the domains' console logs (Nova's
	// console.log, declared in the domain XML): the guest hop is then
	// Unknown. Zero value: read them (compute side, with a libvirt client;
	// needs read access to the files, root on a Nova node).
	NoConsole bool
	// NoMetadataProbe skips the HTTP GET to 169.254.169.254:80 from inside
	// each qdhcp namespace: the metadata hop is then judged on the proxy's
	// process, listeners and address alone. Zero value: probe (network
	// side, once per namespace, after the ARP sweep).
	NoMetadataProbe bool
	// ProbeDHCPServers looks for DHCP servers other than Neutron's on each
	// observed network (dhcpns.ProbeDHCPServers). It creates a probe
	// namespace and a veth "dhp-…" on the network's bridge for
	// DHCPServersTimeout, removed before the second samples are taken, and
	// broadcasts DHCP DISCOVERs from it for a MAC no port has, which the
	// bridge floods to every port, the provider NIC's too. Neutron's
	// dnsmasq answers no such MAC, so every OFFER names another server (a
	// rogue one, or a router's), and the dnsmasq hop warns. Zero value: no
	// such probe (it sends DHCP onto the provider network and takes
	// seconds).
	ProbeDHCPServers bool
	// DHCPServersTimeout is how long that probe listens for OFFERs. Zero
	// value: 4 s (a dnsmasq pings a new address, up to 3 s, before it
	// offers it).
	DHCPServersTimeout time.Duration
	// MetadataPIDDir, MetadataProxyDir and MetadataAgentSocket are
	// dhcpns.Config's (where Neutron's DHCP agent keeps the metadata
	// proxies' pid files and configurations, and the metadata agent's
	// socket). Zero values: dhcpns's defaults (Neutron's paths).
	MetadataPIDDir      string
	MetadataProxyDir    string
	MetadataAgentSocket string
	// NoARP skips the ARP probe (the only hop that sends packets); the arp
	// hop is then unknown. Zero value: probe.
	NoARP bool
	// ARPTimeout bounds the ARP probe. Zero value: 1 s (three requests
	// spread over it).
	ARPTimeout time.Duration
	// ARPSettle is how long the ARP probe keeps listening after the
	// first answer, for a second MAC claiming the same address (a
	// duplicate IP answers within microseconds on one bridge, within a
	// millisecond or two across a physical network). Zero value: 5 ms.
	// Negative: stop at the first answer.
	ARPSettle time.Duration
	// CounterInterval is the least time between the two samples of the
	// tap's counters. Zero value: 1 s. Negative: no wait, the second
	// sample is taken right after the ARP probe (the fast mode: the
	// counters then show little more than the probe's own exchange). The
	// interval includes the ARP probe, whose reply the guest sends
	// through the tap.
	CounterInterval time.Duration
	// Libvirt is the libvirtd connection for the domain and interface
	// hops and the domain's counters; Run neither opens nor closes it (the
	// read-only socket is enough). Zero value (nil): those hops are
	// Unknown with the evidence "no libvirt client".
	Libvirt *libvirtinspect.Client
	// NodeName is this node's name as Nova and Neutron know it (a port's
	// binding host). Server compares it with each port's binding host: a
	// port bound elsewhere has its tap on that host, so the port hop warns
	// to trace there. Zero value: os.Hostname(); "-" disables the
	// comparison.
	NodeName string
	// ServerWait bounds Server's API reads (the server and its ports).
	// The server is read once, in whatever status it is, never waited
	// for. Zero value: 30 s.
	ServerWait time.Duration
	// Logger receives debug records. Zero value (nil): silent.
	Logger *slog.Logger
}

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to its documented default, the module's one way to fill
// defaults.
func (c *Config) orDefault() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.BridgeNetNSPath == "" {
		d.BridgeNetNSPath = d.BridgeNetNS
	}
	if d.NetNSDir == "" {
		d.NetNSDir = "/run/netns"
	}
	if d.AgentConfig == "" {
		d.AgentConfig = DefaultAgentConfig
	}
	if d.StateDir == "" {
		d.StateDir = "/var/lib/neutron/dhcp"
	}
	if d.ProcDir == "" {
		d.ProcDir = "/proc"
	}
	if d.NMRunDir == "" {
		d.NMRunDir = "/run/NetworkManager"
	}
	if d.ARPTimeout == 0 {
		d.ARPTimeout = time.Second
	}
	if d.ARPSettle == 0 {
		d.ARPSettle = 5 * time.Millisecond
	}
	if d.CounterInterval == 0 {
		d.CounterInterval = time.Second
	}
	if d.DHCPServersTimeout <= 0 {
		d.DHCPServersTimeout = 4 * time.Second
	}
	if d.ServerWait == 0 {
		d.ServerWait = 30 * time.Second
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}
