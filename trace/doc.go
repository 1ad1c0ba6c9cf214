// Package trace provides the path of one VM NIC through a Linux bridge
// OpenStack node, hop by hop, with a verdict at each: the libvirt domain
// and its interface (Config.Libvirt), the tap, the brq
// bridge of its network and its physical port, the bridge's forwarding
// database, the network's DHCP side (qdhcp namespace, dnsmasq, hosts
// entry, lease), an ARP probe from the qdhcp namespace to the port's IP,
// the tap's and the domain's counters, and the host checks that break bridged traffic
// (bridge-nf-call-iptables, NetworkManager managing the devices).
//
// It joins linuxbridge, dhcpns and libvirtinspect. Each Hop carries a Verdict (unknown,
// ok, warn, fail), the Evidence it rests on and, for a warn or fail, a
// one-line Cause and what to check Next. A Trace renders as a text table
// (WriteText), JSON (its fields are tagged), Graphviz DOT (WriteDOT) and
// Mermaid (WriteMermaid), with failing hops marked.
//
// Server is the API mode: given a Nova server's ID and a launch.Client,
// it reads the server (status, host, instance name; Nova's fault when it
// is in ERROR) and its Neutron ports (binding host, vif_type, network,
// MAC, fixed IPs), and traces each port's tap locally with those
// identities, prepending a server and a port hop. Run is the no-API mode: given a Neutron port ID, a MAC or a tap name, it
// traces on this node. The domain is the one whose interface targets the
// tap (or Target.Domain); without a libvirt client its two hops are
// Unknown.
//
// # Node roles
//
// Config.Role says which side of the path this node holds. RoleAllInOne
// (the zero value) traces every hop. RoleCompute traces the domain, the
// tap, the bridge and its physical port, the FDB and the counters, and
// leaves the DHCP side and the ARP probe Unknown with the evidence "DHCP
// side not on this node (role compute)" (Config.SkipDHCP is the older
// spelling). RoleNetwork traces the qdhcp namespace, dnsmasq, its serving
// interface, the hosts entry, the lease and the ARP probe from the qdhcp
// namespace, and leaves the compute side Unknown ("compute side not on
// this node"); with Server the network, MAC and IPs come from the port,
// with Run the target must be the MAC, and the network is the one whose
// hosts file under Config.StateDir lists it (Neutron's rows are
// "mac,host-…,ip": a port ID or tap alone is an ErrRole error). On an
// all-in-one whose tap is missing, the DHCP side is still judged when the
// network is known (from the API, or from the hosts files by the MAC).
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
// # The physical port
//
// The physical-port hop expects the interface the linuxbridge agent's
// [linux_bridge] physical_interface_mappings names (Config.AgentConfig,
// default DefaultAgentConfig, or Config.InterfaceMappings; see
// ParseAgentConfig): with Server the network's provider:physical_network
// picks the mapping and a VLAN network expects <nic>.<segmentation_id>
// (a VXLAN one vxlan-<VNI>); without the API the only mapping, or the
// mapped interface found on the bridge. The hop then says whether that
// interface is missing, down, on another bridge, or managed by
// NetworkManager. Without an agent config it guesses the provider NIC (a
// bridge port Neutron did not name), and its "mappings" evidence says so.
//
// Run is read-only except for the ARP probe: it sends ARP requests from
// the qdhcp namespace's serving interface to the port's IP and, on a
// network node (RoleNetwork), up to three more addressed to the port's
// MAC instead of the broadcast address, for Join's provider link (disable
// both with Config.NoARP).
//
// # Privileges
//
// Run needs CAP_SYS_ADMIN to enter the namespaces (the bridge side when
// Config.BridgeNetNS is set, and qdhcp-…), CAP_SYS_PTRACE to read
// dnsmasq's /proc entries, and CAP_NET_RAW for the ARP probe: in practice,
// root.
//
// # Network namespaces
//
// Run never moves the caller's thread: linuxbridge and dhcpns open their
// sockets inside the namespaces on fresh locked goroutines, and the one
// sysctl read in another namespace happens the same way (one unexported
// helper, which discards its thread if it cannot move it back).
//
// # Concurrency
//
// Run is safe for concurrent use. Trace and Hop are plain values.
package trace
