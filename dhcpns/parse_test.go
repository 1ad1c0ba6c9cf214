package dhcpns

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/hwaddr"
)

func readFixture(t testing.TB, name string) []byte {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func mustMAC(s string) hwaddr.MAC {
	m, err := hwaddr.Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

func TestParseCmdlineZed(t *testing.T) {
	raw := readFixture(t, "dnsmasq-cmdline.txt")
	// The fixture has NUL turned into spaces; give the parser the real
	// /proc form too.
	for _, in := range [][]byte{raw, []byte(strings.ReplaceAll(strings.TrimSpace(string(raw)), " ", "\x00") + "\x00")} {
		c, err := ParseCmdline(in)
		if err != nil {
			t.Fatal(err)
		}
		dir := "/var/lib/neutron/dhcp/c3e375fb-0ac1-4b91-9c66-d297e7d090e6/"
		want := &DnsmasqConfig{
			Program:   "dnsmasq",
			NetworkID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6",
			Bind:      BindDynamic,
			Ranges: []DHCPRange{{
				Tags:      []string{"subnet-d6eaa99d-3374-4c3a-ac7f-f88a035a0a8d"},
				Start:     netip.MustParseAddr("192.168.31.64"),
				Mode:      "static",
				Mask:      netip.MustParseAddr("255.255.255.224"),
				PrefixLen: -1,
				LeaseTime: 24 * time.Hour,
				Raw:       "set:subnet-d6eaa99d-3374-4c3a-ac7f-f88a035a0a8d,192.168.31.64,static,255.255.255.224,86400s",
			}},
			PIDFile:   dir + "pid",
			HostsFile: dir + "host",
			AddnHosts: []string{dir + "addn_hosts"},
			OptsFile:  dir + "opts",
			LeaseFile: dir + "leases",
			ConfFile:  "/etc/neutron/dnsmasq-neutron.conf",
			LeaseMax:  32,
			Domain:    "openstacklocal",
			Options:   []string{"option:mtu,1500"},
			Flags:     []string{"no-hosts", "no-resolv", "local-service", "log-queries", "log-dhcp"},
			Unknown: []string{
				"--dhcp-match=set:ipxe,175",
				"--dhcp-userclass=set:ipxe6,iPXE",
				"--log-facility=/var/log/neutron/dnsmasq/c3e375fb-0ac1-4b91-9c66-d297e7d090e6/dhcp_dns_log",
			},
		}
		if d := cmp.Diff(want, c, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Errorf("ParseCmdline (-want +got):\n%s", d)
		}
		p, ok := c.Ranges[0].Prefix()
		if !ok || p != netip.MustParsePrefix("192.168.31.64/27") {
			t.Errorf("Prefix() = %v, %v; want 192.168.31.64/27", p, ok)
		}
	}
}

func TestParseCmdlinePike(t *testing.T) {
	c, err := ParseCmdline(readFixture(t, "pike-cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	if c.Bind != BindInterfaces {
		t.Errorf("Bind = %v, want bind-interfaces", c.Bind)
	}
	if d := cmp.Diff([]string{"ns-8e7ff5b5-3f"}, c.Interfaces); d != "" {
		t.Errorf("Interfaces (-want +got):\n%s", d)
	}
	if d := cmp.Diff([]string{"lo"}, c.ExceptInterfaces); d != "" {
		t.Errorf("ExceptInterfaces (-want +got):\n%s", d)
	}
	if c.NetworkID != "59fe11c2-2131-4a9b-b708-e855c3c6ac25" {
		t.Errorf("NetworkID = %q", c.NetworkID)
	}
	if c.ConfFile != "" || c.LeaseMax != 32 || c.Domain != "openstacklocal" {
		t.Errorf("ConfFile %q LeaseMax %d Domain %q", c.ConfFile, c.LeaseMax, c.Domain)
	}
	if len(c.Ranges) != 1 || c.Ranges[0].Tags[0] != "tag0" || c.Ranges[0].Mode != "static" || c.Ranges[0].LeaseTime != 86400*time.Second {
		t.Errorf("Ranges = %+v", c.Ranges)
	}
	if d := cmp.Diff([]string{"--dhcp-match=set:ipxe,175"}, c.Unknown); d != "" {
		t.Errorf("Unknown (-want +got):\n%s", d)
	}
}

func TestParseCmdlineErrors(t *testing.T) {
	for _, in := range []string{"", "bash -c x", "dnsmasq --dhcp-range=set:a", "dnsmasq --dhcp-lease-max=x", "dnsmasq --dhcp-range=1.2.3.4,static,255.0.0.0,forever", "dnsmasq --interface"} {
		if _, err := ParseCmdline([]byte(in)); err == nil {
			t.Errorf("ParseCmdline(%q) = nil error", in)
		} else if !strings.HasPrefix(err.Error(), "dhcpns: ") {
			t.Errorf("error %q lacks the package prefix", err)
		}
	}
}

func TestParseDHCPRange(t *testing.T) {
	for _, tc := range []struct {
		in   string
		want DHCPRange
	}{
		{"192.168.0.10,192.168.0.50,12h", DHCPRange{Start: netip.MustParseAddr("192.168.0.10"), End: netip.MustParseAddr("192.168.0.50"), PrefixLen: -1, LeaseTime: 12 * time.Hour}},
		{"set:tag1,2001:db8::,static,64,86400s", DHCPRange{Tags: []string{"tag1"}, Start: netip.MustParseAddr("2001:db8::"), Mode: "static", PrefixLen: 64, LeaseTime: 24 * time.Hour}},
		{"tag:x,10.0.0.0,static,255.255.0.0,10.0.255.255,infinite", DHCPRange{MatchTags: []string{"x"}, Start: netip.MustParseAddr("10.0.0.0"), Mode: "static", Mask: netip.MustParseAddr("255.255.0.0"), PrefixLen: -1, Infinite: true}},
		{"10.0.0.0,static", DHCPRange{Start: netip.MustParseAddr("10.0.0.0"), Mode: "static", PrefixLen: -1}},
	} {
		got, err := ParseDHCPRange(tc.in)
		if err != nil {
			t.Errorf("ParseDHCPRange(%q): %v", tc.in, err)
			continue
		}
		tc.want.Raw = tc.in
		if d := cmp.Diff(tc.want, got, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
			t.Errorf("ParseDHCPRange(%q) (-want +got):\n%s", tc.in, d)
		}
	}
}

func TestParseHostsFixture(t *testing.T) {
	hs, err := ParseHostsBytes(readFixture(t, "hosts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Host{{
		MAC:      mustMAC("fa:16:3e:57:19:35"),
		Hostname: "host-192-168-31-72.openstacklocal",
		IP:       netip.MustParseAddr("192.168.31.72"),
		IPs:      []netip.Addr{netip.MustParseAddr("192.168.31.72")},
		Line:     1,
	}}
	if d := cmp.Diff(want, hs, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("ParseHosts (-want +got):\n%s", d)
	}
	if _, ok := FindHost(hs, mustMAC("fa:16:3e:57:19:35")); !ok {
		t.Error("FindHost did not find the fixture's MAC")
	}
	if _, ok := FindHost(hs, mustMAC("fa:16:3e:00:00:01")); ok {
		t.Error("FindHost found a MAC that is not in the file")
	}
}

func TestParseHostsForms(t *testing.T) {
	in := "# comment\n\nfa:16:3e:aa:bb:cc,set:port-31f2d3e9,host-10-0-0-5.openstacklocal,10.0.0.5\n" +
		"fa:16:3e:aa:bb:cd,host-2001-db8--5,[2001:db8::5],infinite\n"
	hs, err := ParseHostsBytes([]byte(in))
	if err != nil {
		t.Fatal(err)
	}
	if len(hs) != 2 {
		t.Fatalf("got %d hosts, want 2", len(hs))
	}
	if hs[0].Line != 3 || hs[0].Tags[0] != "port-31f2d3e9" || hs[0].IP != netip.MustParseAddr("10.0.0.5") || hs[0].Hostname != "host-10-0-0-5.openstacklocal" {
		t.Errorf("host 0 = %+v", hs[0])
	}
	if hs[1].IP != netip.MustParseAddr("2001:db8::5") || !hs[1].Infinite {
		t.Errorf("host 1 = %+v", hs[1])
	}
	if _, err := ParseHostsBytes([]byte("host-only,10.0.0.1\n")); err == nil {
		t.Error("a line without MAC parsed without error")
	}
}

func TestParseLeasesFixture(t *testing.T) {
	ls, err := ParseLeasesBytes(readFixture(t, "leases.txt"))
	if err != nil {
		t.Fatal(err)
	}
	want := []Lease{{
		Expiry:   time.Unix(1795586508, 0).UTC(),
		MAC:      mustMAC("fa:16:3e:57:19:35"),
		IP:       netip.MustParseAddr("192.168.31.72"),
		Hostname: "host-192-168-31-72",
		ClientID: "01:fa:16:3e:57:19:35",
		Origin:   OriginRenewed,
		Line:     1,
	}}
	if d := cmp.Diff(want, ls.Rows, cmp.Comparer(func(a, b netip.Addr) bool { return a == b })); d != "" {
		t.Errorf("ParseLeases (-want +got):\n%s", d)
	}
	if !ls.Rows[0].Renewed() || ls.Rows[0].Seeded() {
		t.Error("the fixture's renewed row is not Renewed")
	}
}

func TestParseLeasesSeeded(t *testing.T) {
	ls, err := ParseLeasesBytes(readFixture(t, "leases-seeded.txt"))
	if err != nil {
		t.Fatal(err)
	}
	var got []string
	for _, l := range ls.Rows {
		got = append(got, l.MAC.String()+" "+l.Origin.String())
	}
	want := []string{"fa:16:3e:57:19:35 renewed", "fa:16:3e:2c:b1:a0 seeded", "fa:16:3e:11:22:33 seeded", "fa:16:3e:11:22:44 unconfirmed"}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("origins (-want +got):\n%s", d)
	}
	l, ok := ls.Find(mustMAC("fa:16:3e:11:22:33"))
	if !ok || !l.Seeded() || l.Hostname != "" || l.ClientID != "" {
		t.Errorf("Find = %+v, %v", l, ok)
	}
	b, _ := json.Marshal(l)
	if !strings.Contains(string(b), `"origin":"seeded"`) {
		t.Errorf("JSON %s lacks origin seeded", b)
	}
}

func TestParseLeasesIPv6AndErrors(t *testing.T) {
	ls, err := ParseLeasesBytes([]byte("duid 00:01:00:01:2c:aa\n0 12345 2001:db8::5 vm1 00:04:aa\n"))
	if err != nil {
		t.Fatal(err)
	}
	if ls.ServerDUID != "00:01:00:01:2c:aa" || ls.Rows[0].IAID != "12345" || !ls.Rows[0].Expiry.IsZero() || !ls.Rows[0].Renewed() {
		t.Errorf("got %+v", ls)
	}
	for _, in := range []string{"x fa:16:3e:57:19:35 1.2.3.4 * *\n", "1 zz 1.2.3.4 * *\n", "1 fa:16:3e:57:19:35 1.2.3 * *\n", "1 2 3\n"} {
		if _, err := ParseLeasesBytes([]byte(in)); err == nil {
			t.Errorf("ParseLeases(%q) = nil error", in)
		}
	}
}
