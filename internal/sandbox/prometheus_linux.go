package sandbox

import (
	"bytes"
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"io"
	"net/http"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"sync"
	"syscall"
	"time"
)

// PrometheusConfig says how to run a throwaway Prometheus server.
type PrometheusConfig struct {
	// Dir holds the configuration and the storage. Required; created if
	// missing. Close leaves it (its owner removes it).
	Dir string
	// Addr is the "127.0.0.1:port" the server listens on. Required.
	Addr string
	// Binary is the prometheus to run; "" means "prometheus" in $PATH.
	Binary string
	// Scrape is the scrape and rule evaluation interval and the scrape
	// timeout; zero means 1 s.
	Scrape time.Duration
	// Rules is a rule file to load; "" loads none.
	Rules string
	// Targets are the host:port addresses job "vifpath" scrapes.
	Targets []string
	// StartTimeout bounds the wait for /-/ready; zero means 30 s.
	StartTimeout time.Duration
}

// Prometheus is a real Prometheus server (Debian's prometheus package), a
// child of this process, listening on loopback. Its methods are safe for
// concurrent use.
type Prometheus struct {
	// Base is its URL, "http://127.0.0.1:port".
	Base string

	logs LogBuffer
	cmd  *exec.Cmd
	once sync.Once
}

// LogBuffer collects a child process's output (its Stdout and Stderr)
// for a log: a bytes.Buffer safe for the child's writes and concurrent
// reads. The zero value is empty and ready.
type LogBuffer struct {
	mu sync.Mutex
	b  bytes.Buffer
}

// Write appends p.
func (s *LogBuffer) Write(p []byte) (int, error) {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.Write(p)
}

// String returns what was written so far.
func (s *LogBuffer) String() string {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.b.String()
}

// StartPrometheus writes a configuration into cfg.Dir (one job "vifpath"
// scraping cfg.Targets, rules evaluated every scrape), starts prometheus
// with its storage there, and waits until it is ready. It gets SIGKILL if
// this process dies; the caller stops it with Close.
func StartPrometheus(ctx context.Context, cfg *PrometheusConfig) (*Prometheus, error) {
	if cfg.Dir == "" || cfg.Addr == "" {
		return nil, errors.New("sandbox: StartPrometheus needs a Dir and an Addr")
	}
	bin, err := LookBin(cfg.Binary, "prometheus", "prometheus")
	if err != nil {
		return nil, err
	}
	scrape := cfg.Scrape
	if scrape <= 0 {
		scrape = time.Second
	}
	var q []string
	for _, tg := range cfg.Targets {
		q = append(q, fmt.Sprintf("%q", tg))
	}
	ruleFiles := "[]"
	if cfg.Rules != "" {
		ruleFiles = fmt.Sprintf("[%q]", cfg.Rules)
	}
	conf := fmt.Sprintf(`global:
  scrape_interval: %s
  evaluation_interval: %s
rule_files: %s
scrape_configs:
  - job_name: vifpath
    scrape_timeout: %s
    static_configs:
      - targets: [%s]
`, scrape, scrape, ruleFiles, scrape, strings.Join(q, ", "))
	confPath := filepath.Join(cfg.Dir, "prometheus.yml")
	if err := os.MkdirAll(cfg.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if err := os.WriteFile(confPath, []byte(conf), 0o644); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	p := &Prometheus{Base: "http://" + cfg.Addr}
	p.cmd = exec.Command(bin, "--config.file="+confPath, "--storage.tsdb.path="+filepath.Join(cfg.Dir, "data"),
		"--web.listen-address="+cfg.Addr, "--log.level=warn")
	p.cmd.Stdout, p.cmd.Stderr = &p.logs, &p.logs
	p.cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := p.cmd.Start(); err != nil {
		return nil, fmt.Errorf("sandbox: start prometheus: %w", err)
	}
	timeout := cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	for deadline := time.Now().Add(timeout); ; {
		r, err := http.Get(p.Base + "/-/ready")
		if err == nil {
			r.Body.Close()
			if r.StatusCode == http.StatusOK {
				return p, nil
			}
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			p.Close()
			return nil, fmt.Errorf("sandbox: prometheus not ready after %v: %v\n%s", timeout, err, p.Log())
		}
		time.Sleep(100 * time.Millisecond)
	}
}

// Log returns what the server wrote to its standard output and error.
func (p *Prometheus) Log() string { return p.logs.String() }

// Close kills the server and reaps it. Closing twice does nothing.
func (p *Prometheus) Close() error {
	p.once.Do(func() {
		p.cmd.Process.Kill()
		p.cmd.Wait()
	})
	return nil
}

// PromSample is one sample of an instant query's result.
type PromSample struct {
	Metric map[string]string `json:"metric"`
	Value  [2]any            `json:"value"`
}

// PromAlert is one of Prometheus's own alerts (pending or firing).
type PromAlert struct {
	Labels map[string]string `json:"labels"`
	State  string            `json:"state"`
}

// get decodes the JSON API answer at path into v and checks its status.
func (p *Prometheus) get(ctx context.Context, path string, v any) error {
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, p.Base+path, nil)
	if err != nil {
		return err
	}
	r, err := http.DefaultClient.Do(req)
	if err != nil {
		return fmt.Errorf("sandbox: prometheus %s: %w", path, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		return fmt.Errorf("sandbox: prometheus %s: %w", path, err)
	}
	var status struct {
		Status string `json:"status"`
		Error  string `json:"error"`
	}
	if err := json.Unmarshal(b, &status); err != nil || status.Status != "success" {
		return fmt.Errorf("sandbox: prometheus %s: %v %s %s", path, err, status.Status, status.Error)
	}
	return json.Unmarshal(b, v)
}

// Query runs an instant PromQL query through the HTTP API.
func (p *Prometheus) Query(ctx context.Context, q string) ([]PromSample, error) {
	var res struct {
		Data struct {
			Result []PromSample `json:"result"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/query?query="+url.QueryEscape(q), &res); err != nil {
		return nil, err
	}
	return res.Data.Result, nil
}

// Alerts returns the server's alerts named name.
func (p *Prometheus) Alerts(ctx context.Context, name string) ([]PromAlert, error) {
	var res struct {
		Data struct {
			Alerts []PromAlert `json:"alerts"`
		} `json:"data"`
	}
	if err := p.get(ctx, "/api/v1/alerts", &res); err != nil {
		return nil, err
	}
	var out []PromAlert
	for _, a := range res.Data.Alerts {
		if a.Labels["alertname"] == name {
			out = append(out, a)
		}
	}
	return out, nil
}
