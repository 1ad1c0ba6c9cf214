//go:build !linux

package dhcpns

import (
	"context"
	"net/netip"

	"github.com/vifpath/vifpath/hwaddr"
)

// List is not implemented on this OS.
func List(ctx context.Context, cfg *Config) ([]NamespaceInfo, error) { return nil, ErrNotImplemented }

// Namespace is an open handle on one namespace (Linux only).
type Namespace struct{ info NamespaceInfo }

// Open is not implemented on this OS.
func Open(ctx context.Context, cfg *Config, name string) (*Namespace, error) {
	return nil, ErrNotImplemented
}

// OpenNetwork is not implemented on this OS.
func OpenNetwork(ctx context.Context, cfg *Config, networkID string) (*Namespace, error) {
	return nil, ErrNotImplemented
}

// Info returns the namespace's name, path, network ID and inode.
func (n *Namespace) Info() NamespaceInfo { return n.info }

// Close does nothing on this OS.
func (n *Namespace) Close() error { return nil }

// Inspect is not implemented on this OS.
func (n *Namespace) Inspect(ctx context.Context) (*Snapshot, error) { return nil, ErrNotImplemented }

// InspectAll is not implemented on this OS.
func InspectAll(ctx context.Context, cfg *Config) ([]InspectResult, error) {
	return nil, ErrNotImplemented
}

// InspectNamespaces is not implemented on this OS.
func InspectNamespaces(ctx context.Context, cfg *Config, infos []NamespaceInfo) ([]InspectResult, error) {
	return nil, ErrNotImplemented
}

// FindDnsmasq is not implemented on this OS.
func FindDnsmasq(ctx context.Context, cfg *Config, networkID string) (*DnsmasqStatus, error) {
	return nil, ErrNotImplemented
}

// CheckHealth is not implemented on this OS.
func CheckHealth(ctx context.Context, cfg *Config, networkID string, mac hwaddr.MAC) (*Health, error) {
	return nil, ErrNotImplemented
}

// CheckHealthAll is not implemented on this OS.
func CheckHealthAll(ctx context.Context, cfg *Config, networkIDs []string) ([]*Health, error) {
	return nil, ErrNotImplemented
}

// ARPProber sends ARP requests inside a namespace (Linux only).
type ARPProber struct{}

// OpenARPProber is not implemented on this OS.
func OpenARPProber(ctx context.Context, cfg *Config, namespace, ifname string) (*ARPProber, error) {
	return nil, ErrNotImplemented
}

// Source returns nothing on this OS.
func (p *ARPProber) Source() (netip.Addr, hwaddr.MAC) { return netip.Addr{}, nil }

// Close does nothing on this OS.
func (p *ARPProber) Close() error { return nil }

// ProbeARP is not implemented on this OS.
func (p *ARPProber) ProbeARP(ctx context.Context, target netip.Addr, opts *ARPOptions) (ARPResult, error) {
	return ARPResult{IP: target}, ErrNotImplemented
}

// SweepARP is not implemented on this OS.
func (p *ARPProber) SweepARP(ctx context.Context, targets []netip.Addr, opts *ARPOptions) ([]ARPResult, error) {
	return nil, ErrNotImplemented
}

// ProbeDHCP is not implemented on this OS.
func ProbeDHCP(ctx context.Context, cfg *Config, networkID string, clientMAC hwaddr.MAC, opts *DHCPProbeOptions) (*DHCPOffer, error) {
	return nil, ErrNotImplemented
}

// FindMetadataProxy is not implemented on this OS.
func FindMetadataProxy(ctx context.Context, cfg *Config, networkID string) (*MetadataProxy, error) {
	return nil, ErrNotImplemented
}

// ProbeMetadata is not implemented on this OS.
func ProbeMetadata(ctx context.Context, cfg *Config, networkID string, opts *MetadataProbeOptions) (*MetadataProbeResult, error) {
	return nil, ErrNotImplemented
}

// ProbeDHCPServers is not implemented on this OS.
func ProbeDHCPServers(ctx context.Context, cfg *Config, networkID string, opts *DHCPProbeOptions) ([]DHCPOffer, error) {
	return nil, ErrNotImplemented
}
