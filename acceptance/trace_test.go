//go:build acceptance && linux

package acceptance

import (
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// pathKinds are the hops of a healthy path on the all-in-one node, in
// path order: each must be OK on the walkthrough's booted server.
var pathKinds = []trace.Kind{
	trace.KindServer, trace.KindPort, trace.KindAgents, trace.KindDomain, trace.KindInterface,
	trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB,
	trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry,
	trace.KindLease, trace.KindARP, trace.KindCounters,
}

// TestAcceptanceTrace traces the walkthrough's server on the real
// all-in-one cloud with vifpath's trace package: a healthy path, then three
// faults injected on the node (the guest's tap down, eth2 released from the
// brq bridge, the network's dnsmasq killed), each of which must be diagnosed
// at its own hop, undone, and followed by a healthy trace again. The faults
// are injected with ip(8) and kill(2) and undone in t.Cleanup even when a
// check fails, so the cloud stays healthy for the next run.
func TestAcceptanceTrace(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()

	p := walkthrough(ctx, t, c, 1)
	port := p.server.Ports[0]
	netID := p.network.ID
	tap := linuxbridge.PortTapName(port.ID)
	brq := linuxbridge.NetworkBridgeName(netID)
	waitRenewed(ctx, t, "a renewed lease for "+port.MAC.String(), netID, hwaddr.MAC(port.MAC))

	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	cfg := &trace.Config{Libvirt: lv}

	// Healthy: every hop of the path OK.
	healthy := traceHealthy(ctx, t, c, cfg, p, "healthy")
	tr := healthy.Traces[0]
	if healthy.ServerID != p.server.ID || healthy.ServerName != serverName || healthy.Status != string(launch.StatusActive) ||
		healthy.InstanceName != p.server.InstanceName {
		t.Errorf("server trace = %s %q %s %s; want %s %q ACTIVE %s", healthy.ServerID, healthy.ServerName, healthy.Status,
			healthy.InstanceName, p.server.ID, serverName, p.server.InstanceName)
	}
	if tr.Tap != tap || tr.NetworkID != netID || tr.PortMAC.String() != port.MAC.String() ||
		tr.IP != port.FixedIPs[0].Address || tr.Domain != p.server.InstanceName {
		t.Errorf("trace identities tap %s network %s MAC %s IP %s domain %s; want %s %s %s %s %s",
			tr.Tap, tr.NetworkID, tr.PortMAC, tr.IP, tr.Domain, tap, netID, port.MAC, port.FixedIPs[0].Address, p.server.InstanceName)
	}
	if h, _ := tr.Hop(trace.KindPhysicalPort, ""); h.Name != providerNIC {
		t.Errorf("physical-port hop names %q; want %s", h.Name, providerNIC)
	}
	if h, _ := tr.Hop(trace.KindBridge, ""); h.Name != brq {
		t.Errorf("bridge hop names %q; want %s", h.Name, brq)
	}
	// The provider NIC comes from the agent's own configuration on this
	// node (aio/up.sh writes physical_interface_mappings provider:eth2).
	if h, _ := tr.Hop(trace.KindPhysicalPort, ""); !strings.Contains(fmt.Sprint(h.Evidence), "physical_interface_mappings") {
		t.Errorf("physical-port hop evidence %v; want the mappings read from %s", h.Evidence, trace.DefaultAgentConfig)
	}

	// The whole node (node mode with the API): the server's NIC is judged
	// as Server judged it.
	t.Run("node", func(t *testing.T) {
		obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNode}, c)
		if err != nil {
			t.Fatalf("node: %v", err)
		}
		recordObservation(t, obs, "node healthy")
		nt := trace.Judge(obs)
		var b strings.Builder
		nt.WriteLines(&b)
		t.Logf("node mode:\n%s", b.String())
		var got *trace.Trace
		for _, x := range nt.Traces {
			if x.Tap == tap {
				got = x
			}
		}
		if got == nil || got.Verdict != tr.Verdict || got.ServerID != p.server.ID || got.PortID != port.ID {
			t.Errorf("node mode trace of %s = %+v; want verdict %s, server %s, port %s", tap, got, tr.Verdict, p.server.ID, port.ID)
		}
	})

	// The same node seen as a compute node and as a network node: each
	// judges its side and leaves the other unknown, saying why.
	t.Run("roles", func(t *testing.T) {
		dhcpSide := []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP}
		computeSide := []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindCounters}
		for _, role := range []trace.Role{trace.RoleCompute, trace.RoleNetwork} {
			rcfg := *cfg
			rcfg.Role = role
			st := traceServer(ctx, t, c, &rcfg, p.server.ID, "role "+string(role))
			rt := st.Traces[0]
			judged, unjudged := computeSide, dhcpSide
			if role == trace.RoleNetwork {
				judged, unjudged = dhcpSide, computeSide
			}
			for _, k := range append([]trace.Kind{trace.KindServer, trace.KindPort}, judged...) {
				h, ok := rt.Hop(k, "")
				// Without the ARP probe (the DHCP side's, not a compute
				// node's) an idle guest may send nothing in the interval:
				// the counters then warn, they do not fail.
				if k == trace.KindCounters && ok && h.Verdict == trace.Warn {
					continue
				}
				if !ok || h.Verdict != trace.OK {
					t.Errorf("role %s: %s hop %s: %s; want ok", role, k, h.Verdict, h.Summary)
				}
			}
			for _, k := range unjudged {
				if h, ok := rt.Hop(k, ""); !ok || h.Verdict != trace.Unknown || !strings.Contains(fmt.Sprint(h.Summary, h.Evidence), "role "+string(role)) {
					t.Errorf("role %s: %s hop %s: %s %v; want unknown, naming the role", role, k, h.Verdict, h.Summary, h.Evidence)
				}
			}
			if st.Verdict == trace.Fail || rt.Role != role {
				t.Errorf("role %s: verdict %s, trace role %s", role, st.Verdict, rt.Role)
			}
		}
	})

	// Fault 1: the guest's tap set administratively down.
	t.Run("tap-down", func(t *testing.T) {
		t.Cleanup(func() { ipLink(t, "set", tap, "up") })
		ipLink(t, "set", tap, "down")
		st := traceServer(ctx, t, c, cfg, p.server.ID, "tap down")
		h := wantFirstFailure(t, st.Traces[0], trace.KindTap, tap)
		if v, _ := h.Get("admin_up"); v != "" && v != "false" {
			t.Errorf("tap hop evidence admin_up = %q; want false", v)
		}
		nodeEqualsServers(ctx, t, c, cfg, tap)
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after tap up")

	// Fault 2: eth2, the provider NIC, released from the brq bridge.
	t.Run("physical-port-released", func(t *testing.T) {
		t.Cleanup(func() { reenslave(ctx, t, providerNIC, brq) })
		var tr *trace.Trace
		// Twice at most: the linuxbridge agent may put eth2 back on the
		// bridge by itself between the release and the trace (it does so
		// when it plugs a port); then the fault was undone under us and
		// the trace rightly saw a healthy port, so release it again.
		for attempt := 1; attempt <= 2; attempt++ {
			ipLink(t, "set", providerNIC, "nomaster")
			tr = traceServer(ctx, t, c, cfg, p.server.ID, "eth2 released").Traces[0]
			h, _ := tr.Hop(trace.KindPhysicalPort, "")
			if h.Verdict == trace.Fail || master(t, providerNIC) != brq {
				break
			}
			t.Logf("attempt %d: %s was back on %s before the trace ran (the linuxbridge agent re-added it); physical-port hop %s", attempt, providerNIC, brq, h.Verdict)
		}
		if m := master(t, providerNIC); m != "" {
			t.Errorf("%s is on %q after the faulty trace; want on no bridge", providerNIC, m)
		}
		wantFirstFailure(t, tr, trace.KindPhysicalPort, "")
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after eth2 re-enslaved")

	// Fault 3: the network's dnsmasq killed; the DHCP agent's process
	// monitor respawns it (check_child_processes_interval, 60 s by default).
	// A killed dnsmasq is either gone or, until its parent reaps it, a
	// zombie: both are a failed dnsmasq hop. (A SIGSTOPped one is not
	// asserted: it still has a live pid inside the namespace.)
	t.Run("dnsmasq-killed", func(t *testing.T) {
		pidFile := filepath.Join("/var/lib/neutron/dhcp", netID, "pid")
		var killed int
		var args []string
		t.Cleanup(func() {
			if killed != 0 {
				ensureDnsmasq(ctx, t, netID, pidFile, killed, args)
			}
		})
		var tr *trace.Trace
		// Twice at most: if the agent's periodic check falls between the
		// kill and the trace, the trace sees the respawned dnsmasq (a new
		// pid): kill that one too.
		for attempt := 1; attempt <= 2; attempt++ {
			pid := readPID(t, pidFile)
			cmdline, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
			if err != nil || !strings.Contains(string(cmdline), netID) {
				t.Fatalf("dnsmasq pid %d from %s: cmdline %q, %v; want one naming %s", pid, pidFile, cmdline, err, netID)
			}
			args = strings.Split(strings.TrimRight(string(cmdline), "\x00"), "\x00")
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Fatalf("kill dnsmasq %d: %v", pid, err)
			}
			killed = pid
			t.Logf("attempt %d: killed dnsmasq pid %d of %s", attempt, pid, netID)
			time.Sleep(200 * time.Millisecond)
			tr = traceServer(ctx, t, c, cfg, p.server.ID, "dnsmasq killed").Traces[0]
			h, _ := tr.Hop(trace.KindDnsmasq, "")
			if h.Verdict == trace.Fail || readPID(t, pidFile) == pid {
				break
			}
			t.Logf("attempt %d: the DHCP agent respawned dnsmasq (%s) before the trace ran; dnsmasq hop %s", attempt, pidOf(pidFile), h.Verdict)
		}
		h := wantFirstFailure(t, tr, trace.KindDnsmasq, "")
		if h.Name != fmt.Sprintf("dnsmasq[%d]", killed) {
			t.Errorf("dnsmasq hop names %q; want the killed pid %d", h.Name, killed)
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after dnsmasq respawned")
}

// traceServer runs trace.Server on the walkthrough's server, logs the text
// table and returns the result, which must hold exactly one port's trace.
func traceServer(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, id, label string) *trace.ServerTrace {
	t.Helper()
	start := time.Now()
	// trace.Server is Observe then JudgeServer; done in two steps here so
	// VIFPATH_RECORD_DIR can keep the observation as a fixture.
	obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeServer, Server: id}, c)
	if err != nil {
		t.Fatalf("%s: trace.Server(%s): %v", label, id, err)
	}
	recordObservation(t, obs, label)
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatalf("%s: trace.Server(%s): %v", label, id, err)
	}
	t.Logf("%s: trace of %s in %s (local part %s), verdict %s:\n%s", label, id, time.Since(start).Round(time.Millisecond),
		durationOf(st), st.Verdict, textOf(st))
	if len(st.Traces) != 1 {
		t.Fatalf("%s: %d traces; want one (the server has one port)", label, len(st.Traces))
	}
	return st
}

func durationOf(st *trace.ServerTrace) time.Duration {
	var d time.Duration
	for _, tr := range st.Traces {
		d += tr.Duration
	}
	return d.Round(time.Millisecond)
}

func textOf(st *trace.ServerTrace) string {
	var b strings.Builder
	if err := st.WriteText(&b); err != nil {
		return "WriteText: " + err.Error()
	}
	return b.String()
}

// traceHealthy traces the server and requires every path hop OK and the
// host checks OK or, for NetworkManager, not running (see checkHostHops).
func traceHealthy(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, p pass, label string) *trace.ServerTrace {
	t.Helper()
	st := traceServer(ctx, t, c, cfg, p.server.ID, label)
	tr := st.Traces[0]
	for _, k := range pathKinds {
		h, ok := tr.Hop(k, "")
		if !ok {
			t.Errorf("%s: no %s hop", label, k)
			continue
		}
		if h.Verdict != trace.OK {
			t.Errorf("%s: %s hop %s is %s: %s (cause %q)", label, k, h.Name, h.Verdict, h.Summary, h.Cause)
		}
	}
	checkHostHops(t, tr, label)
	if st.Verdict != trace.OK || tr.Verdict != trace.OK {
		t.Errorf("%s: verdict %s (trace %s); want ok, failing hops %+v", label, st.Verdict, tr.Verdict, tr.Failing())
	}
	return st
}

// traceHealthyAgain waits (bounded) for a fully healthy trace after a fault
// was undone, or after a boot (the guest may still be taking its lease):
// the counters and ARP hops need the guest to answer. It returns the last
// trace, checked as traceHealthy checks it.
func traceHealthyAgain(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, p pass, label string) *trace.ServerTrace {
	t.Helper()
	if t.Failed() {
		t.Logf("%s: earlier failure; still checking the path is healthy again", label)
	}
	deadline := time.Now().Add(90 * time.Second)
	for {
		st, err := trace.Server(ctx, cfg, c, p.server.ID)
		if err == nil && st.Verdict == trace.OK {
			break
		}
		if time.Now().After(deadline) {
			break
		}
		if err == nil {
			t.Logf("%s: not yet healthy: %s", label, failingSummary(st))
		}
		time.Sleep(2 * time.Second)
	}
	return traceHealthy(ctx, t, c, cfg, p, label)
}

func failingSummary(st *trace.ServerTrace) string {
	var s []string
	for _, tr := range st.Traces {
		for _, h := range tr.Failing() {
			s = append(s, fmt.Sprintf("%s %s %s: %s", h.Verdict, h.Kind, h.Name, h.Summary))
		}
	}
	return strings.Join(s, "; ")
}

// checkHostHops: bridge-nf-call-iptables must be OK (Neutron's
// linuxbridge firewall needs it on). NetworkManager is not installed on the
// aio machine (no pid file under /run/NetworkManager), and trace then says
// Unknown ("not running"), honestly: it cannot judge a daemon that is not
// there. Where NetworkManager does run, the hop must be OK (not managing
// eth2, the bridge or the tap).
func checkHostHops(t *testing.T, tr *trace.Trace, label string) {
	t.Helper()
	h, ok := tr.Hop(trace.KindHostCheck, "bridge-nf-call-iptables")
	if !ok || h.Verdict != trace.OK {
		t.Errorf("%s: host check bridge-nf-call-iptables = %v %s: %s; want ok", label, ok, h.Verdict, h.Summary)
	}
	h, ok = tr.Hop(trace.KindHostCheck, "networkmanager")
	if !ok {
		t.Errorf("%s: no host check networkmanager", label)
		return
	}
	if _, err := os.Stat("/run/NetworkManager/NetworkManager.pid"); err == nil {
		if h.Verdict != trace.OK {
			t.Errorf("%s: NetworkManager runs; host check networkmanager is %s: %s; want ok", label, h.Verdict, h.Summary)
		}
	} else if h.Verdict != trace.Unknown || !strings.Contains(h.Summary, "not running") {
		t.Errorf("%s: NetworkManager has no pid file (%v); host check networkmanager is %s: %s; want unknown, not running", label, err, h.Verdict, h.Summary)
	}
}

// wantFirstFailure requires the hop of kind (and name, if set) to fail,
// and no hop before it in path order to warn or fail: the fault is
// diagnosed where it is, not upstream. Later hops may fail as a
// consequence (a down tap also stops ARP and counters); they are logged.
func wantFirstFailure(t *testing.T, tr *trace.Trace, kind trace.Kind, name string) trace.Hop {
	t.Helper()
	h, ok := tr.Hop(kind, name)
	if !ok {
		t.Fatalf("no %s hop %q in %+v", kind, name, tr.Hops)
	}
	if h.Verdict != trace.Fail {
		t.Errorf("%s hop %s is %s (%s); want fail", kind, h.Name, h.Verdict, h.Summary)
	}
	if h.Cause == "" || h.Next == "" {
		t.Errorf("%s hop %s fails without a cause (%q) or next step (%q)", kind, h.Name, h.Cause, h.Next)
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("trace verdict %s; want fail", tr.Verdict)
	}
	for _, o := range tr.Hops {
		if o.Kind == kind && (name == "" || o.Name == name) {
			break
		}
		if o.Verdict == trace.Warn || o.Verdict == trace.Fail {
			t.Errorf("%s hop %s is %s (%s) before the faulty %s hop", o.Kind, o.Name, o.Verdict, o.Summary, kind)
		}
	}
	var after []string
	for _, o := range tr.Failing() {
		if o.Kind != kind {
			after = append(after, fmt.Sprintf("%s %s %s", o.Verdict, o.Kind, o.Name))
		}
	}
	t.Logf("diagnosed: %s %s %s: %s; cause: %s; next: %s; other failing hops: %v", h.Verdict, h.Kind, h.Name, h.Summary, h.Cause, h.Next, after)
	return h
}

// ipLink runs `ip link ARGS` to inject or undo a fault (never to check).
func ipLink(t *testing.T, args ...string) {
	t.Helper()
	out, err := exec.Command("ip", append([]string{"link"}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("ip link %s: %v: %s", strings.Join(args, " "), err, out)
	}
}

// master returns the bridge a link is enslaved to ("" if none), through
// linuxbridge.
func master(t *testing.T, link string) string {
	t.Helper()
	return masterIn(t, "", link)
}

// masterIn is master in the network namespace at nsPath ("": this one).
func masterIn(t *testing.T, nsPath, link string) string {
	t.Helper()
	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: nsPath})
	if err != nil {
		t.Errorf("linuxbridge: %v", err)
		return ""
	}
	defer in.Close()
	bs, err := in.Bridges(context.Background())
	if err != nil {
		t.Errorf("linuxbridge bridges: %v", err)
		return ""
	}
	for _, b := range bs {
		if _, ok := b.Port(link); ok {
			return b.Name
		}
	}
	return ""
}

// reenslave puts nic back on br unless the linuxbridge agent already did.
func reenslave(ctx context.Context, t *testing.T, nic, br string) {
	t.Helper()
	if m := master(t, nic); m == br {
		t.Logf("%s already back on %s", nic, br)
		return
	}
	ipLink(t, "set", nic, "master", br)
	if m := master(t, nic); m != br {
		t.Errorf("%s is on %q after re-enslaving; want %s", nic, m, br)
	}
}

func readPID(t *testing.T, file string) int {
	t.Helper()
	b, err := os.ReadFile(file)
	if err != nil {
		t.Fatalf("dnsmasq pid file: %v", err)
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		t.Fatalf("dnsmasq pid file %s holds %q", file, b)
	}
	return pid
}

// ensureDnsmasq waits for the DHCP agent to respawn the network's dnsmasq
// (a new, live pid in the pid file, seen through dhcpns). If the agent has
// not done it in 100 s, it starts the same command line in the namespace
// itself, so the cloud is left serving DHCP either way.
func ensureDnsmasq(ctx context.Context, t *testing.T, netID, pidFile string, old int, args []string) {
	t.Helper()
	alive := func() (bool, string) {
		h, err := dhcpns.CheckHealth(ctx, nil, netID, nil)
		if err != nil {
			return false, err.Error()
		}
		if h.Dnsmasq == nil {
			return false, healthSummary(h)
		}
		d := h.Dnsmasq
		if d.Process == nil {
			return false, "no dnsmasq process for the pid file"
		}
		return d.Alive && d.InsideNamespace && d.Process.PID != old, fmt.Sprintf("pid %d alive %t", d.Process.PID, d.Alive)
	}
	start := time.Now()
	for time.Since(start) < 100*time.Second {
		if ok, _ := alive(); ok {
			t.Logf("the DHCP agent respawned dnsmasq %s after %s", pidOf(pidFile), time.Since(start).Round(100*time.Millisecond))
			return
		}
		time.Sleep(time.Second)
	}
	t.Errorf("the DHCP agent did not respawn dnsmasq for %s in 100 s; starting it", netID)
	ns := dhcpns.NamespaceName(netID)
	out, err := exec.Command("ip", append([]string{"netns", "exec", ns}, args...)...).CombinedOutput()
	if err != nil {
		t.Errorf("restart dnsmasq in %s: %v: %s", ns, err, out)
	}
	if ok, detail := alive(); !ok {
		t.Errorf("dnsmasq still not alive after restarting it: %s", detail)
	}
}

func pidOf(file string) string {
	b, err := os.ReadFile(file)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return "(no pid file)"
		}
		return err.Error()
	}
	return "pid " + strings.TrimSpace(string(b))
}

// recordObservation writes obs to $VIFPATH_RECORD_DIR/aio-<label>.json when that is
// set (how trace/testdata/observations/aio-*.json were recorded).
func recordObservation(t *testing.T, obs *trace.Observation, label string) {
	t.Helper()
	dir := os.Getenv("VIFPATH_RECORD_DIR")
	if dir == "" {
		return
	}
	name := "aio-" + strings.NewReplacer(" ", "-", "/", "-").Replace(label) + ".json"
	if err := obs.WriteFile(filepath.Join(dir, name)); err != nil {
		t.Errorf("record %s: %v", name, err)
	}
}

// nodeEqualsServers traces this node whole (node mode with the API) and
// checks every server NIC on it against the server's own trace: the same
// verdict and the same first hop that is not ok, for the broken one (its
// tap down) and for every other server bound here (nodeMatchesServers).
func nodeEqualsServers(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, broken string) {
	t.Helper()
	nodeMatchesServers(ctx, t, c, cfg, broken, map[string]bool{broken: true})
}
