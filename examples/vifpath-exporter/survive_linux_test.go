package main

import (
	"context"
	"regexp"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/testutil"
)

// value returns the value of the first sample of the metrics page whose
// line matches re (name and labels), and whether there is one.
func value(body, re string) (float64, bool) {
	m := regexp.MustCompile(`(?m)^` + re + ` (\S+)$`).FindStringSubmatch(body)
	if m == nil {
		return 0, false
	}
	v, err := strconv.ParseFloat(m[1], 64)
	return v, err == nil
}

// TestIntegrationSurvives runs the exporter on the demo node with a
// private libvirtd, scraping it every 50 ms from a second goroutine the
// whole time (so scrapes land during traces), and: freezes libvirtd
// (SIGSTOP: a daemon that accepts and never answers), kills it, then
// removes the demo node's namespaces while rounds run. Every scrape
// answers 200 within 500 ms; the health series say what failed
// (vifpath_exporter_last_run_error, rounds by result).
func TestIntegrationSurvives(t *testing.T) {
	requireDemo(t)
	lvd := testutil.NewPrivateLibvirtd(t)
	dir := searchableTempDir(t)
	p, err := demo.BuildPath(context.Background(), &demo.PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	args := demoArgs(p, "500ms")
	for i := range args {
		if args[i] == "--libvirt-uri" {
			args[i+1] = lvd.URI("test")
		}
		if args[i] == "--timeout" {
			args[i+1] = "2s"
		}
	}
	addr := startExporter(t, args...)

	var (
		mu      sync.Mutex
		slowest time.Duration
		n       int
	)
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Go(func() {
		for {
			select {
			case <-stop:
				return
			case <-time.After(50 * time.Millisecond):
			}
			_, d := scrape(t, addr) // fails the test on an error or non-200
			mu.Lock()
			slowest, n = max(slowest, d), n+1
			mu.Unlock()
		}
	})
	defer func() {
		close(stop)
		wg.Wait()
		mu.Lock()
		defer mu.Unlock()
		t.Logf("%d scrapes during the test, slowest %v", n, slowest.Round(time.Millisecond))
		if slowest > 500*time.Millisecond {
			t.Errorf("slowest scrape took %v, want under 500 ms", slowest)
		}
	}()

	get := func(re string) float64 {
		body, _ := scrape(t, addr)
		v, _ := value(body, re)
		return v
	}
	waitFor(t, "libvirt source working", 20*time.Second, func() bool {
		body, _ := scrape(t, addr)
		v, ok := value(body, `vifpath_exporter_last_run_error\{source="libvirt"\}`)
		_, traced := value(body, `vifpath_nic_verdict\{.*tap="`+p.Tap+`",verdict="ok"\}`)
		return ok && v == 0 && traced
	})

	lvd.Freeze(t)
	waitFor(t, "frozen libvirtd: libvirt error and a trace timeout", 20*time.Second, func() bool {
		return get(`vifpath_exporter_last_run_error\{source="libvirt"\}`) == 1 && get(`vifpath_exporter_rounds_total\{result="timeout"\}`) >= 1
	})
	t.Logf("frozen libvirtd: skipped rounds %v, timeouts %v", get(`vifpath_exporter_rounds_skipped_total`), get(`vifpath_exporter_rounds_total\{result="timeout"\}`))
	lvd.Thaw(t)
	lvd.Kill(t)
	before := get(`vifpath_trace_last_success_timestamp_seconds`)
	waitFor(t, "dead libvirtd: traces succeed again, libvirt still failing", 20*time.Second, func() bool {
		return get(`vifpath_trace_last_success_timestamp_seconds`) > before && get(`vifpath_exporter_last_run_error\{source="libvirt"\}`) == 1
	})

	// The namespaces vanish, most likely mid-trace (rounds run back to back).
	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	waitFor(t, "vanished namespace: trace error flagged", 20*time.Second, func() bool {
		return get(`vifpath_exporter_last_run_error\{source="trace"\}`) == 1
	})
	body, _ := scrape(t, addr)
	if _, ok := value(body, `vifpath_nic_verdict\{.*tap="`+p.Tap+`",verdict="ok"\}`); !ok {
		t.Errorf("after the namespace vanished, the last good result is gone from the page")
	}
	t.Logf("rounds: success %v, error %v, timeout %v, skipped %v", get(`vifpath_exporter_rounds_total\{result="success"\}`),
		get(`vifpath_exporter_rounds_total\{result="error"\}`), get(`vifpath_exporter_rounds_total\{result="timeout"\}`), get(`vifpath_exporter_rounds_skipped_total`))
}
