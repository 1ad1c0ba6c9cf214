//go:build acceptance && linux

package acceptance

import (
	"context"
	"fmt"
	"io"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestAcceptanceExporter runs examples/vifpath-exporter next to the
// all-in-one cloud (built by the test, naming servers from the API with
// -cloud) and a real Prometheus scraping it every 2 s with the shipped
// rules (for: shortened to 10 s): the walkthrough's server is healthy in
// PromQL under its Nova name, the guest's tap set down shows as the tap
// hop failing and VifpathNICPathFailing goes pending then firing; with
// the tap up again the NIC is ok and the alert resolves. The tap is set
// up again in t.Cleanup even when a check fails.
func TestAcceptanceExporter(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	p := walkthrough(ctx, t, c, 1)
	tap := linuxbridge.PortTapName(p.server.Ports[0].ID)

	dir := t.TempDir()
	bin := filepath.Join(dir, "vifpath-exporter")
	if out, err := exec.Command("go", "build", "-o", bin, "../examples/vifpath-exporter").CombinedOutput(); err != nil {
		t.Fatalf("go build: %v\n%s", err, out)
	}
	cloudName := os.Getenv("OS_CLOUD")
	if cloudName == "" {
		cloudName = "vifpath-aio"
	}
	addr := testutil.FreeLoopbackAddr(t)
	logs := &sandbox.LogBuffer{}
	cmd := exec.Command(bin, "--web.listen-address", addr, "--cloud", cloudName, "--interval", "5s", "--timeout", "60s", "--log-level", "warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Signal(syscall.SIGTERM)
		done := make(chan error, 1)
		go func() { done <- cmd.Wait() }()
		select {
		case err := <-done:
			if err != nil {
				t.Errorf("exporter: %v", err)
			}
		case <-time.After(30 * time.Second):
			cmd.Process.Kill()
			<-done
			t.Errorf("exporter did not stop within 30 s of SIGTERM")
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs)
		}
	})
	rules := testutil.ShortenRuleFor(t, "../examples/vifpath-exporter/rules/vifpath.rules.yml", dir, "10s")
	prom := testutil.StartPrometheus(t, 2*time.Second, rules, addr)

	poll := func(what string, timeout time.Duration, cond func() bool) time.Time {
		t.Helper()
		deadline := time.Now().Add(timeout)
		for !cond() {
			if time.Now().After(deadline) {
				t.Fatalf("%s: not within %v", what, timeout)
			}
			time.Sleep(500 * time.Millisecond)
		}
		return time.Now()
	}
	nic := fmt.Sprintf(`tap=%q,server=%q,server_id=%q`, tap, serverName, p.server.ID)
	poll("the server's NIC ok in PromQL, named from the API", 3*time.Minute, func() bool {
		return len(prom.Query(t, `vifpath_nic_verdict{`+nic+`,verdict="ok"} == 1`)) == 1
	})
	r, err := http.Get("http://" + addr + "/-/healthy")
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("/-/healthy: %v %v", r, err)
	}
	r.Body.Close()
	r, err = http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatal(err)
	}
	body, _ := io.ReadAll(r.Body)
	r.Body.Close()
	t.Logf("scrape on the aio: %d bytes, %d vifpath_ samples", len(body), strings.Count(string(body), "\nvifpath_"))

	t.Cleanup(func() { ipLink(t, "set", tap, "up") })
	broke := time.Now()
	ipLink(t, "set", tap, "down")
	seen := poll("the tap hop failing in PromQL", 2*time.Minute, func() bool {
		return len(prom.Query(t, `vifpath_hop_verdict{`+nic+`,hop="tap",verdict="fail"} == 1`)) == 1
	})
	state := func() string {
		for _, a := range prom.Alerts(t, "VifpathNICPathFailing") {
			if a.Labels["tap"] == tap {
				return a.State
			}
		}
		return ""
	}
	pending := poll("VifpathNICPathFailing pending", time.Minute, func() bool { return state() == "pending" })
	firing := poll("VifpathNICPathFailing firing", 2*time.Minute, func() bool { return state() == "firing" })
	t.Logf("tap down: failing hop in PromQL after %v, alert pending after %v, firing after %v",
		seen.Sub(broke).Round(time.Second), pending.Sub(broke).Round(time.Second), firing.Sub(broke).Round(time.Second))

	ipLink(t, "set", tap, "up")
	undone := time.Now()
	ok := poll("the NIC ok again in PromQL", 3*time.Minute, func() bool {
		return len(prom.Query(t, `vifpath_nic_verdict{`+nic+`,verdict="ok"} == 1`)) == 1
	})
	poll("the alert resolved", time.Minute, func() bool { return state() == "" })
	t.Logf("tap up: ok in PromQL after %v", ok.Sub(undone).Round(time.Second))
}
