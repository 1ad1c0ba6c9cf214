package dhcpns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strings"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
)

// Host is one line of dnsmasq's --dhcp-hostsfile, as Neutron writes it:
// "fa:16:3e:57:19:35,host-192-168-31-72.openstacklocal,192.168.31.72", with
// optional "set:" tags, "[v6]" addresses and a lease time.
type Host struct {
	// MAC is the client's hardware address; nil for a line keyed by client
	// id only.
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// Hostname is the name dnsmasq hands out ("" if none).
	Hostname string `json:"hostname,omitempty"`
	// IP is the first address on the line (invalid if none).
	IP netip.Addr `json:"ip,omitzero"`
	// IPs are all addresses on the line (an IPv4 and "[…]" IPv6 ones).
	IPs []netip.Addr `json:"ips,omitempty"`
	// Tags are the "set:" tags (Neutron: "port-<id>" for extra options).
	Tags []string `json:"tags,omitempty"`
	// ClientID is the "id:" value, "" if none.
	ClientID string `json:"client_id,omitempty"`
	// LeaseTime is the per-host lease time, zero when absent or Infinite.
	LeaseTime time.Duration `json:"lease_time,omitempty"`
	// Infinite is set for a lease time of "infinite".
	Infinite bool `json:"infinite,omitempty"`
	// Ignore is set for an "ignore" entry (dnsmasq never answers the host).
	Ignore bool `json:"ignore,omitempty"`
	// Line is the 1-based line number in the file.
	Line int `json:"line"`
}

// ParseHosts reads a dnsmasq hosts file. Empty lines and "#" comments are
// skipped; a line that cannot be parsed is an error naming its number.
func ParseHosts(r io.Reader) ([]Host, error) {
	var out []Host
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimSpace(sc.Text())
		if line == "" || line[0] == '#' {
			continue
		}
		h, err := parseHostLine(line)
		if err != nil {
			return out, fmt.Errorf("dhcpns: hosts file line %d: %w", n, err)
		}
		h.Line = n
		out = append(out, h)
	}
	if err := sc.Err(); err != nil {
		return out, fmt.Errorf("dhcpns: read hosts file: %w", err)
	}
	return out, nil
}

// ParseHostsBytes is ParseHosts on a byte slice.
func ParseHostsBytes(b []byte) ([]Host, error) { return ParseHosts(bytes.NewReader(b)) }

func parseHostLine(line string) (Host, error) {
	var h Host
	for _, f := range strings.Split(line, ",") {
		f = strings.TrimSpace(f)
		switch {
		case f == "":
		case strings.HasPrefix(f, "set:"):
			h.Tags = append(h.Tags, f[4:])
		case strings.HasPrefix(f, "tag:"):
			h.Tags = append(h.Tags, f[4:])
		case strings.HasPrefix(f, "id:"):
			h.ClientID = f[3:]
		case f == "ignore":
			h.Ignore = true
		case f == "infinite":
			h.Infinite = true
		case strings.HasPrefix(f, "[") && strings.HasSuffix(f, "]"):
			a, err := netip.ParseAddr(f[1 : len(f)-1])
			if err != nil {
				return Host{}, fmt.Errorf("%q is not an IPv6 address", f)
			}
			h.IPs = append(h.IPs, a)
		default:
			if h.MAC == nil && len(h.IPs) == 0 && h.Hostname == "" {
				if m, err := hwaddr.Parse(f); err == nil {
					h.MAC = m
					continue
				}
			}
			if a, err := netip.ParseAddr(f); err == nil {
				h.IPs = append(h.IPs, a)
				continue
			}
			if d, inf, err := parseLeaseTime(f); err == nil && len(h.IPs) > 0 {
				h.LeaseTime, h.Infinite = d, inf
				continue
			}
			if h.Hostname != "" {
				return Host{}, fmt.Errorf("two host names %q and %q", h.Hostname, f)
			}
			h.Hostname = f
		}
	}
	if h.MAC == nil && h.ClientID == "" {
		return Host{}, fmt.Errorf("no MAC address or client id in %q", line)
	}
	if len(h.IPs) > 0 {
		h.IP = h.IPs[0]
	}
	return h, nil
}

// FindHost returns the first entry for mac, and false if there is none.
func FindHost(hosts []Host, mac hwaddr.MAC) (Host, bool) {
	for _, h := range hosts {
		if bytes.Equal(h.MAC, mac) {
			return h, true
		}
	}
	return Host{}, false
}
