package main

import (
	"context"
	"io"
	"net"
	"net/http"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
)

// startExporter runs the exporter in-process with args (plus a loopback
// listen address) until the test ends, and returns its address.
func startExporter(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	logs := &sandbox.LogBuffer{}
	go func() {
		done <- run(ctx, append([]string{"--web.listen-address", "127.0.0.1:0"}, args...), logs,
			func(a []net.Addr) { addrc <- a[0].String() })
	}()
	t.Cleanup(func() {
		cancel()
		select {
		case code := <-done:
			if code != exitOK {
				t.Errorf("exporter exited %d:\n%s", code, logs)
			}
		case <-time.After(30 * time.Second):
			t.Errorf("exporter did not stop within 30 s of its ctx ending:\n%s", logs)
		}
		if t.Failed() {
			t.Logf("exporter log:\n%s", logs)
		}
	})
	select {
	case a := <-addrc:
		return a
	case code := <-done:
		t.Fatalf("exporter exited %d before listening:\n%s", code, logs)
	case <-time.After(10 * time.Second):
		t.Fatalf("exporter not listening after 10 s:\n%s", logs)
	}
	return ""
}

// waitFor polls cond every 100 ms until it holds or timeout passes, and
// returns when it first held.
func waitFor(t *testing.T, what string, timeout time.Duration, cond func() bool) time.Time {
	t.Helper()
	deadline := time.Now().Add(timeout)
	for {
		if cond() {
			return time.Now()
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s: not within %v", what, timeout)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// scrape fetches the exporter's metrics page.
func scrape(t *testing.T, addr string) (string, time.Duration) {
	t.Helper()
	t0 := time.Now()
	r, err := http.Get("http://" + addr + "/metrics")
	if err != nil {
		t.Fatalf("scrape %s: %v", addr, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil || r.StatusCode != 200 {
		t.Fatalf("scrape %s: %d %v", addr, r.StatusCode, err)
	}
	return string(b), time.Since(t0)
}

func requireDemo(t *testing.T) {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	testutil.RequireBinary(t, "busybox", "busybox")
}

// searchableTempDir is testutil.SearchableTempDir (dnsmasq reads its
// files as nobody).
var searchableTempDir = testutil.SearchableTempDir

// demoArgs are the exporter's flags for the demo node p.
func demoArgs(p *demo.Path, interval string) []string {
	return []string{"--interval", interval, "--timeout", "5s", "--counter-interval", "200ms", "--arp-timeout", "300ms", "--libvirt-uri", "none",
		"--netns", p.HostPath, "--netns-dir", p.NetNSDir, "--state-dir", p.StateDir, "--nm-run-dir", p.NMRunDir,
		"--agent-config", p.AgentConfig, "--node", "compute1", "--log-level", "warn"}
}
