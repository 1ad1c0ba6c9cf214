package dhcpns

import (
	"bytes"
	"fmt"
	"net/netip"
	"path/filepath"
	"strconv"
	"strings"
	"time"
)

// BindMode is how dnsmasq binds its sockets. The zero value means unknown.
type BindMode int

const (
	// BindUnknown means the mode was not determined.
	BindUnknown BindMode = iota
	// BindWildcard is dnsmasq's default: neither --bind-interfaces nor
	// --bind-dynamic was given.
	BindWildcard
	// BindInterfaces is --bind-interfaces (Neutron up to about Queens, with
	// --interface=ns-…).
	BindInterfaces
	// BindDynamic is --bind-dynamic (newer Neutron, with --local-service and
	// no --interface).
	BindDynamic
)

var bindModeNames = [...]string{"unknown", "wildcard", "bind-interfaces", "bind-dynamic"}

// String returns the mode as dnsmasq names it ("bind-dynamic", …).
func (m BindMode) String() string {
	if m < 0 || int(m) >= len(bindModeNames) {
		return "unknown"
	}
	return bindModeNames[m]
}

// MarshalText implements encoding.TextMarshaler.
func (m BindMode) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it reads what
// MarshalText writes.
func (m *BindMode) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, bindModeNames[:], (*int)(m), "bind mode")
}

// unmarshalEnum sets *dst to the index of b in names (any case); "unknown"
// reads as 0 when names has no such entry.
func unmarshalEnum(b []byte, names []string, dst *int, what string) error {
	for i, n := range names {
		if strings.EqualFold(string(b), n) {
			*dst = i
			return nil
		}
	}
	if strings.EqualFold(string(b), "unknown") {
		*dst = 0
		return nil
	}
	return fmt.Errorf("dhcpns: unknown %s %q: want one of %s", what, b, strings.Join(names, ", "))
}

// DHCPRange is one --dhcp-range, e.g.
// "set:tag0,192.168.31.64,static,255.255.255.224,86400s".
type DHCPRange struct {
	// Tags are the "set:" tags the range sets (Neutron: "tag0" on Pike,
	// "subnet-<uuid>" on Zed).
	Tags []string `json:"tags,omitempty"`
	// MatchTags are the "tag:" tags the range requires.
	MatchTags []string `json:"match_tags,omitempty"`
	// Start is the first address (for Neutron's static ranges, the subnet's
	// network address).
	Start netip.Addr `json:"start"`
	// End is the last address; invalid (zero) when a mode is given instead.
	End netip.Addr `json:"end,omitzero"`
	// Mode is "static", "proxy", "ra-only", … or "" for a dynamic range.
	Mode string `json:"mode,omitempty"`
	// Mask is the IPv4 netmask, invalid (zero) when absent.
	Mask netip.Addr `json:"mask,omitzero"`
	// PrefixLen is the IPv6 prefix length, or -1 when absent.
	PrefixLen int `json:"prefix_len"`
	// LeaseTime is the lease time; zero when absent (dnsmasq's default of one
	// hour applies) or when Infinite is set.
	LeaseTime time.Duration `json:"lease_time"`
	// Infinite is true for a lease time of "infinite".
	Infinite bool `json:"infinite,omitempty"`
	// Raw is the flag's value as given.
	Raw string `json:"raw"`
}

// Prefix returns the subnet the range serves: Start masked with Mask (or
// PrefixLen). ok is false when neither is known.
func (r DHCPRange) Prefix() (p netip.Prefix, ok bool) {
	bits := -1
	switch {
	case r.Mask.Is4():
		m := r.Mask.As4()
		bits = 0
		v := uint32(m[0])<<24 | uint32(m[1])<<16 | uint32(m[2])<<8 | uint32(m[3])
		for v&0x80000000 != 0 {
			bits++
			v <<= 1
		}
		if v != 0 {
			return netip.Prefix{}, false // not a contiguous mask
		}
	case r.PrefixLen >= 0:
		bits = r.PrefixLen
	}
	if bits < 0 || !r.Start.IsValid() {
		return netip.Prefix{}, false
	}
	p, err := r.Start.Prefix(bits)
	if err != nil {
		return netip.Prefix{}, false
	}
	return p, true
}

// DnsmasqConfig is a dnsmasq command line as Neutron writes it, typed. It is
// a plain value, safe to share once parsed.
type DnsmasqConfig struct {
	// Program is argv[0].
	Program string `json:"program"`
	// NetworkID is the Neutron network ID, taken from the directory of the
	// pid, hosts, opts or lease file (/var/lib/neutron/dhcp/<id>/…); "" if
	// none of them names one.
	NetworkID string `json:"network_id,omitempty"`
	// Interfaces are the --interface values (Pike: "ns-<port>"); empty on
	// Zed, where the serving interface is found from the namespace.
	Interfaces []string `json:"interfaces,omitempty"`
	// ExceptInterfaces are the --except-interface values.
	ExceptInterfaces []string `json:"except_interfaces,omitempty"`
	// Bind is the socket binding mode.
	Bind BindMode `json:"bind"`
	// Ranges are the --dhcp-range values in order.
	Ranges []DHCPRange `json:"ranges,omitempty"`
	// PIDFile is --pid-file.
	PIDFile string `json:"pid_file,omitempty"`
	// HostsFile is --dhcp-hostsfile.
	HostsFile string `json:"hosts_file,omitempty"`
	// AddnHosts are the --addn-hosts values.
	AddnHosts []string `json:"addn_hosts,omitempty"`
	// OptsFile is --dhcp-optsfile.
	OptsFile string `json:"opts_file,omitempty"`
	// LeaseFile is --dhcp-leasefile.
	LeaseFile string `json:"lease_file,omitempty"`
	// ConfFile is --conf-file ("" also when given empty, as Pike does).
	ConfFile string `json:"conf_file,omitempty"`
	// LeaseMax is --dhcp-lease-max, 0 when absent.
	LeaseMax int `json:"lease_max,omitempty"`
	// Domain is --domain.
	Domain string `json:"domain,omitempty"`
	// Options are the --dhcp-option and --dhcp-option-force values.
	Options []string `json:"options,omitempty"`
	// Flags are the value-less options that were recognised, without
	// dashes ("no-hosts", "strict-order", "local-service", …).
	Flags []string `json:"flags,omitempty"`
	// Unknown holds every argument not understood above, verbatim and in
	// order (e.g. "--dhcp-match=set:ipxe,175", "--log-facility=…").
	Unknown []string `json:"unknown,omitempty"`
}

// knownFlags are value-less dnsmasq options parsed into Flags.
var knownFlags = map[string]bool{
	"no-hosts": true, "no-resolv": true, "strict-order": true, "local-service": true,
	"log-queries": true, "log-dhcp": true, "no-ping": true, "dhcp-authoritative": true,
	"no-negcache": true, "keep-in-foreground": true, "no-daemon": true,
}

// ParseCmdline parses a NUL-separated command line as read from
// /proc/<pid>/cmdline. Lines with spaces instead of NULs (as ps prints
// them) are accepted too, as long as no argument contains a space.
func ParseCmdline(raw []byte) (*DnsmasqConfig, error) {
	raw = bytes.TrimRight(raw, "\x00\n")
	var args []string
	if bytes.IndexByte(raw, 0) >= 0 {
		args = strings.Split(string(raw), "\x00")
	} else {
		args = strings.Fields(string(raw))
	}
	return ParseArgs(args)
}

// ParseArgs parses dnsmasq's argv (argv[0] included). Unrecognised
// arguments are kept verbatim in Unknown; an error is returned only when
// argv is empty, argv[0] is not dnsmasq, or a recognised option has a value
// that does not parse.
func ParseArgs(argv []string) (*DnsmasqConfig, error) {
	if len(argv) == 0 || argv[0] == "" {
		return nil, fmt.Errorf("dhcpns: parse dnsmasq command line: empty argv")
	}
	if filepath.Base(argv[0]) != "dnsmasq" {
		return nil, fmt.Errorf("dhcpns: parse dnsmasq command line: argv[0] is %q, not dnsmasq", argv[0])
	}
	c := &DnsmasqConfig{Program: argv[0], Bind: BindWildcard}
	for i := 1; i < len(argv); i++ {
		a := argv[i]
		if !strings.HasPrefix(a, "--") {
			c.Unknown = append(c.Unknown, a)
			continue
		}
		name, val, hasVal := strings.Cut(a[2:], "=")
		if knownFlags[name] && !hasVal {
			c.Flags = append(c.Flags, name)
			continue
		}
		switch name {
		case "bind-interfaces":
			c.Bind = BindInterfaces
			continue
		case "bind-dynamic":
			c.Bind = BindDynamic
			continue
		case "interface", "except-interface", "pid-file", "dhcp-hostsfile", "addn-hosts",
			"dhcp-optsfile", "dhcp-leasefile", "conf-file", "dhcp-lease-max", "domain",
			"dhcp-range", "dhcp-option", "dhcp-option-force":
			if !hasVal {
				if i+1 >= len(argv) {
					return nil, fmt.Errorf("dhcpns: parse dnsmasq command line: --%s has no value", name)
				}
				i++
				val = argv[i]
			}
		default:
			c.Unknown = append(c.Unknown, a)
			continue
		}
		switch name {
		case "interface":
			c.Interfaces = append(c.Interfaces, splitList(val)...)
		case "except-interface":
			c.ExceptInterfaces = append(c.ExceptInterfaces, splitList(val)...)
		case "pid-file":
			c.PIDFile = val
		case "dhcp-hostsfile":
			c.HostsFile = val
		case "addn-hosts":
			c.AddnHosts = append(c.AddnHosts, val)
		case "dhcp-optsfile":
			c.OptsFile = val
		case "dhcp-leasefile":
			c.LeaseFile = val
		case "conf-file":
			c.ConfFile = val
		case "domain":
			c.Domain = val
		case "dhcp-option", "dhcp-option-force":
			c.Options = append(c.Options, val)
		case "dhcp-lease-max":
			n, err := strconv.Atoi(val)
			if err != nil || n < 0 {
				return nil, fmt.Errorf("dhcpns: parse dnsmasq command line: --dhcp-lease-max=%q is not a count", val)
			}
			c.LeaseMax = n
		case "dhcp-range":
			r, err := ParseDHCPRange(val)
			if err != nil {
				return nil, err
			}
			c.Ranges = append(c.Ranges, r)
		}
	}
	for _, p := range []string{c.PIDFile, c.HostsFile, c.LeaseFile, c.OptsFile} {
		if p == "" {
			continue
		}
		if id := filepath.Base(filepath.Dir(p)); looksLikeUUID(id) {
			c.NetworkID = id
			break
		}
	}
	return c, nil
}

func splitList(v string) []string {
	var out []string
	for _, s := range strings.Split(v, ",") {
		if s = strings.TrimSpace(s); s != "" {
			out = append(out, s)
		}
	}
	return out
}

// ParseDHCPRange parses the value of one --dhcp-range:
// [tag:<tag>,…][set:<tag>,]<start>[,<end>|<mode>][,<mask>|<prefix-len>[,<broadcast>]][,<lease time>].
func ParseDHCPRange(v string) (DHCPRange, error) {
	r := DHCPRange{Raw: v, PrefixLen: -1}
	fail := func(why string) (DHCPRange, error) {
		return DHCPRange{}, fmt.Errorf("dhcpns: parse --dhcp-range=%q: %s", v, why)
	}
	parts := strings.Split(v, ",")
	i := 0
	for ; i < len(parts); i++ {
		p := parts[i]
		switch {
		case strings.HasPrefix(p, "set:"):
			r.Tags = append(r.Tags, p[4:])
		case strings.HasPrefix(p, "tag:"):
			r.MatchTags = append(r.MatchTags, p[4:])
		default:
			goto addr
		}
	}
addr:
	if i >= len(parts) {
		return fail("no start address")
	}
	start, err := netip.ParseAddr(parts[i])
	if err != nil {
		return fail("start address " + strconv.Quote(parts[i]) + " is not an IP address")
	}
	r.Start = start
	i++
	// End address or mode.
	if i < len(parts) {
		if a, err := netip.ParseAddr(parts[i]); err == nil {
			r.End = a
			i++
		} else if isRangeMode(parts[i]) {
			r.Mode = parts[i]
			i++
		}
	}
	// More modes may follow an end address or another mode ("ra-names,slaac").
	for i < len(parts) && isRangeMode(parts[i]) {
		if r.Mode != "" {
			r.Mode += ","
		}
		r.Mode += parts[i]
		i++
	}
	// Mask (v4) or prefix length (v6), then broadcast.
	if i < len(parts) && r.Start.Is4() {
		if a, err := netip.ParseAddr(parts[i]); err == nil && a.Is4() {
			r.Mask = a
			i++
			if i < len(parts) {
				if _, err := netip.ParseAddr(parts[i]); err == nil {
					i++ // broadcast: not kept
				}
			}
		}
	} else if i < len(parts) && r.Start.Is6() {
		// A bare number up to 128 is the prefix length (Neutron always
		// writes one before the lease time, which carries a unit).
		if n, err := strconv.Atoi(parts[i]); err == nil && n >= 0 && n <= 128 {
			r.PrefixLen = n
			i++
		}
	}
	if i < len(parts) {
		d, inf, err := parseLeaseTime(parts[i])
		if err != nil {
			return fail(err.Error())
		}
		r.LeaseTime, r.Infinite = d, inf
		i++
	}
	if i < len(parts) {
		return fail("unexpected " + strconv.Quote(strings.Join(parts[i:], ",")))
	}
	return r, nil
}

func isRangeMode(s string) bool {
	switch s {
	case "static", "proxy", "ra-only", "ra-names", "ra-stateless", "slaac", "ra-advrouter", "off-link", "constructor":
		return true
	}
	return strings.HasPrefix(s, "constructor:")
}

// parseLeaseTime parses dnsmasq's lease time: "infinite", "86400", "86400s",
// "45m", "12h", "1d", "2w".
func parseLeaseTime(s string) (time.Duration, bool, error) {
	if s == "infinite" {
		return 0, true, nil
	}
	if s == "" {
		return 0, false, fmt.Errorf("empty lease time")
	}
	unit := time.Second
	num := s
	switch s[len(s)-1] {
	case 's', 'S':
		num = s[:len(s)-1]
	case 'm', 'M':
		unit, num = time.Minute, s[:len(s)-1]
	case 'h', 'H':
		unit, num = time.Hour, s[:len(s)-1]
	case 'd', 'D':
		unit, num = 24*time.Hour, s[:len(s)-1]
	case 'w', 'W':
		unit, num = 7*24*time.Hour, s[:len(s)-1]
	}
	n, err := strconv.ParseUint(num, 10, 32)
	if err != nil {
		return 0, false, fmt.Errorf("lease time %q is not a duration", s)
	}
	return time.Duration(n) * unit, false, nil
}

func looksLikeUUID(s string) bool {
	if len(s) != 36 {
		return false
	}
	for i, c := range s {
		switch i {
		case 8, 13, 18, 23:
			if c != '-' {
				return false
			}
		default:
			if !(c >= '0' && c <= '9' || c >= 'a' && c <= 'f' || c >= 'A' && c <= 'F') {
				return false
			}
		}
	}
	return true
}
