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
// iptables-nft stores its rules in nf_tables, but each match the agent
// uses (physdev, set, state, comment, mac) is an xtables-compat blob,
// and legacy iptables cannot be read through nf_tables at all. So a read
// of the whole node runs the pinned tools /usr/sbin/iptables-nft-save,
// iptables-legacy-save and their ip6tables twins (-c -t filter), starts
// them all at once from a thread inside the namespace, and parses their
// output with fuzzed parsers (ParseIPTablesSave). The integration tests
// compare the result with iptables -S and iptables -L -v -x.
//
// A read of some ports (Config.Taps) lists iptables-nft's chains through
// nf_tables netlink instead (sockets opened inside the namespace): per
// chain its rules with their counters, its policy and counters, the
// ipsets' names by kernel index (what an xt set match holds, resolved as
// iptables does), and the ruleset generation before and after, so a
// round that saw the rules change is read again. It decodes exactly the
// expressions iptables-nft 1.8.9 writes for the agent's rules (native
// meta, payload, cmp, bitwise and range for -i, -o, -p, -s, -d and
// tcp/udp ports; the xt structs of physdev, set, conntrack as -m state
// and --ctstate, comment, mac, icmp, icmp6, multiport, tcp and udp;
// counters; ACCEPT, DROP, RETURN, jumps and gotos) back into the text
// `iptables-nft -S` prints, and parses that as the CLI read does, so
// both give the same Rule values. A chain holding anything else (a
// limit, a LOG or REJECT target, a protocol iptables names from
// /etc/protocols) is listed by `iptables-nft -S` instead, never guessed:
// Snapshot.Reads says which chains and why. An expression of any other
// name (rt, socket, byteorder, …: what google/nftables' own rule parser
// skips without a word) refuses its rule the same way; a chain that
// netlink sees but `iptables-nft -S` calls incompatible (a rule `nft`
// added) is named in Missing, never read as absent or empty.
// Config.NFTCLI lists every chain with the tool.
//
// The ebtables nat table of ebtables-nft (Debian 11 and later) and the
// ipsets are read through netlink, from a NETLINK_NETFILTER socket opened
// on a thread inside the namespace, while the tools run: the nf_tables
// chains and rules of table "nat", family bridge (with the elements of the
// anonymous sets among matches use), and the ip_set protocol's set
// listing. Each rule's expressions are turned back into the text
// `ebtables -t nat -L --Lc` prints for it, which ParseEbtablesList's rule
// parser reads, so both ways give the same EbRule; a rule holding an
// expression the decoder does not model (another match, a target, a
// masked MAC, see ebnft.go) sends its chain to `ebtables -t nat -L CHAIN
// --Lc` instead, never a guess. A user chain's policy is the one the
// kernel applies (ebtables-nft keeps it as a marked last rule), which the
// listing does not show. ebtables-legacy is listed with /usr/sbin/ebtables
// -t nat -L --Lc, and when netlink cannot be used the tools are run as
// before (ebtables -L, ipset save; their parsers, ParseEbtablesList and
// ParseIPSetSave, stay fuzzed and are the reference the integration tests
// compare the netlink reads with). An ipset whose members are not plain
// addresses or prefixes (hash:ip,port, nomatch entries) is left out of
// Sets and named in Missing. Snapshot.Reads says which way each part was
// read (one TableRead per iptables table, for the nat table and for the
// ipsets).
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
