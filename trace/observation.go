package trace

import (
	"net/netip"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// ObservationVersion is the Version of the Observations this package
// writes; ReadObservation refuses others.
const ObservationVersion = 1

// Observation is what one look at a node saw: the facts every hop is
// judged on, gathered once (Observe) and judged by pure functions (Judge),
// so an observation recorded on a node (WriteFile) judges the same
// anywhere (ReadObservation). It is a plain value that round-trips through
// JSON. Facts are grouped per node (Bridges, Host), per network (DHCP)
// and per domain (Libvirt); later hops add fields to these groups.
type Observation struct {
	// Version is ObservationVersion.
	Version int `json:"version"`
	// Node is the node's name (Config.NodeName, else the hostname).
	Node string `json:"node"`
	// Role is the side of the path this node holds.
	Role Role `json:"role"`
	// Request is what was asked: one NIC, one server or the whole node.
	Request Request `json:"request"`
	// Settings are the Config values the verdicts mention.
	Settings Settings `json:"settings"`
	// Started is when observing began; Duration how long it took.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Bridges are the brq bridges, their ports and FDB (nil: role
	// network).
	Bridges *BridgeFacts `json:"bridges,omitempty"`
	// Libvirt are the domains (nil: no libvirt client).
	Libvirt *LibvirtFacts `json:"libvirt,omitempty"`
	// DHCP are the qdhcp namespaces and their networks (nil: role
	// compute).
	DHCP *DHCPFacts `json:"dhcp,omitempty"`
	// Host are the node-wide facts of the host checks.
	Host HostFacts `json:"host"`
	// API are the OpenStack API's answers used (nil: no API).
	API *APIFacts `json:"api,omitempty"`
	// Firewall is the compute node's firewall around the probes (nil:
	// role network, or Config.NoFirewall).
	Firewall *FirewallObs `json:"firewall,omitempty"`
	// Provider are the facts of the node's end of the provider link that
	// Join judges (nil: role aio, or recorded before they existed).
	Provider *ProviderFacts `json:"provider,omitempty"`
}

// RequestMode says what an Observation was taken for.
type RequestMode string

// Request modes.
const (
	// ModeNIC is one NIC (Run).
	ModeNIC RequestMode = "nic"
	// ModeServer is one server's ports (Server).
	ModeServer RequestMode = "server"
	// ModeNode is every VM NIC on the node (Node, NodeServers).
	ModeNode RequestMode = "node"
)

// Request is what an Observation was taken for.
type Request struct {
	// Mode is nic, server or node.
	Mode RequestMode `json:"mode"`
	// Target is the NIC of ModeNIC.
	Target *Target `json:"target,omitempty"`
	// Server is the server ID or name of ModeServer.
	Server string `json:"server,omitempty"`
}

// Settings are the Config values an observation was taken with.
type Settings struct {
	// NetNSDir, StateDir, ProcDir, NMRunDir and BridgeNetNSPath are Config's, as used (BridgeNetNSPath keeps the JSON key bridge_netns of recorded observations).
	NetNSDir        string `json:"netns_dir"`
	StateDir        string `json:"state_dir"`
	ProcDir         string `json:"proc_dir"`
	NMRunDir        string `json:"nm_run_dir"`
	BridgeNetNSPath string `json:"bridge_netns,omitempty"`
	// HostNetNS is set when the bridges are in the namespace
	// NetworkManager manages (the process's own).
	HostNetNS bool `json:"host_netns"`
	// NoARP, ARPTimeout and CounterInterval are Config's.
	NoARP      bool `json:"no_arp,omitempty"`
	NoFirewall bool `json:"no_firewall,omitempty"`
	NoReach    bool `json:"no_reach,omitempty"`
	// NoConsole and NoMetadataProbe are Config's: the guest hop is then
	// Unknown, the metadata hop judged without its HTTP probe.
	NoConsole       bool `json:"no_console,omitempty"`
	NoMetadataProbe bool `json:"no_metadata_probe,omitempty"`
	// ProbeDHCPServers is Config's: each network's DHCPServers was probed.
	ProbeDHCPServers bool          `json:"probe_dhcp_servers,omitempty"`
	ARPTimeout       time.Duration `json:"arp_timeout"`
	CounterInterval  time.Duration `json:"counter_interval"`
	// Libvirt is set when a libvirt client was given.
	Libvirt bool `json:"libvirt"`
	// IgnoreBinding is set when Config.NodeName was "-": the port hop
	// does not compare the binding host with this node.
	IgnoreBinding bool `json:"ignore_binding,omitempty"`
}

// BridgeFacts are the bridges' namespace: two snapshots around the probes
// and the counter interval, the agent's mappings and the interfaces the
// physical-port hop looked up outside any bridge.
type BridgeFacts struct {
	// Before is the first snapshot (ports, states, counters, FDB), taken
	// before any probe.
	Before *linuxbridge.Snapshot `json:"before"`
	// BeforeAt is when it was taken.
	BeforeAt time.Time `json:"before_at"`
	// After is the snapshot taken after the ARP probes and the counter
	// interval: the FDB and counters a probe can change are judged on it.
	// Nil when it failed (AfterError).
	After      *linuxbridge.Snapshot `json:"after,omitempty"`
	AfterAt    time.Time             `json:"after_at,omitzero"`
	AfterError string                `json:"after_error,omitempty"`
	// Agent are the linuxbridge agent's mappings (nil: AgentError says
	// why there are none).
	Agent      *linuxbridge.AgentMappings `json:"agent,omitempty"`
	AgentError string                     `json:"agent_error,omitempty"`
	// Links are interfaces looked up by name (an expected uplink that is
	// on no bridge, and its parent).
	Links []LinkFacts `json:"links,omitempty"`
}

// LinkFacts is one interface looked up by name in the bridges' namespace.
type LinkFacts struct {
	// Name is the link's name.
	Name string `json:"name"`
	// Missing is set when there is no such interface; Error when it could
	// not be read.
	Missing bool   `json:"missing,omitempty"`
	Error   string `json:"error,omitempty"`
	// Index, Up, LowerUp and OperState are the link's, as linuxbridge
	// reports a bridge port's (OperState is the module's one
	// operational-state enum; unknown is left out of the JSON).
	Index     int                   `json:"index,omitempty"`
	Up        bool                  `json:"up,omitempty"`
	LowerUp   bool                  `json:"lower_up,omitempty"`
	OperState linuxbridge.OperState `json:"oper_state,omitempty"`
}

// LibvirtFacts are the domains libvirt reported.
type LibvirtFacts struct {
	// Error is set when libvirt could not be asked at all.
	Error string `json:"error,omitempty"`
	// Domains are the domains whose details were read (every domain in
	// node mode; in a NIC's trace the one holding it, or those searched).
	Domains []DomainFacts `json:"domains"`
	// LookupErrors are errors (other than not-found) of looking up a
	// domain by a reference, keyed by the reference.
	LookupErrors map[string]string `json:"lookup_errors,omitempty"`
	// Searched is how many domains' XML were looked at to find the NIC.
	Searched int `json:"searched,omitempty"`
	// StatsAt and StatsAfterAt are when the two interface counter samples
	// were taken; StatsAfterError why the second failed.
	StatsAt         time.Time `json:"stats_at,omitzero"`
	StatsAfterAt    time.Time `json:"stats_after_at,omitzero"`
	StatsAfterError string    `json:"stats_after_error,omitempty"`
}

// DomainFacts is one libvirt domain: libvirtinspect.Details with the
// counters and console a trace read, Reason kept as its text (a
// libvirtinspect.Reason needs its State to be read back).
type DomainFacts struct {
	// Name, UUID, ID, Type, State and Reason are the libvirt domain's (`virsh dominfo`).
	Name   string               `json:"name"`
	UUID   string               `json:"uuid"`
	ID     int                  `json:"id"`
	Type   string               `json:"type"`
	State  libvirtinspect.State `json:"state"`
	Reason string               `json:"reason"`
	// Nova is the Nova metadata of the domain's XML (nil: none).
	Nova *NovaFacts `json:"nova,omitempty"`
	// Interfaces are the domain's interfaces from its XML.
	Interfaces []libvirtinspect.Interface `json:"interfaces"`
	// Stats and StatsAfter are the interfaces' counters before and after
	// the probes (running domains only).
	Stats      []libvirtinspect.InterfaceStats `json:"stats,omitempty"`
	StatsAfter []libvirtinspect.InterfaceStats `json:"stats_after,omitempty"`
	// Running is set when the first counter sample listed the domain
	// (its interfaces' devices are then those of Stats).
	Running bool `json:"running,omitempty"`
	// Console is the tail of the domain's console log as read once (nil:
	// not read, Config.NoConsole or an observation older than the guest
	// hop). The interfaces' <mtu> is in Interfaces.
	Console *ConsoleFacts `json:"console,omitempty"`
}

// ConsoleFacts is a domain's console output as read from the log file its
// XML declares (libvirtinspect.Client.ConsoleLog), parsed by guestlog.
type ConsoleFacts struct {
	// Path is the file read ("" when none was).
	Path string `json:"path,omitempty"`
	// Missing says why nothing was read ("" when it was); Error is the
	// read error's text, for the evidence.
	Missing ConsoleMissing `json:"missing,omitempty"`
	Error   string         `json:"error,omitempty"`
	// Bytes is how many bytes were read (the tail, at most
	// libvirtinspect.DefaultConsoleMax); ModTime the file's mtime.
	Bytes   int       `json:"bytes"`
	ModTime time.Time `json:"mod_time,omitzero"`
	// Events are guestlog.Parse of what was read.
	Events []guestlog.Event `json:"events,omitempty"`
}

// NovaFacts is what Nova wrote into a domain's XML, as much of
// libvirtinspect.NovaInstance as the hops use: the instance, its display
// name and its ports' IDs (not the flavor, owner or the ports' IPs).
type NovaFacts struct {
	// InstanceUUID, Name and Ports are Nova's metadata in the domain XML.
	InstanceUUID string   `json:"instance_uuid"`
	Name         string   `json:"name"`
	Ports        []string `json:"ports,omitempty"`
}

// DHCPFacts are the node's qdhcp namespaces and the networks observed.
type DHCPFacts struct {
	// Namespaces are the network IDs of the qdhcp namespaces found.
	Namespaces []string `json:"namespaces"`
	// ListError is set when the namespaces could not be listed.
	ListError string `json:"list_error,omitempty"`
	// Networks are the networks observed, in Namespaces' order.
	Networks []NetworkFacts `json:"networks,omitempty"`
	// HostsSearch is the search of every hosts file for MACs, when the
	// network was not known (role network without the API).
	HostsSearch *HostsSearch `json:"hosts_search,omitempty"`
}

// HostsSearch is a search of the DHCP state directory's hosts files.
type HostsSearch struct {
	// Files is how many hosts files were read.
	Files int `json:"files"`
	// Rows are the rows found for the MACs searched.
	Rows []HostsHit `json:"rows,omitempty"`
}

// HostsHit is one hosts-file row found by a search.
type HostsHit struct {
	// NetworkID, Path, Line, MAC and IP place the row in another network's hosts file.
	NetworkID string     `json:"network_id"`
	Path      string     `json:"path"`
	Line      int        `json:"line"`
	MAC       hwaddr.MAC `json:"mac"`
	IP        netip.Addr `json:"ip,omitzero"`
}

// NetworkFacts are the DHCP facts of one network.
type NetworkFacts struct {
	// NetworkID is the Neutron network.
	NetworkID string `json:"network_id"`
	// Checks are dhcpns's network-wide checks (namespace, dnsmasq,
	// serving interface), with their typed reasons.
	Checks []dhcpns.Check `json:"checks,omitempty"`
	// HealthError is set when the checks could not run.
	HealthError string `json:"health_error,omitempty"`
	// DnsmasqPID is the pid file's pid (0: none).
	DnsmasqPID int `json:"dnsmasq_pid,omitempty"`
	// ServingInterface is the interface dnsmasq serves on ("" unknown).
	ServingInterface string `json:"serving_interface,omitempty"`
	// ServingAddrs are its addresses (nil: not read, or an observation
	// older than the guest hop's server check): the DHCP server
	// identifier a guest's lease must name.
	ServingAddrs []netip.Prefix `json:"serving_addrs,omitempty"`
	// Hosts is dnsmasq's hosts file (dhcpns.ParseHosts), HostsNote a parse error of some of its lines.
	HostsPath  string        `json:"hosts_path"`
	HostsError string        `json:"hosts_error,omitempty"`
	HostsNote  string        `json:"hosts_note,omitempty"`
	Hosts      []dhcpns.Host `json:"hosts,omitempty"`
	// Leases is dnsmasq's lease file (dhcpns.ReadLeaseFile; LeasesMissing: no such file).
	LeasesPath    string         `json:"leases_path"`
	LeasesMissing bool           `json:"leases_missing,omitempty"`
	LeasesError   string         `json:"leases_error,omitempty"`
	LeasesNote    string         `json:"leases_note,omitempty"`
	Leases        []dhcpns.Lease `json:"leases,omitempty"`
	// ARP are the ARP probes sent from the serving interface (one sweep).
	ARP []ARPFacts `json:"arp,omitempty"`
	// Reach are the reachability probes (ICMP echo, TCP SYN to 22) sent
	// from the namespace after the ARP sweep, one per address; ReachError
	// says why they could not run.
	Reach      []dhcpns.ReachResult `json:"reach,omitempty"`
	ReachError string               `json:"reach_error,omitempty"`
	// OptsPath is dnsmasq's --dhcp-optsfile ("" when the options were not
	// read: an observation older than the mtu hop); Opts its options,
	// OptsError why it could not be read. CmdlineOpts are the
	// --dhcp-option(-force) values of dnsmasq's command line (option 26,
	// the MTU, is there in Neutron's).
	OptsPath    string              `json:"opts_path,omitempty"`
	OptsError   string              `json:"opts_error,omitempty"`
	Opts        []dhcpns.DHCPOption `json:"opts,omitempty"`
	CmdlineOpts []dhcpns.DHCPOption `json:"cmdline_opts,omitempty"`
	// Metadata is the namespace's metadata side (nil: not observed).
	Metadata *MetadataObs `json:"metadata,omitempty"`
	// DHCPServers is what the probe for other DHCP servers saw on the
	// network (nil: not probed, Config.ProbeDHCPServers off).
	DHCPServers *DHCPServersFacts `json:"dhcp_servers,omitempty"`
	// Firewall is the namespace's own IPv4 iptables, read whole (nil:
	// not read, Settings.NoFirewall, or an observation older than the
	// field; FirewallError says why a read failed). Neutron's DHCP agent
	// writes no rule there that drops DHCP, the probes or the metadata
	// proxy's traffic.
	Firewall      *firewall.Snapshot `json:"firewall,omitempty"`
	FirewallError string             `json:"firewall_error,omitempty"`
}

// DHCPServersFacts is what dhcpns.ProbeDHCPServers saw on one network:
// the OFFERs to DISCOVERs for a MAC no port has, which Neutron's dnsmasq
// does not answer.
type DHCPServersFacts struct {
	// Offers are the OFFERs that came, one per server and address (none:
	// no other server answered within Timeout).
	Offers []dhcpns.DHCPOffer `json:"offers,omitempty"`
	// Timeout is how long the probe listened; Error why it could not run.
	Timeout time.Duration `json:"timeout"`
	Error   string        `json:"error,omitempty"`
}

// MetadataObs is the metadata side of one qdhcp namespace: the proxy
// (dhcpns.FindMetadataProxy), the link holding 169.254.169.254 and one
// HTTP GET to it from inside the namespace (dhcpns.ProbeMetadata), sent
// after the ARP sweep.
type MetadataObs struct {
	// Proxy is the metadata proxy found; ProxyError why it could not be read.
	Proxy      *dhcpns.MetadataProxy `json:"proxy,omitempty"`
	ProxyError string                `json:"proxy_error,omitempty"`
	// AddrKnown is set when the namespace's addresses were read; AddrLink
	// is then the link holding 169.254.169.254 ("" none).
	AddrKnown bool   `json:"addr_known"`
	AddrLink  string `json:"addr_link,omitempty"`
	// Probe is the GET's result (nil: not probed, see ProbeError or
	// Settings.NoMetadataProbe).
	Probe      *dhcpns.MetadataProbeResult `json:"probe,omitempty"`
	ProbeError string                      `json:"probe_error,omitempty"`
}

// ARPFacts is the ARP probe of one address: dhcpns.ARPResult with the
// interface the probe left from and why it could not run.
type ARPFacts struct {
	// IP is the address probed.
	IP netip.Addr `json:"ip"`
	// From is the serving interface the probe left from.
	From string `json:"from"`
	// Error is set when the probe could not run.
	Error   string            `json:"error,omitempty"`
	Replies []dhcpns.ARPReply `json:"replies,omitempty"`
}

// HostFacts are the node's own facts.
type HostFacts struct {
	// BrNF is bridge-nf-call-iptables in the bridges' namespace.
	BrNFPath    string `json:"br_nf_path"`
	BrNF        string `json:"br_nf,omitempty"`
	BrNFMissing bool   `json:"br_nf_missing,omitempty"`
	BrNFError   string `json:"br_nf_error,omitempty"`
	// NM is NetworkManager's state.
	NM NMFacts `json:"networkmanager"`
}

// NMFacts are NetworkManager's run-directory facts.
type NMFacts struct {
	// PIDFile is NetworkManager's pid file; PIDFileError why it could not be read.
	PIDFile      string `json:"pid_file"`
	PIDFileError string `json:"pid_file_error,omitempty"`
	// PIDContent is the pid file's content when it holds no pid.
	PIDContent string `json:"pid_content,omitempty"`
	PID        int    `json:"pid,omitempty"`
	// Stale is set when the pid has no process.
	Stale bool `json:"stale,omitempty"`
	// Devices are the device state files read, by ifindex.
	Devices map[int]NMDevice `json:"devices,omitempty"`
}

// Running reports whether NetworkManager runs.
func (n *NMFacts) Running() bool { return n.PID > 0 && !n.Stale }

// NMDevice is one NetworkManager device state file.
type NMDevice struct {
	// Path is NetworkManager's device file, Managed what it says, Error why it could not be read.
	Path    string `json:"path"`
	Managed string `json:"managed,omitempty"`
	Error   string `json:"error,omitempty"`
}

// APIFacts are the OpenStack API's answers an observation used.
type APIFacts struct {
	// Error is set when the server could not be read (not a lookup
	// failure: those are errors of Server).
	Error string `json:"error,omitempty"`
	// Servers are the servers read, each with its ports.
	Servers []ServerFacts `json:"servers,omitempty"`
	// Networks are the ports' networks, by ID (nil entry: not read).
	Networks map[string]*NetworkInfo `json:"networks,omitempty"`
	// NetworkErrors say why a network could not be read, by ID.
	NetworkErrors map[string]string `json:"network_errors,omitempty"`
	// HostPorts are the VM ports bound to this node (NodeServers).
	HostPorts []launch.Port `json:"host_ports,omitempty"`
	// Policies are the ports' security policies (groups, rules, port
	// security, allowed address pairs) by port ID; PolicyErrors say why
	// one could not be read.
	Policies     map[string]*firewall.Policy `json:"policies,omitempty"`
	PolicyErrors map[string]string           `json:"policy_errors,omitempty"`
	// Agents are Neutron's agents and Nova's nova-compute services, read
	// once for every port (launch.Client.AgentList; nil: not read, see
	// AgentsError, or an observation older than the agents hop). Each
	// port's agents hop derives its agents from it (launch.AgentList.Port).
	Agents      *launch.AgentList `json:"agents,omitempty"`
	AgentsError string            `json:"agents_error,omitempty"`
	// Subnets are the subnets of the ports' fixed IPs as Neutron shows
	// them (launch.Client.Subnet: above all their enable_dhcp), read once
	// per subnet, by ID (nil: not read, or an observation older than the
	// DHCP-off judgement, whose DHCP hops are judged as if DHCP were on);
	// SubnetErrors say why one could not be read.
	Subnets      map[string]*launch.Subnet `json:"subnets,omitempty"`
	SubnetErrors map[string]string         `json:"subnet_errors,omitempty"`
}

// FirewallObs is the compute node's firewall (iptables of both backends,
// ebtables, ipsets) read before the probes and, when a reachability probe
// went unanswered, again after them, so a drop counter that probe moved
// names its rule.
type FirewallObs struct {
	// Before and After are the firewall read before and after the probes; BeforeError and AfterError why a read failed.
	Before      *firewall.Snapshot `json:"before,omitempty"`
	BeforeError string             `json:"before_error,omitempty"`
	// After is the second read; nil (and AfterError "") when no probe
	// was silent: every probe answered, refused or unreachable, or none
	// sent (NoReach, NoARP, the compute role), needs no dropping rule
	// named, so Observe skips that read.
	After      *firewall.Snapshot `json:"after,omitempty"`
	AfterError string             `json:"after_error,omitempty"`
}

// ServerFacts is a Nova server as a trace read it. Its ports are
// launch.Port, the type launch reads them into. It is not launch.Server:
// it keeps what the server and port hops judge and print (the addresses
// as launch.Address's text, Nova's fault with launch's explanation of it
// as text lines), not the launch bookkeeping (Created, Polls, Waited) or
// the flavor, and its JSON is that of the version-1 recordings.
type ServerFacts struct {
	// ID, Name, Status, TaskState, Host, InstanceName, Addresses, Ports and Fault are Nova's server as the API showed it.
	ID           string        `json:"id"`
	Name         string        `json:"name,omitempty"`
	Status       string        `json:"status,omitempty"`
	TaskState    string        `json:"task_state,omitempty"`
	Host         string        `json:"host,omitempty"`
	InstanceName string        `json:"instance_name,omitempty"`
	Addresses    []string      `json:"addresses,omitempty"`
	Ports        []launch.Port `json:"ports"`
	Fault        *ServerFault  `json:"fault,omitempty"`
}

// ServerFault is the explanation of a server in ERROR (launch's
// FaultError, as text).
type ServerFault struct {
	// Code, Message, Details and Created are Nova's fault fields.
	Code    int       `json:"code"`
	Message string    `json:"message"`
	Details string    `json:"details,omitempty"`
	Created time.Time `json:"created,omitzero"`
	// Compute and Agents are the host's services and agents, one line
	// each; Explain is launch's explanation.
	Compute []string `json:"compute,omitempty"`
	Agents  []string `json:"agents,omitempty"`
	Explain []string `json:"explain,omitempty"`
}

// NetworkInfo is what Neutron said of a port's network.
type NetworkInfo struct {
	// Type, PhysicalNetwork and SegmentationID are the network's provider attributes.
	Type            string `json:"type,omitempty"`
	PhysicalNetwork string `json:"physical_network,omitempty"`
	SegmentationID  int    `json:"segmentation_id,omitempty"`
	// MTU is the network's MTU (0: unknown, or an older observation).
	MTU int `json:"mtu,omitempty"`
	// AdminDown is set when the network's admin_state_up is false (false
	// in observations older than the field: judged as up).
	AdminDown bool `json:"admin_down,omitempty"`
}
