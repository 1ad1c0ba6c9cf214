package guestlog

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func read(t *testing.T, name string) []byte {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", name))
	if err != nil {
		t.Fatal(err)
	}
	return b
}

func TestSummarizeFixtures(t *testing.T) {
	a := netip.MustParseAddr
	type want struct {
		discovers, offers, leases, noLeases, since int
		bound                                      bool
		ip, server                                 netip.Addr
		linkUps, linkDowns, mdOK, mdFail           int
		sources                                    []Source
	}
	tests := []struct {
		file string
		want want
	}{
		{"demo-guest-leased.log", want{discovers: 1, leases: 2, bound: true, ip: a("192.168.31.74"), server: a("192.168.31.70"),
			sources: []Source{SourceUdhcpc, SourceVifpathGuest}}},
		{"aio-guest-leased.log", want{discovers: 1, leases: 2, bound: true, ip: a("192.168.31.78"), server: a("192.168.31.70"),
			sources: []Source{SourceUdhcpc, SourceVifpathGuest}}},
		{"demo-guest-no-offer.log", want{discovers: 3, since: 3, sources: []Source{SourceUdhcpc}}},
		{"cirros-0.4-udhcpc-metadata-ok.log", want{discovers: 1, leases: 1, bound: true, ip: a("192.168.31.72"), mdOK: 1,
			sources: []Source{SourceUdhcpc, SourceCirros}}},
		{"cirros-0.4-udhcpc-no-offer.log", want{discovers: 3, since: 3, noLeases: 1, mdFail: 4,
			sources: []Source{SourceUdhcpc, SourceCirros}}},
		{"cirros-0.6-udhcpc.log", want{discovers: 1, leases: 1, bound: true, ip: a("192.168.31.72"), server: a("192.168.31.70"), mdOK: 1,
			sources: []Source{SourceUdhcpc, SourceCirros}}},
		{"dhclient-leased.log", want{discovers: 1, offers: 1, leases: 2, bound: true, ip: a("192.168.31.72"), server: a("192.168.31.70"), linkUps: 2,
			sources: []Source{SourceKernel, SourceDhclient}}},
		{"dhclient-no-offer.log", want{discovers: 3, since: 3, noLeases: 1, sources: []Source{SourceDhclient}}},
		{"networkd-cloudinit-ok.log", want{leases: 1, bound: true, ip: a("192.168.31.72"), server: a("192.168.31.70"), linkUps: 1, mdOK: 2,
			sources: []Source{SourceNetworkd, SourceCloudInit}}},
		{"networkd-cloudinit-metadata-failed.log", want{noLeases: 1, linkUps: 1, linkDowns: 1, mdFail: 4,
			sources: []Source{SourceNetworkd, SourceCloudInit}}},
	}
	for _, tt := range tests {
		t.Run(tt.file, func(t *testing.T) {
			s := Summarize(Parse(read(t, tt.file)))
			got := want{discovers: s.Discovers, offers: s.Offers, leases: s.Leases, noLeases: s.NoLeases, since: s.DiscoversSinceLease,
				bound: s.Bound(), ip: s.LeasedIP, server: s.LeaseServer, linkUps: s.LinkUps, linkDowns: s.LinkDowns,
				mdOK: s.MetadataReached, mdFail: s.MetadataFailed, sources: s.Sources}
			if d := cmp.Diff(tt.want, got, cmp.AllowUnexported(want{}), cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
				t.Errorf("summary (-want +got):\n%s", d)
			}
		})
	}
}

func TestParseLine(t *testing.T) {
	a := netip.MustParseAddr
	tests := []struct {
		line string
		want Event
		ok   bool
	}{
		{"udhcpc: lease of 192.168.31.74 obtained from 192.168.31.70, lease time 86400\r",
			Event{Kind: DHCPLease, Source: SourceUdhcpc, IP: a("192.168.31.74"), Server: a("192.168.31.70"),
				Text: "udhcpc: lease of 192.168.31.74 obtained from 192.168.31.70, lease time 86400"}, true},
		{"\x1b[0;32m[   12.500000] e1000: eth0 NIC Link is Down\x1b[0m",
			Event{Kind: LinkDown, Source: SourceKernel, Interface: "eth0", Uptime: 12500000000,
				Text: "[   12.500000] e1000: eth0 NIC Link is Down"}, true},
		{"vifpath-guest: DHCP bound ip=192.168.31.74 subnet=255.255.255.224 router=192.168.31.1 lease=86400 at 5.31s",
			Event{Kind: DHCPLease, Source: SourceVifpathGuest, IP: a("192.168.31.74"), Uptime: 5310000000,
				Text: "vifpath-guest: DHCP bound ip=192.168.31.74 subnet=255.255.255.224 router=192.168.31.1 lease=86400 at 5.31s"}, true},
		{"DHCPACK from 10.0.0.2 (xid=0x1234)", Event{Kind: DHCPLease, Source: SourceDhclient, Server: a("10.0.0.2"), Text: "DHCPACK from 10.0.0.2 (xid=0x1234)"}, true},
		{"udhcpc: sending renew to server 192.168.31.70", Event{Kind: DHCPRequest, Source: SourceUdhcpc, Server: a("192.168.31.70"), Text: "udhcpc: sending renew to server 192.168.31.70"}, true},
		{"Starting dropbear sshd: OK", Event{}, false},
		{"", Event{}, false},
	}
	for _, tt := range tests {
		got, ok := ParseLine(tt.line)
		if ok != tt.ok {
			t.Errorf("ParseLine(%q) ok = %v, want %v", tt.line, ok, tt.ok)
			continue
		}
		if d := cmp.Diff(tt.want, got, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
			t.Errorf("ParseLine(%q) (-want +got):\n%s", tt.line, d)
		}
	}
}

func TestLineNumbersAndBounds(t *testing.T) {
	long := make([]byte, 3*MaxLineLen)
	for i := range long {
		long[i] = 'x'
	}
	in := append([]byte("boot\r\nudhcpc: broadcasting discover\r\n"), long...)
	in = append(in, []byte(" udhcpc: broadcasting discover\n")...)
	ev := Parse(in)
	if len(ev) != 1 || ev[0].Line != 2 {
		t.Fatalf("Parse = %v, want one discover at line 2 (the match past MaxLineLen is cut off)", ev)
	}
}

func TestJSONRoundTrip(t *testing.T) {
	ev := Parse(read(t, "dhclient-leased.log"))
	s := Summarize(ev)
	b, err := json.Marshal(struct {
		E []Event
		S Summary
	}{ev, s})
	if err != nil {
		t.Fatal(err)
	}
	var back struct {
		E []Event
		S Summary
	}
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ev, back.E, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
		t.Errorf("events round trip (-want +got):\n%s", d)
	}
	if d := cmp.Diff(s, back.S, cmp.Comparer(func(x, y netip.Addr) bool { return x == y })); d != "" {
		t.Errorf("summary round trip (-want +got):\n%s", d)
	}
}
