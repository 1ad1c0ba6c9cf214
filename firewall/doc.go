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
// # Why the tools' text output, and where netlink
//
// iptables-nft stores its rules in nf_tables, but each match the agent
// uses (physdev, set, state, comment, mac) is an xtables-compat blob,
// and legacy iptables cannot be read through nf_tables at all. So a read
// of the whole node runs the pinned tools /usr/sbin/iptables-nft-save,
// iptables-legacy-save, their ip6tables twins (-c -t filter),
// /usr/sbin/ebtables -t nat -L --Lc (the listing both ebtables backends
// print, and the one the agent itself parses) and /usr/sbin/ipset save,
// starts them all at once from a thread inside the namespace, and parses
// their output with fuzzed parsers (ParseIPTablesSave, ParseEbtablesList,
// ParseIPSetSave). The integration tests compare the result with
// iptables -S, iptables -L -v -x, the kernel's ipset dump through
// netlink and ebtables-save.
//
// A read of some ports (Config.Taps) lists iptables-nft's chains through
// nf_tables netlink instead (google/nftables, sockets opened inside the
// namespace): per chain its rules with their counters, its policy and
// counters, the ipsets' names by kernel index (what an xt set match
// holds, resolved as iptables does), and the ruleset generation before
// and after, so a round that saw the rules change is read again. It
// decodes exactly the expressions iptables-nft 1.8.9 writes for the
// agent's rules (native meta, payload, cmp, bitwise and range for -i,
// -o, -p, -s, -d and tcp/udp ports; the xt structs of physdev, set,
// conntrack as -m state and --ctstate, comment, mac, icmp, icmp6,
// multiport, tcp and udp; counters; ACCEPT, DROP, RETURN, jumps and
// gotos) back into the text `iptables-nft -S` prints, and parses that
// as the CLI read does, so both give the same Rule values. A chain
// holding anything else (a limit, a LOG or REJECT target, a protocol
// iptables names from /etc/protocols) is listed by `iptables-nft -S`
// instead, never guessed: Snapshot.Reads says which chains and why.
// Config.NFTCLI lists every chain with the tool.
//
// # One port's read
//
// A trace of one NIC needs its port's firewall, not the node's: with
// Config.Taps set, Read lists from iptables-nft only the chains the taps'
// packets can reach (their ingress, egress and spoof chains, the agent's
// shared chains holding the physdev jumps, and any chain those jump to
// that is not another port's), through netlink as above (or with
// Config.NFTCLI one `iptables-nft -t filter -S CHAIN -v` per chain, all
// at once: iptables-nft 1.8.9 fetches only the listed chain's rules;
// ConvertListRules turns that listing into save lines). The rest is read
// whole as before (legacy's table comes from the kernel in one
// piece; ebtables-nft fetches the whole nat table even for one chain;
// one `ipset save` runs alongside). Snapshot.Scope names the taps: such
// a snapshot judges its ports as a whole one does (the integration tests
// compare them field by field), but lacks other ports' chains, so
// StaleTaps and any other node-wide check must be reported as unknown
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
