package dhcpns

import (
	"os"
	"strings"
	"testing"
)

func addFixtures(f *testing.F, names ...string) {
	for _, n := range names {
		b, err := os.ReadFile("testdata/" + n)
		if err != nil {
			f.Fatal(err)
		}
		f.Add(b)
	}
}

func FuzzParseLeases(f *testing.F) {
	addFixtures(f, "leases.txt", "leases-seeded.txt")
	f.Add([]byte("duid 00:01\n0 1 2001:db8::1 * *\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ls, err := ParseLeasesBytes(b)
		if err != nil {
			return
		}
		for _, l := range ls.Rows {
			if l.Origin == OriginUnknown {
				t.Fatalf("row %+v has no origin", l)
			}
			if l.Seeded() == (l.Hostname != "" || l.ClientID != "") || l.Renewed() != (l.ClientID != "") {
				t.Fatalf("row %+v: origin disagrees with hostname/client id", l)
			}
			if !l.IP.IsValid() {
				t.Fatalf("row %+v has no IP", l)
			}
		}
	})
}

func FuzzParseHosts(f *testing.F) {
	addFixtures(f, "hosts.txt")
	f.Add([]byte("fa:16:3e:aa:bb:cc,set:port-1,host,[2001:db8::1],10.0.0.1,infinite\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		hs, err := ParseHostsBytes(b)
		if err != nil {
			return
		}
		for _, h := range hs {
			if h.MAC == nil && h.ClientID == "" {
				t.Fatalf("host %+v has neither MAC nor client id", h)
			}
			if len(h.IPs) > 0 && h.IP != h.IPs[0] {
				t.Fatalf("host %+v: IP is not IPs[0]", h)
			}
		}
	})
}

func FuzzParseCmdline(f *testing.F) {
	addFixtures(f, "dnsmasq-cmdline.txt", "pike-cmdline.txt")
	f.Add([]byte("dnsmasq\x00--dhcp-range=set:tag1,2001:db8::,static,64,86400s\x00--interface\x00ns-1\x00"))
	f.Fuzz(func(t *testing.T, b []byte) {
		c, err := ParseCmdline(b)
		if err != nil {
			if !strings.HasPrefix(err.Error(), "dhcpns: ") {
				t.Fatalf("error without prefix: %v", err)
			}
			return
		}
		for _, r := range c.Ranges {
			if !r.Start.IsValid() {
				t.Fatalf("range %+v has no start", r)
			}
			if r2, err := ParseDHCPRange(r.Raw); err != nil || r2.Start != r.Start || r2.Mode != r.Mode {
				t.Fatalf("range %q does not re-parse the same: %+v %v", r.Raw, r2, err)
			}
		}
	})
}
