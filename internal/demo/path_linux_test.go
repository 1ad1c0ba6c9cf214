package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

func requirePath(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	testutil.RequireBinary(t, "busybox", "busybox")
	testutil.RequireBinary(t, "nsenter", "util-linux")
	testutil.RequireBinary(t, "ip", "iproute2")
}

// ipJSON runs `ip -j <args>` inside the namespace at nsPath.
func ipJSON(t *testing.T, nsPath string, args ...string) []map[string]any {
	t.Helper()
	out, err := exec.Command("nsenter", append([]string{"--net=" + nsPath, "ip", "-j"}, args...)...).Output()
	if err != nil {
		t.Fatalf("ip -j %v in %s: %v", args, nsPath, err)
	}
	var v []map[string]any
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("ip -j %v: %v\n%s", args, err, out)
	}
	return v
}

func link(t *testing.T, nsPath, name string) map[string]any {
	t.Helper()
	for _, l := range ipJSON(t, nsPath, "addr", "show", "dev", name) {
		return l
	}
	t.Fatalf("no %s in %s", name, nsPath)
	return nil
}

func hasAddr(l map[string]any, cidr string) bool {
	ai, _ := l["addr_info"].([]any)
	for _, a := range ai {
		m, _ := a.(map[string]any)
		if fmt.Sprintf("%v/%v", m["local"], m["prefixlen"]) == cidr {
			return true
		}
	}
	return false
}

// pathKinds are the hops of the path proper (not the host checks, not the
// libvirt hops the no-API mode cannot judge).
var pathKinds = []trace.Kind{trace.KindTap, trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindBridge, trace.KindPhysicalPort, trace.KindMTU, trace.KindFDB, trace.KindDHCPNS,
	trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindMetadata, trace.KindARP, trace.KindReachability, trace.KindCounters}

func runTrace(t *testing.T, p *Path) *trace.Trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	tr, err := trace.Run(ctx, &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		CounterInterval: 300 * time.Millisecond, ARPTimeout: time.Second,
		// A TCG guest answers ARP in about a millisecond, now and then in
		// more than the default 5 ms settle, and on a loaded CI machine
		// in more than 100 ms (seen: the dup-ip fault heard only the
		// impostor): listen long enough to hear both hosts every time.
		ARPSettle: 500 * time.Millisecond,
	}, trace.Target{PortID: p.PortID})
	if err != nil {
		t.Fatalf("trace.Run: %v", err)
	}
	t.Logf("\n%s", tr)
	return tr
}

// wantHops asserts every path hop is OK except those in bad, which must
// have the given verdict.
func wantHops(t *testing.T, tr *trace.Trace, bad map[trace.Kind]trace.Verdict) {
	t.Helper()
	for _, k := range pathKinds {
		h, ok := tr.Hop(k, "")
		if !ok {
			t.Errorf("no %s hop", k)
			continue
		}
		want, isBad := bad[k]
		if !isBad {
			want = trace.OK
		}
		if h.Verdict != want {
			t.Errorf("%s %s: %s (%s), want %s", k, h.Name, h.Verdict, h.Summary, want)
		}
	}
}

func checkClean(t *testing.T, p *Path, dir string, keep bool, dnsmasqPID int) {
	t.Helper()
	if left := p.Leftovers(); len(left) > 0 {
		t.Errorf("Leftovers after Close: %v", left)
	}
	if left := Residue(dir, keep); len(left) > 0 {
		t.Errorf("Residue(%s) after Close: %v", dir, left)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", dnsmasqPID)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dnsmasq %d still in /proc after Close (%v)", dnsmasqPID, err)
	}
	ourNS, _ := os.Readlink("/proc/self/ns/net")
	var bad []string
	for range 50 { // exiting threads take a moment to go
		bad = bad[:0]
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, e := range tasks {
			if l, _ := os.Readlink("/proc/self/task/" + e.Name() + "/ns/net"); l != "" && l != ourNS {
				bad = append(bad, e.Name()+"="+l)
			}
		}
		if len(bad) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(bad) > 0 {
		t.Errorf("threads outside %s: %v", ourNS, bad)
	}
}

// TestIntegrationPath builds the walkthrough's path with its own temporary
// directory, checks it against iproute2, dnsmasq's /proc entry and its
// lease file, traces it healthy, kills dnsmasq, traces it failing at the
// dnsmasq hop, and checks Close leaves nothing.
func TestIntegrationPath(t *testing.T) {
	requirePath(t)
	start := time.Now()
	p, err := BuildPath(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built in %v", time.Since(start))
	dir, pid := p.Dir, p.DnsmasqPID
	defer p.Close()

	// The topology, as iproute2 sees it.
	tap := link(t, p.HostPath, p.Tap)
	if tap["address"] != linuxbridge.TapMAC(hwaddr.MAC(p.MAC)).String() || tap["master"] != p.Bridge || tap["operstate"] != "UP" {
		t.Errorf("tap %s: ip says address %v master %v operstate %v; want %s on %s, UP", p.Tap, tap["address"], tap["master"], tap["operstate"], linuxbridge.TapMAC(hwaddr.MAC(p.MAC)), p.Bridge)
	}
	if !strings.HasPrefix(p.Tap, "tap"+p.PortID[:11]) || len(p.Tap) != 14 {
		t.Errorf("tap name %q is not tap+port[:11] of %s", p.Tap, p.PortID)
	}
	if up := link(t, p.HostPath, "eth2"); up["master"] != p.Bridge {
		t.Errorf("eth2 master %v, want %s", up["master"], p.Bridge)
	}
	if gw := link(t, p.Gateway, "gw0"); !hasAddr(gw, "192.168.31.1/24") {
		t.Errorf("gateway gw0 lacks 192.168.31.1/24: %v", gw["addr_info"])
	}
	if ns := link(t, p.DHCP, p.DHCPIf); !hasAddr(ns, "192.168.31.70/27") || !strings.HasPrefix(p.DHCPIf, "ns-") {
		t.Errorf("%s in qdhcp lacks 192.168.31.70/27: %v", p.DHCPIf, ns["addr_info"])
	}
	g := link(t, p.Guest, "eth0")
	if g["address"] != p.MAC.String() || !hasAddr(g, p.IP.String()+"/27") {
		t.Errorf("guest eth0: address %v, addrs %v; want %s with %s/27", g["address"], g["addr_info"], p.MAC, p.IP)
	}
	if filepath.Base(p.DHCP) != "qdhcp-"+p.NetworkID || p.Bridge != "brq"+p.NetworkID[:11] {
		t.Errorf("names: %s, %s for network %s", p.DHCP, p.Bridge, p.NetworkID)
	}
	// dnsmasq runs with the command line we say, and the guest renewed its
	// seeded lease (hostname and client id filled in).
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	if err != nil {
		t.Fatalf("dnsmasq %d: %v", pid, err)
	}
	if got := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00"); !slices.Equal(got, p.DnsmasqArgs) {
		t.Errorf("dnsmasq cmdline %q, want %q", got, p.DnsmasqArgs)
	}
	leases, _ := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "leases"))
	if !bytes.Contains(leases, []byte(fmt.Sprintf(" %s %s host-192-168-31-74 01:%s\n", p.MAC, p.IP, p.MAC))) {
		t.Errorf("lease file has no renewed row for %s:\n%s", p.MAC, leases)
	}

	healthy := runTrace(t, p)
	wantHops(t, healthy, nil)
	if healthy.Verdict != trace.OK || healthy.Tap != p.Tap || healthy.IP != p.IP || healthy.NetworkID != p.NetworkID {
		t.Errorf("healthy trace: verdict %s tap %s ip %s network %s", healthy.Verdict, healthy.Tap, healthy.IP, healthy.NetworkID)
	}

	if err := p.Break(BreakDnsmasq); err != nil {
		t.Fatal(err)
	}
	if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("dnsmasq %d still in /proc after Break (%v)", pid, err)
	}
	broken := runTrace(t, p)
	// With dnsmasq gone its command line (the subnet) is unknown, so the
	// serving interface can only be warned about.
	wantHops(t, broken, map[trace.Kind]trace.Verdict{trace.KindDnsmasq: trace.Fail, trace.KindDHCPIf: trace.Warn})
	if broken.Verdict != trace.Fail {
		t.Errorf("broken trace verdict %s, want fail", broken.Verdict)
	}
	if err := p.Break(BreakDnsmasq); err == nil {
		t.Error("second Break(dnsmasq) did not fail")
	}
	if err := p.Break("bogus"); err == nil {
		t.Error("Break(bogus) did not fail")
	}

	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checkClean(t, p, dir, false, pid)
}

// TestIntegrationPathBreak builds the path in a caller's directory for
// each of the other faults, checks the fault with iproute2 or the hosts
// file, and checks the trace fails at that hop while the hops the fault
// does not touch stay ok.
func TestIntegrationPathBreak(t *testing.T) {
	requirePath(t)
	for _, c := range []struct {
		b    Breakage
		hop  trace.Kind
		okay []trace.Kind // hops the fault must not touch
	}{
		{BreakTapDown, trace.KindTap, []trace.Kind{trace.KindBridge, trace.KindPhysicalPort, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease}},
		{BreakUplink, trace.KindPhysicalPort, []trace.Kind{trace.KindTap, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease, trace.KindARP}},
		{BreakHostsEntry, trace.KindHostsEntry, []trace.Kind{trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq}},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			dir := searchableTempDir(t)
			p, err := BuildPath(context.Background(), &PathConfig{Dir: dir})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			pid := p.DnsmasqPID
			if err := p.Break(c.b); err != nil {
				t.Fatal(err)
			}
			switch c.b {
			case BreakTapDown:
				if l := link(t, p.HostPath, p.Tap); slices.Contains(anySlice(l["flags"]), "UP") {
					t.Errorf("ip says %s flags %v after Break(tap-down)", p.Tap, l["flags"])
				}
			case BreakUplink:
				for _, l := range ipJSON(t, p.HostPath, "link", "show", "master", p.Bridge) {
					if l["ifname"] == p.Uplink {
						t.Errorf("ip still shows %s on %s after Break(uplink)", p.Uplink, p.Bridge)
					}
				}
			case BreakHostsEntry:
				b, _ := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "host"))
				if bytes.Contains(b, []byte(p.MAC.String())) || len(b) == 0 {
					t.Errorf("hosts file after Break(hosts-entry):\n%s", b)
				}
			}
			wantFailAt(t, runTrace(t, p), c.hop, c.okay)
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			if _, err := os.Stat(dir); err != nil {
				t.Errorf("Close removed the caller's directory: %v", err)
			}
			checkClean(t, p, dir, true, pid)
		})
	}
}

func anySlice(v any) []string {
	var s []string
	a, _ := v.([]any)
	for _, e := range a {
		s = append(s, fmt.Sprint(e))
	}
	return s
}

// TestIntegrationPathCancel cancels BuildPath at several points and checks
// it returns an error and leaves nothing in its directory, no mount and no
// process.
func TestIntegrationPathCancel(t *testing.T) {
	requirePath(t)
	for _, after := range []time.Duration{0, 20 * time.Millisecond, 60 * time.Millisecond} {
		t.Run(after.String(), func(t *testing.T) {
			dir := searchableTempDir(t)
			ctx, cancel := context.WithTimeout(context.Background(), after)
			defer cancel()
			if after == 0 {
				cancel()
			}
			p, err := BuildPath(ctx, &PathConfig{Dir: dir})
			if err == nil {
				// Built before the deadline: Close must still clean up.
				t.Logf("built within %v", after)
				pid := p.DnsmasqPID
				if err := p.Close(); err != nil {
					t.Error(err)
				}
				checkClean(t, p, dir, true, pid)
				return
			}
			if p != nil {
				t.Errorf("BuildPath returned %v and a non-nil Path", err)
			}
			t.Logf("BuildPath: %v", err)
			if left := Residue(dir, true); len(left) > 0 {
				t.Errorf("after a cancelled BuildPath: %v", left)
			}
		})
	}
}

// searchableTempDir is testutil.SearchableTempDir (dnsmasq reads its
// files as nobody).
var searchableTempDir = testutil.SearchableTempDir

// TestIntegrationPathUnsearchableDir checks BuildPath refuses a directory
// dnsmasq could not read (a parent not searchable by others), saying so,
// and leaves nothing.
func TestIntegrationPathUnsearchableDir(t *testing.T) {
	requirePath(t)
	parent := t.TempDir()
	if err := os.Chmod(parent, 0o700); err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(parent, "demo")
	if err := os.Mkdir(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	p, err := BuildPath(context.Background(), &PathConfig{Dir: dir})
	if err == nil {
		p.Close()
		t.Fatal("BuildPath succeeded in a directory nobody cannot search")
	}
	if !strings.Contains(err.Error(), "not searchable by others") {
		t.Errorf("error %q does not say why", err)
	}
	if left := Residue(dir, true); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}
}

// wantFailAt asserts the trace fails, at hop with a cause and a next step,
// and that the hops in okay are OK (the fault is elsewhere).
func wantFailAt(t *testing.T, tr *trace.Trace, hop trace.Kind, okay []trace.Kind) {
	t.Helper()
	if h, _ := tr.Hop(hop, ""); h.Verdict != trace.Fail || h.Cause == "" || h.Next == "" {
		t.Errorf("%s hop %s (%s, cause %q, next %q), want fail with cause and next", hop, h.Verdict, h.Summary, h.Cause, h.Next)
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("verdict %s, want fail", tr.Verdict)
	}
	for _, k := range okay {
		if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
			t.Errorf("%s hop %s (%s), want ok: the fault is elsewhere", k, h.Verdict, h.Summary)
		}
	}
}
