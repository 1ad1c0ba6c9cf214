package dhcpns

import (
	"bufio"
	"bytes"
	"io"
	"net/netip"
	"strconv"
	"strings"
)

// DHCPOption is one DHCP option dnsmasq hands out: a line of the
// --dhcp-optsfile Neutron writes ("tag:subnet-…,option:router,192.168.31.1")
// or a --dhcp-option / --dhcp-option-force value on its command line.
type DHCPOption struct {
	// Tags are the "tag:" tags the option needs (Neutron: the subnet's).
	Tags []string `json:"tags,omitempty"`
	// Code is the option's number (3 router, 26 MTU, 121 classless static
	// routes, 249 Microsoft's copy of 121); 0 when the name is not one
	// this package knows.
	Code int `json:"code"`
	// Name is the name as written ("router", "mtu",
	// "classless-static-route") or the number as text.
	Name string `json:"name"`
	// Values are the comma-separated values after the option.
	Values []string `json:"values,omitempty"`
	// Raw is the line or flag value as given.
	Raw string `json:"raw"`
}

// DHCP option codes this package reads.
const (
	OptionRouter               = 3
	OptionMTU                  = 26
	OptionClasslessStaticRoute = 121
	OptionMSClasslessRoute     = 249
)

var optionCodes = map[string]int{
	"router": OptionRouter, "mtu": OptionMTU, "classless-static-route": OptionClasslessStaticRoute,
	"dns-server": 6, "domain-name": 15, "domain-search": 119, "ntp-server": 42,
}

// ParseDHCPOption parses one option as dnsmasq writes it. ok is false for
// a line with no option (a blank or comment line).
func ParseDHCPOption(s string) (DHCPOption, bool) {
	s = strings.TrimSpace(s)
	if s == "" || s[0] == '#' {
		return DHCPOption{}, false
	}
	o := DHCPOption{Raw: s}
	parts := strings.Split(s, ",")
	i := 0
	for ; i < len(parts); i++ {
		p := strings.TrimSpace(parts[i])
		switch {
		case strings.HasPrefix(p, "tag:"):
			o.Tags = append(o.Tags, p[len("tag:"):])
			continue
		case strings.HasPrefix(p, "set:"), strings.HasPrefix(p, "encap:"), strings.HasPrefix(p, "vi-encap:"), strings.HasPrefix(p, "vendor:"):
			continue
		}
		break
	}
	if i >= len(parts) {
		return DHCPOption{}, false
	}
	name := strings.TrimSpace(parts[i])
	name = strings.TrimPrefix(name, "option:")
	o.Name = name
	if n, err := strconv.Atoi(name); err == nil && n > 0 && n < 256 {
		o.Code = n
	} else {
		o.Code = optionCodes[name]
	}
	for _, v := range parts[i+1:] {
		o.Values = append(o.Values, strings.TrimSpace(v))
	}
	return o, true
}

// ParseOpts parses a dnsmasq options file (Neutron's
// /var/lib/neutron/dhcp/<network>/opts), one option a line.
func ParseOpts(r io.Reader) ([]DHCPOption, error) {
	var out []DHCPOption
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		if o, ok := ParseDHCPOption(sc.Text()); ok {
			out = append(out, o)
		}
	}
	if err := sc.Err(); err != nil {
		return out, err
	}
	return out, nil
}

// ParseOptsBytes is ParseOpts on a byte slice.
func ParseOptsBytes(b []byte) ([]DHCPOption, error) { return ParseOpts(bytes.NewReader(b)) }

// DHCPOptions returns the --dhcp-option and --dhcp-option-force values of the
// command line, parsed.
func (c *DnsmasqConfig) DHCPOptions() []DHCPOption {
	if c == nil {
		return nil
	}
	var out []DHCPOption
	for _, v := range c.Options {
		if o, ok := ParseDHCPOption(v); ok {
			out = append(out, o)
		}
	}
	return out
}

// OptionMTUValue returns the interface MTU (option 26) the first option
// that sets it hands out, and whether one does.
func OptionMTUValue(opts []DHCPOption) (int, bool) {
	for _, o := range opts {
		if o.Code == OptionMTU && len(o.Values) > 0 {
			if n, err := strconv.Atoi(o.Values[0]); err == nil && n > 0 {
				return n, true
			}
		}
	}
	return 0, false
}

// MetadataRoute returns the next hop of the 169.254.169.254/32 route the
// options hand out in option 121 (or 249), and whether there is one.
// Neutron adds it when isolated metadata is on and the subnet has a
// gateway: the guest then reaches the metadata proxy in the qdhcp
// namespace through the DHCP port's address, not through the router.
func MetadataRoute(opts []DHCPOption) (via netip.Addr, ok bool) {
	for _, o := range opts {
		if o.Code != OptionClasslessStaticRoute && o.Code != OptionMSClasslessRoute {
			continue
		}
		for i := 0; i+1 < len(o.Values); i += 2 {
			if o.Values[i] != MetadataIP+"/32" {
				continue
			}
			if a, err := netip.ParseAddr(o.Values[i+1]); err == nil {
				return a, true
			}
		}
	}
	return netip.Addr{}, false
}

// MetadataIP is the metadata service's link-local address.
const MetadataIP = "169.254.169.254"

// metadataAddr is MetadataIP parsed.
var metadataAddr = netip.MustParseAddr(MetadataIP)
