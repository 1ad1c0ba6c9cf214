// Package libvirtinspect provides typed, read-only inspection of libvirt
// domains as an OpenStack operator needs it on a compute node: the domain
// list with state and reason (`virsh list --all`, `domstate --reason`), the
// Nova metadata in each domain's XML (instance UUID, display name, flavor,
// project, owner), interfaces (`domiflist`), addresses as libvirt's three
// sources see them (`domifaddr`), and bulk statistics for every domain in one
// RPC (`domstats`).
//
// It speaks libvirt's RPC protocol through github.com/digitalocean/go-libvirt
// (no cgo, no libvirt.so), over the local socket or a remote transport: tcp
// and tls through go-libvirt's dialers; ssh, libssh and libssh2 URIs through
// the package's own SSH dialer, which forwards to the remote libvirtd socket
// with golang.org/x/crypto/ssh, checks the host key against known_hosts and
// bounds the handshake by Config.DialTimeout and ctx. A Client is safe for
// concurrent use; it reconnects on the call after a lost connection, and
// every call takes a context that it honours even though go-libvirt has
// none (see Client).
//
// Dial connects now and takes a context, as every Open and Dial in the
// module does; NewFromConfig and New (which takes the Dialer seam) do no
// I/O and connect on the first call.
//
// Results (Domain, Details, Interface, DomainStats, AddrReport) are plain
// values owned by the caller that marshal to JSON and back (MACs as
// hwaddr.MAC colon text, addresses as netip, states as virsh's words):
// safe to read from many goroutines, not to mutate concurrently.
// InterfaceStats counts from the host tap, as linuxbridge.Stats and `ip -s
// link` do (Rx is what the guest sent): libvirt's own net.N.rx/tx, which
// `virsh domstats` prints, are from the guest's side and are swapped. The
// package has no Linux-only code (it only speaks libvirt's protocol over a
// socket), so it builds and works on every GOOS.
//
// # Cancellation and lost connections
//
// Every method takes a context. go-libvirt has none, so each RPC runs on its
// own goroutine and the method returns when ctx ends; the abandoned RPC
// completes (result dropped) or fails with the connection. If it is still
// unanswered Config.AbandonTimeout after its caller left, libvirtd is
// considered hung and the connection's socket is closed, which ends the RPC
// and every other one in flight with ErrConnectionLost. A broken connection
// is reported as ErrConnectionLost (IsConnectionLost), an unreachable daemon
// as ErrUnavailable, and the next call dials again. Close closes the socket
// and waits for every goroutine the Client started.
//
// Stats has a connection of its own (the first Stats call opens it with the
// same Dialer and URI; it obeys the same rules), on which it decodes the
// ConnectGetAllDomainStats reply with its own XDR decoder rather than
// go-libvirt's: it stays only as long as it is measurably faster and
// allocates far less than go-libvirt's reflection decoder on the same
// reply (BenchmarkStatsDecode1000 runs both; the figures are in the
// README). A Client that calls Stats therefore holds two libvirtd
// connections (two SSH sessions over ssh URIs).
//
// # Many domains
//
// Details reads one domain by reference in three RPCs (lookup, state,
// XML). For many domains, AllDetails lists them with their states in one
// bulk RPC and DetailsOf reads only each one's XML, DetailsParallel RPCs in
// flight on the one connection (and as many on the stats connection once
// a Stats call has opened it): one RPC a domain plus one, instead of
// three a domain. A caller that already has the domains (from Domains, or
// the Domain of each Stats record) passes them to DetailsOf.
//
// # Console output
//
// ConsoleLog (and ReadConsoleLog) return the tail of a domain's serial
// console from the file its XML declares (<serial><log file>: Nova's
// console.log, or a <serial type='file'>), read-only and bounded, on the
// node the domain runs on. It never opens the console stream: that is
// exclusive and would take the console from Nova or a user
// (ErrNoConsoleLog says why there is no fallback).
//
// # Privileges
//
// Access to the libvirtd socket, nothing else. The read-only socket
// (/run/libvirt/libvirt-sock-ro, Config.ReadOnly) is enough for everything
// here; its default permissions (0777) let any local user in when the
// daemon's auth_unix_ro is "none". The read-write socket needs root or the
// libvirt group. Without polkit, a non-root user is refused on a daemon
// configured for polkit auth.
//
// # Network namespaces
//
// None are entered. Host device names (taps) in results are names in the
// namespace libvirtd runs in, normally the host's.
//
// # Addresses of Nova guests
//
// libvirt cannot tell a Nova guest's IP: Nova uses <interface
// type='bridge'>, for which the lease source is always empty (only
// libvirt-managed networks have leases), the agent source needs a guest agent
// Nova does not configure by default, and libvirt 9.0's arp source fails with
// "wrong nlmsg len" on kernel 6.x. InterfaceAddresses reports each source's
// answer or failure with a Note; join with Neutron's ports, the network's
// dnsmasq leases, the bridge FDB or an ARP probe to find the address.
//
// # Example
//
//	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
//	if err != nil { ... }
//	defer c.Close()
//	doms, err := c.Domains(ctx)           // one RPC
//	stats, err := c.Stats(ctx, nil)       // one RPC, all groups, all domains
//	d, err := c.Details(ctx, "instance-00000002") // Nova metadata + interfaces
//	all, err := c.AllDetails(ctx)         // every domain: 1 + one RPC each
package libvirtinspect
