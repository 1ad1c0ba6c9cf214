package guestlog

import (
	"bytes"
	"net/netip"
	"regexp"
	"strconv"
	"strings"
	"time"
)

// MaxLineLen bounds Event.Text: longer console lines are cut.
const MaxLineLen = 512

// A rule turns one matching line into an event. Rules are tried in order;
// the first that matches wins.
type rule struct {
	re     *regexp.Regexp
	kind   Kind
	source Source
	// fields names what each submatch holds: "ip", "server", "if", "url",
	// "at" (seconds of uptime printed by the guest).
	fields []string
}

// The formats, quoted from the programs' sources:
//   - busybox udhcpc 1.35 (networking/udhcp/dhcpc.c, the strings in Debian
//     12's busybox-static): "started, v%s", "broadcasting discover",
//     "broadcasting select for %s, server %s", "sending renew to server %s",
//     "lease of %s obtained from %s, lease time %u", "no lease, failing";
//     1.2x (cirros 0.3/0.4): "udhcpc (v1.23.2) started", "Sending
//     discover...", "Sending select for %s...", "Lease of %s obtained, lease
//     time %u", "No lease, failing"; 1.29-1.31 (cirros 0.5/0.6): "sending
//     discover", "sending select for %s", "lease of %s obtained, lease time".
//   - ISC dhclient 4.x (client/dhclient.c): "DHCPDISCOVER on %s to %s port
//     %d interval %ld", "DHCPOFFER of %s from %s", "DHCPREQUEST for %s on %s
//     to %s port %d", "DHCPACK of %s from %s", "bound to %s -- renewal in %ld
//     seconds.", "No DHCPOFFERS received."
//   - systemd-networkd (src/network/networkd-dhcp4.c, networkd-link.c):
//     "%s: DHCPv4 address %s/%u, gateway %s acquired from %s", "%s: DHCPv4
//     address %s/%u via %s", "%s: Gained carrier", "%s: Lost carrier",
//     "%s: DHCP lease lost".
//   - cloud-init (url_helper.py, DataSourceOpenStack.py, cmd/main.py):
//     "Calling '%s' failed [...]", "Read from %s (200, …b) after %s
//     attempts", "No active metadata service found", "Giving up on OpenStack
//     md from %s after %s seconds", "… finished at … Datasource
//     DataSourceOpenStack…" or "Datasource DataSourceNone".
//   - cirros-init (ds/ec2 and the cirros-apply-net script): "checking %s",
//     "successful after %s/%s tries: up %s. iid=%s", "failed %s/%s: up %s.
//     request failed", "failed to read iid from metadata. tried %s".
//   - the kernel: "%s NIC Link is Up …" (e1000), "%s: NIC Link is Down",
//     "ADDRCONF(NETDEV_CHANGE): %s: link becomes ready", "%s: link up",
//     "%s: link down".
//   - the project's guest (scripts/guest-image.sh): "vifpath-guest: DHCP
//     bound ip=%s … at %ss", "vifpath-guest: DHCP renew ip=%s … at %ss".
var rules = []rule{
	// the project's guest image's /init and udhcpc script
	{regexp.MustCompile(`vifpath-guest: DHCP (?:bound|renew) ip=(\S+) .* at ([0-9.]+)s`), DHCPLease, SourceVifpathGuest, []string{"ip", "at"}},

	// busybox udhcpc, every version
	{regexp.MustCompile(`(?i)udhcpc(?:\[\d+\])?:? (?:\(v[^)]*\) started|started, v)`), DHCPClientStarted, SourceUdhcpc, nil},
	{regexp.MustCompile(`(?i)(?:broadcasting|sending) discover`), DHCPDiscover, SourceUdhcpc, nil},
	{regexp.MustCompile(`(?i)(?:broadcasting|sending) select for ([0-9.]+)(?:, server ([0-9.]+))?`), DHCPRequest, SourceUdhcpc, []string{"ip", "server"}},
	{regexp.MustCompile(`(?i)sending renew to server ([0-9.]+)`), DHCPRequest, SourceUdhcpc, []string{"server"}},
	{regexp.MustCompile(`(?i)\blease of ([0-9.]+) obtained(?: from ([0-9.]+))?`), DHCPLease, SourceUdhcpc, []string{"ip", "server"}},
	{regexp.MustCompile(`(?i)\bno lease, (?:failing|forking to background)`), DHCPNoLease, SourceUdhcpc, nil},

	// ISC dhclient
	{regexp.MustCompile(`Internet Systems Consortium DHCP Client`), DHCPClientStarted, SourceDhclient, nil},
	{regexp.MustCompile(`DHCPDISCOVER on (\S+)`), DHCPDiscover, SourceDhclient, []string{"if"}},
	{regexp.MustCompile(`DHCPOFFER (?:of ([0-9.]+) )?from ([0-9.]+)`), DHCPOffer, SourceDhclient, []string{"ip", "server"}},
	{regexp.MustCompile(`DHCPREQUEST (?:for|of) ([0-9.]+) on (\S+)`), DHCPRequest, SourceDhclient, []string{"ip", "if"}},
	{regexp.MustCompile(`DHCPACK (?:of ([0-9.]+) )?from ([0-9.]+)`), DHCPLease, SourceDhclient, []string{"ip", "server"}},
	{regexp.MustCompile(`\bbound to ([0-9.]+) -- renewal in`), DHCPLease, SourceDhclient, []string{"ip"}},
	{regexp.MustCompile(`No DHCPOFFERS received`), DHCPNoLease, SourceDhclient, nil},

	// systemd-networkd
	{regexp.MustCompile(`(\S+): DHCPv4 address ([0-9.]+)/\d+(?:, gateway \S+ acquired from ([0-9.]+)| via \S+)?`), DHCPLease, SourceNetworkd, []string{"if", "ip", "server"}},
	{regexp.MustCompile(`(\S+): DHCP lease lost`), DHCPNoLease, SourceNetworkd, []string{"if"}},
	{regexp.MustCompile(`(\S+): Gained carrier`), LinkUp, SourceNetworkd, []string{"if"}},
	{regexp.MustCompile(`(\S+): Lost carrier`), LinkDown, SourceNetworkd, []string{"if"}},

	// cloud-init
	{regexp.MustCompile(`Calling '(http://169\.254\.169\.254[^']*)' failed`), MetadataFailed, SourceCloudInit, []string{"url"}},
	{regexp.MustCompile(`Read from (http://169\.254\.169\.254\S*) \((?:200|2\d\d),`), MetadataReached, SourceCloudInit, []string{"url"}},
	{regexp.MustCompile(`No active metadata service found`), MetadataFailed, SourceCloudInit, nil},
	{regexp.MustCompile(`Giving up on (?:OpenStack )?md from \['?([^'\]]*)`), MetadataFailed, SourceCloudInit, []string{"url"}},
	{regexp.MustCompile(`Datasource DataSourceNone`), MetadataFailed, SourceCloudInit, nil},
	{regexp.MustCompile(`Datasource DataSource(?:OpenStack|Ec2)`), MetadataReached, SourceCloudInit, nil},

	// cirros-init
	{regexp.MustCompile(`successful after \d+/\d+ tries: up [0-9.]+\. iid=`), MetadataReached, SourceCirros, nil},
	{regexp.MustCompile(`failed \d+/\d+: up [0-9.]+\. request failed`), MetadataFailed, SourceCirros, nil},
	{regexp.MustCompile(`failed to read iid from metadata`), MetadataFailed, SourceCirros, nil},

	// the kernel
	{regexp.MustCompile(`(\S+):? NIC Link is Up`), LinkUp, SourceKernel, []string{"if"}},
	{regexp.MustCompile(`(\S+):? NIC Link is Down`), LinkDown, SourceKernel, []string{"if"}},
	{regexp.MustCompile(`ADDRCONF\(NETDEV_CHANGE\): (\S+): link becomes ready`), LinkUp, SourceKernel, []string{"if"}},
	{regexp.MustCompile(`\b(eth\d+|ens\d+|enp\w+): [Ll]ink (?:is )?[Uu]p\b`), LinkUp, SourceKernel, []string{"if"}},
	{regexp.MustCompile(`\b(eth\d+|ens\d+|enp\w+): [Ll]ink (?:is )?[Dd]own\b`), LinkDown, SourceKernel, []string{"if"}},
}

// kernelStamp is the printk timestamp "[   12.345678] " at a line's start.
var kernelStamp = regexp.MustCompile(`^\[\s*(\d+\.\d+)\]\s*`)

// ansi matches terminal escape sequences (colours, cursor moves) that
// consoles carry.
var ansi = regexp.MustCompile(`\x1b\[[0-9;?]*[ -/]*[@-~]`)

// Parse reads console output and returns the network events in it, in
// order. It never fails and never panics: lines it does not recognise are
// skipped. Carriage returns, terminal escapes and other control characters
// are removed; lines are cut to MaxLineLen.
func Parse(b []byte) []Event {
	var out []Event
	n := 0
	for len(b) > 0 {
		var line []byte
		if i := bytes.IndexByte(b, '\n'); i >= 0 {
			line, b = b[:i], b[i+1:]
		} else {
			line, b = b, nil
		}
		n++
		if e, ok := ParseLine(string(line)); ok {
			e.Line = n
			out = append(out, e)
		}
	}
	return out
}

// ParseLine parses one console line; ok is false when it says nothing
// about the network. Event.Line is left 0.
func ParseLine(line string) (Event, bool) {
	line = clean(line)
	if line == "" {
		return Event{}, false
	}
	var up time.Duration
	if m := kernelStamp.FindStringSubmatch(line); m != nil {
		up = seconds(m[1])
	}
	for _, r := range rules {
		m := r.re.FindStringSubmatch(line)
		if m == nil {
			continue
		}
		e := Event{Kind: r.kind, Source: r.source, Uptime: up, Text: line}
		for i, f := range r.fields {
			v := m[i+1]
			if v == "" {
				continue
			}
			switch f {
			case "ip":
				e.IP = addr(v)
			case "server":
				e.Server = addr(v)
			case "if":
				e.Interface = strings.TrimSuffix(v, ":")
			case "url":
				e.URL = v
			case "at":
				e.Uptime = seconds(v)
			}
		}
		if r.source == SourceKernel && e.Interface != "" && !plausibleIf(e.Interface) {
			e.Interface = ""
		}
		return e, true
	}
	return Event{}, false
}

// clean removes terminal escapes and control characters and cuts the line
// to MaxLineLen bytes (on a rune boundary).
func clean(s string) string {
	if strings.IndexByte(s, 0x1b) >= 0 {
		s = ansi.ReplaceAllString(s, "")
	}
	s = strings.Map(func(r rune) rune {
		if r == '\t' {
			return ' '
		}
		if r < 0x20 || r == 0x7f || r == 0xfffd {
			return -1
		}
		return r
	}, s)
	s = strings.TrimSpace(s)
	if len(s) > MaxLineLen {
		cut := MaxLineLen
		for cut > 0 && !utf8Start(s[cut]) {
			cut--
		}
		s = s[:cut]
	}
	return s
}

func utf8Start(b byte) bool { return b&0xc0 != 0x80 }

// plausibleIf keeps interface names the kernel prints ("eth0", "ens3"),
// not driver names ("e1000:").
func plausibleIf(s string) bool {
	return len(s) <= 15 && !strings.ContainsAny(s, "[]()") && s != "e1000" && s != "e1000e"
}

func addr(s string) netip.Addr {
	a, err := netip.ParseAddr(strings.TrimRight(s, ".,"))
	if err != nil {
		return netip.Addr{}
	}
	return a
}

func seconds(s string) time.Duration {
	f, err := strconv.ParseFloat(s, 64)
	if err != nil || f < 0 || f > 1e9 {
		return 0
	}
	return time.Duration(f * float64(time.Second))
}
