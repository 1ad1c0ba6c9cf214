package testutil

import (
	"bytes"
	"encoding/json"
	"fmt"
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
)

// lockedBuffer is a bytes.Buffer safe for a child's output and the test.
type lockedBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

func (s *lockedBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

func (s *lockedBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// FreeLoopbackAddr returns "127.0.0.1:port" for a port nobody listened on
// a moment ago.
func FreeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	defer l.Close()
	return l.Addr().String()
}

// ShortenRuleFor writes the Prometheus rule file src to dir with every
// `for:` clause replaced by forDur (a test copy of shipped alerting
// rules, so pending and firing happen within a test) and returns its
// path. It fails the test when src has no `for:` clause.
func ShortenRuleFor(tb testing.TB, src, dir, forDur string) string {
	tb.Helper()
	b, err := os.ReadFile(src)
	if err != nil {
		tb.Fatal(err)
	}
	short := regexp.MustCompile(`(?m)^(\s+for:) \S+$`).ReplaceAll(b, []byte("$1 "+forDur))
	if bytes.Equal(short, b) {
		tb.Fatalf("no for: clause in %s", src)
	}
	p := filepath.Join(dir, filepath.Base(src))
	if err := os.WriteFile(p, short, 0o644); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Prometheus is a real Prometheus server (Debian's prometheus package) a
// test started on loopback; Base is its URL.
type Prometheus struct {
	Base string
}

// StartPrometheus runs prometheus with a temporary configuration and
// storage: one job "vifpath" scraping targets every scrape (the scrape
// timeout too), rules evaluated every scrape. It kills and reaps the
// server when the test ends (and SIGKILLs it if the test process dies),
// and logs its output if the test failed. Skips (fails under CI) without
// the binary.
func StartPrometheus(tb testing.TB, scrape time.Duration, rules string, targets ...string) *Prometheus {
	tb.Helper()
	bin := RequireBinary(tb, "prometheus", "prometheus")
	dir := tb.TempDir()
	var q []string
	for _, tg := range targets {
		q = append(q, fmt.Sprintf("%q", tg))
	}
	ruleFiles := "[]"
	if rules != "" {
		ruleFiles = fmt.Sprintf("[%q]", rules)
	}
	cfg := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: %s
scrape_configs:
  - job_name: vifpath
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, scrape, scrape, ruleFiles, scrape, strings.Join(q, ", "))
	cfgPath := filepath.Join(dir, "prometheus.yml")
	if err := os.WriteFile(cfgPath, []byte(cfg), 0o644); err != nil {
		tb.Fatal(err)
	}
	addr := FreeLoopbackAddr(tb)
	logs := &lockedBuffer{}
	cmd := exec.Command(bin, "--config.file="+cfgPath, "--storage.tsdb.path="+filepath.Join(dir, "data"),
		"--web.listen-address="+addr, "--log.level=warn")
	cmd.Stdout, cmd.Stderr = logs, logs
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		tb.Fatal(err)
	}
	tb.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		if tb.Failed() {
			tb.Logf("prometheus log:\n%s", logs)
		}
	})
	p := &Prometheus{Base: "http://" + addr}
	deadline := time.Now().Add(30 * time.Second)
	for {
		r, err := http.Get(p.Base + "/-/ready")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == 200 {
				return p
			}
		}
		if time.Now().After(deadline) {
			tb.Fatalf("prometheus not ready after 30 s: %v\n%s", err, logs)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// PromSample is one sample of an instant query's result.
type PromSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// Query runs an instant PromQL query through the HTTP API.
func (p *Prometheus) Query(tb testing.TB, q string) []PromSample {
	tb.Helper()
	r, err := http.Get(p.Base + "/api/v1/query?query=" + url.QueryEscape(q))
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Body.Close()
	var res struct {
		Status string `json:"status"`
		Error  string `json:"error"`
		Data   struct {
			Result []PromSample `json:"result"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil || res.Status != "success" {
		tb.Fatalf("query %s: %v %s %s", q, err, res.Status, res.Error)
	}
	return res.Data.Result
}

// PromAlert is one of Prometheus's own alerts (pending or firing).
type PromAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// Alerts returns the server's alerts named name.
func (p *Prometheus) Alerts(tb testing.TB, name string) []PromAlert {
	tb.Helper()
	r, err := http.Get(p.Base + "/api/v1/alerts")
	if err != nil {
		tb.Fatal(err)
	}
	defer r.Body.Close()
	var res struct {
		Data struct {
			Alerts []PromAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := json.NewDecoder(r.Body).Decode(&res); err != nil {
		tb.Fatal(err)
	}
	var out []PromAlert
	for _, a := range res.Data.Alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out
}
