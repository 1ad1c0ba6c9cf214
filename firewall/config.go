package firewall

// Config says where and with which pinned binaries Read looks. A nil
// *Config means all defaults. A Config is read, never written, by Read.
type Config struct {
	// NetNS is the path of the network namespace to read
	// (/run/netns/NAME or /proc/PID/ns/net). Zero value: the caller's
	// namespace (a compute node's host namespace, where the agent keeps
	// its rules). Reading another namespace needs CAP_SYS_ADMIN.
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
	// NetNS. Zero value: /proc/sys/net/bridge.
	SysctlDir string
	// SkipIPv6 leaves out the ip6tables tables (half the exec time).
	SkipIPv6 bool
}

func (c *Config) orDefault(get func(*Config) string, def string) string {
	if c == nil || get(c) == "" {
		return def
	}
	return get(c)
}
