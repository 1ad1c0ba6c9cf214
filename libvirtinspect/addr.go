package libvirtinspect

import (
	"context"
	"fmt"
	"net/netip"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/sentinel"
)

// AddrSource is where `virsh domifaddr --source` gets addresses from. The
// zero value is unknown.
type AddrSource int

// Address sources.
const (
	SourceUnknown AddrSource = iota
	// SourceLease reads libvirt's own dnsmasq leases: only interfaces on
	// libvirt-managed networks (<interface type='network'>) have any.
	SourceLease
	// SourceAgent asks the QEMU guest agent (needs a guest-agent channel
	// and the agent running in the guest).
	SourceAgent
	// SourceARP reads the host's neighbour table for the guest MACs.
	SourceARP
)

// AllSources is every source, in virsh's order.
var AllSources = []AddrSource{SourceLease, SourceAgent, SourceARP}

// String returns the virsh --source name.
func (s AddrSource) String() string {
	switch s {
	case SourceLease:
		return "lease"
	case SourceAgent:
		return "agent"
	case SourceARP:
		return "arp"
	}
	return "unknown"
}

// MarshalText encodes the source as its String.
func (s AddrSource) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes.
func (s *AddrSource) UnmarshalText(b []byte) error {
	for _, c := range append([]AddrSource{SourceUnknown}, AllSources...) {
		if string(b) == c.String() {
			*s = c
			return nil
		}
	}
	return fmt.Errorf("libvirtinspect: unknown address source %q: want lease, agent or arp", b)
}

func (s AddrSource) libvirt() (uint32, bool) {
	switch s {
	case SourceLease:
		return uint32(libvirt.DomainInterfaceAddressesSrcLease), true
	case SourceAgent:
		return uint32(libvirt.DomainInterfaceAddressesSrcAgent), true
	case SourceARP:
		return uint32(libvirt.DomainInterfaceAddressesSrcArp), true
	}
	return 0, false
}

// AddrReport is what one source answered.
type AddrReport struct {
	// Source is the source that answered.
	Source AddrSource `json:"source"`
	// Interfaces are the interfaces the source knew addresses for; empty
	// when it answered nothing.
	Interfaces []IfAddrs `json:"interfaces"`
	// Err is why the source failed, as libvirt said it ("QEMU guest agent
	// is not configured", "wrong nlmsg len"); nil when it answered.
	Err error `json:"-"`
	// Error is Err's text, for JSON.
	Error string `json:"error,omitempty"`
	// Note explains an empty or failed answer that is expected, so callers
	// do not chase it (see InterfaceAddresses).
	Note string `json:"note,omitempty"`
}

// IfAddrs is one interface's addresses from one source.
type IfAddrs struct {
	// Name is the interface name the source reported (the tap for lease
	// and arp, the guest's own name such as "eth0" for agent).
	Name  string         `json:"name"`
	MAC   hwaddr.MAC     `json:"mac,omitempty"`
	Addrs []netip.Prefix `json:"addrs"`
}

// Notes for answers that are expected to be empty or fail.
const (
	NoteLeaseBridge = "lease: only libvirt-managed networks (<interface type='network'>) have leases; " +
		"Nova's <interface type='bridge'> interfaces never do, so an empty answer is normal: " +
		"take the address from Neutron or the network's dnsmasq leases"
	NoteARPNlmsg = "arp: libvirt 9.0's neighbour dump fails on newer kernels (\"wrong nlmsg len\"); " +
		"read the neighbour table yourself or probe with ARP"
	NoteAgent         = "agent: needs a <channel> to org.qemu.guest_agent.0 and qemu-guest-agent running in the guest"
	NoteAgentReadOnly = "agent: libvirt refuses the agent source on a read-only connection; use the read-write socket " +
		"(and a guest agent) if you need it"
)

// InterfaceAddresses asks each source (all of AllSources when none given)
// for the domain's addresses (`virsh domifaddr --source ...`), one RPC per
// source plus the lookup. A failing source does not fail the call: its
// AddrReport carries the error and, when the failure is expected, a Note.
// Say it plainly: for Nova's type='bridge' interfaces the lease source is
// always empty, and on Debian 12 (libvirt 9.0) with kernel 6.x the arp
// source fails with "wrong nlmsg len"; the agent source needs a guest agent
// Nova does not configure by default (and libvirt refuses it on a read-only
// connection). The error return is for the lookup and
// the connection only.
func (c *Client) InterfaceAddresses(ctx context.Context, ref string, sources ...AddrSource) ([]AddrReport, error) {
	if len(sources) == 0 {
		sources = AllSources
	}
	type answer struct {
		ifs []libvirt.DomainInterface
		err error
	}
	answers, err := call(ctx, c, "interface addresses", ref, func(l *libvirt.Libvirt) ([]answer, error) {
		d, err := lookup(l, ref)
		if err != nil {
			return nil, err
		}
		out := make([]answer, len(sources))
		for i, s := range sources {
			src, ok := s.libvirt()
			if !ok {
				out[i].err = &OpError{Op: "interface addresses", Err: errUnknownSource}
				continue
			}
			out[i].ifs, out[i].err = l.DomainInterfaceAddresses(d, src, 0)
			if out[i].err != nil && (isBrokenConn(out[i].err) || libvirt.IsNotFound(out[i].err)) {
				return nil, out[i].err
			}
		}
		return out, nil
	})
	if err != nil {
		return nil, err
	}
	reports := make([]AddrReport, len(sources))
	for i, s := range sources {
		r := AddrReport{Source: s, Interfaces: []IfAddrs{}, Err: answers[i].err}
		if r.Err != nil {
			r.Error = r.Err.Error()
		}
		for _, di := range answers[i].ifs {
			ia := IfAddrs{Name: di.Name, Addrs: []netip.Prefix{}}
			if len(di.Hwaddr) > 0 {
				if m, err := hwaddr.Parse(di.Hwaddr[0]); err == nil {
					ia.MAC = m
				}
			}
			for _, a := range di.Addrs {
				ip, err := netip.ParseAddr(a.Addr)
				if err != nil {
					continue
				}
				if p, err := ip.Prefix(int(a.Prefix)); err == nil {
					ia.Addrs = append(ia.Addrs, netip.PrefixFrom(ip, p.Bits()))
				} else {
					ia.Addrs = append(ia.Addrs, netip.PrefixFrom(ip, ip.BitLen()))
				}
			}
			r.Interfaces = append(r.Interfaces, ia)
		}
		switch {
		case s == SourceLease && r.Err == nil && len(r.Interfaces) == 0:
			r.Note = NoteLeaseBridge
		case s == SourceARP && r.Err != nil && strings.Contains(r.Error, "wrong nlmsg len"):
			r.Note = NoteARPNlmsg
		case s == SourceAgent && r.Err != nil && strings.Contains(r.Error, "read only access"):
			r.Note = NoteAgentReadOnly
		case s == SourceAgent && r.Err != nil && strings.Contains(r.Error, "agent"):
			r.Note = NoteAgent
		}
		reports[i] = r
	}
	return reports, nil
}

var errUnknownSource = sentinel.New("unknown address source (use SourceLease, SourceAgent or SourceARP)", nil)
