package linuxbridge

import "log/slog"

// DefaultNetNSDir is where `ip netns add` and Neutron keep named network
// namespaces.
const DefaultNetNSDir = "/run/netns"

// Config says which network namespace an Inspector reads. A nil *Config
// means the current namespace of the process with no logging.
type Config struct {
	// NetNSPath is the path of a network namespace file to inspect
	// (/run/netns/qdhcp-…, /proc/<pid>/ns/net). Empty means the namespace
	// the process is in (no namespace switch, no privilege needed).
	NetNSPath string
	// NetNSDir is where OpenNamespace looks up named namespaces. Empty
	// means DefaultNetNSDir (/run/netns).
	NetNSDir string
	// Logger receives debug records (dump retries, vanished links). Nil
	// means silent.
	Logger *slog.Logger
	// Qdiscs makes Snapshot also read every port's qdiscs (Port.Qdiscs):
	// one more netlink dump per snapshot, after the addresses' on their
	// socket. False: Port.Qdiscs stays nil.
	Qdiscs bool
}

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to the default its doc names: the module's one way to fill
// defaults.
func (c *Config) orDefault() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.NetNSDir == "" {
		d.NetNSDir = DefaultNetNSDir
	}
	if d.Logger == nil {
		d.Logger = slog.New(slog.DiscardHandler)
	}
	return d
}
