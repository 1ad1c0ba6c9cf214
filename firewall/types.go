package firewall

import (
	"fmt"
	"net/netip"

	"github.com/vifpath/vifpath/hwaddr"
)

// Backend names an iptables backend: the kernel applies the rules of both
// at once, but each tool sees only its own.
type Backend string

// The two iptables backends.
const (
	// BackendNFT is iptables-nft (xtables rules stored in nf_tables),
	// Debian 11 and later's default.
	BackendNFT Backend = "nft"
	// BackendLegacy is iptables-legacy (the x_tables kernel tables), the
	// only backend on CentOS 7 and older nodes.
	BackendLegacy Backend = "legacy"
)

// Family is the address family of a rule set.
type Family string

// The two families the agent writes rules for.
const (
	IPv4 Family = "ipv4"
	IPv6 Family = "ipv6"
)

// Snapshot is everything this package reads on one node, once: the
// iptables filter tables of both backends and families, the ebtables nat
// table, the ipsets and the bridge-netfilter switches. It is a plain value
// that round-trips through JSON; judge it with pure functions (Port,
// Evaluate, Stale, Diff).
type Snapshot struct {
	// Tables holds one filter table per backend and family that could be
	// read (a backend whose tool is missing is absent and named in
	// Missing).
	Tables []Table `json:"tables"`
	// Ebtables is the ebtables nat table (Neutron's ARP and MAC
	// anti-spoofing chains); nil when it could not be read.
	Ebtables *EbTable `json:"ebtables,omitempty"`
	// BridgeHooks are the nf_tables bridge-family base chains outside
	// Neutron's "nat" table that hold a rule or drop by policy
	// (ebtables-nft's filter and broute tables, native `nft add table
	// bridge …` tables): a bridged frame crosses each of them, and the
	// anti-spoofing and reachability judges do not model their rules.
	// Nil when there are none, when they could not be read through
	// netlink, or in a snapshot older than the field; ebtables-legacy's
	// filter table is not read.
	BridgeHooks []BridgeHook `json:"bridge_hooks,omitempty"`
	// NetNS is the namespace read (Config.NetNS); "" for the caller's,
	// a compute node's host namespace where the agent runs.
	NetNS string `json:"netns,omitempty"`
	// EbtablesTool is the ebtables the agent runs (path, wrapper,
	// version); nil when not looked at.
	EbtablesTool *EbtablesTool `json:"ebtables_tool,omitempty"`
	// Sets are the ipsets of the namespace with their members.
	Sets []Set `json:"sets"`
	// BridgeNFCallIptables and BridgeNFCallIP6tables are the values of
	// net.bridge.bridge-nf-call-iptables / -ip6tables: "1" when bridged
	// traffic goes through iptables, "" when br_netfilter is absent.
	BridgeNFCallIptables  string `json:"bridge_nf_call_iptables"`
	BridgeNFCallIP6tables string `json:"bridge_nf_call_ip6tables"`
	// Scope lists the taps a scoped read covered (Config.Taps); nil for
	// a read of the whole node. A scoped snapshot has, of the
	// iptables-nft chains, only those its taps' packets can reach: other
	// ports' chains are absent, so StaleTaps and any other node-wide
	// judgement cannot be made from it (see Scoped).
	Scope []string `json:"scope,omitempty"`
	// Reads says how each part of the snapshot was read, one TableRead
	// each: every iptables filter table (a scoped read's iptables-nft
	// tables through nf_tables netlink or `iptables-nft -S`, with the
	// chains left to the tool and why; the others with the save tools),
	// ebtables' nat table (netlink or the listing, with the chains left
	// to the listing and why) and the ipsets (ip_set netlink or `ipset
	// save`). A part that could not be read at all is in Missing.
	Reads []TableRead `json:"reads,omitempty"`
	// Missing names each source that could not be read and why
	// ("iptables-legacy-save: not found"), so a judge can say a hop is
	// unknown rather than empty.
	Missing []string `json:"missing,omitempty"`

	ix *index // set by Indexed
}

// Table is one iptables table (filter) of one backend and family, as
// iptables-save -c printed it.
type Table struct {
	// Backend, Family and Name say which table this is; Chains are its chains in listing order.
	Backend Backend `json:"backend"`
	Family  Family  `json:"family"`
	Name    string  `json:"name"`
	Chains  []Chain `json:"chains"`
}

// Chain is one iptables chain with its rules in order.
type Chain struct {
	// Name is the chain's name.
	Name string `json:"name"`
	// Policy is ACCEPT or DROP for a built-in chain, "" for a user chain
	// (which returns to its caller at its end).
	Policy string `json:"policy,omitempty"`
	// Packets and Bytes are the policy's counters (built-in chains only).
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	Rules   []Rule `json:"rules"`
}

// Rule is one iptables rule with its counters and its matches as typed
// values.
type Rule struct {
	// Chain is the chain holding the rule, Num its 1-based position.
	Chain string `json:"chain"`
	Num   int    `json:"num"`
	// Packets and Bytes are the rule's counters.
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Spec is the rule as iptables-save printed it after "-A <chain> ".
	Spec string `json:"spec"`
	// Match holds the rule's matches.
	Match Match `json:"match"`
	// Target is the -j target: ACCEPT, DROP, RETURN, REJECT, CT, a user
	// chain, or "" for a rule without one (counts and goes on).
	Target string `json:"target,omitempty"`
	// TargetArgs are the target's options ("--zone 4097").
	TargetArgs string `json:"target_args,omitempty"`
	// Comment is the -m comment text Neutron attaches.
	Comment string `json:"comment,omitempty"`
}

// Match is the set of conditions of one rule. A zero field matches
// anything.
type Match struct {
	// Protocol is -p (tcp, udp, icmp, ipv6-icmp, a number); "" is any.
	Protocol    string `json:"protocol,omitempty"`
	NotProtocol bool   `json:"not_protocol,omitempty"`
	// Source and Destination are -s and -d.
	Source         netip.Prefix `json:"source,omitzero"`
	NotSource      bool         `json:"not_source,omitempty"`
	Destination    netip.Prefix `json:"destination,omitzero"`
	NotDestination bool         `json:"not_destination,omitempty"`
	// InIface and OutIface are -i and -o.
	InIface  string `json:"in_iface,omitempty"`
	OutIface string `json:"out_iface,omitempty"`
	// PhysdevIn, PhysdevOut and PhysdevIsBridged are -m physdev's
	// --physdev-in, --physdev-out and --physdev-is-bridged.
	PhysdevIn        string `json:"physdev_in,omitempty"`
	PhysdevOut       string `json:"physdev_out,omitempty"`
	PhysdevIsBridged bool   `json:"physdev_is_bridged,omitempty"`
	// SrcPorts and DstPorts are --sport/--dport or multiport's
	// --sports/--dports (any of them matches).
	SrcPorts []PortRange `json:"src_ports,omitempty"`
	DstPorts []PortRange `json:"dst_ports,omitempty"`
	// ICMP is --icmp-type or --icmpv6-type; nil is any type.
	ICMP *ICMPMatch `json:"icmp,omitempty"`
	// States are -m state --state or -m conntrack --ctstate values
	// (NEW, ESTABLISHED, RELATED, INVALID, UNTRACKED).
	States []string `json:"states,omitempty"`
	// Set and SetDir are -m set --match-set NAME src|dst.
	Set    string `json:"set,omitempty"`
	SetDir string `json:"set_dir,omitempty"`
	NotSet bool   `json:"not_set,omitempty"`
	// MACSource is -m mac --mac-source.
	MACSource hwaddr.MAC `json:"mac_source,omitempty"`
	// Unknown lists the options this package does not model; Evaluate
	// treats a rule with any as not matching and reports it.
	Unknown []string `json:"unknown,omitempty"`
}

// PortRange is an inclusive range of TCP/UDP ports; a single port has
// First == Last.
type PortRange struct {
	// First and Last bound the range, both included.
	First uint16 `json:"first"`
	Last  uint16 `json:"last"`
}

// ICMPMatch is an ICMP (or ICMPv6) type and optional code.
type ICMPMatch struct {
	// Type is the ICMP type; Any is true for "any".
	Type uint8 `json:"type"`
	Any  bool  `json:"any,omitempty"`
	// Code is the ICMP code when HasCode.
	Code    uint8 `json:"code,omitempty"`
	HasCode bool  `json:"has_code,omitempty"`
}

// Set is one ipset with its members (Neutron's NIPv4<group>/NIPv6<group>,
// type hash:net).
type Set struct {
	// Name, Type and Members are the ipset as `ipset list` shows it.
	Name    string         `json:"name"`
	Type    string         `json:"type"`
	Members []netip.Prefix `json:"members"`
}

// EbTable is an ebtables table (nat, where the agent puts its
// anti-spoofing chains) as `ebtables -t nat -L --Lc` lists it.
type EbTable struct {
	// Backend is the ebtables backend read (nft or legacy).
	Backend Backend   `json:"backend"`
	Name    string    `json:"name"`
	Chains  []EbChain `json:"chains"`
}

// EbChain is one ebtables chain.
type EbChain struct {
	// Name is the chain's name.
	Name string `json:"name"`
	// Policy is what happens at the chain's end: ACCEPT or DROP for a
	// built-in chain; for a user chain ACCEPT or DROP when it has a policy
	// (ebtables-nft keeps it as a last rule marked as the policy),
	// RETURN otherwise. Read through netlink (ebtables-nft, see Read) it is
	// the policy the kernel applies, as ebtables-nft-save prints it (save
	// prints ACCEPT for a user chain without one, which returns). From
	// the listing (ebtables-legacy, or a table ParseEbtablesList read) it
	// is what `ebtables -L` prints, and ebtables-nft 1.8.9 lists every user
	// chain as "RETURN", even one created with -P DROP; the agent appends
	// an explicit "-j DROP" rule to its chains, which decides either way.
	Policy string   `json:"policy"`
	Rules  []EbRule `json:"rules"`
}

// EbRule is one ebtables rule.
type EbRule struct {
	// Chain and Num place the rule (1-based in its chain); Packets and Bytes are its counters.
	Chain   string `json:"chain"`
	Num     int    `json:"num"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
	// Spec is the rule as listed, without its counters.
	Spec string `json:"spec"`
	// Proto is -p (ARP, IPv4, …); "" any.
	Proto string `json:"proto,omitempty"`
	// InIface is -i.
	InIface string `json:"in_iface,omitempty"`
	// AmongSrc are --among-src's MACs.
	AmongSrc []hwaddr.MAC `json:"among_src,omitempty"`
	// ARPIPSrc is --arp-ip-src (an address or prefix).
	ARPIPSrc netip.Prefix `json:"arp_ip_src,omitzero"`
	// SrcMAC is -s.
	SrcMAC hwaddr.MAC `json:"src_mac,omitempty"`
	// Target is -j (ACCEPT, DROP, RETURN, CONTINUE or a chain).
	Target string `json:"target"`
	// Unknown lists options not modelled.
	Unknown []string `json:"unknown,omitempty"`
}

// TableRead is the provenance of one part of a Snapshot: an iptables
// filter table, ebtables' nat table or the ipsets.
type TableRead struct {
	// Part is what was read; Backend (iptables, ebtables) and Family
	// (iptables) name the table.
	Part    ReadPart `json:"part"`
	Backend Backend  `json:"backend,omitempty"`
	Family  Family   `json:"family,omitempty"`
	// Via is how it was read.
	Via ReadVia `json:"via"`
	// Fallback lists, for a netlink read, each chain left to the tool
	// (`iptables-nft -S CHAIN -v`, `ebtables -t nat -L CHAIN --Lc`)
	// with why: a rule whose expressions this package does not decode
	// ("chain X rule 3: expression 2 (rt) not decoded"), a netlink
	// error, or the ruleset changing under the read; for a tool read
	// where netlink was tried, why netlink could not be used.
	Fallback []string `json:"fallback,omitempty"`
}

// ReadPart names a part of a Snapshot in a TableRead.
type ReadPart string

// The parts of a Snapshot.
const (
	// PartIPTables: one iptables filter table (Backend, Family).
	PartIPTables ReadPart = "iptables"
	// PartEbtables: ebtables' nat table (Backend).
	PartEbtables ReadPart = "ebtables"
	// PartIPSets: the ipsets (every set; for a scoped read the sets the
	// rules name).
	PartIPSets ReadPart = "ipsets"
)

// ReadVia says how a part of a Snapshot was read.
type ReadVia string

// The ways a table is listed.
const (
	// ViaNetlink: netlink, decoded by this package: nf_tables (rules,
	// chain policies and counters, ipset names by index) turned into
	// the text `iptables-nft -S` or `ebtables -L` prints and parsed like
	// it, or ip_set's set listing.
	ViaNetlink ReadVia = "netlink"
	// ViaList: one `iptables-nft -t filter -S CHAIN -v` per chain.
	ViaList ReadVia = "iptables -S"
	// ViaSave: the save tool, the whole table.
	ViaSave ReadVia = "iptables-save"
	// ViaEbList: `ebtables -t nat -L --Lc`, the whole table.
	ViaEbList ReadVia = "ebtables -L"
	// ViaIPSetSave: `ipset save`, every set.
	ViaIPSetSave ReadVia = "ipset save"
)

// BridgeHook is one nf_tables bridge-family base chain outside Neutron's
// nat table (Snapshot.BridgeHooks), summed up: where it hooks, its
// policy and how many rules it holds, not the rules themselves.
type BridgeHook struct {
	// Table and Chain name it (`nft list chain bridge TABLE CHAIN`;
	// ebtables-nft's filter table is "filter", its chains FORWARD, …).
	Table string `json:"table"`
	Chain string `json:"chain"`
	// Hook is prerouting, input, forward, output, postrouting or
	// brouting ("hook N" for another number).
	Hook string `json:"hook"`
	// Policy is ACCEPT or DROP.
	Policy string `json:"policy"`
	// Rules is how many rules the chain holds.
	Rules int `json:"rules"`
}

// String is "table TABLE chain CHAIN (HOOK hook, N rule(s)[, policy DROP])".
func (b BridgeHook) String() string {
	rules := "rules"
	if b.Rules == 1 {
		rules = "rule"
	}
	s := fmt.Sprintf("table %s chain %s (%s hook, %d %s", b.Table, b.Chain, b.Hook, b.Rules, rules)
	if b.Policy == "DROP" {
		s += ", policy DROP"
	}
	return s + ")"
}
