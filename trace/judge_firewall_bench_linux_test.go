package trace_test

import (
	"context"
	"fmt"
	"net/netip"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// BenchmarkFirewall200 reads and judges the firewall of a node with 200
// filtered ports in 20 security groups (the agent's layout, installed in a
// throwaway namespace): one firewall.Read, then the security-group and
// anti-spoofing judges for every port. In the same run it times the CLI
// way an operator gets the same facts, in one shell inside the namespace:
// iptables-save -c, ebtables -t nat -L --Lc, and ipset list for each
// group. It reports cli/lib as the ratio, and cli6/lib for the CLI way
// with ip6tables-save -c too: the library reads and judges the IPv6
// table as well (the agent writes each port's chains in both families).
// one-port-ms is one port's read scoped to it (firewall.Config.Taps, what
// a single trace reads) and judged, and lib/one-port the whole node's
// read and judgement over it.
func BenchmarkFirewall200(b *testing.B) {
	testutil.RequireRoot(b)
	ns := testutil.NewNetNSAt(b, testutil.DefaultNetNSDir, testutil.RandNameN("fw-b", 16))
	var groups []fwlayout.Group
	for g := range 20 {
		id := randUUID()
		groups = append(groups, fwlayout.Group{ID: id, Rules: []fwlayout.Rule{
			{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: id},
			{Direction: "egress", Ethertype: "IPv4"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
		}})
		_ = g
	}
	var ports []fwlayout.Port
	for i := range 200 {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 2)})
		g := &groups[i%20]
		g.Members = append(g.Members, ip)
		ports = append(ports, fwlayout.Port{ID: randUUID(), MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)}, IPs: []netip.Addr{ip}})
	}
	for i := range ports {
		ports[i].Groups = []fwlayout.Group{groups[i%20]}
	}
	ctx := context.Background()
	t0 := time.Now()
	if err := fwlayout.Install(ctx, ns.Path, firewall.BackendNFT, ports); err != nil {
		b.Fatal(err)
	}
	b.Logf("installed the agent's layout for 200 ports in %s", time.Since(t0).Round(time.Millisecond))
	cfg := &firewall.Config{NetNSPath: ns.Path}
	var readTotal, judgeTotal time.Duration
	judge := func() int {
		t0 := time.Now()
		s, err := firewall.Read(ctx, cfg)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		readTotal += t1.Sub(t0)
		defer func() { judgeTotal += time.Since(t1) }()
		ok := 0
		for _, p := range ports {
			f := trace.FirewallFacts{Tap: p.Tap(), MAC: p.MAC, FixedIPs: p.IPs, Snapshot: s}
			if trace.JudgeSecurityGroup(f).Verdict == trace.OK && trace.JudgeAntiSpoofing(f).Verdict == trace.OK {
				ok++
			}
		}
		return ok
	}
	if n := judge(); n != 200 {
		b.Fatalf("%d of 200 ports judged OK before timing, want 200", n)
	}
	// One port's trace reads only its firewall (firewall.Config.Taps).
	one := ports[len(ports)/2]
	oneCfg := &firewall.Config{NetNSPath: ns.Path, Taps: []string{one.Tap()}}
	judgeOne := func() bool {
		s, err := firewall.Read(ctx, oneCfg)
		if err != nil {
			b.Fatal(err)
		}
		f := trace.FirewallFacts{Tap: one.Tap(), MAC: one.MAC, FixedIPs: one.IPs, Snapshot: s}
		return trace.JudgeSecurityGroup(f).Verdict == trace.OK && trace.JudgeAntiSpoofing(f).Verdict == trace.OK
	}
	if !judgeOne() {
		b.Fatalf("port %s judged not OK from a read scoped to it", one.Tap())
	}
	var script strings.Builder
	script.WriteString("/usr/sbin/iptables-nft-save -c; /usr/sbin/ebtables -t nat -L --Lc;")
	for _, g := range groups {
		fmt.Fprintf(&script, " /usr/sbin/ipset list %s;", firewall.IPSetName(g.ID, firewall.IPv4))
	}
	script6 := "/usr/sbin/ip6tables-nft-save -c; " + script.String()
	var libTotal, cliTotal, cli6Total, oneTotal time.Duration
	readTotal, judgeTotal = 0, 0
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		if n := judge(); n != 200 {
			b.Fatalf("%d of 200 ports OK", n)
		}
		libTotal += time.Since(t0)
		t0 = time.Now()
		if !judgeOne() {
			b.Fatalf("port %s not OK", one.Tap())
		}
		oneTotal += time.Since(t0)
		t0 = time.Now()
		out, err := exec.Command("/usr/bin/nsenter", "--net="+ns.Path, "--", "/bin/sh", "-c", script.String()).Output()
		if err != nil || len(out) == 0 {
			b.Fatalf("CLI way: %v", err)
		}
		cliTotal += time.Since(t0)
		t0 = time.Now()
		out, err = exec.Command("/usr/bin/nsenter", "--net="+ns.Path, "--", "/bin/sh", "-c", script6).Output()
		if err != nil || len(out) == 0 {
			b.Fatalf("CLI way with ip6tables: %v", err)
		}
		cli6Total += time.Since(t0)
	}
	b.StopTimer()
	b.ReportMetric(float64(libTotal.Microseconds())/float64(b.N)/1000, "lib-ms/op")
	b.ReportMetric(float64(cliTotal.Microseconds())/float64(b.N)/1000, "cli-ms/op")
	b.ReportMetric(float64(readTotal.Microseconds())/float64(b.N)/1000, "read-ms/op")
	b.ReportMetric(float64(judgeTotal.Microseconds())/float64(b.N)/1000, "judge-ms/op")
	b.ReportMetric(float64(cliTotal)/float64(libTotal), "cli/lib")
	b.ReportMetric(float64(cli6Total)/float64(libTotal), "cli6/lib")
	b.ReportMetric(float64(oneTotal.Microseconds())/float64(b.N)/1000, "one-port-ms/op")
	b.ReportMetric(float64(libTotal)/float64(oneTotal), "lib/one-port")
}
