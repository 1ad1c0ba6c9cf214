// Package linuxbridge provides read-only inspection of Linux bridges as
// OpenStack Neutron's Linux bridge agent builds them: which bridge serves
// which network, which taps and veths hang on it, whether they are up and
// forwarding, and which port a MAC address was learned on — a typed
// `brctl show` and `bridge fdb` for Neutron.
//
// Open an Inspector on a network namespace (Open for a path, or the
// process's own; OpenNamespace for a name under /run/netns), then ask it:
// Snapshot reads every bridge with its ports and the whole forwarding
// database at once; Bridge, BridgeForNetwork and FDB read a part; WhereIs
// says which port learned a MAC. Each call costs a fixed number of netlink
// dumps whatever the number of ports (the figures are in the README);
// Config.Qdiscs adds one to Snapshot, for the ports' qdiscs (Port.Qdiscs,
// `tc -s qdisc show`).
// Dumps interrupted by concurrent changes are retried a bounded number of
// times; a link that vanishes during an inspection is left out, not an
// error.
//
// Results are plain values that marshal to JSON and back: MACs are
// hwaddr.MAC (colon text), addresses netip, enums lower-case text.
// Counters (Stats) are seen from the device they belong to, as `ip -s link`
// shows them: a tap's Rx is what the guest sent, its Tx what the bridge
// sent the guest, the same as libvirtinspect.InterfaceStats for that tap.
// OperState is the module's one operational-state enum (dhcpns uses it).
//
// The naming helpers (NetworkBridgeName, PortTapName, PortNSName,
// ParseDeviceName, TapMAC, SameNIC) map Neutron IDs and MACs to device
// names and back and need no privileges or Linux.
//
// Open does I/O and takes a context, like every Open in the module; every
// other call takes one too. A dump waiting for replies gives up as soon as
// the context is done (its deadline is the socket's read deadline, its
// cancellation interrupts the read); the Inspector reads and drops the rest
// of an abandoned dump before its next request (the kernel refuses a new
// dump on a socket until then). Opening (entering the namespace once for
// all four sockets) is not interruptible.
//
// The sockets and the dumps are github.com/mdlayher/netlink's; the package
// decodes only the attributes it reports, without copying them.
//
// Nothing here changes the system.
//
// # Privileges
//
// Reading links, addresses and the FDB of the namespace the process is in
// needs no capability. Inspecting another namespace needs CAP_SYS_ADMIN
// once, in Open, for setns(2); after that the socket is bound to the
// namespace and needs nothing. A missing capability is reported as an
// error satisfying errors.Is(err, ErrPermission) naming what to grant.
//
// # Network namespaces
//
// Config.NetNSPath (or OpenNamespace with a name under Config.NetNSDir,
// default /run/netns) selects the namespace. Open checks that the path is
// a network namespace and opens its sockets inside it through the module's
// one namespace helper: on a fresh goroutine locked to its OS thread it
// enters the namespace, opens the sockets and moves the thread back (if
// that fails the thread is discarded, never reused); the caller's
// goroutine never changes namespace. A missing namespace is ErrNoNetNS,
// the same value dhcpns returns. An open Inspector keeps its namespace
// alive; each call checks that the path still names the namespace it was
// opened on and fails with ErrNoNetNS once it was deleted or replaced.
// Close the Inspector when done.
//
// Example:
//
//	in, err := linuxbridge.Open(ctx, nil) // this namespace
//	if err != nil { ... }
//	defer in.Close()
//	br, err := in.BridgeForNetwork(ctx, "c3e375fb-0ac1-4b91-9c66-d297e7d090e6")
//	for _, p := range br.Ports {
//		fmt.Println(p.Name, p.Kind, p.OperState, p.STPState, p.Neutron.IDPrefix)
//	}
package linuxbridge
