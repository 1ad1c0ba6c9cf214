package dhcpns

import (
	"log/slog"
	"runtime"
)

// Config holds the paths and limits the package uses. A nil *Config means
// all defaults. A Config must not be changed while calls that use it run.
type Config struct {
	// NetNSDir is where named namespaces are bind-mounted. Zero value:
	// "/run/netns" (where `ip netns add` and Neutron put them).
	NetNSDir string
	// ProcDir is the procfs mount. Zero value: "/proc".
	ProcDir string
	// StateDir is Neutron's DHCP state directory holding <network>/pid,
	// host, addn_hosts, opts and leases. Zero value: "/var/lib/neutron/dhcp".
	StateDir string
	// MetadataPIDDir holds the pid files of the metadata proxies the
	// DHCP agent spawns (<network>.pid.haproxy; <network>.pid before
	// Pike). Zero value: "/var/lib/neutron/external/pids".
	MetadataPIDDir string
	// MetadataProxyDir holds their haproxy configurations
	// (<network>.conf). Zero value: "/var/lib/neutron/ns-metadata-proxy".
	MetadataProxyDir string
	// MetadataAgentSocket is the metadata agent's unix socket, the
	// proxies' backend. Zero value: "/var/lib/neutron/metadata_proxy".
	MetadataAgentSocket string
	// Workers bounds how many namespaces InspectAll inspects at once. Zero
	// value: twice the number of CPUs, at least 4.
	Workers int
	// Logger receives debug logs. Zero value (nil): silent.
	Logger *slog.Logger
}

func (c *Config) netnsDir() string {
	if c == nil || c.NetNSDir == "" {
		return "/run/netns"
	}
	return c.NetNSDir
}

func (c *Config) procDir() string {
	if c == nil || c.ProcDir == "" {
		return "/proc"
	}
	return c.ProcDir
}

func (c *Config) stateDir() string {
	if c == nil || c.StateDir == "" {
		return "/var/lib/neutron/dhcp"
	}
	return c.StateDir
}

func (c *Config) metadataPIDDir() string {
	if c == nil || c.MetadataPIDDir == "" {
		return "/var/lib/neutron/external/pids"
	}
	return c.MetadataPIDDir
}

func (c *Config) metadataProxyDir() string {
	if c == nil || c.MetadataProxyDir == "" {
		return "/var/lib/neutron/ns-metadata-proxy"
	}
	return c.MetadataProxyDir
}

func (c *Config) metadataAgentSocket() string {
	if c == nil || c.MetadataAgentSocket == "" {
		return "/var/lib/neutron/metadata_proxy"
	}
	return c.MetadataAgentSocket
}

func (c *Config) workers() int {
	if c != nil && c.Workers > 0 {
		return c.Workers
	}
	return max(4, 2*runtime.NumCPU())
}

func (c *Config) logger() *slog.Logger {
	if c == nil || c.Logger == nil {
		return slog.New(slog.DiscardHandler)
	}
	return c.Logger
}
