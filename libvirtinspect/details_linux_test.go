package libvirtinspect_test

import (
	"context"
	"fmt"
	"reflect"
	"slices"
	"testing"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
)

// procDomainGetXMLDesc is remote_protocol's REMOTE_PROC_DOMAIN_GET_XML_DESC.
const procDomainGetXMLDesc = 14

// TestIntegrationAllDetails: on a private libvirtd with 40 running
// test-driver domains and one defined but shut off, AllDetails returns
// every domain exactly as Details returns it one by one, with one bulk
// stats RPC and one XML RPC per domain (no lookup, no state RPC).
// DetailsOf reports a domain undefined since it was listed as not found,
// an unparsable UUID as not found without an RPC, and a cancelled ctx on
// every domain.
func TestIntegrationAllDetails(t *testing.T) {
	d, names := bulk(t, 40)
	adm := admin(t, d.Socket, "test:///default")
	off := defineTest(t, adm, testDomainXML("lv-"+randHex(6)+"-off", `<interface type='bridge'><mac address='52:54:00:02:00:01'/>
<source bridge='lvbroff'/><target dev='lvtoff'/></interface>`), false)
	counter, c := countedClient(t, d.Socket)
	ctx := ctxT(t, time.Minute)

	counter.reset()
	all, err := c.AllDetails(ctx)
	if err != nil {
		t.Fatal(err)
	}
	procs := counter.reset()
	want := len(names) + 2 // + the driver's own "test" + the shut-off one
	if len(all) != want {
		t.Fatalf("AllDetails returned %d domains, want %d", len(all), want)
	}
	if len(procs) != 2 || procs[procConnectGetAllDomainStats] != 1 || procs[procDomainGetXMLDesc] != want {
		t.Errorf("AllDetails of %d domains sent %v, want one ConnectGetAllDomainStats (%d) and %d DomainGetXMLDesc (%d)",
			want, procs, procConnectGetAllDomainStats, want, procDomainGetXMLDesc)
	}
	seen := map[string]bool{}
	for _, got := range all {
		seen[got.Name] = true
		one, err := c.Details(ctx, got.UUID)
		if err != nil {
			t.Fatalf("Details(%s): %v", got.Name, err)
		}
		if !reflect.DeepEqual(&got, one) {
			t.Errorf("%s: AllDetails gave\n%+v\nDetails gives\n%+v", got.Name, got, *one)
		}
	}
	for _, n := range append(names, off.Name, "test") {
		if !seen[n] {
			t.Errorf("AllDetails misses %s", n)
		}
	}
	for _, got := range all {
		if got.Name == off.Name {
			if got.State != libvirtinspect.StateShutoff || got.ID != -1 || len(got.Interfaces) != 1 || got.Interfaces[0].Target != "lvtoff" {
				t.Errorf("the shut-off domain: %+v", got)
			}
		} else if got.State != libvirtinspect.StateRunning || got.ID < 1 {
			t.Errorf("%s: state %v id %d, want running with an id", got.Name, got.State, got.ID)
		}
	}

	// Undefined between the listing and DetailsOf; a bad UUID.
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	var gone libvirtinspect.Domain
	for _, dm := range doms {
		if dm.Name == off.Name {
			gone = dm
		}
	}
	if err := adm.DomainUndefine(off); err != nil {
		t.Fatal(err)
	}
	bad := libvirtinspect.Domain{Name: "nonesuch", UUID: "not-a-uuid", ID: -1}
	counter.reset()
	dets, errs := c.DetailsOf(ctx, []libvirtinspect.Domain{doms[0], gone, bad})
	if procs := counter.reset(); procs[procDomainGetXMLDesc] != 2 || len(procs) != 1 {
		t.Errorf("DetailsOf of 3 domains (one with a bad UUID) sent %v, want 2 DomainGetXMLDesc", procs)
	}
	if errs[0] != nil || dets[0] == nil || dets[0].UUID != doms[0].UUID {
		t.Errorf("DetailsOf[0] = %+v, %v", dets[0], errs[0])
	}
	for i := 1; i < 3; i++ {
		if dets[i] != nil || !libvirtinspect.IsNotFound(errs[i]) {
			t.Errorf("DetailsOf[%d] = %+v, %v; want nil and a not-found error", i, dets[i], errs[i])
		}
	}

	cctx, cancel := context.WithCancel(ctx)
	cancel()
	dets, errs = c.DetailsOf(cctx, doms[:3])
	for i := range dets {
		if dets[i] != nil || errs[i] == nil {
			t.Errorf("DetailsOf with a cancelled ctx [%d] = %+v, %v", i, dets[i], errs[i])
		}
	}
}

// TestIntegrationDetailsOnStats: once a Stats call has opened the stats
// connection, DetailsOf reads its domains' XML there in one batch (the
// RPCs encoded by hand and written at once, the replies matched by
// serial): each domain's details from the batch equal Details' one by
// one, in the order asked, DetailsOf of every domain equals them too, and
// a domain undefined since it was listed is not found, on its own or in
// the middle of a batch, while the rest of the batch is read.
func TestIntegrationDetailsOnStats(t *testing.T) {
	d, _ := bulk(t, 24)
	adm := admin(t, d.Socket, "test:///default")
	off := defineTest(t, adm, testDomainXML("lv-"+randHex(6)+"-off", `<interface type='bridge'><mac address='52:54:00:02:00:02'/>
<source bridge='lvbroff'/><target dev='lvtoff2'/></interface>`), false)
	c, err := libvirtinspect.Dial(ctxT(t, time.Minute), &libvirtinspect.Config{URI: "test:///default", Socket: d.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	ctx := ctxT(t, time.Minute)
	doms := statsDomains(t, ctx, c)
	if len(doms) < 26 {
		t.Fatalf("Stats listed %d domains, want the 24, the shut-off one and the driver's own", len(doms))
	}
	dets, errs := c.DetailsOf(ctx, doms)
	// The batch in reverse order: each reply lands at its own index.
	rev := slices.Clone(doms)
	slices.Reverse(rev)
	batch, batchErrs, err := c.DetailsOnStats(ctx, rev...)
	if err != nil {
		t.Fatal(err)
	}
	for i, dm := range doms {
		one, err := c.Details(ctx, dm.UUID)
		if err != nil {
			t.Fatalf("Details(%s): %v", dm.Name, err)
		}
		k := len(doms) - 1 - i
		if batchErrs[k] != nil || !reflect.DeepEqual(batch[k], one) {
			t.Errorf("%s: the stats connection's batch gave\n%+v, %v\nDetails gives\n%+v", dm.Name, batch[k], batchErrs[k], *one)
		}
		if errs[i] != nil || !reflect.DeepEqual(dets[i], one) {
			t.Errorf("%s: DetailsOf gave %+v, %v; Details gives\n%+v", dm.Name, dets[i], errs[i], *one)
		}
	}
	if err := adm.DomainUndefine(off); err != nil {
		t.Fatal(err)
	}
	for _, dm := range doms {
		if dm.Name == off.Name {
			if dets, errs, err := c.DetailsOnStats(ctx, dm); err != nil || dets[0] != nil || !libvirtinspect.IsNotFound(errs[0]) {
				t.Errorf("DetailsOnStats of an undefined domain = %+v, %v, %v; want a not-found error", dets, errs, err)
			}
		}
	}
	batch, batchErrs, err = c.DetailsOnStats(ctx, doms...)
	if err != nil {
		t.Fatal(err)
	}
	for i, dm := range doms {
		if gone := dm.Name == off.Name; gone != (batch[i] == nil) || gone != libvirtinspect.IsNotFound(batchErrs[i]) {
			t.Errorf("a batch after undefining %s: [%s] = %+v, %v", off.Name, dm.Name, batch[i], batchErrs[i])
		}
	}
	dets, errs = c.DetailsOf(ctx, doms)
	for i, dm := range doms {
		if gone := dm.Name == off.Name; gone != (dets[i] == nil) || gone != libvirtinspect.IsNotFound(errs[i]) {
			t.Errorf("DetailsOf after undefining %s: [%s] = %+v, %v", off.Name, dm.Name, dets[i], errs[i])
		}
	}
}

// BenchmarkDetails200 reads the details of 200 running domains over one
// connection: DetailsOf with the domains of one Domains call (b.Loop),
// against Details per domain, 4 in flight (node mode before DetailsOf),
// timed in interleaved rounds in the same run.
func BenchmarkDetails200(b *testing.B) {
	d, names := bulk(b, 200)
	c := libvirtinspect.New(newRPCCounter(d.Socket), "test:///default", nil)
	defer c.Close()
	ctx := context.Background()
	bulkRead := func() {
		doms, err := c.Domains(ctx)
		if err != nil {
			b.Fatal(err)
		}
		dets, errs := c.DetailsOf(ctx, doms)
		for i := range dets {
			if errs[i] != nil {
				b.Fatal(errs[i])
			}
		}
		if len(dets) != len(names)+1 {
			b.Fatalf("%d details", len(dets))
		}
	}
	perDomain := func() {
		doms, err := c.Domains(ctx)
		if err != nil {
			b.Fatal(err)
		}
		fanOut(doms, 4, func(dm libvirtinspect.Domain) {
			if _, err := c.Details(ctx, dm.UUID); err != nil {
				b.Error(err)
			}
		})
	}
	bulkRead() // connect, warm up
	for b.Loop() {
		bulkRead()
	}
	reportVersus(b, 7, "detailsof-", bulkRead, "details-each", perDomain)

	// How deep to pipeline: DetailsOf at other depths, interleaved
	// rounds, each depth's median relative to DetailsParallel's (the
	// default's own depth among them shows the noise).
	depths := []int{2, 5, 8, 16, 32}
	byDepth := make([][]time.Duration, len(depths))
	var dflt []time.Duration
	for range 7 {
		t0 := time.Now()
		bulkRead()
		dflt = append(dflt, time.Since(t0))
		for i, p := range depths {
			restore := libvirtinspect.SetDetailsParallel(p)
			t0 := time.Now()
			bulkRead()
			byDepth[i] = append(byDepth[i], time.Since(t0))
			restore()
		}
	}
	md := median(dflt)
	for i, p := range depths {
		b.ReportMetric(float64(median(byDepth[i]))/float64(md), fmt.Sprintf("depth%d/default", p))
	}
}
