package metrics

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"sync"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// TraceFunc traces every VM NIC of the node (trace.Node, trace.NodeServers
// with an API client, or an adapter). It must return when ctx ends.
type TraceFunc func(context.Context) (*trace.NodeTrace, error)

// StatsFunc reads every libvirt domain's stats in one call
// (libvirtinspect.Client.Stats). It must return when ctx ends.
type StatsFunc func(context.Context) ([]libvirtinspect.DomainStats, error)

// BridgesFunc reads the node's bridges and their ports
// (linuxbridge.Inspector.Snapshot). It must return when ctx ends.
type BridgesFunc func(context.Context) (*linuxbridge.Snapshot, error)

// Sources of a round, the values of the source label.
const (
	SourceTrace   = "trace"
	SourceLibvirt = "libvirt"
	SourceBridges = "bridges"
)

// Config says what a Collector runs and how often. A nil *Config is an
// error: Trace is required.
type Config struct {
	// Trace traces the node. Required.
	Trace TraceFunc
	// Stats reads the libvirt domains' stats. Zero value (nil): no
	// vifpath_libvirt_* series.
	Stats StatsFunc
	// Bridges reads the bridges. Zero value (nil): no vifpath_bridge_*
	// series.
	Bridges BridgesFunc
	// Interval is the time between the starts of two rounds. Zero value:
	// one minute. A round still running when the next is due is not
	// overlapped: the due round is skipped and counted
	// (vifpath_exporter_rounds_skipped_total).
	Interval time.Duration
	// Timeout bounds each round (all its sources). Zero value: Interval
	// (a round never outlives its slot), at most one minute.
	Timeout time.Duration
	// Logger receives a record per failed source. Zero value (nil):
	// silent.
	Logger *slog.Logger
	// Now is the clock. Zero value: time.Now.
	Now func() time.Time
}

// ErrBusy is RunOnce's error when a round is still running (the new one
// is skipped, not queued); errors.Is matches it.
var ErrBusy = errors.New("metrics: a round is still running")

// ErrClosed is the error of RunOnce and Start after Close.
var ErrClosed = errors.New("metrics: collector is closed")

// Collector is a prometheus.Collector of one node's path health. Its
// rounds run on their own goroutine (Start, RunOnce); Collect returns
// the last round's result without waiting. It is safe for concurrent use.
type Collector struct {
	cfg    Config
	log    *slog.Logger
	now    func() time.Time
	d      *descs
	ctx    context.Context
	cancel context.CancelFunc
	wg     sync.WaitGroup

	mu      sync.Mutex
	st      state // the last results; replaced, never mutated in place
	running bool
	started bool
	closed  bool
}

// New checks cfg and returns a Collector that has not run yet (its
// first scrape shows no trace and vifpath_trace_last_success_timestamp
// absent). Call Start to run rounds on the schedule, or RunOnce.
func New(cfg *Config) (*Collector, error) {
	if cfg == nil || cfg.Trace == nil {
		return nil, errors.New("metrics: Config.Trace is required: pass trace.Node (or an adapter) as the node's trace")
	}
	c := &Collector{cfg: *cfg, log: cfg.Logger, now: cfg.Now, d: newDescs()}
	if c.cfg.Interval <= 0 {
		c.cfg.Interval = time.Minute
	}
	if c.cfg.Timeout <= 0 {
		c.cfg.Timeout = min(c.cfg.Interval, time.Minute)
	}
	if c.log == nil {
		c.log = slog.New(slog.DiscardHandler)
	}
	if c.now == nil {
		c.now = time.Now
	}
	c.st.hasStats, c.st.hasBridges = cfg.Stats != nil, cfg.Bridges != nil
	c.st.lastOK = map[string]time.Time{}
	c.st.runs = map[string]float64{}
	c.ctx, c.cancel = context.WithCancel(context.Background())
	return c, nil
}

// Start runs a round now and then every Interval until Close. It
// returns at once; a second call does nothing.
func (c *Collector) Start() error {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return ErrClosed
	}
	if c.started {
		return nil
	}
	c.started = true
	c.wg.Add(1)
	go c.loop()
	return nil
}

func (c *Collector) loop() {
	defer c.wg.Done()
	tk := time.NewTicker(c.cfg.Interval)
	defer tk.Stop()
	for {
		if _, err := c.begin(); err != nil && !errors.Is(err, ErrBusy) {
			return
		}
		select {
		case <-c.ctx.Done():
			return
		case <-tk.C:
		}
	}
}

// RunOnce runs a round now and waits for it (or for ctx), returning the
// trace's error. When a round is already running it returns ErrBusy at
// once and counts the skip.
func (c *Collector) RunOnce(ctx context.Context) error {
	done, err := c.begin()
	if err != nil {
		return err
	}
	select {
	case <-done:
	case <-ctx.Done():
		return fmt.Errorf("metrics: wait for the round: %w", ctx.Err())
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.st.traceErr
}

// begin starts a round on its own goroutine unless one is running.
func (c *Collector) begin() (<-chan struct{}, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.running {
		c.st.skipped++
		return nil, ErrBusy
	}
	c.running = true
	done := make(chan struct{})
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		defer close(done)
		c.round()
	}()
	return done, nil
}

// round runs the sources, then publishes a new state. A source that
// ignores ctx keeps the round (and the running flag) until it returns;
// later rounds are skipped meanwhile, and scrapes show the old result.
func (c *Collector) round() {
	ctx, cancel := context.WithTimeout(c.ctx, c.cfg.Timeout)
	defer cancel()
	start := c.now()

	var (
		wg                  sync.WaitGroup
		doms                []libvirtinspect.DomainStats
		snap                *linuxbridge.Snapshot
		statsErr, bridgeErr error
	)
	// The counters are cheap and independent of the trace: read them
	// alongside, so a slow trace does not age them.
	if c.cfg.Stats != nil {
		wg.Go(func() { doms, statsErr = c.cfg.Stats(ctx) })
	}
	if c.cfg.Bridges != nil {
		wg.Go(func() { snap, bridgeErr = c.cfg.Bridges(ctx) })
	}
	nt, traceErr := c.cfg.Trace(ctx)
	if traceErr == nil && nt == nil {
		traceErr = errors.New("metrics: the trace function returned no NodeTrace and no error")
	}
	wg.Wait()
	end := c.now()
	timedOut := ctx.Err() != nil && c.ctx.Err() == nil

	for src, err := range map[string]error{SourceTrace: traceErr, SourceLibvirt: statsErr, SourceBridges: bridgeErr} {
		if err != nil {
			c.log.Warn("metrics: source failed", "source", src, "err", err)
		}
	}

	c.mu.Lock()
	defer c.mu.Unlock()
	c.running = false
	st := c.st.clone()
	st.lastRun = end
	st.lastRunDuration = end.Sub(start)
	st.traceErr = traceErr
	result := "success"
	switch {
	case traceErr != nil && timedOut:
		result = "timeout"
	case traceErr != nil:
		result = "error"
	}
	st.runs[result]++
	if traceErr == nil {
		st.node = nt
		st.lastSuccess = end
		st.lastOK = nicLastOK(c.st.lastOK, nt, end)
	}
	if c.cfg.Stats != nil {
		st.statsErr = statsErr
		if statsErr == nil {
			st.domains = doms
		}
	}
	if c.cfg.Bridges != nil {
		st.bridgeErr = bridgeErr
		if bridgeErr == nil {
			st.bridges = snap
		}
	}
	c.st = st
}

// nicLastOK carries each NIC's last OK time over to the new trace: NICs
// gone from the node are dropped, an OK NIC gets now.
func nicLastOK(prev map[string]time.Time, nt *trace.NodeTrace, now time.Time) map[string]time.Time {
	out := make(map[string]time.Time, len(nt.Traces))
	for _, t := range nt.Traces {
		k := nicKey(t)
		if t.Verdict == trace.OK {
			out[k] = now
		} else if at, ok := prev[k]; ok {
			out[k] = at
		}
	}
	return out
}

// Close stops the schedule, cancels a running round and waits for it.
// It is idempotent.
func (c *Collector) Close() error {
	c.mu.Lock()
	c.closed = true
	c.mu.Unlock()
	c.cancel()
	c.wg.Wait()
	return nil
}

// Describe implements prometheus.Collector.
func (c *Collector) Describe(ch chan<- *prometheus.Desc) { c.d.describe(ch) }

// Collect implements prometheus.Collector: it sends the last round's
// result and never waits for a round.
func (c *Collector) Collect(ch chan<- prometheus.Metric) {
	c.mu.Lock()
	st := c.st // a shallow copy: rounds replace the maps and slices, never mutate them
	st.running = c.running
	c.mu.Unlock()
	for _, m := range c.d.metrics(&st) {
		ch <- m
	}
}
