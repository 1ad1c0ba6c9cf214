package libvirtinspect_test

import (
	"context"
	"fmt"
	"os/exec"
	"slices"
	"strconv"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// bulk starts a private libvirtd and creates n running test-driver domains
// (transient, lv-<hex>-N) on it, each with one bridge interface. The admin
// connection stays open (the test driver forgets everything when its last
// connection closes) and the domains are destroyed at cleanup.
func bulk(tb testing.TB, n int) (*testutil.Libvirtd, []string) {
	tb.Helper()
	d := testutil.NewPrivateLibvirtd(tb)
	adm := admin(tb, d.Socket, "test:///default")
	prefix := "lv-" + randHex(6) + "-"
	names := make([]string, n)
	var wg sync.WaitGroup
	errs := make(chan error, n)
	sem := make(chan struct{}, 32)
	for i := range names {
		names[i] = prefix + strconv.Itoa(i)
		wg.Add(1)
		sem <- struct{}{}
		go func(i int) {
			defer wg.Done()
			defer func() { <-sem }()
			x := testDomainXML(names[i], fmt.Sprintf(`<interface type='bridge'><mac address='52:54:00:01:%02x:%02x'/>
<source bridge='lvbrbulk'/><target dev='lvtb%d'/><model type='virtio'/></interface>`, i/256, i%256, i))
			if _, err := adm.DomainCreateXML(x, 0); err != nil {
				errs <- err
			}
		}(i)
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		tb.Fatalf("create test domains: %v", err)
	}
	tb.Cleanup(func() {
		for _, name := range names {
			if dom, err := adm.DomainLookupByName(name); err == nil {
				adm.DomainDestroy(dom)
			}
		}
	})
	return d, names
}

// TestIntegrationBulkOneRPC: 1000 domains, Stats and Domains are one RPC
// each, and every domain's state matches virsh domstats.
func TestIntegrationBulkOneRPC(t *testing.T) {
	d, names := bulk(t, 1000)
	counter, c := countedClient(t, d.Socket)
	ctx := ctxT(t, time.Minute)
	warmStats(t, c, counter) // opens the stats connection
	stats, err := c.Stats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := counter.reset(); len(got) != 1 || got[procConnectGetAllDomainStats] != 1 {
		t.Fatalf("Stats of %d domains sent %v, want exactly one ConnectGetAllDomainStats", len(stats), got)
	}
	if len(stats) != len(names)+1 { // + the driver's own "test"
		t.Fatalf("Stats returned %d records, want %d", len(stats), len(names)+1)
	}
	v := virshKV(testutil.Virsh(t, d.URI("test"), "domstats"))
	if len(v) != len(stats) {
		t.Errorf("virsh domstats has %d domains, ours %d", len(v), len(stats))
	}
	for _, s := range stats {
		kv := v[s.Domain.Name]
		if kv["state.state"] != strconv.Itoa(int(s.State.State)) || kv["state.reason"] != strconv.Itoa(s.State.Reason.Code) {
			t.Fatalf("%s: ours %+v virsh %v", s.Domain.Name, s.State, kv)
		}
	}
}

// BenchmarkStats1000 times Stats (one ConnectGetAllDomainStats for 1000
// test-driver domains) against `virsh domstats` on the same daemon in the
// same run, and counts RPCs.
func BenchmarkStats1000(b *testing.B) {
	d, names := bulk(b, 1000)
	counter, c := countedClient(b, d.Socket)
	ctx := context.Background()
	warmStats(b, c, counter) // opens the stats connection
	ops := 0
	start := time.Now()
	for b.Loop() {
		s, err := c.Stats(ctx, nil)
		if err != nil {
			b.Fatal(err)
		}
		if len(s) != len(names)+1 {
			b.Fatalf("got %d records", len(s))
		}
		ops++
	}
	_ = start
	procs := counter.reset()
	if procs[procConnectGetAllDomainStats] != ops || len(procs) != 1 {
		b.Fatalf("%d Stats calls sent %v RPCs", ops, procs)
	}
	b.ReportMetric(float64(procs[procConnectGetAllDomainStats])/float64(ops), "rpcs/op")

	// The comparison: interleaved rounds (ours, then virsh), medians.
	virsh := testutil.RequireBinary(b, "virsh", "libvirt-clients")
	reportVersus(b, 15, "", func() {
		if _, err := c.Stats(ctx, nil); err != nil {
			b.Fatal(err)
		}
	}, "virsh", func() {
		if out, err := exec.Command(virsh, "-c", d.URI("test"), "domstats").Output(); err != nil || len(out) == 0 {
			b.Fatalf("virsh domstats: %v", err)
		}
	})
}

// reportVersus times ours and theirs back to back, rounds times (so load
// from other work on the machine hits both alike), and reports each
// one's median, oursPrefix+"median-ns/op" and theirName+"-median-ns/op",
// and how many times faster ours is, "x-faster-than-"+theirName.
func reportVersus(b *testing.B, rounds int, oursPrefix string, ours func(), theirName string, theirs func()) {
	b.Helper()
	var oursT, theirT []time.Duration
	for range rounds {
		t0 := time.Now()
		ours()
		t1 := time.Now()
		theirs()
		oursT = append(oursT, t1.Sub(t0))
		theirT = append(theirT, time.Since(t1))
	}
	mo, mt := median(oursT), median(theirT)
	b.ReportMetric(float64(mo.Nanoseconds()), oursPrefix+"median-ns/op")
	b.ReportMetric(float64(mt.Nanoseconds()), theirName+"-median-ns/op")
	b.ReportMetric(float64(mt)/float64(mo), "x-faster-than-"+theirName)
}

// fanOut calls fn for every item, at most limit at a time, and waits for
// all of them.
func fanOut[T any](items []T, limit int, fn func(T)) {
	var wg sync.WaitGroup
	sem := make(chan struct{}, limit)
	for _, it := range items {
		sem <- struct{}{}
		wg.Go(func() {
			defer func() { <-sem }()
			fn(it)
		})
	}
	wg.Wait()
}

func median(d []time.Duration) time.Duration {
	s := slices.Clone(d)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkInterfaces1000 fetches the interfaces of 1000 domains over one
// connection, concurrently (b.Loop) and one after another (timed after the
// loop in the same run).
func BenchmarkInterfaces1000(b *testing.B) {
	d, names := bulk(b, 1000)
	c := libvirtinspect.New(newRPCCounter(d.Socket), "test:///default", nil)
	defer c.Close()
	ctx := context.Background()
	concurrent := func() {
		fanOut(names, 64, func(n string) {
			if ifs, err := c.Interfaces(ctx, n); err != nil || len(ifs) != 1 {
				b.Errorf("Interfaces(%s) = %v, %v", n, ifs, err)
			}
		})
	}
	sequential := func() {
		for _, n := range names {
			if ifs, err := c.Interfaces(ctx, n); err != nil || len(ifs) != 1 {
				b.Fatalf("Interfaces(%s) = %v, %v", n, ifs, err)
			}
		}
	}
	concurrent() // connect, warm up
	for b.Loop() {
		concurrent()
	}
	reportVersus(b, 3, "concurrent-", concurrent, "sequential", sequential)
}
