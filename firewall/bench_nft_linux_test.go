package firewall_test

import (
	"context"
	"crypto/rand"
	"fmt"
	"net/netip"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
	"golang.org/x/sys/unix"
)

func benchUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// BenchmarkNFTScopedRead200 reads one port's iptables-nft chains (both
// families: the port's ingress, egress and spoof chains and the shared
// chains that jump to them) on a node of 200 dual-stack ports in 21
// groups (the agent's layout, iptables-nft, in a throwaway namespace),
// three ways in the same run: through nf_tables netlink (the scoped
// read's default), with one `iptables-nft -S CHAIN -v` per chain
// (Config.NFTCLI, the read before), and the whole tables with
// iptables-nft-save and ip6tables-nft-save. Before timing, the netlink
// and CLI reads must be equal. It reports each in ms/op and the ratios
// cli/netlink and save/netlink.
func BenchmarkNFTScopedRead200(b *testing.B) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "iptables-nft", "iptables")
	ns := testutil.NewNetNSAt(b, testutil.DefaultNetNSDir, testutil.RandNameN("fn-b", 16))
	var groups []fwlayout.Group
	for range 21 {
		id := benchUUID()
		groups = append(groups, fwlayout.Group{ID: id, Rules: []fwlayout.Rule{
			{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: id},
			{Direction: "egress", Ethertype: "IPv4"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
			{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: id},
			{Direction: "egress", Ethertype: "IPv6"},
			{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp", PortMin: 128},
		}})
	}
	var ports []fwlayout.Port
	for i := range 200 {
		v4 := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 2)})
		v6 := netip.MustParseAddr(fmt.Sprintf("2001:db8:1::%x", i+2))
		g := &groups[i%21]
		g.Members = append(g.Members, v4, v6)
		ports = append(ports, fwlayout.Port{ID: benchUUID(), MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)}, IPs: []netip.Addr{v4, v6}})
	}
	for i := range ports {
		ports[i].Groups = []fwlayout.Group{groups[i%21]}
	}
	ctx := context.Background()
	if err := fwlayout.Install(ctx, ns.Path, firewall.BackendNFT, ports); err != nil {
		b.Fatal(err)
	}
	one := ports[100]
	nlCfg := &firewall.Config{NetNSPath: ns.Path, Taps: []string{one.Tap()}}
	cliCfg := &firewall.Config{NetNSPath: ns.Path, Taps: []string{one.Tap()}, NFTCLI: true}
	nl, reads, err := firewall.ReadNFTScoped(ctx, nlCfg)
	if err != nil {
		b.Fatal(err)
	}
	for _, r := range reads {
		if r.Via != firewall.ViaNetlink || len(r.Fallback) > 0 {
			b.Fatalf("netlink read: %+v", r)
		}
	}
	cli, _, err := firewall.ReadNFTScoped(ctx, cliCfg)
	if err != nil {
		b.Fatal(err)
	}
	if len(nl) != 2 || len(cli) != 2 {
		b.Fatalf("%d netlink tables, %d CLI tables, want 2", len(nl), len(cli))
	}
	chains := 0
	for i := range nl {
		if d := cmp.Diff(cli[i], nl[i], cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); d != "" {
			b.Fatalf("%s: netlink and CLI reads differ (-cli +netlink):\n%s", nl[i].Family, d)
		}
		chains += len(nl[i].Chains)
	}
	b.Logf("scoped to %s: %d chains in both families", one.Tap(), chains)
	var nlT, cliT, saveT, nlCPU, cliCPU, saveCPU time.Duration
	for b.Loop() {
		t0, c0 := time.Now(), cpuTime(b)
		if _, _, err := firewall.ReadNFTScoped(ctx, nlCfg); err != nil {
			b.Fatal(err)
		}
		t1, c1 := time.Now(), cpuTime(b)
		if _, _, err := firewall.ReadNFTScoped(ctx, cliCfg); err != nil {
			b.Fatal(err)
		}
		t2, c2 := time.Now(), cpuTime(b)
		if _, err := firewall.ReadNFTSave(ctx, &firewall.Config{NetNSPath: ns.Path}); err != nil {
			b.Fatal(err)
		}
		t3, c3 := time.Now(), cpuTime(b)
		nlT, cliT, saveT = nlT+t1.Sub(t0), cliT+t2.Sub(t1), saveT+t3.Sub(t2)
		nlCPU, cliCPU, saveCPU = nlCPU+c1-c0, cliCPU+c2-c1, saveCPU+c3-c2
	}
	n := float64(b.N)
	// CPU time (this process and its reaped children), which a busy
	// 2-core machine inflates far less than wall time.
	b.ReportMetric(float64(nlCPU.Microseconds())/n/1000, "netlink-cpu-ms/op")
	b.ReportMetric(float64(cliCPU.Microseconds())/n/1000, "cli-cpu-ms/op")
	b.ReportMetric(float64(saveCPU.Microseconds())/n/1000, "save-cpu-ms/op")
	b.ReportMetric(float64(cliCPU)/float64(nlCPU), "cli/netlink-cpu")
	b.ReportMetric(float64(nlT.Microseconds())/n/1000, "netlink-ms/op")
	b.ReportMetric(float64(cliT.Microseconds())/n/1000, "cli-ms/op")
	b.ReportMetric(float64(saveT.Microseconds())/n/1000, "save-ms/op")
	b.ReportMetric(float64(cliT)/float64(nlT), "cli/netlink")
	b.ReportMetric(float64(saveT)/float64(nlT), "save/netlink")
}

// cpuTime is the CPU time (user and system) of this process and of its
// children that have been waited for.
func cpuTime(tb testing.TB) time.Duration {
	var self, kids unix.Rusage
	if err := unix.Getrusage(unix.RUSAGE_SELF, &self); err != nil {
		tb.Fatal(err)
	}
	if err := unix.Getrusage(unix.RUSAGE_CHILDREN, &kids); err != nil {
		tb.Fatal(err)
	}
	var d time.Duration
	for _, t := range []unix.Timeval{self.Utime, self.Stime, kids.Utime, kids.Stime} {
		d += time.Duration(t.Nano())
	}
	return d
}
