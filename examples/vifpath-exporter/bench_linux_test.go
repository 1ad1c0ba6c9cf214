package main

import (
	"crypto/rand"
	"fmt"
	"io"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

func randID() string {
	b := make([]byte, 16)
	rand.Read(b)
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// procUsage reads a process's resident memory (bytes) and CPU time
// (user + system) from /proc.
func procUsage(tb testing.TB, pid int) (rss int64, cpu time.Duration) {
	tb.Helper()
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		tb.Fatal(err)
	}
	f := strings.Fields(string(st[strings.LastIndexByte(string(st), ')')+2:]))
	ut, _ := strconv.ParseInt(f[11], 10, 64) // utime, field 14
	stime, _ := strconv.ParseInt(f[12], 10, 64)
	cpu = time.Duration(ut+stime) * time.Second / 100 // USER_HZ
	status, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		tb.Fatal(err)
	}
	for _, l := range strings.Split(string(status), "\n") {
		if strings.HasPrefix(l, "VmRSS:") {
			kb, _ := strconv.ParseInt(strings.Fields(l)[1], 10, 64)
			rss = kb * 1024
		}
	}
	return rss, cpu
}

// BenchmarkExporter200Taps runs the exporter binary (a process of its
// own) on a compute node of 200 VM taps (fe:16:3e MACs, 20 brq bridges of
// 10) in a namespace of the benchmark's own, without ARP probes or a
// counter wait: it reports the first round's wall and CPU time and the
// process's resident memory after it, then times scrapes of the real
// page (its size and the process's CPU per scrape).
func BenchmarkExporter200Taps(b *testing.B) {
	testutil.RequireRoot(b)
	dir := b.TempDir()
	host := testutil.NewNetNSAt(b, dir, testutil.RandNameN("ex-", 12))
	for range 20 {
		br := linuxbridge.NetworkBridgeName(randID())
		host.Bridge(b, br)
		for range 10 {
			port := randID()
			tap := linuxbridge.PortTapName(port)
			host.Tap(b, tap)
			mac := make(net.HardwareAddr, 6)
			rand.Read(mac)
			mac[0], mac[1], mac[2] = 0xfe, 0x16, 0x3e
			host.SetMAC(b, tap, mac)
			host.Enslave(b, tap, br)
			host.SetUp(b, tap)
		}
	}
	bin := filepath.Join(dir, "vifpath-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	addr := testutil.FreeLoopbackAddr(b)
	cmd := exec.Command(bin, "--web.listen-address", addr, "--netns", host.Path, "--netns-dir", empty, "--state-dir", empty,
		"--nm-run-dir", empty, "--agent-config", "-", "--libvirt-uri", "none", "--role", "compute", "--no-arp",
		"--counter-interval", "-1ns", "--interval", "1h", "--timeout", "10m", "--log-level", "error")
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	start := time.Now()
	if err := cmd.Start(); err != nil {
		b.Fatal(err)
	}
	b.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	get := func() string {
		r, err := http.Get("http://" + addr + "/metrics")
		if err != nil {
			return ""
		}
		defer r.Body.Close()
		body, _ := io.ReadAll(r.Body)
		return string(body)
	}
	var page string
	for {
		page = get()
		if v, ok := value(page, `vifpath_nics\{node="[^"]*",role="compute"\}`); ok && v == 200 {
			break
		}
		if time.Since(start) > 10*time.Minute {
			b.Fatalf("no round of 200 NICs within 10 minutes:\n%.2000s", page)
		}
		time.Sleep(100 * time.Millisecond)
	}
	round, _ := value(page, `vifpath_exporter_round_duration_seconds`)
	rss, cpuRound := procUsage(b, cmd.Process.Pid)
	b.ResetTimer()
	for b.Loop() {
		page = get()
	}
	b.StopTimer()
	_, cpuAll := procUsage(b, cmd.Process.Pid)
	b.ReportMetric(round, "round-s")
	b.ReportMetric(cpuRound.Seconds(), "cpu-s-start+round")
	b.ReportMetric(float64(rss)/(1<<20), "rss-MiB")
	b.ReportMetric(float64(len(page)), "bytes/scrape")
	b.ReportMetric(float64((cpuAll-cpuRound).Milliseconds())/float64(b.N), "exporter-cpu-ms/scrape")
	b.ReportMetric(float64(strings.Count(page, "\nvifpath_")), "vifpath-series")
}
