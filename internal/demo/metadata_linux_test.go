package demo

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// metadataFactsOf observes the demo's metadata side as a network node
// would: FindMetadataProxy, the namespace's addresses, the opts file's
// route, and one HTTP GET from inside the namespace.
func metadataFactsOf(t *testing.T, p *Path) trace.MetadataFacts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Second)
	defer cancel()
	cfg := &dhcpns.Config{NetNSDir: p.NetNSDir, StateDir: p.StateDir, MetadataPIDDir: p.MetadataPIDDir,
		MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket}
	m, err := dhcpns.FindMetadataProxy(ctx, cfg, p.NetworkID)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := dhcpns.ProbeMetadata(ctx, cfg, p.NetworkID, nil)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	f := trace.MetadataFacts{NetworkID: p.NetworkID, IsolatedMetadata: &yes, Proxy: m, Probe: pr, SubnetHasGateway: &yes}
	ns, err := dhcpns.Open(ctx, cfg, dhcpns.NamespaceName(p.NetworkID))
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if s, err := ns.Inspect(ctx); err == nil {
		f.AddrLink, _ = s.MetadataAddrLink()
		f.AddrKnown = true
	}
	if b, err := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "opts")); err == nil {
		opts, _ := dhcpns.ParseOptsBytes(b)
		f.RouteVia, _ = dhcpns.MetadataRoute(opts)
	}
	return f
}

// mtuFactsOf reads the demo node's MTU chain: dnsmasq's command line
// (option:mtu) and opts file, the tap, the bridge and eth2 from
// linuxbridge, as the mtu hop will.
func mtuFactsOf(t *testing.T, p *Path) trace.MTUFacts {
	t.Helper()
	c, err := dhcpns.ParseArgs(p.DnsmasqArgs)
	if err != nil {
		t.Fatal(err)
	}
	f := trace.MTUFacts{NetworkID: p.NetworkID, NetworkType: "flat", NetworkMTU: 1500}
	f.DHCPCmdlineMTU, _ = dhcpns.OptionMTUValue(c.DHCPOptions())
	if b, err := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "opts")); err == nil {
		opts, _ := dhcpns.ParseOptsBytes(b)
		f.DHCPOptsMTU, _ = dhcpns.OptionMTUValue(opts)
	}
	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: p.HostPath})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	b, err := in.Bridge(ctx, p.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	for _, port := range b.Ports {
		switch port.Name {
		case p.Tap:
			f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUTap, Name: port.Name, MTU: port.MTU})
		case p.Uplink:
			f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUPhysical, Name: port.Name, MTU: port.MTU})
		}
	}
	f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUBridge, Name: b.Name, MTU: b.MTU})
	return f
}

// TestIntegrationDemoMetadataAndMTU builds the demo path (namespace
// guest), which now runs the real haproxy with Neutron's configuration in
// its qdhcp namespace, and judges its metadata and MTU hops: ok; then
// Break(BreakMetadata) kills haproxy and the metadata hop fails; on a
// fresh path Break(BreakMTU) lowers eth2 and the mtu hop fails naming it.
// Close leaves no haproxy behind.
func TestIntegrationDemoMetadataAndMTU(t *testing.T) {
	requirePath(t)
	testutil.RequireBinary(t, "haproxy", "haproxy")
	build := func() *Path {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
		defer cancel()
		p, err := BuildPath(ctx, &PathConfig{Dir: searchableTempDir(t)})
		if err != nil {
			t.Fatal(err)
		}
		if p.HaproxyPID == 0 {
			t.Fatalf("the demo runs no metadata proxy: %s", p.MetadataWhy)
		}
		return p
	}
	p := build()
	h := trace.JudgeMetadata(metadataFactsOf(t, p))
	t.Logf("healthy metadata: %s %s %v", h.Verdict, h.Summary, h.Evidence)
	if h.Verdict != trace.OK {
		t.Errorf("metadata hop on the healthy demo: %s %q, want ok", h.Verdict, h.Summary)
	}
	m := trace.JudgeMTU(mtuFactsOf(t, p))
	t.Logf("healthy mtu: %s %s", m.Verdict, m.Summary)
	if m.Verdict != trace.OK {
		t.Errorf("mtu hop on the healthy demo: %s %q, want ok", m.Verdict, m.Summary)
	}
	pid := p.HaproxyPID
	if err := p.Break(BreakMetadata); err != nil {
		t.Fatal(err)
	}
	h = trace.JudgeMetadata(metadataFactsOf(t, p))
	t.Logf("haproxy killed: %s %s", h.Verdict, h.Summary)
	if h.Verdict != trace.Fail || h.Cause == "" {
		t.Errorf("metadata hop with haproxy killed: %s %q, want fail", h.Verdict, h.Summary)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if left := p.Leftovers(); len(left) > 0 {
		t.Errorf("leftovers: %v", left)
	}
	if _, err := os.Stat(filepath.Join("/proc", itoa(pid), "cmdline")); err == nil {
		if b, _ := os.ReadFile(filepath.Join("/proc", itoa(pid), "stat")); len(b) > 0 && !isZombieStat(b) {
			t.Errorf("haproxy %d still runs after Close", pid)
		}
	}

	p = build()
	defer p.Close()
	hpid := p.HaproxyPID
	if err := p.Break(BreakMTU); err != nil {
		t.Fatal(err)
	}
	m = trace.JudgeMTU(mtuFactsOf(t, p))
	t.Logf("eth2 lowered: %s %s", m.Verdict, m.Summary)
	if m.Verdict != trace.Fail || !contains(m.Summary, "physical eth2 (MTU 1400)") {
		t.Errorf("mtu hop with eth2 lowered: %s %q, want fail naming eth2", m.Verdict, m.Summary)
	}
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if b, err := os.ReadFile(filepath.Join("/proc", itoa(hpid), "stat")); err == nil && !isZombieStat(b) {
		t.Errorf("haproxy %d still runs after Close", hpid)
	}
}

func itoa(n int) string { return strconv.Itoa(n) }

func contains(s, sub string) bool { return strings.Contains(s, sub) }

// isZombieStat reports whether a /proc/<pid>/stat says Z or X.
func isZombieStat(b []byte) bool {
	i := bytes.LastIndexByte(b, ')')
	return i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X')
}
