package libvirtinspect_test

import (
	"context"
	"errors"
	"fmt"
	"reflect"
	"slices"
	"strconv"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// statsMatchVirsh fetches Stats over c and compares it with `virsh
// domstats` on virshURI (the same daemon), domain by domain and key by key:
// every key virsh prints must be a decoded field or be kept in Extra with
// the same value.
func statsMatchVirsh(t *testing.T, c *libvirtinspect.Client, virshURI string) []libvirtinspect.DomainStats {
	t.Helper()
	stats, err := c.Stats(ctxT(t, 30*time.Second), nil)
	if err != nil {
		t.Fatalf("Stats: %v", err)
	}
	vir := virshKV(testutil.Virsh(t, virshURI, "domstats"))
	if len(vir) != len(stats) || len(stats) == 0 {
		t.Errorf("Stats: %d domains, virsh domstats %d", len(stats), len(vir))
	}
	for _, s := range stats {
		kv, ok := vir[s.Domain.Name]
		if !ok {
			t.Errorf("%s: not in virsh domstats", s.Domain.Name)
			continue
		}
		for k, v := range kv {
			var ours string
			switch k {
			case "state.state":
				ours = strconv.Itoa(int(s.State.State))
			case "state.reason":
				ours = strconv.Itoa(s.State.Reason.Code)
			default:
				x, ok := s.Extra[k]
				if !ok {
					t.Errorf("%s: virsh has %s=%s, ours has no such key", s.Domain.Name, k, v)
					continue
				}
				ours = fmt.Sprint(x)
			}
			if ours != v {
				t.Errorf("%s: %s ours %s, virsh %s", s.Domain.Name, k, ours, v)
			}
		}
	}
	return stats
}

// TestIntegrationStatsReadOnly: the stats connection over the read-only
// socket with ReadOnly set (CONNECT_OPEN with VIR_CONNECT_RO), compared
// with virsh; Close releases every fd and goroutine.
func TestIntegrationStatsReadOnly(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	// Runs after the admin connection's cleanup (LIFO): the census counts
	// every go-libvirt goroutine, the test's own included.
	t.Cleanup(func() { goroutinesSettle(t) })
	adm := admin(t, d.Socket, "test:///default")
	defineTest(t, adm, testDomainXML("lv-"+randHex(10), ""), true)
	defineTest(t, adm, testDomainXML("lv-"+randHex(10), ""), false)
	fds := fdCount(t)
	c, err := libvirtinspect.Dial(ctxT(t, 10*time.Second), &libvirtinspect.Config{URI: "test:///default", Socket: d.ReadOnlySocket, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	if s := statsMatchVirsh(t, c, d.URI("test")); len(s) != 3 {
		t.Errorf("read-only Stats: %d domains, want test and our two", len(s))
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	fdsSettle(t, fds)
}

// TestIntegrationStatsConnectionFaults: the stats connection is lost and
// re-established like the main one: libvirtd killed between calls, killed
// during a call, restarted; nothing leaks after Close.
func TestIntegrationStatsConnectionFaults(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	c := faultClient(t, d, nil)
	ctx := ctxT(t, 60*time.Second)
	statsMatchVirsh(t, c, d.URI("test"))

	// Killed between calls: the daemon is down, the call says so.
	d.Kill(t)
	if _, err := c.Stats(ctx, nil); !libvirtinspect.IsConnectionLost(err) {
		t.Fatalf("Stats with libvirtd down: %v, want a lost connection or unavailable daemon", err)
	}
	// Back up: the next calls reconnect.
	d.Start(t)
	if _, err := c.Stats(ctx, nil); err != nil {
		if !errors.Is(err, libvirtinspect.ErrConnectionLost) {
			t.Fatalf("first Stats after restart: %v, want success or ErrConnectionLost", err)
		}
		t.Logf("first Stats after restart: %v", err)
	}
	statsMatchVirsh(t, c, d.URI("test"))

	// Killed during a call (frozen first, so the call is surely in flight).
	d.Freeze(t)
	errc := make(chan error, 1)
	go func() { _, err := c.Stats(ctx, nil); errc <- err }()
	time.Sleep(150 * time.Millisecond)
	d.Kill(t)
	select {
	case err := <-errc:
		if !errors.Is(err, libvirtinspect.ErrConnectionLost) {
			t.Fatalf("Stats during kill: %v, want ErrConnectionLost", err)
		}
		t.Logf("killed during Stats: %v", err)
	case <-time.After(10 * time.Second):
		t.Fatal("Stats still blocked 10s after libvirtd was killed")
	}
	d.Start(t)
	statsMatchVirsh(t, c, d.URI("test"))

	// Abandoned on a hung daemon: ctx is honoured.
	d.Freeze(t)
	short, cancel := context.WithTimeout(ctx, 150*time.Millisecond)
	start := time.Now()
	_, err := c.Stats(short, nil)
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("Stats on a frozen daemon: %v after %v", err, time.Since(start))
	}
	d.Thaw(t)

	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	if _, err := c.Stats(ctx, nil); !errors.Is(err, libvirtinspect.ErrClosed) {
		t.Errorf("Stats after Close: %v, want ErrClosed", err)
	}
	goroutinesSettle(t)
}

// statsDomains returns the domains of one Stats call (it opens the stats
// connection), as node mode lists them.
func statsDomains(t *testing.T, ctx context.Context, c *libvirtinspect.Client) []libvirtinspect.Domain {
	t.Helper()
	stats, err := c.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState})
	if err != nil {
		t.Fatal(err)
	}
	doms := make([]libvirtinspect.Domain, len(stats))
	for i := range stats {
		doms[i] = stats[i].Domain
	}
	return doms
}

// batchMatchesDetails reads every domain's details in one batch on c's
// stats connection (the raw write DetailsOf uses, over whatever transport
// c has) and compares each with Details.
func batchMatchesDetails(t *testing.T, c *libvirtinspect.Client) {
	t.Helper()
	ctx := ctxT(t, 30*time.Second)
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dets, errs, err := c.DetailsOnStats(ctx, doms...)
	if err != nil {
		t.Fatalf("a batch on the stats connection: %v", err)
	}
	for i, dm := range doms {
		one, err := c.Details(ctx, dm.UUID)
		if err != nil {
			t.Fatalf("Details(%s): %v", dm.Name, err)
		}
		if errs[i] != nil || !reflect.DeepEqual(dets[i], one) {
			t.Errorf("%s: the batch gave %+v, %v; Details gives %+v", dm.Name, dets[i], errs[i], *one)
		}
	}
}

// TestIntegrationDetailsBatchFaults: DetailsOf's batch on the stats
// connection under faults. A batch abandoned for ctx on a hung daemon
// returns at once with ctx's error for every domain, and its late replies
// (after the thaw) change nothing the caller holds; a daemon killed in the
// middle of a batch gives every domain a lost-connection error (the stats
// connection's unanswered calls, then the main connection's retry), with
// no hang; after a restart the calls work again; nothing leaks after
// Close.
func TestIntegrationDetailsBatchFaults(t *testing.T) {
	d, _ := bulk(t, 40)
	c := faultClient(t, d, nil)
	ctx := ctxT(t, 60*time.Second)
	doms := statsDomains(t, ctx, c)
	want, errs := c.DetailsOf(ctx, doms)
	for i := range doms {
		if errs[i] != nil {
			t.Fatalf("DetailsOf(%s): %v", doms[i].Name, errs[i])
		}
	}

	// Abandoned: the daemon is frozen with the batch written.
	d.Freeze(t)
	short, cancel := context.WithTimeout(ctx, 200*time.Millisecond)
	start := time.Now()
	dets, errs := c.DetailsOf(short, doms)
	cancel()
	if took := time.Since(start); took > 2*time.Second {
		t.Errorf("DetailsOf on a frozen daemon took %v after its ctx ended", took)
	}
	for i := range doms {
		if dets[i] != nil || !errors.Is(errs[i], context.DeadlineExceeded) {
			t.Errorf("DetailsOf on a frozen daemon [%s] = %+v, %v; want ctx's deadline", doms[i].Name, dets[i], errs[i])
		}
	}
	held := slices.Clone(errs)
	d.Thaw(t)
	time.Sleep(300 * time.Millisecond) // the abandoned batch's replies arrive
	for i := range doms {
		if dets[i] != nil || errs[i] != held[i] {
			t.Fatalf("the abandoned batch's late reply changed [%s]: %+v, %v", doms[i].Name, dets[i], errs[i])
		}
	}
	if _, err := c.Stats(ctx, nil); err != nil { // (reopens the stats connection if the watchdog dropped it)
		t.Fatal(err)
	}
	dets, errs = c.DetailsOf(ctx, doms)
	for i := range doms {
		if errs[i] != nil || !reflect.DeepEqual(dets[i], want[i]) {
			t.Errorf("DetailsOf after the thaw [%s] = %+v, %v; want %+v", doms[i].Name, dets[i], errs[i], want[i])
		}
	}

	// Killed with the batch in flight.
	d.Freeze(t)
	type result struct {
		dets []*libvirtinspect.Details
		errs []error
	}
	done := make(chan result, 1)
	go func() {
		dets, errs := c.DetailsOf(ctx, doms)
		done <- result{dets, errs}
	}()
	time.Sleep(150 * time.Millisecond)
	d.Kill(t)
	select {
	case r := <-done:
		for i := range doms {
			if r.dets[i] != nil || !libvirtinspect.IsConnectionLost(r.errs[i]) {
				t.Errorf("DetailsOf during kill [%s] = %+v, %v; want a lost connection", doms[i].Name, r.dets[i], r.errs[i])
			}
		}
		t.Logf("killed during the batch: %v", r.errs[0])
	case <-time.After(10 * time.Second):
		t.Fatal("DetailsOf still blocked 10s after libvirtd was killed")
	}
	d.Start(t) // the test driver starts afresh: only its own domain
	if _, err := c.Stats(ctx, nil); err != nil && !errors.Is(err, libvirtinspect.ErrConnectionLost) {
		t.Fatalf("first Stats after restart: %v", err)
	}
	if _, err := c.Stats(ctx, nil); err != nil {
		t.Fatal(err)
	}
	dets, errs = c.DetailsOf(ctx, doms)
	for i := range doms {
		if gone := doms[i].Name != "test"; gone != libvirtinspect.IsNotFound(errs[i]) || gone != (dets[i] == nil) {
			t.Errorf("DetailsOf after the restart [%s] = %+v, %v; want not found for all but the driver's own", doms[i].Name, dets[i], errs[i])
		}
	}
	if err := c.Close(); err != nil {
		t.Fatal(err)
	}
	goroutinesSettle(t)
}
