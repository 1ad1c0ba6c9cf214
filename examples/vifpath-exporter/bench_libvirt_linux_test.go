package main

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// startProc starts a long-running binary for a benchmark, killed at
// cleanup (and with the benchmark process).
func startProc(tb testing.TB, bin string, args ...string) *exec.Cmd {
	tb.Helper()
	cmd := exec.Command(bin, args...)
	cmd.Stderr = os.Stderr
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return cmd
}

func fetch(url string) (string, time.Duration, error) {
	t0 := time.Now()
	r, err := http.Get(url)
	if err != nil {
		return "", 0, err
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if r.StatusCode != 200 {
		err = fmt.Errorf("%s: %s", url, r.Status)
	}
	return string(b), time.Since(t0), err
}

// BenchmarkLibvirt200VsLibvirtExporter: 200 running domains (a private
// libvirtd's test driver, one bridge interface each) exported by the
// vifpath exporter (one bulk stats RPC a round, scrapes read the kept
// result) and, in the same run, by Debian's prometheus-libvirt-exporter
// (which asks libvirtd on every scrape). Reports each one's scrape time,
// page size and process CPU a scrape, and the vifpath round's stats RPC.
func BenchmarkLibvirt200VsLibvirtExporter(b *testing.B) {
	testutil.RequireRoot(b)
	other := testutil.RequireBinary(b, "prometheus-libvirt-exporter", "prometheus-libvirt-exporter")
	d := testutil.NewPrivateLibvirtd(b)
	adm := testutil.LibvirtAdmin(b, d.Socket, "test:///default") // the test driver forgets its domains with its last connection
	var wg sync.WaitGroup
	errs := make(chan error, 200)
	for i := range 200 {
		wg.Go(func() {
			x := fmt.Sprintf(`<domain type='test'><name>ex-%d</name><memory unit='KiB'>8192</memory><os><type>hvm</type></os><devices>
<interface type='bridge'><mac address='fa:16:3e:01:%02x:%02x'/><source bridge='brqexbench'/><target dev='tapex%d'/><model type='virtio'/></interface>
</devices></domain>`, i, i/256, i%256, i)
			if _, err := adm.DomainCreateXML(x, 0); err != nil {
				errs <- err
			}
		})
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		b.Fatal(err)
	}
	uri := d.URI("test")
	lv, err := libvirtinspect.Dial(context.Background(), &libvirtinspect.Config{URI: uri})
	if err != nil {
		b.Fatal(err)
	}
	defer lv.Close()
	if st, err := lv.Stats(context.Background(), &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface}); err != nil || len(st) < 200 {
		b.Fatalf("stats of the 200 domains: %d, %v", len(st), err)
	}

	dir := b.TempDir()
	bin := filepath.Join(dir, "vifpath-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, ".").CombinedOutput(); err != nil {
		b.Fatalf("go build: %v\n%s", err, out)
	}
	host := testutil.NewNetNSAt(b, dir, testutil.RandNameN("ex-", 12))
	empty := filepath.Join(dir, "empty")
	os.Mkdir(empty, 0o755)
	ours, theirs := testutil.FreeLoopbackAddr(b), testutil.FreeLoopbackAddr(b)
	oc := startProc(b, bin, "--web.listen-address", ours, "--libvirt-uri", uri, "--netns", host.Path, "--netns-dir", empty,
		"--state-dir", empty, "--nm-run-dir", empty, "--agent-config", "-", "--role", "compute", "--no-arp",
		"--interval", "1h", "--log-level", "error")
	tc := startProc(b, other, "--web.listen-address", theirs, "--libvirt.uri", uri)
	deadline := time.Now().Add(time.Minute)
	for {
		p1, _, err1 := fetch("http://" + ours + "/metrics")
		_, _, err2 := fetch("http://" + theirs + "/metrics")
		if err1 == nil && err2 == nil && strings.Count(p1, "vifpath_libvirt_domain_info{") >= 200 {
			break
		}
		if time.Now().After(deadline) {
			b.Fatalf("exporters not ready: %v %v", err1, err2)
		}
		time.Sleep(200 * time.Millisecond)
	}

	_, oc0 := procUsage(b, oc.Process.Pid)
	_, tc0 := procUsage(b, tc.Process.Pid)
	var oursT, theirsT, statsT time.Duration
	var oursPage, theirsPage string
	b.ResetTimer()
	for b.Loop() {
		var dt time.Duration
		if oursPage, dt, err = fetch("http://" + ours + "/metrics"); err != nil {
			b.Fatal(err)
		}
		oursT += dt
		if theirsPage, dt, err = fetch("http://" + theirs + "/metrics"); err != nil {
			b.Fatal(err)
		}
		theirsT += dt
		t0 := time.Now()
		if _, err := lv.Stats(context.Background(), &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface}); err != nil {
			b.Fatal(err)
		}
		statsT += time.Since(t0)
	}
	b.StopTimer()
	oRSS, oc1 := procUsage(b, oc.Process.Pid)
	tRSS, tc1 := procUsage(b, tc.Process.Pid)
	n := float64(b.N)
	b.ReportMetric(float64(oursT.Microseconds())/1000/n, "vifpath-scrape-ms")
	b.ReportMetric(float64(theirsT.Microseconds())/1000/n, "libvirt-exporter-scrape-ms")
	b.ReportMetric(float64(statsT.Microseconds())/1000/n, "vifpath-stats-rpc-ms")
	b.ReportMetric(float64(len(oursPage)), "vifpath-bytes")
	b.ReportMetric(float64(len(theirsPage)), "libvirt-exporter-bytes")
	b.ReportMetric(float64((oc1-oc0).Milliseconds())/n, "vifpath-cpu-ms/scrape")
	b.ReportMetric(float64((tc1-tc0).Milliseconds())/n, "libvirt-exporter-cpu-ms/scrape")
	b.ReportMetric(float64(oRSS)/(1<<20), "vifpath-rss-MiB")
	b.ReportMetric(float64(tRSS)/(1<<20), "libvirt-exporter-rss-MiB")
}
