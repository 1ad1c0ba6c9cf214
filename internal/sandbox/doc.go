// Package sandbox builds the real kernel objects and daemons that vifpath's
// demo and integration tests run against: throwaway network namespaces,
// bridges, veth pairs, tap devices, addresses, raw frames between
// namespaces, the real dnsmasq with Neutron's command line and state files,
// a busybox udhcpc DHCP client, a private libvirtd (in its own mount
// namespace, optionally listening on TCP and TLS) or the host's system
// one, libvirt domains and host bridges for them, a private sshd, and a
// Prometheus server. It also holds the leak checks the tests run after
// code that enters namespaces (ThreadNetNS, ForeignThreads, CountFDs).
//
// Every constructor returns an error instead of failing a test, and every
// object it makes has a Close (or Stop) that removes it, idempotently, so
// the demo (internal/demo) and the tests (internal/testutil, a thin
// testing.TB adapter over this package) share one implementation:
//
//	ns, err := sandbox.NewNetNS(dir, "qdhcp-"+networkID)
//	if err != nil { ... }
//	defer ns.Close()
//	if err := ns.AddBridge("brq" + networkID[:11]); err != nil { ... }
//	d, err := sandbox.StartDnsmasq(ctx, ns, &sandbox.DnsmasqConfig{...})
//	if err != nil { ... }
//	defer d.Close()
//
// # Privileges
//
// Creating namespaces and links needs root: CAP_SYS_ADMIN for unshare,
// setns and the bind mounts, CAP_NET_ADMIN for links and addresses,
// CAP_NET_RAW for raw frames. dnsmasq rereads its files as nobody, so its
// state directory and every parent must be searchable by others.
//
// # Network namespaces
//
// Namespaces are created and entered only through internal/netns: on a
// fresh goroutine locked to its OS thread, which is returned to the pool
// only if it could be moved back. Processes (dnsmasq, udhcpc) are started
// from inside that helper, so they are born in the namespace; netlink
// handles are bound to a namespace when they are made. The caller's
// goroutine never changes namespace.
//
// Nothing here is safe for concurrent use unless its documentation says so.
package sandbox
