package trace_test

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// buildDemoPath builds the demo's path (internal/demo.BuildPath, with its
// metadata proxy) for a test, removed when it ends, and returns it with
// its bridges' namespace.
func buildDemoPath(ctx context.Context, t *testing.T) (*demo.Path, *testutil.NetNS) {
	t.Helper()
	testutil.RequireRoot(t)
	for _, bin := range [][2]string{{"dnsmasq", "dnsmasq-base"}, {"busybox", "busybox"}, {"haproxy", "haproxy"},
		{"iptables-nft-restore", "iptables"}, {"ebtables-nft", "ebtables"}, {"ipset", "ipset"}} {
		testutil.RequireBinary(t, bin[0], bin[1])
	}
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755) // dnsmasq reads its files as nobody
	}
	p, err := demo.BuildPath(ctx, &demo.PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("demo close: %v", err)
		}
	})
	if p.HaproxyPID == 0 {
		t.Fatalf("the demo runs no metadata proxy: %s", p.MetadataWhy)
	}
	return p, &testutil.NetNS{NetNS: sandbox.NetNSAt(p.HostPath)}
}

// TestIntegrationNodeEqualsRunDemo traces the demo's node (internal/demo:
// the VM behind its tap, the agent's firewall, dnsmasq and haproxy in the
// qdhcp namespace) with every hop of today's trace (firewall,
// reachability, metadata GET) and a second NIC that is broken (a tap on
// the same bridge with nothing behind it: no carrier), in node mode and
// one NIC at a time: each NIC's hops and verdict in node mode equal its
// single trace's. Then the VM's ICMP rule is deleted from its port's
// chain (demo.BreakICMPRule): in both modes the VM is not OK and its
// reachability hop names the dropping rule (the firewall read again after
// the silent probe), and the modes still agree hop by hop.
func TestIntegrationNodeEqualsRunDemo(t *testing.T) {
	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	p, host := buildDemoPath(ctx, t)
	broken := linuxbridge.PortTapName(randUUID())
	host.Tap(t, broken)
	host.Enslave(t, broken, p.Bridge)
	host.SetUp(t, broken)
	cfg := &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		CounterInterval: 300 * time.Millisecond, ARPTimeout: 500 * time.Millisecond,
	}
	compare := func(stage string) map[string]*trace.Trace {
		t.Helper()
		nt, err := trace.Node(ctx, cfg)
		if err != nil {
			t.Fatalf("%s: node: %v", stage, err)
		}
		byTap := map[string]*trace.Trace{}
		for _, x := range nt.Traces {
			byTap[x.Tap] = x
			single, err := trace.Run(ctx, cfg, trace.Target{Tap: x.Tap})
			if err != nil {
				t.Fatalf("%s: single %s: %v", stage, x.Tap, err)
			}
			wantSameHops(t, x, single)
		}
		if len(byTap) != 2 || byTap[p.Tap] == nil || byTap[broken] == nil {
			t.Fatalf("%s: node traced %d NICs %v, want the VM's %s and the broken %s", stage, len(nt.Traces), byTap, p.Tap, broken)
		}
		if v := byTap[broken].Verdict; v != trace.Fail {
			t.Errorf("%s: the broken NIC is %s, want fail:\n%s", stage, v, byTap[broken])
		}
		return byTap
	}
	healthy := compare("healthy")[p.Tap]
	if healthy.Verdict != trace.OK {
		t.Fatalf("the demo VM is %s in node mode, want ok:\n%s", healthy.Verdict, healthy)
	}
	for _, k := range []trace.Kind{trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindReachability, trace.KindMetadata} {
		if h, ok := healthy.Hop(k, ""); !ok || h.Verdict != trace.OK {
			t.Errorf("healthy: %s hop %s (%s), want ok", k, h.Verdict, h.Summary)
		}
	}

	if err := p.Break(demo.BreakICMPRule); err != nil {
		t.Fatal(err)
	}
	vm := compare("icmp rule deleted")[p.Tap]
	h, _ := vm.Hop(trace.KindReachability, "")
	// The reachability hop warns rather than fails: the group's
	// remote-group rule still admits ICMP from its members, which the
	// probe's source (the DHCP port) is not.
	if vm.Verdict == trace.OK || h.Verdict == trace.OK || !strings.Contains(h.Summary, "dropped by "+"neutron-linuxbri-sg-fallback") {
		t.Errorf("icmp rule deleted: VM %s, reachability hop %s %q; want neither ok, naming the fallback's DROP rule:\n%s", vm.Verdict, h.Verdict, h.Summary, vm)
	}
}
