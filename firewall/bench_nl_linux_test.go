package firewall

import (
	"context"
	"fmt"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// installEb200 installs, in a fresh namespace, the ebtables nat chains and
// ipsets the agent builds for 200 ports in 20 groups (the layout of
// internal/fwlayout, written out here because fwlayout imports this
// package), and returns the namespace path, a tap and its group's set.
func installEb200(b *testing.B) (string, string, string) {
	testutil.RequireRoot(b)
	testutil.RequireBinary(b, "ebtables-nft-restore", "ebtables")
	testutil.RequireBinary(b, "ipset", "ipset")
	ns := testutil.NewNetNSAt(b, testutil.DefaultNetNSDir, testutil.RandNameN("fb-b", 16))
	tap := func(i int) string { return fmt.Sprintf("tap%08x-%02x", 0x3f2a0000+i, i%100) }
	set := func(g int) string { return fmt.Sprintf("NIPv4%08x-7b4d-4e8f-a1b2-", g) }
	var eb, ips strings.Builder
	eb.WriteString("*nat\n:PREROUTING ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n")
	for i := range 200 {
		fmt.Fprintf(&eb, ":%s DROP\n:%s DROP\n", EbARPChain(tap(i)), EbMACChain(tap(i)))
	}
	for i := range 200 {
		fmt.Fprintf(&eb, "-A PREROUTING -i %s -j %s\n", tap(i), EbMACChain(tap(i)))
	}
	for i := range 200 {
		fmt.Fprintf(&eb, "-A PREROUTING -p ARP -i %s -j %s\n", tap(i), EbARPChain(tap(i)))
	}
	for g := range 20 {
		fmt.Fprintf(&ips, "create %s hash:net family inet hashsize 1024 maxelem 65536\n", set(g))
	}
	for i := range 200 {
		ip := fmt.Sprintf("10.1.%d.%d", i/250, i%250+2)
		fmt.Fprintf(&eb, "-A %s -p ARP --arp-ip-src %s -j ACCEPT\n-A %s -j DROP\n", EbARPChain(tap(i)), ip, EbARPChain(tap(i)))
		fmt.Fprintf(&eb, "-A %s -i %s --among-src fa:16:3e:00:%02x:%02x -j RETURN\n-A %s -j DROP\n", EbMACChain(tap(i)), tap(i), i>>8, i&255, EbMACChain(tap(i)))
		fmt.Fprintf(&ips, "add %s %s\n", set(i%20), ip)
	}
	eb.WriteString("COMMIT\n")
	for _, s := range []struct{ in, tool string }{{eb.String(), "/usr/sbin/ebtables-nft-restore"}, {ips.String(), "/usr/sbin/ipset"}} {
		args := []string{"--net=" + ns.Path, "--", s.tool}
		if strings.HasSuffix(s.tool, "ipset") {
			args = append(args, "restore")
		}
		cmd := exec.Command("/usr/bin/nsenter", args...)
		cmd.Stdin = strings.NewReader(s.in)
		if out, err := cmd.CombinedOutput(); err != nil {
			b.Fatalf("%s: %v: %s", s.tool, err, out)
		}
	}
	return ns.Path, tap(100), set(100 % 20)
}

// BenchmarkEbtablesIPSet200 times, in one run on the agent's ebtables and
// ipset layout for 200 ports, the ebtables nat table and ipsets read the
// way Read now does it through netlink, for one port (nl-scoped-ms: the
// built-in chains, the port's two chains, its group's set) and for the
// whole node (nl-whole-ms: every chain, every set), against the tools
// Read ran before for either (cli-ms: `ebtables -t nat -L --Lc` and `ipset
// save`, started at once as Read did), and reports the ratios; nl-dial-ms
// is the part of a netlink read spent opening the socket in the namespace.
func BenchmarkEbtablesIPSet200(b *testing.B) {
	nsPath, tap, set := installEb200(b)
	ctx := context.Background()
	nlRead := func(taps []string, names []string, all bool) (int, int) {
		c, err := dialNetfilter(ctx, nsPath)
		if err != nil {
			b.Fatal(err)
		}
		defer c.Close()
		eb, err := readEbNFT(c, taps)
		if err != nil || len(eb.fallback) > 0 {
			b.Fatalf("readEbNFT: %v, fallback %v", err, eb.fallback)
		}
		sets, _, err := readIPSetsNL(c, names, all)
		if err != nil {
			b.Fatal(err)
		}
		return len(eb.table.Chains), len(sets)
	}
	cliRead := func() (int, int) {
		var ebOut, setOut strings.Builder
		ebCmd := exec.Command("/usr/sbin/ebtables", "-t", "nat", "-L", "--Lc")
		setCmd := exec.Command("/usr/sbin/ipset", "save")
		ebCmd.Stdout, setCmd.Stdout = &ebOut, &setOut
		// Started from a thread inside the namespace, as Read starts them.
		if err := inNetNS(nsPath, func() error {
			if err := ebCmd.Start(); err != nil {
				return err
			}
			return setCmd.Start()
		}); err != nil {
			b.Fatal(err)
		}
		if err := setCmd.Wait(); err != nil {
			b.Fatal(err)
		}
		if err := ebCmd.Wait(); err != nil {
			b.Fatal(err)
		}
		t, err := ParseEbtablesList(ebOut.String(), BackendNFT)
		if err != nil {
			b.Fatal(err)
		}
		sets, err := ParseIPSetSave(setOut.String())
		if err != nil {
			b.Fatal(err)
		}
		return len(t.Chains), len(sets)
	}
	if c, s := nlRead([]string{tap}, []string{set}, false); c != 5 || s != 1 {
		b.Fatalf("scoped netlink read: %d chains, %d sets; want 5 and 1", c, s)
	}
	if c, s := nlRead(nil, nil, true); c != 403 || s != 20 {
		b.Fatalf("whole netlink read: %d chains, %d sets; want 403 and 20", c, s)
	}
	if c, s := cliRead(); c != 403 || s != 20 {
		b.Fatalf("tools: %d chains, %d sets; want 403 and 20", c, s)
	}
	var scoped, whole, cli, dial time.Duration
	b.ResetTimer()
	for b.Loop() {
		td := time.Now()
		c, err := dialNetfilter(ctx, nsPath)
		if err != nil {
			b.Fatal(err)
		}
		c.Close()
		dial += time.Since(td)
		t0 := time.Now()
		nlRead([]string{tap}, []string{set}, false)
		t1 := time.Now()
		nlRead(nil, nil, true)
		t2 := time.Now()
		cliRead()
		t3 := time.Now()
		scoped, whole, cli = scoped+t1.Sub(t0), whole+t2.Sub(t1), cli+t3.Sub(t2)
	}
	n := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d) / n / 1e6 }
	b.ReportMetric(ms(scoped), "nl-scoped-ms")
	b.ReportMetric(ms(whole), "nl-whole-ms")
	b.ReportMetric(ms(cli), "cli-ms")
	b.ReportMetric(ms(dial), "nl-dial-ms")
	b.ReportMetric(float64(cli)/float64(scoped), "cli/nl-scoped")
	b.ReportMetric(float64(cli)/float64(whole), "cli/nl-whole")
}
