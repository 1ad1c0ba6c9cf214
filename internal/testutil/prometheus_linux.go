package testutil

import (
	"bytes"
	"context"
	"os"
	"path/filepath"
	"regexp"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// FreeLoopbackAddr returns "127.0.0.1:port" for a port nobody listened on
// a moment ago.
func FreeLoopbackAddr(tb testing.TB) string {
	tb.Helper()
	addr, err := sandbox.FreeLoopbackAddr()
	check(tb, err)
	return addr
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

// Prometheus is a real Prometheus server a test started on loopback (a
// sandbox.Prometheus whose queries fail the test on error).
type Prometheus struct {
	*sandbox.Prometheus
}

// PromSample is one sample of an instant query's result.
type PromSample = sandbox.PromSample

// PromAlert is one of Prometheus's own alerts (pending or firing).
type PromAlert = sandbox.PromAlert

// StartPrometheus runs prometheus (sandbox.StartPrometheus) with a
// temporary configuration and storage: one job "vifpath" scraping
// targets every scrape (the scrape timeout too), rules evaluated every
// scrape. It kills and reaps the server when the test ends, and logs its
// output if the test failed. Skips (fails under CI) without the binary.
func StartPrometheus(tb testing.TB, scrape time.Duration, rules string, targets ...string) *Prometheus {
	tb.Helper()
	bin := RequireBinary(tb, "prometheus", "prometheus")
	p, err := sandbox.StartPrometheus(context.Background(), &sandbox.PrometheusConfig{
		Dir: tb.TempDir(), Addr: FreeLoopbackAddr(tb), Binary: bin,
		Scrape: scrape, Rules: rules, Targets: targets,
	})
	check(tb, err)
	tb.Cleanup(func() {
		p.Close()
		if tb.Failed() {
			tb.Logf("prometheus log:\n%s", p.Log())
		}
	})
	return &Prometheus{p}
}

// Query runs an instant PromQL query through the HTTP API.
func (p *Prometheus) Query(tb testing.TB, q string) []PromSample {
	tb.Helper()
	s, err := p.Prometheus.Query(context.Background(), q)
	check(tb, err)
	return s
}

// Alerts returns the server's alerts named name.
func (p *Prometheus) Alerts(tb testing.TB, name string) []PromAlert {
	tb.Helper()
	a, err := p.Prometheus.Alerts(context.Background(), name)
	check(tb, err)
	return a
}
