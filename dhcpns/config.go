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
