package firewall

// Config says where and with which pinned binaries Read looks. A nil
// *Config means all defaults. A Config is read, never written, by Read.
type Config struct {
	// NetNSPath is the path of the network namespace to read
	// (/run/netns/NAME or /proc/PID/ns/net), named as every namespace
	// path field in the module (linuxbridge.Config.NetNSPath). Zero value:
	// the caller's namespace (a compute node's host namespace, where the
	// agent keeps its rules). Reading another namespace needs
	// CAP_SYS_ADMIN.
	NetNSPath string
	// NetNS is NetNSPath, used when that is empty.
	//
	// Deprecated: use NetNSPath.
	NetNS string
	// IPTablesNFTSave, IP6TablesNFTSave, IPTablesLegacySave and
	// IP6TablesLegacySave are the save tools of each backend and family.
	// Zero value: /usr/sbin/iptables-nft-save, /usr/sbin/ip6tables-nft-save,
	// /usr/sbin/iptables-legacy-save, /usr/sbin/ip6tables-legacy-save. A
	// tool that does not exist is named in Snapshot.Missing.
	IPTablesNFTSave     string
	IP6TablesNFTSave    string
	IPTablesLegacySave  string
	IP6TablesLegacySave string
	// Ebtables is the ebtables the agent calls. Zero value:
	// /usr/sbin/ebtables; its backend is read from where the link points
	// (ebtables-nft or ebtables-legacy).
	Ebtables string
	// EbtablesPath is the search path in which Read looks for the
	// `ebtables` the agent runs (the first hit; a script there is a
	// wrapper). Zero value: the agent's rootwrap order,
	// /usr/local/sbin, /usr/local/bin, /usr/sbin, /usr/bin, /sbin, /bin.
	EbtablesPath []string
	// IPSet is the ipset tool, run as `ipset save`. Zero value:
	// /usr/sbin/ipset. (vishvananda/netlink decodes ipsets too, but logs
	// every attribute it does not know, bucketsize and initval on this
	// kernel, to the process-wide logger.)
	IPSet string
	// SysctlDir holds bridge-nf-call-iptables and -ip6tables, read inside
	// NetNSPath. Zero value: /proc/sys/net/bridge.
	SysctlDir string
	// Taps scopes the read to these ports' firewall (tap names, or port
	// IDs: TapName turns one into the other), what one NIC's trace
	// judges. Zero value: the whole node. A scoped Read lists from
	// iptables-nft, chain by chain (through nf_tables netlink, see
	// NFTCLI), only the chains a packet of these ports
	// can reach from FORWARD or INPUT: the taps' ingress, egress and
	// spoof chains, the agent's shared chains (neutron-filter-top,
	// neutron-linuxbri-FORWARD, -INPUT, -local, -sg-chain, -sg-fallback,
	// which carry the physdev jumps) and any chain those jump to that is
	// not another port's; other ports' chains are left out. What it reads
	// whole as before: iptables-legacy (the kernel hands its table in one
	// piece), the ebtables nat table (ebtables-nft 1.8.9 fetches the whole
	// table even to list one chain), the ipsets (one `ipset save`, run at
	// once rather than after the rules name them), and iptables-nft too
	// when its IPv4 table has no SGChain (Neutron's chains are not there,
	// so Backends needs its rule count). The Snapshot's Scope is then set:
	// it cannot tell stale chains of other taps (StaleTaps), which a
	// judge must report as unknown (node-wide checks need an unscoped
	// read).
	Taps []string
	// IPTablesNFT and IP6TablesNFT are the tools a scoped read (Taps)
	// lists chains with. Zero value: /usr/sbin/iptables-nft,
	// /usr/sbin/ip6tables-nft.
	IPTablesNFT  string
	IP6TablesNFT string
	// NFTCLI makes a scoped read list iptables-nft's chains with
	// IPTablesNFT -S, one process per chain, as before the netlink read.
	// Zero value: through nf_tables netlink (CAP_NET_ADMIN), the rules'
	// expressions decoded by this package into the text iptables-nft
	// prints; a chain holding a rule it does not decode is listed by the
	// tool instead, and Snapshot.Reads says which and why.
	NFTCLI bool
	// SkipIPv6 leaves out the ip6tables tables (half the exec time).
	SkipIPv6 bool
}

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to its documented default, the module's one way to fill
// defaults.
func (c *Config) orDefault() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.NetNSPath == "" {
		d.NetNSPath = d.NetNS
	}
	set := func(f *string, def string) {
		if *f == "" {
			*f = def
		}
	}
	set(&d.IPTablesNFTSave, "/usr/sbin/iptables-nft-save")
	set(&d.IP6TablesNFTSave, "/usr/sbin/ip6tables-nft-save")
	set(&d.IPTablesNFT, "/usr/sbin/iptables-nft")
	set(&d.IP6TablesNFT, "/usr/sbin/ip6tables-nft")
	set(&d.IPTablesLegacySave, "/usr/sbin/iptables-legacy-save")
	set(&d.IP6TablesLegacySave, "/usr/sbin/ip6tables-legacy-save")
	set(&d.Ebtables, "/usr/sbin/ebtables")
	set(&d.IPSet, "/usr/sbin/ipset")
	set(&d.SysctlDir, "/proc/sys/net/bridge")
	return d
}
