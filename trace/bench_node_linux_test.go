package trace_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"testing"
	"time"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// node200 is a compute and network node of 200 VM NICs as the trace sees
// it today: the demo's path (internal/demo.BuildPath: the brq bridge with
// eth2, the qdhcp namespace with the real dnsmasq and haproxy as Neutron
// runs them, the agent's firewall for the port, a namespace guest that
// leased its address), 199 more taps on 20 more brq bridges, 199 more
// qdhcp namespaces, the agent's firewall layout (iptables chains, ipsets,
// ebtables chains) for all 200 ports in 21 security groups, and a private
// libvirtd whose test driver runs 200 domains, one per tap, each with a
// serial console log file holding a guest's boot (the demo guest's
// recorded console).
type node200 struct {
	p      *demo.Path
	nics   []nic200
	lv     *libvirtinspect.Client
	socket string // libvirtd's read-only socket
	prefix string // the domains' name prefix; domain prefix-0 is the demo VM's
	// console is the demo VM's domain's console log file; fwSet the
	// ipset of its security group.
	console, fwSet string
}

// nic200 is one of the node's NICs: its port ID, tap, bridge, and the
// test-driver domain whose interface targets the tap.
type nic200 struct{ port, tap, bridge, domain string }

// target is the single-trace target of the NIC: its tap, with its domain
// as the hint. The test driver reports no interface statistics, so
// without the hint the trace would look for the tap's domain in every
// domain's XML, one RPC after the other (up to 200): a path a qemu node
// does not take, its stats naming each running domain's taps. The hint
// costs one RPC, as that stats hit does.
func (n nic200) target() trace.Target { return trace.Target{Tap: n.tap, Domain: n.domain} }

func newNode200(b *testing.B) *node200 {
	testutil.RequireRoot(b)
	for _, bin := range [][2]string{{"arping", "iputils-arping"}, {"virsh", "libvirt-clients"}, {"haproxy", "haproxy"},
		{"dnsmasq", "dnsmasq-base"}, {"busybox", "busybox"}, {"iptables-nft-save", "iptables"}, {"ebtables-nft", "ebtables"},
		{"ipset", "ipset"}, {"ping", "iputils-ping"}, {"curl", "curl"}} {
		testutil.RequireBinary(b, bin[0], bin[1])
	}
	ctx := context.Background()
	setup := time.Now()
	dir := b.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // dnsmasq reads its files as nobody
	}
	p, err := demo.BuildPath(ctx, &demo.PathConfig{Dir: dir})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() {
		if err := p.Close(); err != nil {
			b.Errorf("demo close: %v", err)
		}
	})
	if p.HaproxyPID == 0 {
		b.Fatalf("the demo runs no metadata proxy: %s", p.MetadataWhy)
	}
	host := &testutil.NetNS{NetNS: sandbox.NetNSAt(p.HostPath)}
	n := &node200{p: p, nics: []nic200{{port: p.PortID, tap: p.Tap, bridge: p.Bridge}}}
	for range 20 {
		br := linuxbridge.NetworkBridgeName(randUUID())
		host.Bridge(b, br)
		for range 10 {
			if len(n.nics) == 200 {
				break
			}
			port := randUUID()
			tap := linuxbridge.PortTapName(port)
			host.Tap(b, tap)
			host.Enslave(b, tap, br)
			n.nics = append(n.nics, nic200{port: port, tap: tap, bridge: br})
		}
	}
	for range 199 {
		testutil.NewNetNSAt(b, p.NetNSDir, "qdhcp-"+randUUID())
	}
	n.installFirewall(b)

	d := testutil.NewPrivateLibvirtd(b)
	n.socket = d.ReadOnlySocket
	adm := testutil.LibvirtAdmin(b, d.Socket, "test:///default")
	boot, err := os.ReadFile("../guestlog/testdata/demo-guest-leased.log")
	if err != nil {
		b.Fatal(err)
	}
	consoles := b.TempDir()
	n.prefix = "pf" + randHex(6)
	for i := range n.nics {
		nic := &n.nics[i]
		nic.domain = fmt.Sprintf("%s-%d", n.prefix, i)
		mac := fmt.Sprintf("52:54:00:%02x:%02x:%02x", 0x10, i/256, i%256)
		if i == 0 {
			mac = p.MAC.String()
		}
		console := filepath.Join(consoles, fmt.Sprintf("console-%d.log", i))
		if err := os.WriteFile(console, boot, 0o600); err != nil {
			b.Fatal(err)
		}
		if i == 0 {
			n.console = console
		}
		x := fmt.Sprintf(`<domain type='test'><name>%s</name><memory unit='KiB'>8192</memory><os><type>hvm</type></os><devices>
<interface type='bridge'><mac address='%s'/><source bridge='%s'/><target dev='%s'/><model type='virtio'/></interface>
<serial type='file'><source path='%s'/><target port='0'/></serial></devices></domain>`, nic.domain, mac, nic.bridge, nic.tap, console)
		dom, err := adm.DomainCreateXML(x, 0)
		if err != nil {
			b.Fatalf("create test domain %d: %v", i, err)
		}
		b.Cleanup(func() { adm.DomainDestroy(dom) })
	}
	n.lv, err = libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: "test:///default", Socket: d.ReadOnlySocket, ReadOnly: true})
	if err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { n.lv.Close() })
	b.Logf("setup of the demo path, 200 NICs, 200 namespaces, 200 ports' firewall and 200 domains: %s", time.Since(setup).Round(time.Millisecond))
	return n
}

// installFirewall replaces the demo node's firewall (its one port's) with
// the agent's layout for all 200 ports: the demo port in its default
// group, the 199 others in 20 groups of the walkthrough's rules (remote
// group, egress, ICMP, SSH), as BenchmarkFirewall200's node.
func (n *node200) installFirewall(b *testing.B) {
	ctx := context.Background()
	groups := make([]fwlayout.Group, 20)
	for g := range groups {
		id := randUUID()
		groups[g] = fwlayout.Group{ID: id, Rules: []fwlayout.Rule{
			{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: id},
			{Direction: "egress", Ethertype: "IPv4"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
			{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
		}}
	}
	ports := []fwlayout.Port{n.p.FirewallPort()}
	n.fwSet = firewall.IPSetName(ports[0].Groups[0].ID, firewall.IPv4)
	for i, nic := range n.nics[1:] {
		ip := netip.AddrFrom4([4]byte{10, 1, byte(i / 250), byte(i%250 + 2)})
		groups[i%20].Members = append(groups[i%20].Members, ip)
		ports = append(ports, fwlayout.Port{ID: nic.port, MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0, byte(i >> 8), byte(i)}, IPs: []netip.Addr{ip}})
	}
	for i := range ports[1:] {
		ports[i+1].Groups = []fwlayout.Group{groups[i%20]}
	}
	for _, argv := range [][]string{
		{"/usr/sbin/iptables-nft", "-F"}, {"/usr/sbin/iptables-nft", "-X"},
		{"/usr/sbin/ebtables-nft", "-t", "nat", "-F"}, {"/usr/sbin/ebtables-nft", "-t", "nat", "-X"},
	} {
		if err := fwlayout.Run(ctx, n.p.HostPath, "", argv...); err != nil {
			b.Fatal(err)
		}
	}
	t0 := time.Now()
	if err := fwlayout.Install(ctx, n.p.HostPath, firewall.BackendNFT, ports); err != nil {
		b.Fatal(err)
	}
	for _, p := range ports {
		if !hasNIC(n.nics, p.Tap()) {
			b.Fatalf("port %s's tap %s is not one of the node's", p.ID, p.Tap())
		}
	}
	b.Logf("installed the agent's firewall for %d ports in %s", len(ports), time.Since(t0).Round(time.Millisecond))
}

func hasNIC(nics []nic200, tap string) bool {
	for _, n := range nics {
		if n.tap == tap {
			return true
		}
	}
	return false
}

// config is the trace configuration of the node in the fast mode: no
// fixed wait at all (CounterInterval -1: the second counter sample right
// after the probes; ARPSettle -1: the ARP sweep stops at the first
// answer). full false is the first wave's hop set (NoFirewall, NoReach,
// NoConsole, NoMetadataProbe); full true every hop of today's trace.
func (n *node200) config(full bool) *trace.Config {
	p := n.p
	return &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		Libvirt:         n.lv,
		CounterInterval: -1, ARPSettle: -1, ARPTimeout: time.Second,
		NoFirewall: !full, NoReach: !full, NoConsole: !full, NoMetadataProbe: !full,
	}
}

// fullKinds are the hops the full variant adds to the first wave's: each
// must be OK on the demo VM's trace, so the benchmark times them working.
var fullKinds = []trace.Kind{trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindReachability, trace.KindGuest, trace.KindMetadata}

// cli is the operator's command sequence for the same answers about the
// demo VM's NIC: ip, bridge, ps, cat, ip in the qdhcp namespace, arping,
// virsh domiflist; in the full variant also iptables-save, ebtables,
// ipset list of its group, ping from the qdhcp namespace, curl of the
// metadata address there, virsh dumpxml (the console's path) and tail of
// the console log.
func (n *node200) cli(full bool) []*exec.Cmd {
	p := n.p
	nsenter := func(ns string, args ...string) *exec.Cmd {
		return exec.Command("nsenter", append([]string{"--net=" + ns, "--"}, args...)...)
	}
	dir := filepath.Join(p.StateDir, p.NetworkID)
	qdhcp := filepath.Join(p.NetNSDir, "qdhcp-"+p.NetworkID)
	uri := "test+unix:///default?socket=" + n.socket
	cs := []*exec.Cmd{
		nsenter(p.HostPath, "ip", "-j", "-d", "-s", "link", "show"),
		nsenter(p.HostPath, "bridge", "-j", "fdb", "show"),
		exec.Command("ps", "-e", "-o", "pid,args"),
		exec.Command("cat", filepath.Join(dir, "host"), filepath.Join(dir, "leases"), filepath.Join(dir, "pid")),
		nsenter(qdhcp, "ip", "-j", "addr"),
		nsenter(qdhcp, "arping", "-c1", "-w1", "-I", p.DHCPIf, p.IP.String()),
		exec.Command("virsh", "-c", uri, "-r", "domiflist", n.nics[0].domain),
	}
	if full {
		cs = append(cs,
			nsenter(p.HostPath, "iptables-nft-save", "-c"),
			nsenter(p.HostPath, "ebtables-nft", "-t", "nat", "-L", "--Lc"),
			nsenter(p.HostPath, "ipset", "list", n.fwSet),
			nsenter(qdhcp, "ping", "-c1", "-W1", p.IP.String()),
			nsenter(qdhcp, "curl", "-s", "-o", "/dev/null", "-m", "1", "http://169.254.169.254/"),
			exec.Command("virsh", "-c", uri, "-r", "dumpxml", n.nics[0].domain),
			exec.Command("tail", "-c", "65536", n.console),
		)
	}
	return cs
}

// BenchmarkNode200 traces a node of 200 VM NICs (node200: the demo's path
// with its firewall, dnsmasq, haproxy and guest, 199 more taps, 200 qdhcp
// namespaces, 200 ports' firewall, 200 test-driver domains with console
// logs) whole (Node: one observation, one ARP sweep per qdhcp namespace)
// against 200 single traces (Run, one per tap) and one single trace of
// the demo VM, in the same run, in the fast mode without fixed waits
// (node200.config). Sub-benchmarks: "wave1" with the first wave's hops
// (no firewall, reachability, console or metadata probe: issue 10's 24 ms
// figure), "full" with every hop (issue 12's 100 ms figure). Each reports
// node-ms, single-ms, singles200-ms, the ratios node/single and
// singles200/node (the issue asks for at most 2 and at least 50), the
// operator's command sequence for the demo VM (cli-ms) and
// x-single-faster-than-cli, and the default ARP settle measured apart
// (settle-ms: a single trace with ARPSettle at its 5 ms default, minus
// single-ms), and the 200 domains' XML read alone as node mode reads it
// (xml200-ms: one Stats call, then DetailsOf; singles200/xml200 is the
// most the 200 singles could be over a node that did nothing else). The
// ratios are reported, not required: issue 10's figures count the counter
// interval each single trace waits and the node waits once, as
// "defaults" measures and checks; with no wait at all, libvirtd's
// ~100 µs per domain XML RPC alone is 1/75 of a 7.5 ms single trace.
// Before timing, every NIC's node verdict must equal its
// single trace's, and the demo VM's trace must be OK with (full) the
// firewall, reachability, guest and metadata hops OK.
func BenchmarkNode200(b *testing.B) {
	n := newNode200(b)
	for _, v := range []struct {
		name string
		full bool
	}{{"wave1", false}, {"full", true}} {
		b.Run(v.name, func(b *testing.B) { n.bench(b, v.full) })
	}
	b.Run("judge", n.benchJudge)
	b.Run("defaults", n.benchDefaults)
}

// benchDefaults times the node and single traces as an operator runs
// them (vmtrace -all, vmtrace -tap): every hop, and every wait at its
// default, the 1 s counter interval and the 5 ms ARP settle. Node mode
// waits the interval once for all 200 NICs, a single trace once per NIC:
// issue 10's node/single and singles200/node are reported here with the
// waits the issue names as what a node of 200 single traces costs, and
// bench's wave1 and full report the same ratios with no wait at all. One
// iteration takes over 200 s (the 200 singles' intervals); every NIC's
// single verdict and domain must equal the node's, checked on the timed
// singles themselves.
func (n *node200) benchDefaults(b *testing.B) {
	cfg := n.config(true)
	cfg.CounterInterval, cfg.ARPSettle = 0, 0 // the defaults
	ctx := context.Background()
	var nodeT, singleT, singlesT time.Duration
	singles := make([]*trace.Trace, len(n.nics))
	for b.Loop() {
		t0 := time.Now()
		nt, err := trace.Node(ctx, cfg)
		nodeT += time.Since(t0)
		if err != nil {
			b.Fatalf("node: %v", err)
		}

		t0 = time.Now()
		tr, err := trace.Run(ctx, cfg, n.nics[0].target())
		singleT += time.Since(t0)
		if err != nil || tr.Verdict != trace.OK {
			b.Fatalf("single: %v\n%s", err, tr)
		}

		t0 = time.Now()
		for i, nic := range n.nics {
			if singles[i], err = trace.Run(ctx, cfg, nic.target()); err != nil {
				b.Fatal(err)
			}
		}
		singlesT += time.Since(t0)

		byTap := make(map[string]*trace.Trace, len(nt.Traces))
		for _, x := range nt.Traces {
			byTap[x.Tap] = x
		}
		for i, nic := range n.nics {
			x, s := byTap[nic.tap], singles[i]
			switch {
			case x == nil:
				b.Fatalf("node mode did not trace %s", nic.tap)
			case x.Verdict != s.Verdict || x.Domain != s.Domain:
				b.Errorf("%s: node verdict %s domain %s, single %s %s", nic.tap, x.Verdict, x.Domain, s.Verdict, s.Domain)
			}
		}
	}
	b.StopTimer()
	N := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / N / 1000 }
	b.ReportMetric(ms(nodeT), "node-ms")
	b.ReportMetric(ms(singleT), "single-ms")
	b.ReportMetric(ms(singlesT), "singles200-ms")
	b.ReportMetric(float64(nodeT)/float64(singleT), "node/single")
	b.ReportMetric(float64(singlesT)/float64(nodeT), "singles200/node")
	b.Logf("every wait at its default: node %.1f ms, single %.1f ms, 200 singles %.1f ms", ms(nodeT), ms(singleT), ms(singlesT))
	if nodeT > 2*singleT {
		b.Errorf("the node took %.2fx one single trace, the issue asks for at most 2x", float64(nodeT)/float64(singleT))
	}
	if singlesT < 50*nodeT {
		b.Errorf("200 single traces took only %.1fx the node, the issue asks for at least 50x", float64(singlesT)/float64(nodeT))
	}
}

// benchJudge times Judge alone (pure CPU) over one observation of the
// 200-NIC node, the first wave's.
func (n *node200) benchJudge(b *testing.B) {
	obs, err := trace.Observe(context.Background(), n.config(false), trace.Request{Mode: trace.ModeNode}, nil)
	if err != nil {
		b.Fatal(err)
	}
	if nt := trace.Judge(obs); len(nt.Traces) < 200 {
		b.Fatalf("judge: %d traces, want at least 200", len(nt.Traces))
	}
	b.ReportAllocs()
	for b.Loop() {
		trace.Judge(obs)
	}
}

func (n *node200) bench(b *testing.B, full bool) {
	cfg := n.config(full)
	settled := *cfg
	settled.ARPSettle = 0 // the default
	ctx := context.Background()
	target := n.nics[0].target()
	tr, err := trace.Run(ctx, cfg, target)
	if err != nil || tr.Verdict != trace.OK {
		b.Fatalf("the demo VM's trace is not ok before timing: %v\n%s", err, tr)
	}
	for _, k := range fullKinds {
		h, ok := tr.Hop(k, "")
		switch {
		case full && (!ok || h.Verdict != trace.OK):
			b.Fatalf("full trace: %s hop %s (%s), want ok\n%s", k, h.Verdict, h.Summary, tr)
		case !full && ok && k != trace.KindMetadata && h.Verdict != trace.Unknown:
			// (The metadata hop is judged without its GET, on the
			// proxy's process, listeners and address.)
			b.Fatalf("first wave's trace: %s hop %s, want unknown (not observed)", k, h.Verdict)
		}
	}
	nt, err := trace.Node(ctx, cfg)
	if err != nil {
		b.Fatal(err)
	}
	found := 0
	for _, x := range nt.Traces {
		if hasNIC(n.nics, x.Tap) {
			found++
		}
	}
	if found != 200 {
		b.Fatalf("node traced %d of the 200 NICs (%d traces)", found, len(nt.Traces))
	}
	// Each NIC's verdict is its single trace's, traced by its tap alone
	// as an operator would (the test driver's own "test" domain, whose
	// interface has no tap, is an orphan NIC too).
	for _, x := range nt.Traces {
		tr, err := trace.Run(ctx, cfg, trace.Target{Tap: x.Tap})
		if err != nil {
			b.Fatal(err)
		}
		if tr.Verdict != x.Verdict || tr.Domain != x.Domain {
			b.Errorf("%s: node verdict %s domain %s, single %s %s", x.Tap, x.Verdict, x.Domain, tr.Verdict, tr.Domain)
		}
		if x.Tap == n.p.Tap && x.Verdict != trace.OK {
			b.Fatalf("the demo VM's NIC is %s in node mode:\n%s", x.Verdict, x)
		}
	}
	// Where the node's time goes.
	for range 3 {
		t0 := time.Now()
		obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNode}, nil)
		if err != nil {
			b.Fatal(err)
		}
		t1 := time.Now()
		trace.Judge(obs)
		b.Logf("node: observe %s, judge %s", t1.Sub(t0).Round(time.Microsecond), time.Since(t1).Round(time.Microsecond))
	}

	// The domains' XML, read alone as node mode reads it (one Stats
	// call for the domains, then DetailsOf): the part of the node no
	// other work can shorten, libvirtd's work per RPC bounding it.
	xml200 := func() time.Duration {
		t0 := time.Now()
		stats, err := n.lv.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface})
		if err != nil {
			b.Fatal(err)
		}
		doms := make([]libvirtinspect.Domain, len(stats))
		for i := range stats {
			doms[i] = stats[i].Domain
		}
		if _, errs := n.lv.DetailsOf(ctx, doms); errors.Join(errs...) != nil {
			b.Fatal(errors.Join(errs...))
		}
		return time.Since(t0)
	}

	var nodeT, singleT, singlesT, settledT, cliT, xmlT, maxSingle time.Duration
	b.ResetTimer()
	for b.Loop() {
		t0 := time.Now()
		nt, err := trace.Node(ctx, cfg)
		nodeT += time.Since(t0)
		if err != nil || len(nt.Traces) < 200 {
			b.Fatalf("node: %v", err)
		}

		t0 = time.Now()
		tr, err := trace.Run(ctx, cfg, target)
		dt := time.Since(t0)
		singleT += dt
		maxSingle = max(maxSingle, dt)
		if err != nil || tr.Verdict != trace.OK {
			b.Fatalf("single: %v\n%s", err, tr)
		}

		t0 = time.Now()
		for _, nic := range n.nics {
			if _, err := trace.Run(ctx, cfg, nic.target()); err != nil {
				b.Fatal(err)
			}
		}
		singlesT += time.Since(t0)

		t0 = time.Now()
		if tr, err := trace.Run(ctx, &settled, target); err != nil || tr.Verdict != trace.OK {
			b.Fatalf("single with the default settle: %v\n%s", err, tr)
		}
		settledT += time.Since(t0)

		t0 = time.Now()
		for _, c := range n.cli(full) {
			if out, err := c.CombinedOutput(); err != nil {
				b.Fatalf("%s: %v\n%s", c.Args, err, out)
			}
		}
		cliT += time.Since(t0)

		xmlT += xml200()
	}
	b.StopTimer()
	N := float64(b.N)
	ms := func(d time.Duration) float64 { return float64(d.Microseconds()) / N / 1000 }
	b.ReportMetric(ms(nodeT), "node-ms")
	b.ReportMetric(ms(singleT), "single-ms")
	b.ReportMetric(float64(maxSingle.Microseconds())/1000, "single-max-ms")
	b.ReportMetric(ms(singlesT), "singles200-ms")
	b.ReportMetric(ms(settledT)-ms(singleT), "settle-ms")
	b.ReportMetric(ms(cliT), "cli-ms")
	b.ReportMetric(float64(nodeT)/float64(singleT), "node/single")
	b.ReportMetric(float64(singlesT)/float64(nodeT), "singles200/node")
	b.ReportMetric(float64(cliT)/float64(singleT), "x-single-faster-than-cli")
	b.ReportMetric(ms(xmlT), "xml200-ms")
	b.ReportMetric(float64(singlesT)/float64(xmlT), "singles200/xml200")
	b.Logf("node %.1f ms, single %.1f ms (max %.1f), 200 singles %.1f ms, single with the default ARP settle %.1f ms, operator's commands %.1f ms, the 200 domains' XML alone %.1f ms",
		ms(nodeT), ms(singleT), float64(maxSingle.Microseconds())/1000, ms(singlesT), ms(settledT), ms(cliT), ms(xmlT))
	// Issue 10's ratios count the counter interval every single trace
	// waits and the node waits once (benchDefaults checks them); without
	// any wait they are a stricter bar, reported here, not required.
	if nodeT > 2*singleT || singlesT < 50*nodeT {
		b.Logf("without any wait: node/single %.2fx (issue 10's bar with the waits: at most 2x), 200 singles/node %.1fx (at least 50x)",
			float64(nodeT)/float64(singleT), float64(singlesT)/float64(nodeT))
	}
	if full && maxSingle > 100*time.Millisecond {
		b.Errorf("the slowest full single trace took %s, issue 12 asks for under 100 ms", maxSingle)
	}
}
