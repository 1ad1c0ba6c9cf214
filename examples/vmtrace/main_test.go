package main

import (
	"bufio"
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// TestMain runs vmtrace's main instead of the tests when VMTRACE_MAIN is
// set, so the signal tests can run the real command as a child.
func TestMain(m *testing.M) {
	if os.Getenv("VMTRACE_MAIN") == "1" {
		os.Args = append([]string{"vmtrace"}, strings.Fields(os.Getenv("VMTRACE_ARGS"))...)
		main()
		return
	}
	os.Exit(m.Run())
}

func runArgs(ctx context.Context, args ...string) (int, string, string) {
	var out, errb bytes.Buffer
	code := run(ctx, args, &out, &errb)
	return code, out.String(), errb.String()
}

// TestUsage checks that bad command lines exit 2 with a message, before
// anything is inspected or built.
func TestUsage(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{nil, "exactly one of -server, -port, -mac and -tap"},
		{[]string{"-server", "vm2", "-port", "p"}, "exactly one of"},
		{[]string{"-server", "vm2", "-tap", "t"}, "exactly one of"},
		{[]string{"-cloud", "aio", "-port", "p"}, "-cloud, -libvirt-uri and -node go with -server"},
		{[]string{"-libvirt-uri", "none", "-tap", "t"}, "go with -server"},
		{[]string{"-node", "vm", "-mac", "fa:16:3e:00:00:01"}, "go with -server"},
		{[]string{"-demo", "-server", "vm2"}, "drop -server, -cloud"},
		{[]string{"-demo", "-cloud", "aio"}, "drop -server, -cloud"},
		{[]string{"-server", "vm2", "-json", "-dot"}, "exclude each other"},
		{[]string{"-port", "p", "-tap", "t"}, "exactly one of"},
		{[]string{"-port", "p", "-mac", "fa:16:3e:00:00:01", "-tap", "t"}, "exactly one of"},
		{[]string{"-mac", "not-a-mac"}, "-mac:"},
		{[]string{"-tap", "t", "-json", "-dot"}, "exclude each other"},
		{[]string{"-tap", "t", "-mermaid", "-dot"}, "exclude each other"},
		{[]string{"-tap", "t", "extra"}, "unexpected arguments"},
		{[]string{"-nosuchflag"}, "flag provided but not defined"},
		{[]string{"-interval", "soon"}, "invalid value"},
		{[]string{"-demo", "-tap", "t"}, "-demo traces its own topology"},
		{[]string{"-demo", "-netns", "x"}, "-demo traces its own topology"},
		{[]string{"-demo", "-break", "bogus"}, `-break "bogus"`},
		{[]string{"-demo", "-guest", "kvm"}, `-guest "kvm"`},
		{[]string{"-demo", "-no-arp"}, "-demo traces its own topology"},
		{[]string{"-demo", "-interval", "1s"}, "-demo traces its own topology"},
		{[]string{"-demo", "-json", "-mermaid"}, "exclude each other"},
	} {
		code, out, errs := runArgs(context.Background(), c.args...)
		if code != exitUsage {
			t.Errorf("%q: exit %d, want %d", c.args, code, exitUsage)
		}
		if out != "" {
			t.Errorf("%q: wrote to stdout: %q", c.args, out)
		}
		if !strings.Contains(errs, c.msg) || !strings.Contains(errs, "Usage of vmtrace") {
			t.Errorf("%q: stderr %q lacks %q and the usage", c.args, errs, c.msg)
		}
	}
	if code, _, errs := runArgs(context.Background(), "-h"); code != exitOK || !strings.Contains(errs, "-port ID") || !strings.Contains(errs, "-server NAME or ID") || !strings.Contains(errs, "-cloud NAME") {
		t.Errorf("-h: exit %d, stderr %q", code, errs)
	}
}

func TestStatus(t *testing.T) {
	for v, want := range map[trace.Verdict]int{trace.OK: 0, trace.Fail: 1, trace.Warn: 3, trace.Unknown: 3} {
		if got := status(v); got != want {
			t.Errorf("status(%s) = %d, want %d", v, got, want)
		}
	}
}

// TestReplayOldRecording: -replay of an observation recorded before
// trace carried launch.Port, dhcpns.Host, dhcpns.Lease and
// dhcpns.ARPReply (trace/testdata, version 1) still judges it: the healthy
// cloud recording exits 0 with its port and lease read back, and the
// dnsmasq-killed one exits 1. A file of another version exits 1 with an
// error naming that version.
func TestReplayOldRecording(t *testing.T) {
	dir := filepath.Join("..", "..", "trace", "testdata", "observations")
	for _, c := range []struct {
		file string
		code int
	}{{"aio-healthy.json", exitOK}, {"aio-dnsmasq-killed.json", exitFail}} {
		code, out, errs := runArgs(context.Background(), "-replay", filepath.Join(dir, c.file), "-json")
		if code != c.code {
			t.Errorf("-replay %s: exit %d, want %d\n%s", c.file, code, c.code, errs)
		}
		var st trace.ServerTrace // both recordings are of one server (vmtrace -server)
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Traces) != 1 {
			t.Fatalf("-replay %s -json: %v, want one port's trace\n%s", c.file, err, out)
		}
		tr := st.Traces[0]
		obs, err := trace.ReadObservationFile(filepath.Join(dir, c.file))
		if err != nil {
			t.Fatal(err)
		}
		p := obs.API.Servers[0].Ports[0]
		if tr.PortID != p.ID || tr.PortMAC.String() != p.MAC.String() || len(p.FixedIPs) == 0 || tr.IP != p.FixedIPs[0].Address {
			t.Errorf("-replay %s: port %s %s %s, want the recorded %s %s %v", c.file, tr.PortID, tr.PortMAC, tr.IP, p.ID, p.MAC, p.FixedIPs)
		}
	}
	bad := filepath.Join(t.TempDir(), "v2.json")
	if err := os.WriteFile(bad, []byte(`{"version": 2}`), 0o644); err != nil {
		t.Fatal(err)
	}
	code, _, errs := runArgs(context.Background(), "-replay", bad)
	if code != exitFail || !strings.Contains(errs, "version 2") {
		t.Errorf("-replay of a version 2 file: exit %d, %q; want 1 and an error naming version 2", code, errs)
	}
}

func requireDemo(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	testutil.RequireBinary(t, "busybox", "busybox")
	testutil.RequireBinary(t, "nsenter", "util-linux")
}

// searchableTempDir is testutil.SearchableTempDir (dnsmasq reads its
// files as nobody).
var searchableTempDir = testutil.SearchableTempDir

// TestIntegrationExitCodes runs vmtrace against the demo path built by the
// test: ok (0) by -tap, -mac and -port with -netns as a name and as a
// path, warn (3) once bridge-nf-call-iptables is 0 in the bridges'
// namespace, fail (1) once the tap is down, and 1 for a missing namespace.
func TestIntegrationExitCodes(t *testing.T) {
	requireDemo(t)
	testutil.RequireBinary(t, "sysctl", "procps")
	dir := searchableTempDir(t)
	p, err := demo.BuildPath(context.Background(), &demo.PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	common := []string{"-netns-dir", p.NetNSDir, "-state-dir", p.StateDir, "-nm-run-dir", p.NMRunDir, "-interval", "200ms"}
	ctx := context.Background()
	for _, target := range [][]string{
		{"-tap", p.Tap, "-netns", filepath.Base(p.HostPath)},
		{"-mac", p.MAC.String(), "-netns", p.HostPath},
		{"-port", p.PortID, "-netns", p.HostPath, "-json"},
	} {
		code, out, errs := runArgs(ctx, append(target, common...)...)
		if code != exitOK {
			t.Errorf("%q: exit %d, want 0\n%s%s", target, code, out, errs)
		}
		if target[len(target)-1] == "-json" {
			var tr trace.Trace
			if err := json.Unmarshal([]byte(out), &tr); err != nil {
				t.Errorf("-json: %v\n%s", err, out)
			} else if tr.Verdict != trace.OK || tr.Tap != p.Tap || tr.PortMAC.String() != p.MAC.String() {
				t.Errorf("-json: verdict %s tap %s mac %s", tr.Verdict, tr.Tap, tr.PortMAC)
			}
		} else if !strings.Contains(out, p.Tap) || !strings.Contains(out, "OK") {
			t.Errorf("%q: text output lacks the tap or OK:\n%s", target, out)
		}
	}

	// A warning: bridged IPv4 bypasses iptables in the bridges' namespace.
	if out, err := exec.Command("nsenter", "--net="+p.HostPath, "sysctl", "-qw", "net.bridge.bridge-nf-call-iptables=0").CombinedOutput(); err != nil {
		testutil.SkipOrFail(t, "cannot set bridge-nf-call-iptables in the demo namespace (br_netfilter not loaded?): %v %s", err, out)
	}
	code, out, errs := runArgs(ctx, append([]string{"-tap", p.Tap, "-netns", p.HostPath, "-dot"}, common...)...)
	if code != exitWarn {
		t.Errorf("bridge-nf-call-iptables=0: exit %d, want %d\n%s%s", code, exitWarn, out, errs)
	}
	if !strings.HasPrefix(out, "digraph") {
		t.Errorf("-dot output does not start with digraph:\n%s", out)
	}

	if err := p.Break(demo.BreakTapDown); err != nil {
		t.Fatal(err)
	}
	code, out, errs = runArgs(ctx, append([]string{"-tap", p.Tap, "-netns", p.HostPath, "-mermaid"}, common...)...)
	if code != exitFail {
		t.Errorf("tap down: exit %d, want %d\n%s%s", code, exitFail, out, errs)
	}
	if !strings.Contains(out, "flowchart") || !strings.Contains(out, "fail") {
		t.Errorf("-mermaid output lacks a flowchart with a failing hop:\n%s", out)
	}

	code, _, errs = runArgs(ctx, "-tap", p.Tap, "-netns", filepath.Join(dir, "no-such-ns"))
	if code != exitFail || !strings.Contains(errs, "vmtrace:") {
		t.Errorf("missing -netns: exit %d, stderr %q; want 1 and an error", code, errs)
	}
}

// TestIntegrationDemo runs -demo (text, -json with -break tap-down) with
// TMPDIR pointing at a directory of the test's, and checks the verdicts,
// the exit status and that nothing is left in TMPDIR.
func TestIntegrationDemo(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)

	start := time.Now()
	code, out, errs := runArgs(context.Background(), "-demo")
	t.Logf("-demo took %v", time.Since(start))
	if code != exitOK {
		t.Errorf("-demo: exit %d\n%s%s", code, out, errs)
	}
	for _, want := range []string{"== 1. The healthy path: vmtrace -cloud vifpath-demo -server cirros1", "1   OK       server          cirros1",
		"2   OK       port  ", "== 2. Break one hop: kill -9 dnsmasq", "FAIL     dnsmasq", "Verdict: ok before, fail after"} {
		if !strings.Contains(out, want) {
			t.Errorf("-demo output lacks %q:\n%s", want, out)
		}
	}
	if !strings.Contains(errs, "removed everything") {
		t.Errorf("-demo stderr lacks the cleanup line: %q", errs)
	}
	if left := demo.Residue(tmp, true); len(left) > 0 {
		t.Errorf("-demo left: %v", left)
	}

	// -v: the debug log shows every request to the fake cloud, never its
	// password (demo-<32 hex>) or a token.
	code, out, errs = runArgs(context.Background(), "-demo", "-json", "-break", "tap-down", "-v")
	if code != exitOK {
		t.Errorf("-demo -json -break tap-down: exit %d\n%s", code, errs)
	}
	if !strings.Contains(errs, "/compute/v2.1/servers/detail") || regexp.MustCompile(`demo-[0-9a-f]{32}|fake-token|X-Auth-Token|password`).MatchString(out+errs) {
		t.Errorf("-v logged no request to the fake, or a secret:\n%s", errs)
	}
	var rep demoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-demo -json: %v\n%s", err, out)
	}
	if rep.Healthy == nil || rep.Broken == nil || rep.Break != "tap-down" {
		t.Fatalf("-demo -json: %+v", rep)
	}
	if rep.Healthy.Verdict != trace.OK || rep.Broken.Verdict != trace.Fail {
		t.Errorf("verdicts %s then %s, want ok then fail", rep.Healthy.Verdict, rep.Broken.Verdict)
	}
	// Both traces start at the server, as -server's do, with the path's IDs.
	for _, tr := range []*trace.Trace{rep.Healthy, rep.Broken} {
		if len(tr.Hops) < 2 || tr.Hops[0].Kind != trace.KindServer || tr.Hops[0].Name != rep.Topology.ServerName || tr.Hops[0].Verdict != trace.OK ||
			tr.Hops[1].Kind != trace.KindPort || tr.Hops[1].Name != rep.Topology.PortID || tr.Hops[1].Verdict != trace.OK {
			t.Errorf("-demo -json: the trace does not start with ok server %s and port %s hops: %+v", rep.Topology.ServerName, rep.Topology.PortID, tr.Hops[:min(2, len(tr.Hops))])
		} else if id, _ := tr.Hops[0].Get("id"); id != rep.Topology.ServerID || rep.Topology.Node != "compute1" || !strings.HasPrefix(rep.Topology.AuthURL, "http://127.0.0.1:") {
			t.Errorf("-demo -json: server hop id %q, topology %+v", id, rep.Topology)
		}
	}
	if h, _ := rep.Broken.Hop(trace.KindTap, ""); h.Verdict != trace.Fail || h.Name != rep.Topology.Tap {
		t.Errorf("broken tap hop %+v, want fail on %s", h, rep.Topology.Tap)
	}
	if h, _ := rep.Broken.Hop(trace.KindDnsmasq, ""); h.Verdict != trace.OK {
		t.Errorf("tap-down: dnsmasq hop %s, want ok", h.Verdict)
	}
	if left := demo.Residue(tmp, true); len(left) > 0 {
		t.Errorf("-demo -json left: %v", left)
	}

	for _, c := range []struct{ b, failing string }{{"uplink", "failing: physical-port"}, {"hosts-entry", "failing: hosts-entry"}} {
		code, out, errs = runArgs(context.Background(), "-demo", "-break", c.b)
		if code != exitOK || !strings.Contains(out, "Verdict: ok before, fail after") || !strings.Contains(out, c.failing) {
			t.Errorf("-demo -break %s: exit %d, output lacks the verdict change or %q:\n%s%s", c.b, code, c.failing, out, errs)
		}
		if left := demo.Residue(tmp, true); len(left) > 0 {
			t.Errorf("-demo -break %s left: %v", c.b, left)
		}
	}
}

// TestIntegrationDemoInterrupt cancels -demo midway (as Ctrl-C does
// through signal.NotifyContext) and checks it exits 1 leaving nothing.
func TestIntegrationDemoInterrupt(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	for _, after := range []time.Duration{50 * time.Millisecond, 400 * time.Millisecond} {
		ctx, cancel := context.WithTimeout(context.Background(), after)
		code, _, errs := runArgs(ctx, "-demo")
		cancel()
		if code != exitFail || !strings.Contains(errs, "context deadline exceeded") {
			t.Errorf("cancelled after %v: exit %d, stderr %q; want 1 and the cancellation", after, code, errs)
		}
		if left := demo.Residue(tmp, true); len(left) > 0 {
			t.Errorf("cancelled after %v, left: %v", after, left)
		}
	}
}

// TestIntegrationDemoSignals runs the real command (this test binary
// re-executed as vmtrace) with -demo and interrupts it as a person would:
// SIGINT once it has printed its first line, SIGTERM, and a reader that
// goes away after the first line (vmtrace -demo | head -1: SIGPIPE).
// Each time it must exit 1 after removing everything.
func TestIntegrationDemoSignals(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	for _, c := range []struct {
		name string
		sig  syscall.Signal // 0: close the pipe instead
	}{{"SIGINT", syscall.SIGINT}, {"SIGTERM", syscall.SIGTERM}, {"SIGPIPE", 0}} {
		t.Run(c.name, func(t *testing.T) {
			cmd := exec.Command(os.Args[0])
			cmd.Env = append(os.Environ(), "VMTRACE_MAIN=1", "VMTRACE_ARGS=-demo", "TMPDIR="+tmp)
			var errb bytes.Buffer
			cmd.Stderr = &errb
			out, err := cmd.StdoutPipe()
			if err != nil {
				t.Fatal(err)
			}
			if err := cmd.Start(); err != nil {
				t.Fatal(err)
			}
			line, err := bufio.NewReader(out).ReadString('\n')
			if err != nil || !strings.HasPrefix(line, "Built in ") {
				t.Errorf("first line %q, %v", line, err)
			}
			if c.sig != 0 {
				cmd.Process.Signal(c.sig)
			} else {
				out.Close()
			}
			err = cmd.Wait()
			var ee *exec.ExitError
			if !errors.As(err, &ee) || ee.ExitCode() != exitFail {
				t.Errorf("exit: %v, want status 1\n%s", err, errb.String())
			}
			if !strings.Contains(errb.String(), "removed everything") {
				t.Errorf("stderr lacks the cleanup line:\n%s", errb.String())
			}
			if left := demo.Residue(tmp, true); len(left) > 0 {
				t.Errorf("left behind: %v", left)
			}
		})
	}
}
