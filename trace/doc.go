// Package trace provides the path of a VM NIC through a Linux bridge
// OpenStack node, hop by hop, with a verdict at each: the libvirt domain
// and its interface, the tap, the brq bridge and its physical port, the
// FDB, the network's DHCP side (qdhcp namespace, dnsmasq, serving
// interface, hosts entry, lease), an ARP probe from the qdhcp namespace,
// the counters, and the host checks (bridge-nf-call-iptables,
// NetworkManager). Each Hop has a Verdict, its Evidence and, when it warns
// or fails, a Cause and what to check Next.
//
// # How
//
// A trace is three steps. Observe gathers the node's facts once into an
// Observation, a plain JSON value: a bridge snapshot before the probes and
// one after them and the counter interval, the libvirt domains with two
// counter samples, per network the DHCP facts (dhcpns's checks with typed
// reasons, the hosts and lease files), one ARP sweep per qdhcp namespace,
// the host facts and the API's answers. Each NIC's Identity (tap, port
// MAC, network, IP, domain) is then resolved from what was asked and the
// observation, in a documented order of trust (MACSource). Every hop is
// judged by a pure function of (identity, observation): the FDB and
// counters on the snapshot taken after the probe, so a probe that makes
// the path work is not a failure.
//
// Run traces one NIC without an API (a port ID, MAC or tap); Server every
// port of a Nova server (launch.Client); Node every VM NIC on this node
// from one observation; NodeServers adds every server bound to this node.
// JudgeTrace, JudgeServer and Judge judge an observation; Observation's
// WriteFile and ReadObservation record it (credentials removed) and replay
// it anywhere, without root, the node or the cloud.
//
// Config.Role says which side of the path this node holds (RoleAllInOne,
// RoleCompute, RoleNetwork): hops on the other side are Unknown, saying
// why. The physical-port hop expects the interface the linuxbridge agent's
// physical_interface_mappings names (linuxbridge.ReadAgentConfig), chosen
// with the API by the network's physical network and segment.
//
// # Joining two nodes
//
// On a real cloud the path crosses nodes: the VM's tap and bridge are on a
// compute node, the qdhcp namespace and dnsmasq on a network node, joined
// by the provider network between their physical ports. Each node observes
// its half with its role (vmtrace -role network -record N on the network
// node, first; then -role compute -record C on the compute node), and
// Join judges the halves as one path (vmtrace -join N C): each NIC of the
// compute half, matched with the network half's trace of the same port
// (port ID, else MAC), gets the compute hops from the compute node, the
// DHCP side from the network node (each hop's "node" evidence says
// which), and a KindProviderLink hop between them. That hop is judged on
// Observation.Provider, which Observe records on both roles after the ARP
// probes: the network node's bridges and FDB, its agent mappings, its DHCP
// ports' MACs and one unicast ARP request to each probed VM's MAC, and
// either node's wired interfaces on no bridge. It is OK when both physical
// ports are up with carrier and the network node's probes, broadcast and
// unicast, were answered by the VM across the link (or, with the VM
// silent, the compute node learned the DHCP port's MAC on its physical
// port). It fails, naming the link rather than either node, for a provider
// wire down (a physical port up without carrier), a switch that drops
// unknown unicast toward the VM (the broadcast probe answered, the
// unicast one not: the hypervisor's NIC without promiscuous mode), and
// frames not crossing although both ports have carrier (neither bridge
// learned the other node's MAC: a mapping to the wrong interface, named
// when one node has a wired NIC on no bridge). Node hops that only show
// the link's fault (the missing carrier, the unanswered probe, the lease)
// become Warn with the evidence "explained_by". A fault of one node stays
// on that node's hop, the link judged OK.
//
// The halves need not be observations: a compute or network node's traces
// carry the facts of their end of the link (Trace.Link, a LinkEnd), so
// JoinTraces joins what vmtrace -json printed on each node, or what each
// node's exporter serves on /traces.json (DecodeHalf reads any of them;
// vmtrace -join takes files or URLs), exactly as Join joins observations.
//
// The guest hop reads the guest's own account of its DHCP exchange from
// the console log the domain XML declares (Config.NoConsole skips it); the
// metadata hop the qdhcp namespace's metadata proxy, with one HTTP GET to
// 169.254.169.254:80 from inside the namespace after the ARP sweep
// (Config.NoMetadataProbe skips the GET); the mtu hop compares what DHCP
// (or the libvirt <mtu>, or on a compute-only node the network's MTU from
// the API) tells the guest with every element's MTU. The agents hop,
// right after the port hop, judges the agents the port needs (JudgeAgents)
// from one agent list read per observation (APIFacts.Agents); without the
// API it is Unknown.
//
// Observing is read-only except for the probes: ARP requests from the
// qdhcp namespace's serving interface to the port's IP and, on a network
// node (RoleNetwork), up to three more addressed to the port's MAC instead
// of the broadcast address, for Join's provider link (Config.NoARP
// disables them), the reachability probe (NoReach) and the metadata GET
// (NoMetadataProbe).
//
// The compute node's firewall (Config.NoFirewall skips it) is read once
// before the probes, while the domains and the DHCP side are read, for
// the security-group and anti-spoofing hops and the probes' baseline
// counters; it is read a second time, after the probes, only when a
// reachability probe went unanswered, to name the DROP rule whose counter
// that probe moved (an answered probe needs no such rule named).
//
// # Privileges
//
// Observing needs CAP_SYS_ADMIN to enter namespaces, CAP_SYS_PTRACE to
// read dnsmasq's /proc entries and CAP_NET_RAW for the ARP probe: in
// practice, root. Judging and replaying need nothing.
//
// # Network namespaces
//
// Observing never moves the caller's thread: linuxbridge and dhcpns open
// their sockets inside the namespaces on fresh locked goroutines, and the
// sysctl and link reads in the bridges' namespace go through one
// unexported helper that discards its thread if it cannot move it back.
//
// # Concurrency
//
// Run, Server, Node, NodeServers and Observe are safe for concurrent use
// (with a launch.Client and libvirt client that are). Results and
// observations are plain values.
package trace
