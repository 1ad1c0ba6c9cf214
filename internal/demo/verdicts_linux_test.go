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

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
	"golang.org/x/sys/unix"
)

// verdictCase is one verdict of issue 7's list on the demo path: the
// fault, the trace's overall verdict, the first hop along the path that is
// not ok (every hop before it must be ok), its verdict and a key phrase of
// its cause, and the verdicts of later hops the fault determines.
type verdictCase struct {
	name    string
	b       Breakage // "" for the healthy path
	overall trace.Verdict
	hop     trace.Kind // the first hop that is not ok ("" when none is)
	verdict trace.Verdict
	cause   string // substring of the hop's Cause
	summary string // substring of its Summary ("" to skip)
	// after are later hops whose verdict the fault determines; hops after
	// hop not listed may be anything but are logged.
	after map[trace.Kind]trace.Verdict
	// check proves the fault with the real tools (iproute2, bridge, the
	// files) before the trace runs; checkAfter after it.
	check, checkAfter func(t *testing.T, p *Path)
}

// TestIntegrationVerdicts builds a fresh demo path for each verdict issue
// 7 lists (healthy; tap down; tap on the wrong bridge; physical port
// missing; dnsmasq dead; MAC missing from the hosts file; lease only
// seeded; ARP answered by the wrong MAC; bridge never learned the VM's
// MAC), injects the fault with Break, checks it with iproute2/bridge or
// dnsmasq's files, traces the VM's port as vmtrace -demo does, and asserts
// the overall verdict and the hop that fails (or warns) with its cause,
// every hop before it ok. It then closes the path and checks nothing is
// left (Leftovers, Residue, every dnsmasq it ran gone).
func TestIntegrationVerdicts(t *testing.T) {
	requirePath(t)
	cases := []verdictCase{
		{name: "healthy", overall: trace.OK},
		{name: "tap-down", b: BreakTapDown, overall: trace.Fail,
			hop: trace.KindTap, verdict: trace.Fail, cause: "the tap was set down", summary: "administratively down",
			// A port going down flushes what the bridge learned on it and
			// the guest behind it cannot answer.
			after: map[trace.Kind]trace.Verdict{trace.KindBridge: trace.OK, trace.KindPhysicalPort: trace.OK, trace.KindFDB: trace.Fail,
				trace.KindDHCPNS: trace.OK, trace.KindDnsmasq: trace.OK, trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK,
				trace.KindARP: trace.Fail, trace.KindCounters: trace.Warn},
			check: func(t *testing.T, p *Path) {
				if l := link(t, p.HostPath, p.Tap); slices.Contains(anySlice(l["flags"]), "UP") {
					t.Errorf("ip says %s flags %v after Break(tap-down)", p.Tap, l["flags"])
				}
			}},
		{name: "wrong-bridge", b: BreakWrongBridge, overall: trace.Fail,
			hop: trace.KindTap, verdict: trace.Fail, cause: "the tap is on the wrong bridge", summary: WrongBridge + ", which is not a Neutron network's bridge",
			// No brq, so no network ID: the DHCP side is not reached.
			after: map[trace.Kind]trace.Verdict{trace.KindBridge: trace.Warn, trace.KindPhysicalPort: trace.Fail,
				trace.KindDHCPNS: trace.Unknown, trace.KindDnsmasq: trace.Unknown, trace.KindHostsEntry: trace.Unknown,
				trace.KindLease: trace.Unknown, trace.KindARP: trace.Unknown},
			check: func(t *testing.T, p *Path) {
				// qemu's tap says UNKNOWN with carrier, a veth UP.
				if l := link(t, p.HostPath, p.Tap); l["master"] != WrongBridge || (l["operstate"] != "UP" && !(l["operstate"] == "UNKNOWN" && hasFlag(l, "LOWER_UP"))) {
					t.Errorf("ip says %s master %v operstate %v flags %v, want %s, UP (or UNKNOWN with LOWER_UP)", p.Tap, l["master"], l["operstate"], l["flags"], WrongBridge)
				}
				for _, l := range ipJSON(t, p.HostPath, "link", "show", "master", p.Bridge) {
					if l["ifname"] == p.Tap {
						t.Errorf("ip still shows %s on %s", p.Tap, p.Bridge)
					}
				}
			}},
		{name: "uplink", b: BreakUplink, overall: trace.Fail,
			hop: trace.KindPhysicalPort, verdict: trace.Fail, cause: "the interface physical_interface_mappings names does not exist", summary: "eth2 missing from brq",
			after: map[trace.Kind]trace.Verdict{trace.KindFDB: trace.OK, trace.KindDHCPNS: trace.OK, trace.KindDnsmasq: trace.OK,
				trace.KindDHCPIf: trace.OK, trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK, trace.KindARP: trace.OK, trace.KindCounters: trace.OK},
			check: func(t *testing.T, p *Path) {
				for _, l := range ipJSON(t, p.HostPath, "link", "show") {
					if l["ifname"] == p.Uplink {
						t.Errorf("ip still shows %s after Break(uplink)", p.Uplink)
					}
				}
			}},
		{name: "dnsmasq", b: BreakDnsmasq, overall: trace.Fail,
			hop: trace.KindDnsmasq, verdict: trace.Fail, cause: "no live dnsmasq serves the network", summary: "no dnsmasq serves this network",
			// With dnsmasq gone its command line (the subnet) is unknown,
			// so the serving interface can only be warned about.
			after: map[trace.Kind]trace.Verdict{trace.KindDHCPIf: trace.Warn, trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK,
				trace.KindARP: trace.OK, trace.KindCounters: trace.OK}},
		{name: "hosts-entry", b: BreakHostsEntry, overall: trace.Fail,
			hop: trace.KindHostsEntry, verdict: trace.Fail, cause: "dnsmasq has no row for the port's MAC", summary: "is not in the hosts file",
			// No hosts entry: no IP to probe. (The counters depend on
			// whether the guest's IPv6 happens to send.)
			after: map[trace.Kind]trace.Verdict{trace.KindARP: trace.Unknown},
			check: func(t *testing.T, p *Path) {
				b, _ := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "host"))
				if bytes.Contains(b, []byte(p.MAC.String())) || len(b) == 0 {
					t.Errorf("hosts file after Break(hosts-entry):\n%s", b)
				}
			}},
		{name: "lease-seeded", b: BreakLeaseSeeded, overall: trace.Warn,
			hop: trace.KindLease, verdict: trace.Warn, cause: "has not completed DHCP with dnsmasq", summary: "only Neutron's seed",
			after: map[trace.Kind]trace.Verdict{trace.KindARP: trace.OK, trace.KindCounters: trace.OK},
			check: func(t *testing.T, p *Path) {
				ls := leaseRow(t, p)
				if ls.Renewed() || ls.ClientID != "" {
					t.Errorf("lease row after Break(lease-seeded) is %s (client id %q), want seeded", ls.Origin, ls.ClientID)
				}
				checkDnsmasqCmdline(t, p)
			}},
		{name: "dup-ip", b: BreakDupIP, overall: trace.Fail,
			hop: trace.KindARP, verdict: trace.Fail, cause: "duplicate address",
			check: func(t *testing.T, p *Path) {
				imp := link(t, p.ImpostorNetNS(), "eth0")
				if !hasAddr(imp, p.IP.String()+"/27") || imp["address"] == p.MAC.String() || imp["operstate"] != "UP" {
					t.Errorf("impostor eth0: address %v addrs %v operstate %v; want another MAC with %s/27, UP", imp["address"], imp["addr_info"], imp["operstate"], p.IP)
				}
			}},
		{name: "fdb-never-learned", b: BreakFDBNeverLearned, overall: trace.Warn,
			hop: trace.KindFDB, verdict: trace.Warn, cause: "learning is off on ",
			// Unknown unicast is flooded: the probes still get their
			// answer, so the FDB hop warns (night 5 on the aio cloud).
			after: map[trace.Kind]trace.Verdict{trace.KindDHCPNS: trace.OK, trace.KindDnsmasq: trace.OK, trace.KindDHCPIf: trace.OK,
				trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK, trace.KindARP: trace.OK, trace.KindCounters: trace.OK},
			check:      checkNotLearned,
			checkAfter: checkNotLearned},
		{name: "icmp-rule", b: BreakICMPRule, overall: trace.Fail,
			hop: trace.KindSecurityGroup, verdict: trace.Fail, cause: "does not admit what the walkthrough needs", summary: "ICMP to " + pathVMIP.String(),
			after: map[trace.Kind]trace.Verdict{trace.KindAntiSpoofing: trace.OK, trace.KindBridge: trace.OK, trace.KindDnsmasq: trace.OK,
				trace.KindLease: trace.OK, trace.KindARP: trace.OK}},
		{name: "ssh-rule", b: BreakSSHRule, overall: trace.Fail,
			hop: trace.KindSecurityGroup, verdict: trace.Fail, cause: "does not admit what the walkthrough needs", summary: "SSH to " + pathVMIP.String(),
			after: map[trace.Kind]trace.Verdict{trace.KindAntiSpoofing: trace.OK, trace.KindBridge: trace.OK, trace.KindDnsmasq: trace.OK,
				trace.KindLease: trace.OK, trace.KindARP: trace.OK}},
		{name: "arp-spoof", b: BreakARPSpoof, overall: trace.Fail,
			hop: trace.KindAntiSpoofing, verdict: trace.Fail, cause: "anti-spoofing drops the VM's own traffic", summary: "lacks --arp-ip-src " + pathVMIP.String(),
			after: map[trace.Kind]trace.Verdict{trace.KindBridge: trace.OK, trace.KindDnsmasq: trace.OK, trace.KindARP: trace.Fail}},
		{name: "metadata", b: BreakMetadata, overall: trace.Fail,
			hop: trace.KindMetadata, verdict: trace.Fail, cause: "haproxy died or was killed", summary: "is not running",
			// The proxy is not on the frame path: the guest still answers.
			after: map[trace.Kind]trace.Verdict{trace.KindARP: trace.OK, trace.KindReachability: trace.OK, trace.KindCounters: trace.OK},
			check: func(t *testing.T, p *Path) {
				b, err := os.ReadFile(filepath.Join(p.MetadataPIDDir, p.NetworkID+".pid.haproxy"))
				if err != nil {
					t.Fatalf("the pid file must stay (stale) after Break(metadata): %v", err)
				}
				// Killed: gone, or a zombie its parent has not reaped yet.
				st, err := os.ReadFile("/proc/" + strings.TrimSpace(string(b)) + "/stat")
				if i := bytes.LastIndexByte(st, ')'); err == nil && (i < 0 || !bytes.HasPrefix(st[i+1:], []byte(" Z"))) {
					t.Errorf("haproxy %s still running after Break(metadata): %s", strings.TrimSpace(string(b)), st)
				} else if err != nil && !errors.Is(err, os.ErrNotExist) {
					t.Errorf("haproxy %s: %v", strings.TrimSpace(string(b)), err)
				}
			}},
		{name: "mtu", b: BreakMTU, overall: trace.Fail,
			hop: trace.KindMTU, verdict: trace.Fail, cause: "packets larger than the smallest element are dropped there", summary: "eth2 (MTU 1400)",
			// Small frames pass: ARP, ping and the SYN still do.
			after: map[trace.Kind]trace.Verdict{trace.KindFDB: trace.OK, trace.KindDnsmasq: trace.OK, trace.KindLease: trace.OK,
				trace.KindMetadata: trace.OK, trace.KindARP: trace.OK, trace.KindReachability: trace.OK},
			check: func(t *testing.T, p *Path) {
				if l := link(t, p.HostPath, p.Uplink); fmt.Sprint(l["mtu"]) != "1400" {
					t.Errorf("ip says %s mtu %v after Break(mtu), want 1400", p.Uplink, l["mtu"])
				}
			}},
	}
	// Every fault Break knows has its verdict here.
	for _, b := range Breakages() {
		if slices.Contains(CloudBreakages(), b) {
			continue // seen with the API only: TestIntegrationDemoMoreBreaks (examples/vmtrace)
		}
		if !slices.ContainsFunc(cases, func(c verdictCase) bool { return c.b == b }) {
			t.Errorf("Breakage %q has no verdict case", b)
		}
	}
	// On both guests: a namespace, and a real qemu TCG domain in the
	// demo's libvirtd (what make demo runs).
	img := requireLibvirtGuest(t)
	for _, guest := range []GuestKind{GuestNetNS, GuestLibvirt} {
		for _, c := range cases {
			t.Run(string(guest)+"/"+c.name, func(t *testing.T) { testVerdict(t, c, guest, img) })
		}
	}
}

func testVerdict(t *testing.T, c verdictCase, guest GuestKind, img string) {
	dir := searchableTempDir(t)
	ctx, cancel := context.WithTimeout(t.Context(), 4*time.Minute)
	defer cancel()
	p, err := BuildPath(ctx, &PathConfig{Dir: dir, Guest: guest, GuestImageDir: img})
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	if p.GuestKind != guest {
		t.Fatalf("built a %s guest, want %s (%s)", p.GuestKind, guest, p.GuestWhy)
	}
	pids := []int{p.DnsmasqPID}
	if c.b != "" {
		if err := p.Break(c.b); err != nil {
			t.Fatalf("Break(%s): %v", c.b, err)
		}
		if p.DnsmasqPID != 0 && p.DnsmasqPID != pids[0] {
			pids = append(pids, p.DnsmasqPID)
		}
	}
	if c.check != nil {
		c.check(t, p)
	}
	tr := runTrace(t, p)
	if c.checkAfter != nil {
		c.checkAfter(t, p)
	}
	if tr.Verdict != c.overall {
		t.Errorf("overall verdict %s, want %s", tr.Verdict, c.overall)
	}
	if tr.Tap != p.Tap {
		t.Errorf("traced tap %s, want %s", tr.Tap, p.Tap)
	}
	// Without a libvirt client the domain hops are unknown.
	// Without the API the agents hop is unknown.
	for i, k := range []trace.Kind{trace.KindAgents, trace.KindDomain, trace.KindInterface} {
		if h := tr.Hops[i]; h.Kind != k || h.Verdict != trace.Unknown {
			t.Errorf("hop %d = %s %s, want %s unknown", i, h.Kind, h.Verdict, k)
		}
	}
	reached := c.hop == ""
	for _, k := range pathKinds {
		h, ok := tr.Hop(k, "")
		if !ok {
			t.Errorf("no %s hop", k)
			continue
		}
		switch {
		case k == c.hop:
			reached = true
			if h.Verdict != c.verdict || !strings.Contains(h.Cause, c.cause) || h.Next == "" {
				t.Errorf("%s %s: %s (summary %q, cause %q, next %q); want %s with a cause saying %q and a next step", k, h.Name, h.Verdict, h.Summary, h.Cause, h.Next, c.verdict, c.cause)
			}
			if !strings.Contains(h.Summary, c.summary) {
				t.Errorf("%s summary %q does not say %q", k, h.Summary, c.summary)
			}
		case !reached:
			if h.Verdict != trace.OK {
				t.Errorf("%s %s before the fault's hop %s: %s (%s), want ok", k, h.Name, c.hop, h.Verdict, h.Summary)
			}
		default:
			if want, ok := c.after[k]; ok && h.Verdict != want {
				t.Errorf("%s %s after the fault's hop %s: %s (%s), want %s", k, h.Name, c.hop, h.Verdict, h.Summary, want)
			}
		}
	}
	switch c.b {
	case BreakDupIP:
		// The probe's answer is the impostor's MAC, as ip sees it.
		imp := link(t, p.ImpostorNetNS(), "eth0")["address"]
		h, _ := tr.Hop(trace.KindARP, "")
		if !strings.Contains(h.Summary, fmt.Sprintf("answered by %s, not (only) by the port's %s", imp, p.MAC)) {
			t.Errorf("arp hop summary %q does not name the impostor %v and the port's %s", h.Summary, imp, p.MAC)
		}
		// Both hosts answer; the probe's settle window hears both.
		var replies []string
		for _, e := range h.Evidence {
			if e.Key == "reply" {
				replies = append(replies, e.Value)
			}
		}
		if len(replies) != 2 || !slices.ContainsFunc(replies, func(v string) bool { return strings.HasPrefix(v, p.MAC.String()+" ") }) ||
			!slices.ContainsFunc(replies, func(v string) bool { return strings.HasPrefix(v, fmt.Sprint(imp)+" ") }) {
			t.Errorf("arp hop replies %q; want the guest's %s and the impostor's %v", replies, p.MAC, imp)
		}
		if !slices.Contains(p.Leftovers(), "namespace "+p.ImpostorNetNS()) {
			t.Errorf("Leftovers before Close does not list the impostor's namespace: %v", p.Leftovers())
		}
	case BreakLeaseSeeded:
		if len(pids) != 2 {
			t.Errorf("Break(lease-seeded) did not restart dnsmasq: pids %v", pids)
		}
		h, _ := tr.Hop(trace.KindDnsmasq, "")
		if h.Name != fmt.Sprintf("dnsmasq[%d]", p.DnsmasqPID) {
			t.Errorf("dnsmasq hop %q, want the restarted dnsmasq[%d]", h.Name, p.DnsmasqPID)
		}
	}
	if c.hop != "" && !slices.ContainsFunc(tr.Failing(), func(h trace.Hop) bool { return h.Kind == c.hop }) {
		t.Errorf("Failing() does not list the %s hop", c.hop)
	}
	// Faults that cannot be injected twice, or need dnsmasq, say so.
	var refused []Breakage
	switch c.b {
	case BreakWrongBridge, BreakDupIP:
		refused = []Breakage{c.b}
	case BreakDnsmasq:
		refused = []Breakage{BreakLeaseSeeded, BreakHostsEntry}
	}
	for _, b := range refused {
		if err := p.Break(b); err == nil {
			t.Errorf("Break(%s) after Break(%s) succeeded", b, c.b)
		} else {
			t.Logf("Break(%s) after Break(%s): %v", b, c.b, err)
		}
	}

	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	for _, pid := range pids[:len(pids)-1] {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", pid)); !errors.Is(err, os.ErrNotExist) {
			t.Errorf("dnsmasq %d (before the restart) still in /proc after Close (%v)", pid, err)
		}
	}
	checkClean(t, p, dir, true, pids[len(pids)-1])
}

// leaseRow parses dnsmasq's lease file and returns the VM's row.
func leaseRow(t *testing.T, p *Path) dhcpns.Lease {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "leases"))
	if err != nil {
		t.Fatal(err)
	}
	ls, err := dhcpns.ParseLeasesBytes(b)
	if err != nil {
		t.Fatalf("lease file: %v\n%s", err, b)
	}
	l, ok := ls.Find(hwaddr.MAC(p.MAC))
	if !ok {
		t.Fatalf("no lease row for %s:\n%s", p.MAC, b)
	}
	t.Logf("lease row: %q", strings.TrimSpace(strings.Split(string(b), "\n")[l.Line-1]))
	return l
}

// checkDnsmasqCmdline checks the running dnsmasq is Path.DnsmasqPID, with
// Path.DnsmasqArgs, inside the qdhcp namespace.
func checkDnsmasqCmdline(t *testing.T, p *Path) {
	t.Helper()
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", p.DnsmasqPID))
	if err != nil {
		t.Fatalf("dnsmasq %d: %v", p.DnsmasqPID, err)
	}
	if got := strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00"); !slices.Equal(got, p.DnsmasqArgs) {
		t.Errorf("dnsmasq cmdline %q, want %q", got, p.DnsmasqArgs)
	}
	ns, _ := os.Readlink(fmt.Sprintf("/proc/%d/ns/net", p.DnsmasqPID))
	var st unix.Stat_t
	if unix.Stat(p.DHCP, &st) != nil || ns != fmt.Sprintf("net:[%d]", st.Ino) {
		t.Errorf("dnsmasq %d is in %s, not in %s", p.DnsmasqPID, ns, p.DHCP)
	}
}

// checkNotLearned checks with `bridge -j` that learning is off on the tap
// and the bridge has no entry for the VM's MAC.
func checkNotLearned(t *testing.T, p *Path) {
	t.Helper()
	var links []struct {
		Ifname   string `json:"ifname"`
		Master   string `json:"master"`
		Learning *bool  `json:"learning"`
	}
	out, err := exec.Command("nsenter", "--net="+p.HostPath, "bridge", "-j", "-d", "link", "show", "dev", p.Tap).Output()
	if err != nil || json.Unmarshal(out, &links) != nil || len(links) != 1 {
		t.Fatalf("bridge -j -d link show dev %s: %v\n%s", p.Tap, err, out)
	}
	if l := links[0]; l.Learning == nil || *l.Learning || l.Master != p.Bridge {
		t.Errorf("bridge link says %s master %s learning %v, want on %s with learning off", p.Tap, l.Master, l.Learning, p.Bridge)
	}
	var fdb []struct {
		MAC    string `json:"mac"`
		Ifname string `json:"ifname"`
	}
	out, err = exec.Command("nsenter", "--net="+p.HostPath, "bridge", "-j", "fdb", "show", "br", p.Bridge).Output()
	if err != nil || json.Unmarshal(out, &fdb) != nil {
		t.Fatalf("bridge -j fdb show br %s: %v\n%s", p.Bridge, err, out)
	}
	for _, e := range fdb {
		if e.MAC == p.MAC.String() {
			t.Errorf("bridge fdb has %s on %s", e.MAC, e.Ifname)
		}
	}
	// linuxbridge agrees with bridge(8) that the tap is a port that does
	// not learn.
	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: p.HostPath})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	br, err := in.Bridge(t.Context(), p.Bridge)
	if err != nil {
		t.Fatal(err)
	}
	if port, ok := br.Port(p.Tap); !ok || port.Learning {
		t.Errorf("linuxbridge: %s on %s: found %t learning %t", p.Tap, p.Bridge, ok, port.Learning)
	}
}

// hasFlag reports whether ip -j's "flags" of a link hold flag.
func hasFlag(l map[string]any, flag string) bool {
	fs, _ := l["flags"].([]any)
	for _, f := range fs {
		if f == flag {
			return true
		}
	}
	return false
}
