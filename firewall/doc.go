// Package firewall reads, without changing anything, the firewall the
// Neutron linuxbridge agent builds for each port on a compute node, and
// says which rule a packet would hit.
//
// Read takes a Snapshot once: the filter tables of both iptables backends
// (iptables-nft and iptables-legacy, IPv4 and IPv6) with their counters,
// the ebtables nat table with the agent's ARP and MAC anti-spoofing
// chains (neutronARP-tap…, neutronMAC-tap…), the ipsets the rules name
// (NIPv4<group>…) and the bridge-nf-call switches. Everything else is a
// pure function of that value: Snapshot.Port gathers one port's chains
// (neutron-linuxbri-i/-o/-s + port ID[:10], named exactly as the agent
// truncates them, see PortChain), Backends says which backend holds
// Neutron's chains and whether the other one also filters,
// Evaluate and EvaluateEbtables walk the chains for a packet or an ARP
// frame and name the deciding rule, Moved names the rules whose counters
// grew between two snapshots, StaleTaps lists chains of taps that are
// gone, and AmongRules lists the anti-spoofing rules with an among match,
// which Snapshot.EbtablesTool (the ebtables the agent runs: path, wrapper,
// version) may be unable to delete (EbtablesTool.AmongDeleteFails).
// LinkLocal gives the IPv6 link-local address the agent admits for a MAC.
//
// # How each part is read
//
// A whole read runs the pinned save tools of both iptables backends
// (iptables-nft-save, iptables-legacy-save and their ip6tables twins) and
// parses their output with fuzzed parsers; the ebtables nat table of
// ebtables-nft and the ipsets come through netlink, decoded back into the
// text the tools print so both ways give the same values. A rule the
// netlink decoders do not model sends its chain to the tool instead,
// never a guess. Snapshot.Reads says how each part was read and which
// chains fell back and why. The reasons and the details are in
// read_linux.go.
//
// # One port's read
//
// A trace of one NIC needs its port's firewall, not the node's: with
// Config.Taps set, Read lists from iptables-nft only the chains the taps'
// packets can reach (their ingress, egress and spoof chains, the agent's
// shared chains holding the physdev jumps, and any chain those jump to
// that is not another port's), through nf_tables netlink (or with
// Config.NFTCLI one `iptables-nft -t filter -S CHAIN -v` per chain, all
// at once: iptables-nft 1.8.9 fetches only the listed chain's rules;
// ConvertListRules turns that listing into save lines). Of
// ebtables-nft's nat table it fetches only the built-in chains, the taps'
// neutronARP-/neutronMAC- chains and chains those jump to that are not
// another port's, and of the ipsets only those the read tables' rules
// name. iptables-legacy is read whole as before (its table comes from the
// kernel in one piece). Snapshot.Scope names the taps: such a snapshot
// judges its ports as a whole one does (the integration tests compare
// them field by field), but lacks other ports' chains, so StaleTaps and
// any other node-wide check must be reported as unknown
// from it (see Snapshot.Scoped). trace's one-NIC and server traces read
// this way; node mode reads the whole node once.
//
// # Privileges
//
// Read needs root: CAP_NET_ADMIN for the tools and for nf_tables and
// ipset netlink, CAP_SYS_ADMIN to enter Config.NetNSPath. The pure functions need nothing.
//
// # Network namespaces
//
// With Config.NetNSPath set, the tools are started from a fresh goroutine
// locked to a thread moved into that namespace (and back); the caller's
// thread never moves. The sysctls are read on that thread too.
//
// # Example
//
//	snap, err := firewall.Read(ctx, nil)
//	if err != nil { … }
//	p := snap.Port("tap31f2d3e9-8d", firewall.IPv4)
//	r, err := snap.Evaluate(p.Backend, "FORWARD", firewall.Packet{
//		Protocol: "icmp", ICMPType: 8, Src: src, Dst: vmIP,
//		PhysOut: p.Tap, Bridged: true,
//	})
//	fmt.Println(r.Verdict, r.Decider())
package firewall
