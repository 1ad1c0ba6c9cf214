// Package linuxbridge provides read-only inspection of Linux bridges as
// OpenStack Neutron's Linux bridge agent builds them: which bridge serves
// which network, which taps and veths hang on it, whether they are up and
// forwarding, and which port a MAC address was learned on — a typed
// `brctl show` and `bridge fdb` for Neutron.
//
// An Inspector reads one network namespace through NETLINK_ROUTE sockets
// opened inside it. Each call does a fixed number of netlink dumps
// (Snapshot: links, addresses, FDB — three requests, issued concurrently
// on three sockets; on an Inspector that snapshots again while the kernel
// reports no link change, five lighter ones: see Inspector.Snapshot),
// whatever the number of bridges and ports, with a lean
// decoder that reads only the attributes the package reports (about 0.5 µs
// a link), so inspecting a host with a thousand ports costs a few
// milliseconds, nearly all of it the kernel filling messages. The cost
// grows linearly with ports, except that the kernel's FDB dump walks a
// bridge's whole table once per port, so one very large bridge costs more
// per port (about 6 µs a port for 100 bridges of 10 ports, 10 µs for one
// bridge of 500 on this machine); iproute2's `bridge fdb` pays the same.
// A bridge port's STP state, learning, flood and hairpin flags come from
// IFLA_INFO_SLAVE_DATA (IFLA_BRPORT_*), the same values `bridge link`
// prints from IFLA_PROTINFO. Dumps interrupted by concurrent
// changes (NLM_F_DUMP_INTR) are retried a bounded number of times; a link
// that vanishes during an inspection is left out, not an error.
//
// The naming helpers (NetworkBridgeName, PortTapName, PortNSName,
// ParseDeviceName, TapMAC, SameNIC) map Neutron IDs and MACs to device
// names and back and need no privileges or Linux.
//
// Every call takes a context. Dumps wait for replies in steps of at most
// 100 ms and give up when the context is done; the Inspector reads and
// drops the rest of an abandoned dump before its next request (the kernel
// refuses a new dump on a socket until then). Opening (one setns) is not
// interruptible.
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
// default /run/netns) selects the namespace. Open enters it on a fresh
// goroutine locked to its OS thread, opens the socket, and moves the thread
// back (if that fails the thread is discarded, never reused); the caller's
// goroutine never changes namespace. An open Inspector keeps its namespace
// alive; each call checks that the path still names the namespace it was
// opened on and fails with ErrNoNetNS once it was deleted. Close the
// Inspector when done.
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
