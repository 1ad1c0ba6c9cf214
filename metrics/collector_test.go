package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"os"
	"runtime"
	"sort"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// loadNode reads a recorded NodeTrace (testdata/README.md says where from).
func loadNode(t testing.TB, name string) *trace.NodeTrace {
	t.Helper()
	b, err := os.ReadFile("testdata/" + name)
	if err != nil {
		t.Fatal(err)
	}
	var nt trace.NodeTrace
	if err := json.Unmarshal(b, &nt); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return &nt
}

// series gathers reg and returns every sample as `name{k="v",…}` → value,
// labels sorted by name.
func series(t testing.TB, g prometheus.Gatherer) map[string]float64 {
	t.Helper()
	mfs, err := g.Gather()
	if err != nil {
		t.Fatalf("gather: %v", err)
	}
	out := map[string]float64{}
	for _, mf := range mfs {
		for _, m := range mf.GetMetric() {
			var ls []string
			for _, l := range m.GetLabel() {
				ls = append(ls, fmt.Sprintf("%s=%q", l.GetName(), l.GetValue()))
			}
			sort.Strings(ls)
			v := m.GetGauge().GetValue() + m.GetCounter().GetValue() + m.GetUntyped().GetValue()
			out[mf.GetName()+"{"+strings.Join(ls, ",")+"}"] = v
		}
	}
	return out
}

// pick returns the samples of one metric whose label text contains every
// part.
func pick(s map[string]float64, name string, parts ...string) map[string]float64 {
	out := map[string]float64{}
next:
	for k, v := range s {
		if !strings.HasPrefix(k, name+"{") {
			continue
		}
		for _, p := range parts {
			if !strings.Contains(k, p) {
				continue next
			}
		}
		out[k] = v
	}
	return out
}

// one returns the single sample matching, failing the test otherwise.
func one(t testing.TB, s map[string]float64, name string, parts ...string) float64 {
	t.Helper()
	m := pick(s, name, parts...)
	if len(m) != 1 {
		t.Fatalf("%s %v: %d samples, want 1: %v", name, parts, len(m), m)
	}
	for _, v := range m {
		return v
	}
	return 0
}

func newRegistered(t testing.TB, cfg *Config) (*Collector, *prometheus.Registry) {
	t.Helper()
	c, err := New(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	reg := prometheus.NewPedanticRegistry()
	if err := reg.Register(c); err != nil {
		t.Fatal(err)
	}
	return c, reg
}

func TestNewNeedsTrace(t *testing.T) {
	for _, cfg := range []*Config{nil, {}} {
		if _, err := New(cfg); err == nil || !strings.Contains(err.Error(), "Config.Trace is required") {
			t.Errorf("New(%+v) = %v, want the Trace error", cfg, err)
		}
	}
}

// TestVerdictsFromRecordedTraces exports the demo's healthy trace, then its
// tap-down trace: the NIC's and each hop's state-set follow the recorded
// verdicts, the NIC's last-OK time stays at the healthy round, and the
// output passes client_golang's lint (names, units, _total).
func TestVerdictsFromRecordedTraces(t *testing.T) {
	healthy, broken := loadNode(t, "node-healthy.json"), loadNode(t, "node-tap-down.json")
	var cur atomic.Pointer[trace.NodeTrace]
	cur.Store(healthy)
	clock := time.Unix(1_800_000_000, 0)
	var now atomic.Int64
	now.Store(clock.UnixNano())
	c, reg := newRegistered(t, &Config{
		Trace: func(context.Context) (*trace.NodeTrace, error) { return cur.Load(), nil },
		Now:   func() time.Time { return time.Unix(0, now.Load()) },
	})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := series(t, reg)
	tr := healthy.Traces[0]
	nic := []string{`tap="` + tr.Tap + `"`, `server="cirros1"`, `server_id="` + tr.ServerID + `"`, `port="` + tr.PortID + `"`, `node="compute1"`, `role="aio"`}
	if v := one(t, s, "vifpath_nic_verdict", append(nic, `verdict="ok"`)...); v != 1 {
		t.Errorf("healthy: nic verdict ok = %v, want 1", v)
	}
	if got := pick(s, "vifpath_nic_verdict", `verdict="fail"`); len(got) != 1 || sum(got) != 0 {
		t.Errorf("healthy: nic verdict fail series %v, want one at 0", got)
	}
	// One state-set per hop kind of the recorded trace, each 1 exactly once.
	kinds := map[trace.Kind]trace.Verdict{}
	for _, h := range tr.Hops {
		kinds[h.Kind] = max(kinds[h.Kind], h.Verdict)
	}
	for k, v := range kinds {
		set := pick(s, "vifpath_hop_verdict", `hop="`+string(k)+`"`)
		if len(set) != 4 || sum(set) != 1 {
			t.Errorf("hop %s: %v, want 4 series summing to 1", k, set)
		}
		if one(t, s, "vifpath_hop_verdict", `hop="`+string(k)+`"`, `verdict="`+v.String()+`"`) != 1 {
			t.Errorf("hop %s: state %s not set", k, v)
		}
	}
	if got := len(pick(s, "vifpath_hop_verdict")); got != 4*len(kinds) {
		t.Errorf("%d hop series, want %d", got, 4*len(kinds))
	}
	if v := one(t, s, "vifpath_host_check_verdict", `check="bridge-nf-call-iptables"`, `verdict="ok"`); v != 1 {
		t.Errorf("host check bridge-nf-call-iptables ok = %v", v)
	}
	if v := one(t, s, "vifpath_nic_last_ok_timestamp_seconds", nic...); v != float64(clock.Unix()) {
		t.Errorf("last ok = %v, want %d", v, clock.Unix())
	}
	if v := one(t, s, "vifpath_trace_duration_seconds"); v != healthy.Duration.Seconds() {
		t.Errorf("trace duration %v, want %v", v, healthy.Duration.Seconds())
	}
	if v := one(t, s, "vifpath_exporter_rounds_total", `result="success"`); v != 1 {
		t.Errorf("rounds success = %v", v)
	}
	if v := one(t, s, "vifpath_exporter_last_run_error", `source="trace"`); v != 0 {
		t.Errorf("last run error = %v", v)
	}

	cur.Store(broken)
	now.Store(clock.Add(time.Minute).UnixNano())
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s = series(t, reg)
	if v := one(t, s, "vifpath_nic_verdict", append(nic, `verdict="fail"`)...); v != 1 {
		t.Errorf("tap down: nic verdict fail = %v", v)
	}
	for _, h := range broken.Traces[0].Hops {
		if h.Kind == trace.KindTap || h.Kind == trace.KindFDB || h.Kind == trace.KindARP {
			if v := one(t, s, "vifpath_hop_verdict", `hop="`+string(h.Kind)+`"`, `verdict="fail"`); v != 1 {
				t.Errorf("tap down: hop %s fail = %v (recorded %s)", h.Kind, v, h.Verdict)
			}
		}
	}
	if v := one(t, s, "vifpath_nic_last_ok_timestamp_seconds", nic...); v != float64(clock.Unix()) {
		t.Errorf("tap down: last ok = %v, want the healthy round's %d", v, clock.Unix())
	}
	if v := one(t, s, "vifpath_trace_last_success_timestamp_seconds"); v != float64(clock.Add(time.Minute).Unix()) {
		t.Errorf("last success = %v", v)
	}
	problems, err := testutil.GatherAndLint(reg)
	if err != nil {
		t.Fatal(err)
	}
	for _, p := range problems {
		t.Errorf("lint: %s: %s", p.Metric, p.Text)
	}
}

func sum(m map[string]float64) float64 {
	var s float64
	for _, v := range m {
		s += v
	}
	return s
}

// TestOrphansAndDuplicates: orphans are counted per kind (every kind
// present, 0 when none) and listed by name; two hops of one kind give
// the worse verdict, not a duplicate series (which the registry would
// reject).
func TestOrphansAndDuplicates(t *testing.T) {
	nt := &trace.NodeTrace{Node: "n1", Role: trace.RoleCompute, Verdict: trace.Warn,
		Traces: []*trace.Trace{{Tap: "tapaaaaaaaa-aa", Verdict: trace.Warn, Hops: []trace.Hop{
			{Kind: trace.KindHostCheck, Name: "a", Verdict: trace.OK},
			{Kind: trace.KindHostCheck, Name: "b", Verdict: trace.Warn},
		}}},
		Orphans: []trace.Orphan{
			{Kind: trace.OrphanTapNoDomain, Name: "tapbbbbbbbb-bb", Verdict: trace.Warn},
			{Kind: trace.OrphanTapNoDomain, Name: "tapcccccccc-cc", Verdict: trace.Warn},
		},
	}
	c, reg := newRegistered(t, &Config{Trace: func(context.Context) (*trace.NodeTrace, error) { return nt, nil }})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := series(t, reg)
	if v := one(t, s, "vifpath_hop_verdict", `hop="host-check"`, `verdict="warn"`); v != 1 {
		t.Errorf("host-check hop warn = %v", v)
	}
	want := map[string]float64{"tap-without-domain": 2, "tap-without-port": 0, "interface-without-tap": 0, "port-without-tap": 0}
	got := map[string]float64{}
	for k, v := range pick(s, "vifpath_orphans") {
		got[k[strings.Index(k, `kind="`)+6:strings.Index(k, `",node`)]] = v
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("orphans (-want +got):\n%s", d)
	}
	if v := one(t, s, "vifpath_orphan_info", `name="tapcccccccc-cc"`, `verdict="warn"`); v != 1 {
		t.Errorf("orphan info = %v", v)
	}
}

// TestCounters exports libvirt interface and bridge port counters with
// the values the sources gave.
func TestCounters(t *testing.T) {
	doms := []libvirtinspect.DomainStats{{
		Domain:     libvirtinspect.Domain{Name: "instance-00000002", UUID: "babe99d5-d566-71e0-e995-142eaa4f2b09"},
		State:      &libvirtinspect.StateStats{State: libvirtinspect.StateRunning},
		Interfaces: []libvirtinspect.InterfaceStats{{Name: "tapd9ed8e2a-fb", RxBytes: 1234, TxPackets: 7}},
	}}
	snap := &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{{Name: "brq08376ae0-5a", Ports: []linuxbridge.Port{
		{Name: "eth2", Up: true, OperState: linuxbridge.OperUp, Stats: linuxbridge.Stats{TxBytes: 99, RxDropped: 3}},
		{Name: "tapd9ed8e2a-fb", Up: false, OperState: linuxbridge.OperDown},
	}}}}
	c, reg := newRegistered(t, &Config{
		Trace:   func(context.Context) (*trace.NodeTrace, error) { return &trace.NodeTrace{Node: "n"}, nil },
		Stats:   func(context.Context) ([]libvirtinspect.DomainStats, error) { return doms, nil },
		Bridges: func(context.Context) (*linuxbridge.Snapshot, error) { return snap, nil },
	})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	s := series(t, reg)
	for _, c := range []struct {
		name  string
		parts []string
		want  float64
	}{
		{"vifpath_libvirt_interface_receive_bytes_total", []string{`interface="tapd9ed8e2a-fb"`}, 1234},
		{"vifpath_libvirt_interface_transmit_packets_total", []string{`interface="tapd9ed8e2a-fb"`}, 7},
		{"vifpath_libvirt_domain_info", []string{`state="running"`, `domain="instance-00000002"`}, 1},
		{"vifpath_bridge_port_transmit_bytes_total", []string{`port="eth2"`}, 99},
		{"vifpath_bridge_port_receive_drops_total", []string{`port="eth2"`}, 3},
		{"vifpath_bridge_port_up", []string{`port="eth2"`}, 1},
		{"vifpath_bridge_port_up", []string{`port="tapd9ed8e2a-fb"`}, 0},
		{"vifpath_exporter_last_run_error", []string{`source="libvirt"`}, 0},
		{"vifpath_exporter_last_run_error", []string{`source="bridges"`}, 0},
	} {
		if v := one(t, s, c.name, c.parts...); v != c.want {
			t.Errorf("%s %v = %v, want %v", c.name, c.parts, v, c.want)
		}
	}
}

// TestScrapeDuringHungRound: a trace that hangs until its timeout (a dead
// libvirtd whose socket never answers) never holds a scrape: scrapes
// during the round return at once with the last good result and
// round_running 1; a round due meanwhile is skipped and counted; the
// timeout is counted and the error flagged; the libvirt source failing
// leaves its last counters in place. Then the exporter recovers.
func TestScrapeDuringHungRound(t *testing.T) {
	healthy := loadNode(t, "node-healthy.json")
	var hang atomic.Bool
	entered := make(chan struct{}, 10)
	c, reg := newRegistered(t, &Config{
		Trace: func(ctx context.Context) (*trace.NodeTrace, error) {
			if hang.Load() {
				entered <- struct{}{}
				<-ctx.Done()
				return nil, fmt.Errorf("trace: %w", ctx.Err())
			}
			return healthy, nil
		},
		Stats: func(ctx context.Context) ([]libvirtinspect.DomainStats, error) {
			if hang.Load() {
				<-ctx.Done()
				return nil, fmt.Errorf("libvirtinspect: stats: %w", ctx.Err())
			}
			return []libvirtinspect.DomainStats{{Domain: libvirtinspect.Domain{Name: "d", UUID: "u"}}}, nil
		},
		Timeout: 400 * time.Millisecond,
	})
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	hang.Store(true)
	done := make(chan error, 1)
	go func() { done <- c.RunOnce(context.Background()) }()
	<-entered
	t0 := time.Now()
	s := series(t, reg)
	if el := time.Since(t0); el > 100*time.Millisecond {
		t.Errorf("scrape during a hung round took %v", el)
	}
	if one(t, s, "vifpath_exporter_round_running") != 1 || one(t, s, "vifpath_nic_verdict", `verdict="ok"`) != 1 || len(pick(s, "vifpath_libvirt_domain_info")) != 1 {
		t.Errorf("scrape during the round lacks running=1 or the last result: %v", s)
	}
	if err := c.RunOnce(context.Background()); !errors.Is(err, ErrBusy) {
		t.Errorf("RunOnce during a round = %v, want ErrBusy", err)
	}
	if err := <-done; !errors.Is(err, context.DeadlineExceeded) {
		t.Errorf("hung round = %v, want the deadline", err)
	}
	s = series(t, reg)
	for _, c := range []struct {
		name  string
		parts []string
		want  float64
	}{
		{"vifpath_exporter_rounds_skipped_total", nil, 1},
		{"vifpath_exporter_rounds_total", []string{`result="timeout"`}, 1},
		{"vifpath_exporter_last_run_error", []string{`source="trace"`}, 1},
		{"vifpath_exporter_last_run_error", []string{`source="libvirt"`}, 1},
		{"vifpath_exporter_round_running", nil, 0},
		{"vifpath_nic_verdict", []string{`verdict="ok"`}, 1},
		{"vifpath_libvirt_domain_info", nil, 1},
	} {
		if v := one(t, s, c.name, c.parts...); v != c.want {
			t.Errorf("after the timeout: %s %v = %v, want %v", c.name, c.parts, v, c.want)
		}
	}
	hang.Store(false)
	if err := c.RunOnce(context.Background()); err != nil {
		t.Fatal(err)
	}
	if v := one(t, series(t, reg), "vifpath_exporter_last_run_error", `source="trace"`); v != 0 {
		t.Errorf("after recovery: last run error %v", v)
	}
}

// TestSourceIgnoringContext: a trace that ignores its ctx keeps its round
// (no second round overlaps it: every due one is skipped) while scrapes
// go on; Close waits for it and leaks no goroutine.
func TestSourceIgnoringContext(t *testing.T) {
	before := runtime.NumGoroutine()
	release := make(chan struct{})
	var inFlight, most atomic.Int32
	c, err := New(&Config{
		Trace: func(ctx context.Context) (*trace.NodeTrace, error) {
			n := inFlight.Add(1)
			defer inFlight.Add(-1)
			for {
				m := most.Load()
				if n <= m || most.CompareAndSwap(m, n) {
					break
				}
			}
			<-release // ignores ctx
			return &trace.NodeTrace{Node: "n"}, nil
		},
		Interval: 20 * time.Millisecond,
		Timeout:  10 * time.Millisecond,
	})
	if err != nil {
		t.Fatal(err)
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	time.Sleep(200 * time.Millisecond)
	s := series(t, reg)
	if v := one(t, s, "vifpath_exporter_rounds_skipped_total"); v < 3 {
		t.Errorf("skipped %v rounds in 200 ms at 20 ms, want several", v)
	}
	if most.Load() != 1 {
		t.Errorf("%d rounds ran at once, want 1", most.Load())
	}
	close(release)
	c.Close()
	c.Close() // idempotent
	if err := c.Start(); !errors.Is(err, ErrClosed) {
		t.Errorf("Start after Close = %v", err)
	}
	deadline := time.Now().Add(2 * time.Second)
	for runtime.NumGoroutine() > before && time.Now().Before(deadline) {
		time.Sleep(10 * time.Millisecond)
	}
	if n := runtime.NumGoroutine(); n > before {
		t.Errorf("%d goroutines after Close, %d before", n, before)
	}
}

// TestConcurrentScrapes runs scrapes and rounds at once (go test -race).
func TestConcurrentScrapes(t *testing.T) {
	nodes := []*trace.NodeTrace{loadNode(t, "node-healthy.json"), loadNode(t, "node-tap-down.json")}
	var i atomic.Int32
	c, reg := newRegistered(t, &Config{
		Trace: func(context.Context) (*trace.NodeTrace, error) {
			return nodes[i.Add(1)%2], nil
		},
		Interval: time.Millisecond,
	})
	if err := c.Start(); err != nil {
		t.Fatal(err)
	}
	var wg sync.WaitGroup
	for range 4 {
		wg.Go(func() {
			for range 50 {
				if _, err := reg.Gather(); err != nil {
					t.Error(err)
					return
				}
			}
		})
	}
	wg.Wait()
}
