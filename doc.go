// Package vifpath is the root of a Go library for people who run OpenStack
// clouds on Linux bridges and libvirt: it turns each step an operator takes
// by hand when a VM gets no network (`openstack … list`, `brctl show`,
// `ip netns exec qdhcp-… ip a`, `arping`, dnsmasq's leases, `virsh
// domiflist`) into a typed, tested Go API.
//
// This package holds no code; it documents how the packages fit together.
//
// # The map
//
//   - [github.com/vifpath/vifpath/launch]: the controller side, on
//     gophercloud v2: preflight of compute services and network agents,
//     idempotent flavor, keypair, security-group rules, image, provider
//     network and subnet, server create with a wait that stops on ERROR and
//     returns Nova's fault, ports, addresses, console URL, cleanup.
//   - [github.com/vifpath/vifpath/linuxbridge]: bridges, their ports, STP
//     port states, the forwarding database and addresses, read through
//     netlink in any network namespace; Neutron's device naming both ways
//     (brq + network ID, tap/ns- + port ID, fe: tap MACs).
//   - [github.com/vifpath/vifpath/dhcpns]: the qdhcp-… namespaces, the dnsmasq
//     serving each one, its hosts and lease files, a health verdict per
//     network, and ARP and DHCP probes.
//   - [github.com/vifpath/vifpath/libvirtinspect]: libvirt domains, their
//     interfaces, addresses, state and bulk statistics, over the local socket
//     or a remote libvirtd (TCP, TLS, SSH), with a context on every call;
//     the tail of a domain's console log.
//   - [github.com/vifpath/vifpath/firewall]: the iptables, ebtables and
//     ipset rules the linuxbridge agent builds for each port, read once,
//     and which rule a packet or ARP frame would hit.
//   - [github.com/vifpath/vifpath/guestlog]: what a guest printed about its
//     network on its console (DHCP client, link, metadata), as typed events.
//   - [github.com/vifpath/vifpath/hwaddr]: MAC, the one hardware-address
//     type of every package (colon text in JSON and flags).
//   - [github.com/vifpath/vifpath/metrics]: a Prometheus collector of every
//     VM NIC's trace verdict and counters on a node.
//   - [github.com/vifpath/vifpath/trace]: the four joined: a server's (or,
//     without an API, one port's, MAC's or tap's) path hop by hop — server,
//     port, domain, interface, tap, bridge, physical NIC, FDB, qdhcp
//     namespace, dnsmasq, hosts entry, lease, ARP probe, counters, host
//     checks — with a verdict, evidence, cause and next step at each, on an
//     all-in-one, a compute node or a network node; text, JSON, DOT and
//     Mermaid.
//   - examples/: one thin binary per task (bridgeinfo, dhcpprobe, vminspect,
//     launch, vmtrace), each holding no logic the library lacks. `vmtrace
//     -demo`, the README's main job, builds the walkthrough's node in
//     throwaway namespaces (with a qemu TCG guest and an in-process fake
//     Nova/Neutron), traces it, breaks a hop and traces again.
//
// They compose along the path a VM's frames take: launch gives the server's
// host, libvirt instance name and Neutron ports; libvirtinspect maps the
// instance to its tap devices; linuxbridge finds the brq bridge of each port's
// network, its physical port, and whether the bridge learned the VM's MAC;
// dhcpns checks the network's DHCP namespace and dnsmasq and probes the VM's
// fixed IPs from there. trace does exactly that, in one call.
//
// # Privileges
//
//	what                                         needs
//	-------------------------------------------  ---------------------------------------------
//	linuxbridge, host namespace                  nothing for links and FDB (netlink is readable)
//	linuxbridge / dhcpns in a named namespace    CAP_SYS_ADMIN (setns, to bind a netlink socket)
//	dhcpns dnsmasq discovery (/proc/<pid>/ns)    CAP_SYS_PTRACE or root (other users' processes)
//	dhcpns ARP and DHCP probes                   CAP_NET_RAW (AF_PACKET), CAP_NET_ADMIN + CAP_SYS_ADMIN
//	                                             for the DHCP probe's throwaway veth and namespace
//	libvirtinspect                               access to libvirtd's socket (the read-only
//	                                             socket is enough for inspection)
//	launch                                       OpenStack credentials (admin for services/agents)
//	trace                                        the union of the parts it uses (root on a node);
//	                                             Config.NoARP drops CAP_NET_RAW
//
// The integration tests need root; see the README.
//
// # Network namespaces
//
// A Linux thread, not a process, has a network namespace, and Go moves
// goroutines between threads. vifpath therefore never calls setns on a
// caller's goroutine. One internal package, used by every package that
// enters a namespace, opens the namespace file (a missing one is the same
// ErrNoNetNS in linuxbridge and dhcpns), enters it on a fresh goroutine
// locked to its thread, creates an object bound to that namespace (a
// netlink socket, an AF_PACKET socket, a started process), moves the
// thread back, and unlocks it only if the move back worked; otherwise the
// thread ends with the goroutine. The objects it creates stay bound to the
// namespace and are used from any goroutine. Goroutines started inside
// such a helper do not inherit its namespace.
package vifpath
