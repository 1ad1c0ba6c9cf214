package dhcpns

import (
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/insomniacslk/dhcp/dhcpv4"
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

func FuzzParseARPReply(f *testing.F) {
	our := mustMAC("fa:16:3e:2c:b1:a0")
	req := arpRequest(make([]byte, arpFrameLen), broadcastMAC, mustMAC("fa:16:3e:57:19:35"), netip.MustParseAddr("192.168.31.72"), netip.MustParseAddr("192.168.31.70"))
	reply := append([]byte(nil), req...)
	reply[14+7] = arpOpReply
	copy(reply[14+18:14+24], our)
	f.Add(reply)
	f.Add(req)
	f.Fuzz(func(t *testing.T, b []byte) {
		mac, ip, ok := parseARPReply(b, our)
		if ok && (len(mac) != 6 || !ip.Is4()) {
			t.Fatalf("bad reply %v %v", mac, ip)
		}
	})
}

func FuzzParseOfferFrame(f *testing.F) {
	b, err := discoverFrame(mustMAC("fa:16:3e:2c:b1:a0"), mustMAC("fa:16:3e:57:19:35"), dhcpv4.TransactionID{1, 2, 3, 4})
	if err != nil {
		f.Fatal(err)
	}
	f.Add(b)
	// The same frame turned into an OFFER to port 68.
	o := append([]byte(nil), b...)
	o[34+2], o[34+3] = 0, 68
	o[42] = 2 // BOOTREPLY
	for i := 42 + 240; i+2 < len(o); i++ {
		if o[i] == 53 && o[i+1] == 1 {
			o[i+2] = 2 // OFFER
			break
		}
	}
	f.Add(o)
	f.Fuzz(func(t *testing.T, b []byte) {
		off, ok := parseOfferFrame(b, dhcpv4.TransactionID{1, 2, 3, 4})
		if ok && (off == nil || len(off.ServerMAC) != 6) {
			t.Fatalf("bad offer %+v", off)
		}
	})
}

func TestParseOfferFrameSeed(t *testing.T) {
	b, _ := discoverFrame(mustMAC("fa:16:3e:2c:b1:a0"), mustMAC("fa:16:3e:57:19:35"), dhcpv4.TransactionID{1, 2, 3, 4})
	if _, ok := parseOfferFrame(b, dhcpv4.TransactionID{1, 2, 3, 4}); ok {
		t.Error("a DISCOVER parsed as an OFFER")
	}
	if ipChecksum(b[14:34]) != 0 {
		t.Error("IPv4 header checksum does not verify")
	}
	o := append([]byte(nil), b...)
	o[34+2], o[34+3] = 0, 68
	o[42] = 2
	for i := 42 + 240; i+2 < len(o); i++ {
		if o[i] == 53 && o[i+1] == 1 {
			o[i+2] = 2
			break
		}
	}
	off, ok := parseOfferFrame(o, dhcpv4.TransactionID{1, 2, 3, 4})
	if !ok || off.ClientMAC.String() != "fa:16:3e:57:19:35" {
		t.Errorf("parseOfferFrame = %+v, %v", off, ok)
	}
	if _, ok := parseOfferFrame(o, dhcpv4.TransactionID{9, 9, 9, 9}); ok {
		t.Error("an OFFER with another xid matched")
	}
}
