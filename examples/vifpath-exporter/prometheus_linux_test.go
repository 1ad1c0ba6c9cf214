package main

import (
	"bytes"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/testutil"
)

// syncBuffer is a bytes.Buffer safe for the exporter's logger and the test.
type syncBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *syncBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *syncBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// startExporter runs the exporter in-process with args (plus a loopback
// listen address) until the test ends, and returns its address.
func startExporter(t *testing.T, args ...string) string {
	t.Helper()
	ctx, cancel := context.WithCancel(context.Background())
	addrc := make(chan string, 1)
	done := make(chan int, 1)
	logs := &syncBuffer{}
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

// freePort returns a loopback address nobody listens on right now.
func freePort(t *testing.T) string {
	t.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		t.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// testRules writes the shipped rules with every `for:` shortened to
// forDur, the test copy Prometheus evaluates.
func testRules(t *testing.T, dir, forDur string) string {
	t.Helper()
	b, err := os.ReadFile("rules/vifpath.rules.yml")
	if err != nil {
		t.Fatal(err)
	}
	short := regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(b, []byte("$1 "+forDur))
	if bytes.Equal(short, b) {
		t.Fatal("no for: clause in rules/vifpath.rules.yml")
	}
	p := filepath.Join(dir, "rules.yml")
	if err := os.WriteFile(p, short, 0o644); err != nil {
		t.Fatal(err)
	}
	return p
}

// promServer is a real Prometheus server the test started on loopback.
type promServer struct {
	base string
}

// startPrometheus runs Debian's prometheus with a temporary config and
// storage, scraping targets every scrape and evaluating rules every
// scrape, and kills it when the test ends.
func startPrometheus(t *testing.T, scrape time.Duration, rules string, targets ...string) *promServer {
	t.Helper()
	bin := testutil.RequireBinary(t, "prometheus", "prometheus")
	dir := t.TempDir()
	var q []string
	for _, tg := range targets {
		q = append(q, fmt.Sprintf("%q", tg))
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: [%q]
scrape_configs:
  - job_name: vifpath
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, scrape, scrape, rules, scrape, strings.Join(q, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		t.Fatal(err)
	}
	addr := freePort(t)
	logs := &syncBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if t.Failed() {
			t.Logf("prometheus log:\n%s", logs)
		}
	})
	p := &promServer{base: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(p.base + "/-/ready")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("prometheus not ready after 30 s: %v\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

type sample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// query runs an instant PromQL query through the HTTP API.
func (p *promServer) query(t *testing.T, q string) []sample {
	t.Helper()
	r, err := http.Get(p.base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []sample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || res.Status != "success" {
		t.Fatalf("query %s: %v %s %s", q, err, res.Status, res.Error)
	}
	return res.Data.Result
}

type alert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// alerts returns Prometheus's own alerts (pending and firing) by name.
func (p *promServer) alerts(t *testing.T, name string) []alert {
	t.Helper()
	r, err := http.Get(p.base + "/api/v1/alerts")
	if err != nil {
		t.Fatal(err)
	}
	defer r.Body.Close()
	var res struct {
		Data struct {
			Alerts []alert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
		t.Fatal(err)
	}
	var out []alert
	for _, a := range res.Data.Alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out
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

// searchableTempDir is a t.TempDir() whose parents others may search
// (dnsmasq reads its files as nobody).
func searchableTempDir(t *testing.T) string {
	dir := t.TempDir()
	for d := dir; d != os.TempDir() && d != "/" && d != "."; d = filepath.Dir(d) {
		os.Chmod(d, 0o755)
	}
	return dir
}

// demoArgs are the exporter's flags for the demo node p.
func demoArgs(p *demo.Path, interval string) []string {
	return []string{"--interval", interval, "--timeout", "5s", "--counter-interval", "200ms", "--arp-timeout", "300ms", "--libvirt-uri", "none",
		"--netns", p.HostPath, "--netns-dir", p.NetNSDir, "--state-dir", p.StateDir, "--nm-run-dir", p.NMRunDir,
		"--agent-config", p.AgentConfig, "--node", "compute1", "--log-level", "warn"}
}
