package testutil

import (
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
)

func TestIntegrationDnsmasqSeededAndRenewed(t *testing.T) {
	RequireRoot(t)
	RequireBinary(t, "busybox", "busybox")
	for _, pike := range []bool{false, true} {
		n := NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
		macA, _ := net.ParseMAC("fa:16:3e:00:00:0a")
		macB, _ := net.ParseMAC("fa:16:3e:00:00:0b")
		macC, _ := net.ParseMAC("fa:16:3e:00:00:0c")
		d := n.StartDnsmasq(t, DnsmasqOptions{Pike: pike, SeedLeases: true, Hosts: []DnsmasqHost{
			{MAC: macA, IP: netip.MustParseAddr("192.168.31.72")},
			{MAC: macB, IP: netip.MustParseAddr("192.168.31.73")},
		}})
		b, err := os.ReadFile(d.PIDFile)
		if err != nil || strings.TrimSpace(string(b)) == "" {
			t.Fatalf("pid file: %q %v", b, err)
		}
		ga := n.AddGuest(t, macA)
		l := ga.NS.RunDHCPClient(t, ga.If, "vm-a")
		if l.IP != netip.MustParseAddr("192.168.31.72") {
			t.Fatalf("guest A got %v, want 192.168.31.72 from the hosts file\n%s\n%s", l.IP, l.Output, d.Log())
		}
		// A MAC that is not in the hosts file gets nothing (static mode).
		gc := n.AddGuest(t, macC)
		if l, err := gc.NS.TryDHCPClient(gc.If, "vm-c"); err == nil {
			t.Fatalf("unknown MAC got a lease %v", l.IP)
		}
		leases, _ := os.ReadFile(d.LeaseFile)
		var renewedA, seededB bool
		for _, row := range strings.Split(string(leases), "\n") {
			f := strings.Fields(row)
			// dnsmasq records the hosts file's name, not the client's, and
			// fills it into seeded rows when it rewrites the file: only the
			// client id tells a renewed row.
			if len(f) == 5 && f[1] == macA.String() && f[4] == "01:"+macA.String() {
				renewedA = true
			}
			if len(f) == 5 && f[1] == macB.String() && f[4] == "*" {
				seededB = true
			}
		}
		if !renewedA || !seededB {
			t.Errorf("pike=%v lease file lacks a renewed row for A or a seeded row for B:\n%s", pike, leases)
		}
		if !strings.Contains(d.Log(), "no address available") {
			t.Errorf("dnsmasq log does not show the refused MAC:\n%s", d.Log())
		}
	}
}
