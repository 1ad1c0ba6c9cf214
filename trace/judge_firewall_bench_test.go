package trace_test

import (
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/trace"
)

// BenchmarkJudgeFirewall200 times the pure part alone: the security-group
// and anti-spoofing judges of 200 ports on a parsed snapshot of the
// agent's layout (no I/O), on the snapshot as parsed and indexed
// (firewall.Snapshot.Indexed).
func BenchmarkJudgeFirewall200(b *testing.B) {
	var ports []fwlayout.Port
	for i := range 200 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 2)})
		g := fmt.Sprintf("%08x-0000-4000-8000-000000000000", i%20)
		ports = append(ports, fwlayout.Port{ID: fmt.Sprintf("%08x-1111-4111-8111-111111111111", i), MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)}, IPs: []netip.Addr{ip},
			Groups: []fwlayout.Group{{ID: g, Members: []netip.Addr{ip}, Rules: []fwlayout.Rule{
				{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: g},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22}}}}})
	}
	tables, err := firewall.ParseIPTablesSave(fwlayout.IPTablesRestore(ports), firewall.BackendNFT, firewall.IPv4)
	if err != nil {
		b.Fatal(err)
	}
	// ebtables-restore input has the save grammar: list it as -L would.
	saved, err := firewall.ParseIPTablesSave(fwlayout.EbtablesRestore(ports), firewall.BackendNFT, "")
	if err != nil {
		b.Fatal(err)
	}
	var listing string
	listing = "Bridge table: nat\n"
	for _, c := range saved[0].Chains {
		listing += fmt.Sprintf("\nBridge chain: %s, entries: %d, policy: %s\n", c.Name, len(c.Rules), c.Policy)
		for _, r := range c.Rules {
			listing += r.Spec + " , pcnt = 0 -- bcnt = 0\n"
		}
	}
	eb, err := firewall.ParseEbtablesList(listing, firewall.BackendNFT)
	if err != nil {
		b.Fatal(err)
	}
	sets, err := firewall.ParseIPSetSave(fwlayout.IPSetRestore(ports))
	if err != nil {
		b.Fatal(err)
	}
	s := &firewall.Snapshot{Tables: tables, Ebtables: eb, Sets: sets}
	judge := func(b *testing.B, s *firewall.Snapshot) {
		for _, p := range ports {
			f := trace.FirewallFacts{Tap: p.Tap(), MAC: p.MAC, FixedIPs: p.IPs, Snapshot: s}
			if h := trace.JudgeSecurityGroup(f); h.Verdict != trace.OK {
				b.Fatalf("%s: %s", h.Verdict, h.Summary)
			}
			if h := trace.JudgeAntiSpoofing(f); h.Verdict != trace.OK {
				b.Fatalf("%s: %s", h.Verdict, h.Summary)
			}
		}
	}
	// "scan" judges on the snapshot as read (each port's chains and jumps
	// found by scanning every chain), "indexed" on s.Indexed() as node
	// mode does, indexing included; indexed reports scan-ms and the
	// ratio scan/indexed, measured in its own run.
	b.Run("scan", func(b *testing.B) {
		for b.Loop() {
			judge(b, s)
		}
	})
	b.Run("indexed", func(b *testing.B) {
		var scan, indexed time.Duration
		for b.Loop() {
			t0 := time.Now()
			judge(b, s)
			t1 := time.Now()
			judge(b, s.Indexed())
			scan, indexed = scan+t1.Sub(t0), indexed+time.Since(t1)
		}
		b.ReportMetric(float64(scan.Microseconds())/float64(b.N)/1000, "scan-ms")
		b.ReportMetric(float64(indexed.Microseconds())/float64(b.N)/1000, "indexed-ms")
		b.ReportMetric(float64(scan)/float64(indexed), "scan/indexed")
	})
}
