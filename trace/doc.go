// Package trace provides the path of a VM NIC through a Linux bridge
// OpenStack node, hop by hop, with a verdict at each: the Nova server and
// Neutron port, the agents the port needs, the libvirt domain and its
// interface, the guest's own console, the tap, its security-group and
// anti-spoofing rules, the brq bridge and its physical port, the MTU
// chain, the FDB, the network's DHCP side (qdhcp namespace, dnsmasq,
// serving interface, hosts entry, lease, metadata proxy), ARP and
// reachability probes from the qdhcp namespace, the counters, and the host
// checks. Each Hop has a Verdict, its Evidence and, when it warns or
// fails, a Cause and what to check Next. A trace never says OK for a hop
// it could not see: that hop is Unknown, saying why.
//
// # How
//
// A trace is two steps. Observe gathers the node's facts once into an
// Observation, a plain value that round-trips through JSON and carries the
// packages' own types (linuxbridge.Snapshot, dhcpns.Lease, launch.Port,
// firewall.Snapshot, …). Judge, JudgeTrace and JudgeServer then decide
// every hop with pure functions of that value, so an observation recorded
// on a node (Observation.WriteFile, credentials removed) judges the same
// anywhere (ReadObservation), without root, the node or the cloud.
//
// Run traces one NIC without an API (a port ID, MAC or tap); Server every
// port of a Nova server (with a launch.Client); Node every VM NIC on this
// node from one observation, NodeServers with every server bound to it.
// Config.Role says which side of the path this node holds (RoleAllInOne,
// RoleCompute, RoleNetwork); hops on the other side are Unknown. Join
// judges a compute node's and a network node's halves as one path, with
// the provider link between them as a hop of its own (see Join;
// JoinTraces does the same from the traces each node printed or
// exported).
//
// Observing changes nothing but sends probes, each with a switch to turn
// it off: ARP requests from the qdhcp namespace to the port's IP
// (Config.NoARP), ICMP echo and a TCP SYN to port 22 (NoReach) and one
// HTTP GET to 169.254.169.254 (NoMetadataProbe). Probe traffic stays
// between the node's own namespaces and the VM. The FDB and counters are
// judged on a second snapshot taken after the probes, so a probe that
// makes the path work is not a failure. One probe is off unless asked
// for, because it creates something and its broadcasts reach the
// provider network: Config.ProbeDHCPServers adds a probe veth to each
// network's bridge for a few seconds and sends DHCP DISCOVERs for a MAC
// no port has, which only a DHCP server other than Neutron's answers (the
// dnsmasq hop then warns, naming it); the veth is gone before the second
// snapshot.
//
// # Privileges
//
// Observing needs CAP_SYS_ADMIN to enter namespaces, CAP_SYS_PTRACE to
// read dnsmasq's /proc entries, CAP_NET_RAW for the probes and
// CAP_NET_ADMIN for the firewall: in practice, root. Judging and replaying
// need nothing.
//
// # Network namespaces
//
// Observing never moves the caller's thread. Every namespace is entered
// through the module's one helper (internal/netns, directly or through
// linuxbridge, dhcpns and firewall): a fresh goroutine locked to its
// thread, moved back after, and discarded if that fails.
//
// # Concurrency
//
// Run, Server, Node, NodeServers and Observe are safe for concurrent use
// (with a launch.Client and libvirt client that are). Results and
// observations are plain values.
package trace
