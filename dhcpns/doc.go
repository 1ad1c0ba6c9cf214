// Package dhcpns provides the DHCP side of a Neutron network on a
// linuxbridge node, in one place: the qdhcp-<network> namespaces, the
// dnsmasq that serves each one, its command line, hosts and lease files, a
// health verdict with evidence, and ARP and DHCP probes.
//
// It answers the questions an operator asks with `ip netns`, `ip -n … a`,
// `arp -n`, `ps -ef | grep dnsmasq`, `cat leases` and `arping` when a VM has
// no address: is the namespace there, is dnsmasq alive and inside it, is the
// serving interface up with an address in the subnet, is the VM's MAC in the
// hosts file, did the guest renew its lease or is the row only Neutron's
// seed, and does the VM answer ARP.
//
// The parsers (ParseCmdline, ParseHosts, ParseLeases) need no privileges and
// run on any OS. They read both Neutron Pike's dnsmasq command line
// (--bind-interfaces --interface=ns-…, set:tag0) and Zed's (--bind-dynamic,
// set:subnet-<uuid>, no --interface); unknown flags are kept verbatim.
//
// Lease rows say who wrote them (Lease.Origin): Neutron seeds one row per
// port when it starts dnsmasq ("<expiry> <mac> <ip> * *", OriginSeeded); a
// row with a client id was written after a DHCP exchange (OriginRenewed).
// dnsmasq 2.90 fills the hosts file's name into seeded rows whenever it
// rewrites the file, so a row with a hostname and no client id proves
// nothing (OriginUnconfirmed).
//
// Results are plain values that marshal to JSON and back: MACs as
// hwaddr.MAC colon text, addresses as netip, states as text. Link.State is
// linuxbridge.OperState, the module's one operational-state enum. A
// missing or deleted namespace is ErrNoNetNS, the same value linuxbridge
// returns.
//
// The metadata side (since Pike, haproxy in the qdhcp namespace serves
// 169.254.169.254:80 when isolated metadata is on): FindMetadataProxy reads
// the proxy's configuration and pid file (Config.MetadataProxyDir,
// Config.MetadataPIDDir), the process and its namespace, the namespace's
// listening sockets from /proc/<pid>/net/tcp and the metadata agent's unix
// socket (Config.MetadataAgentSocket); ProbeMetadata makes one HTTP GET
// from inside the namespace; ParseOpts, MetadataRoute and OptionMTUValue
// read the option 121 route and the MTU dnsmasq hands out.
//
// # Concurrency
//
// Functions are safe for concurrent use. Namespace and ARPProber are safe for
// concurrent use (their calls are serialised on one socket). Result types
// (Snapshot, Health, DnsmasqConfig, Lease, …) are plain values.
//
// # Privileges
//
// Listing namespaces needs read access to the netns run directory
// (/run/netns). Inspecting one (Open, Inspect) needs CAP_SYS_ADMIN to setns
// into it once, when the netlink handle is created. Finding dnsmasq reads
// /proc/<pid>/ns/net, which needs CAP_SYS_PTRACE (root) for processes of
// other users (dnsmasq runs as nobody). SweepARP and ProbeARP need
// CAP_NET_RAW and CAP_SYS_ADMIN; ProbeDHCP creates a namespace and a veth
// into the network's bridge and needs CAP_NET_ADMIN, CAP_NET_RAW and
// CAP_SYS_ADMIN. FindMetadataProxy reads /proc/<pid>/fd and net/tcp of
// the proxy (root); ProbeMetadata needs CAP_SYS_ADMIN to open its TCP
// socket inside the namespace.
//
// # Network namespaces
//
// No function moves the caller's thread. The module's one namespace helper
// (internal/netns) enters a namespace on a fresh goroutine locked to its OS
// thread, creates a netlink
// handle (NETLINK_ROUTE only) or an AF_PACKET socket there, moves the thread
// back, and unlocks it only if that worked; if not, the thread ends with the
// goroutine. The objects created inside stay bound to the namespace and are
// then used from any goroutine. Close them: an open handle keeps a deleted
// namespace alive; Namespace.Inspect then fails with ErrNoNetNS.
//
// ProbeDHCP also creates an anonymous namespace and a veth "dhp-…" on the
// network's bridge for the length of the probe. On hosts with
// net.bridge.bridge-nf-call-iptables=1 bridged DHCP crosses the iptables
// FORWARD chain: a DROP policy there (as Docker sets) hides the OFFER.
//
// # Example
//
//	ns, err := dhcpns.OpenNetwork(ctx, nil, "c3e375fb-0ac1-4b91-9c66-d297e7d090e6")
//	if err != nil { … }
//	defer ns.Close()
//	snap, err := ns.Inspect(ctx)
//	// snap.Links, snap.Addrs, snap.Routes, snap.Neighbors
package dhcpns
