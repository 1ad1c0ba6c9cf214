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

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to the default its doc names: the module's one way to fill
// defaults. The accessors below read it.
func (c *Config) orDefault() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.NetNSDir == "" {
		d.NetNSDir = "/run/netns"
	}
	if d.ProcDir == "" {
		d.ProcDir = "/proc"
	}
	if d.StateDir == "" {
		d.StateDir = "/var/lib/neutron/dhcp"
	}
	if d.MetadataPIDDir == "" {
		d.MetadataPIDDir = "/var/lib/neutron/external/pids"
	}
	if d.MetadataProxyDir == "" {
		d.MetadataProxyDir = "/var/lib/neutron/ns-metadata-proxy"
	}
	if d.MetadataAgentSocket == "" {
		d.MetadataAgentSocket = "/var/lib/neutron/metadata_proxy"
	}
	if d.Workers <= 0 {
		d.Workers = max(4, 2*runtime.NumCPU())
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}

func (c *Config) netnsDir() string { return c.orDefault().NetNSDir }

func (c *Config) procDir() string { return c.orDefault().ProcDir }

func (c *Config) stateDir() string { return c.orDefault().StateDir }

func (c *Config) metadataPIDDir() string { return c.orDefault().MetadataPIDDir }

func (c *Config) metadataProxyDir() string { return c.orDefault().MetadataProxyDir }

func (c *Config) metadataAgentSocket() string { return c.orDefault().MetadataAgentSocket }

func (c *Config) workers() int { return c.orDefault().Workers }

func (c *Config) logger() *slog.Logger { return c.orDefault().Logger }
