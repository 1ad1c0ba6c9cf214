package libvirtinspect_test

import (
	"context"
	"errors"
	"runtime"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// The fault tests run against a PRIVATE libvirtd (testutil.NewPrivateLibvirtd:
// a root libvirtd in its own mount namespace with its own sockets), never
// the shared system daemon, because they stop, kill and freeze it. The hung
// daemon is a real libvirtd frozen with SIGSTOP (its socket still accepts
// and buffers our requests, nothing answers), not a proxy.

func faultClient(t *testing.T, d *testutil.Libvirtd, cfg *libvirtinspect.Config) *libvirtinspect.Client {
	t.Helper()
	if cfg == nil {
		cfg = &libvirtinspect.Config{}
	}
	cfg.URI = "test:///default"
	cfg.Socket = d.Socket
	c, err := libvirtinspect.NewFromConfig(cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// ours counts goroutines running go-libvirt or libvirtinspect code.
func ours() (int, string) {
	buf := make([]byte, 1<<20)
	all := string(buf[:runtime.Stack(buf, true)])
	n, dump := 0, ""
	for _, g := range strings.Split(all, "\n\n") {
		if strings.Contains(g, "go-libvirt") || strings.Contains(g, "libvirtinspect.(") || strings.Contains(g, "libvirtinspect.call") {
			if strings.Contains(g, "libvirtinspect_test.") && !strings.Contains(g, "libvirtinspect.(") {
				continue
			}
			n++
			dump += g + "\n\n"
		}
	}
	return n, dump
}

// goroutinesSettle fails the test if any goroutine of the client or of
// go-libvirt is still alive (after a grace period).
func goroutinesSettle(t *testing.T) {
	t.Helper()
	var n int
	var dump string
	if !settle(10*time.Second, func() bool { n, dump = ours(); return n == 0 }) {
		t.Errorf("%d client/go-libvirt goroutines still alive after Close:\n%s", n, dump)
	}
}

func TestIntegrationFaultStoppedBeforeCall(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	d.Stop(t)
	ctx := ctxT(t, 30*time.Second)
	start := time.Now()
	_, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: "test:///default", Socket: d.Socket})
	if !errors.Is(err, libvirtinspect.ErrUnavailable) || !libvirtinspect.IsConnectionLost(err) {
		t.Fatalf("Dial to a stopped libvirtd: %v, want ErrUnavailable", err)
	}
	t.Logf("Dial, daemon stopped (%v): %v", time.Since(start), err)
	c := faultClient(t, d, nil)
	if _, err := c.Domains(ctx); !errors.Is(err, libvirtinspect.ErrUnavailable) {
		t.Fatalf("Domains with libvirtd stopped: %v, want ErrUnavailable", err)
	}
	// Started again: the same Client connects on the next call.
	d.Start(t)
	if _, err := c.Domains(ctx); err != nil {
		t.Fatalf("Domains after libvirtd started: %v", err)
	}
	c.Close()
	goroutinesSettle(t)
}

func TestIntegrationFaultRestartBetweenCalls(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	c := faultClient(t, d, nil)
	ctx := ctxT(t, 60*time.Second)
	before, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	d.Stop(t)
	d.Start(t)
	// The first call after the restart either finds the connection already
	// known dead and redials (success), or reports the loss (typed); the
	// call after that must succeed.
	after, err := c.Domains(ctx)
	if err != nil {
		if !errors.Is(err, libvirtinspect.ErrConnectionLost) {
			t.Fatalf("first call after restart: %v, want success or ErrConnectionLost", err)
		}
		t.Logf("first call after restart: %v", err)
		if after, err = c.Domains(ctx); err != nil {
			t.Fatalf("second call after restart: %v", err)
		}
	}
	if len(after) != len(before) || after[0].Name != "test" {
		t.Errorf("after restart: %+v, before %+v", after, before)
	}
}

func TestIntegrationFaultHungAndKilled(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	c := faultClient(t, d, &libvirtinspect.Config{AbandonTimeout: 700 * time.Millisecond})
	ctx := ctxT(t, 60*time.Second)
	if _, err := c.Domains(ctx); err != nil {
		t.Fatal(err)
	}

	if n, _ := ours(); n == 0 {
		t.Fatal("goroutine census sees no go-libvirt goroutine on a live connection: the leak checks below would prove nothing")
	}

	// 1. Hung daemon: the caller gets its ctx back on time.
	d.Freeze(t)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	start := time.Now()
	_, err := c.Stats(short, nil)
	cancel()
	took := time.Since(start)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Stats on a frozen libvirtd: %v, want context.DeadlineExceeded", err)
	}
	if took > time.Second {
		t.Errorf("Stats held the caller %v past a 200ms ctx", took)
	}
	t.Logf("hung libvirtd: returned after %v: %v", took, err)

	// 2. Killed during a call: a call in flight with a long ctx fails
	// promptly with ErrConnectionLost when the daemon dies.
	errc := make(chan error, 1)
	go func() { _, err := c.Lookup(ctx, "test"); errc <- err }()
	time.Sleep(100 * time.Millisecond)
	d.Kill(t)
	select {
	case err := <-errc:
		if !errors.Is(err, libvirtinspect.ErrConnectionLost) {
			t.Fatalf("call during kill: %v, want ErrConnectionLost", err)
		}
		t.Logf("killed during a call: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("call still blocked 10s after libvirtd was killed")
	}

	// 3. Back up: the next call reconnects.
	d.Start(t)
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatalf("after restart: %v", err)
	}
	if len(doms) != 1 || doms[0].Name != "test" || doms[0].State != libvirtinspect.StateRunning {
		t.Errorf("after restart: %+v", doms)
	}

	// 4. Abandoned RPC on a hung daemon that stays hung: the watchdog
	// tears the connection down after AbandonTimeout, so its goroutine
	// ends; once the daemon answers again the next call reconnects.
	d.Freeze(t)
	short, cancel = context.WithTimeout(ctx, 100*time.Millisecond)
	_, err = c.Domains(short)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Domains on frozen daemon: %v", err)
	}
	time.Sleep(1500 * time.Millisecond) // > AbandonTimeout
	// While libvirtd is STILL frozen, the abandoned RPC's goroutine, the
	// watchdog and go-libvirt's reader are all gone.
	if n, dump := ours(); n != 0 {
		t.Errorf("%d goroutines left on a hung daemon after AbandonTimeout:\n%s", n, dump)
	}
	d.Thaw(t)
	if _, err := c.Domains(ctx); err != nil {
		t.Fatalf("after the watchdog dropped the hung connection: %v", err)
	}

	// 5. Close is idempotent, later calls say ErrClosed, nothing leaks.
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Domains(ctx); !errors.Is(err, libvirtinspect.ErrClosed) {
		t.Errorf("after Close: %v, want ErrClosed", err)
	}
	goroutinesSettle(t)
}

// TestIntegrationFaultCloseWhileHung: Close on a client whose daemon hangs
// returns (it closes the socket) and joins every goroutine.
func TestIntegrationFaultCloseWhileHung(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	c := faultClient(t, d, nil) // default AbandonTimeout: 30s
	ctx := ctxT(t, 60*time.Second)
	if _, err := c.Domains(ctx); err != nil {
		t.Fatal(err)
	}
	d.Freeze(t)
	defer d.Thaw(t)
	for i := 0; i < 5; i++ {
		short, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
		c.Domains(short)
		cancel()
	}
	start := time.Now()
	c.Close()
	if took := time.Since(start); took > 5*time.Second {
		t.Errorf("Close on a hung daemon took %v", took)
	}
	goroutinesSettle(t)
}
