//go:build !linux

package demo

import (
	"context"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"runtime"
	"time"
)

// Config tunes Build.
type Config struct {
	// Dir is where the namespaces would be mounted.
	Dir string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
}

// Port is one Neutron port of the demo network.
type Port struct {
	ID      string           `json:"id"`
	Device  string           `json:"device"`
	MAC     net.HardwareAddr `json:"mac"`
	Role    string           `json:"role"`
	Running bool             `json:"running"`
}

// Topology is a built demo.
type Topology struct {
	Dir, Host, HostPath, Gateway, DHCP string
	NetworkID, Bridge, Uplink          string
	GatewayMAC                         net.HardwareAddr
	Ports                              []Port
}

// Build fails: network namespaces exist only on Linux.
func Build(ctx context.Context, cfg *Config) (*Topology, error) {
	return nil, fmt.Errorf("demo: not implemented on %s: network namespaces exist only on Linux", runtime.GOOS)
}

// Close does nothing.
func (t *Topology) Close() error { return nil }

// PathConfig tunes BuildPath.
type PathConfig struct {
	// Dir is where everything would go.
	Dir string
	// Dnsmasq and Busybox are the binaries to run.
	Dnsmasq, Busybox string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
	// Guest, GuestImageDir, Libvirtd, Qemu and GuestTimeout choose and
	// tune the guest (see the Linux documentation).
	Guest          GuestKind
	GuestImageDir  string
	Libvirtd, Qemu string
	GuestTimeout   time.Duration
}

// Path is the walkthrough's path of one VM NIC (Linux only).
type Path struct {
	Dir, NetNSDir, HostPath, Gateway, DHCP, Guest string
	StateDir, NMRunDir, AgentConfig               string
	NetworkID, Bridge, Uplink, DHCPPortID, DHCPIf string
	PortID, Tap                                   string
	MAC                                           net.HardwareAddr
	IP                                            netip.Addr
	DnsmasqArgs                                   []string
	DnsmasqPID                                    int
	DHCPClientOutput                              string
	GuestInfo
	MetadataInfo
}

// BuildPath fails: network namespaces exist only on Linux.
func BuildPath(ctx context.Context, cfg *PathConfig) (*Path, error) {
	return nil, fmt.Errorf("demo: not implemented on %s: network namespaces exist only on Linux", runtime.GOOS)
}

// Break fails: not implemented on this GOOS.
func (p *Path) Break(b Breakage) error {
	return fmt.Errorf("demo: not implemented on %s", runtime.GOOS)
}

// Close does nothing.
func (p *Path) Close() error { return nil }

// Leftovers returns nil.
func (p *Path) Leftovers() []string { return nil }

// Residue returns nil.
func Residue(dir string, keep bool) []string { return nil }

// ReclaimStale does nothing: demos run only on Linux.
func ReclaimStale(tmp string) ([]string, error) { return nil, nil }
