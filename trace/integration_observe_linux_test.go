package trace_test

import (
	"context"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationTraceTapDownUp reproduces what a new user saw on the
// project's cloud: a tap set down and up again, then traced, failed at the
// FDB hop ("has not learned" the VM's MAC) while the ARP probe of the same
// trace was answered. Setting a port down flushes what the bridge learned
// on it; the probe's reply teaches it again. The FDB is now judged on the
// snapshot taken after the probe: the path works, the trace is OK. Judging
// the same observation on the first snapshot (what the trace did before)
// shows the old false failure.
func TestIntegrationTraceTapDownUp(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	tp.n.Host.SetDown(t, tp.tap)
	tp.n.Host.SetUp(t, tp.tap)
	waitOperUp(t, tp.n.Host, tp.tap)

	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	target := trace.Target{Tap: tp.tap}
	obs, err := trace.Observe(ctx, tp.cfg, trace.Request{Mode: trace.ModeNIC, Target: &target}, nil)
	if err != nil {
		t.Fatal(err)
	}
	learned := func(fdb []string) bool { return len(fdb) > 0 }
	if before := fdbOf(obs.Bridges.Before.FDB, tp); learned(before) {
		t.Fatalf("the bridge already knew %s on %s before the probe (%v): the tap's down/up did not flush it, nothing reproduced", tp.mac, tp.tap, before)
	}
	if after := fdbOf(obs.Bridges.After.FDB, tp); !learned(after) {
		t.Fatalf("the bridge did not learn %s on %s from the probe's reply", tp.mac, tp.tap)
	}
	tr, err := trace.JudgeTrace(obs)
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("\n%s", tr)
	want(t, tr, nil)
	if h, _ := tr.Hop(trace.KindFDB, ""); !strings.Contains(h.Summary, "learned on "+tp.tap) {
		t.Errorf("fdb hop: %+v", h)
	}
	if tr.Verdict != trace.OK {
		t.Errorf("overall %s, want ok", tr.Verdict)
	}

	// The old trace: the FDB as read before the probe.
	old := *obs
	bf := *obs.Bridges
	bf.After = bf.Before
	old.Bridges = &bf
	otr, err := trace.JudgeTrace(&old)
	if err != nil {
		t.Fatal(err)
	}
	fdb, _ := otr.Hop(trace.KindFDB, "")
	arp, _ := otr.Hop(trace.KindARP, "")
	if fdb.Verdict != trace.Fail || !strings.Contains(fdb.Summary, "has not learned") || arp.Verdict != trace.OK {
		t.Errorf("judged on the first snapshot: fdb %s (%s), arp %s; want the old false fail with an answered probe", fdb.Verdict, fdb.Summary, arp.Verdict)
	}
}

func fdbOf(entries []linuxbridge.FDBEntry, tp *topo) []string {
	var out []string
	for _, e := range entries {
		if e.MAC.String() == tp.mac.String() && e.Port == tp.tap && !e.Local() {
			out = append(out, e.String())
		}
	}
	return out
}

// TestIntegrationNodeEqualsRun traces the topology's node whole and checks
// each NIC's hops equal its single trace's (the host checks are the
// node's), and that the node's trace has one NIC: the guest's tap, not the
// DHCP port's bridge end.
func TestIntegrationNodeEqualsRun(t *testing.T) {
	tp := newTopo(t, topoOpts{dhcp: true})
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	nt, err := trace.Node(ctx, tp.cfg)
	if err != nil {
		t.Fatal(err)
	}
	if len(nt.Traces) != 1 || nt.Traces[0].Tap != tp.tap {
		var taps []string
		for _, x := range nt.Traces {
			taps = append(taps, x.Tap)
		}
		t.Fatalf("node traced %v, want only %s", taps, tp.tap)
	}
	single := tp.run(t, trace.Target{Tap: tp.tap})
	got := nt.Traces[0]
	wantSameHops(t, got, single)
	if got.Verdict != trace.OK || nt.Verdict != single.Verdict {
		t.Errorf("node verdict %s (NIC %s), single %s", nt.Verdict, got.Verdict, single.Verdict)
	}
	if len(nt.HostChecks) != 2 {
		t.Errorf("host checks: %+v", nt.HostChecks)
	}
}

// wantSameHops asserts a NIC's trace in node mode has its single trace's
// hops (kind, name, verdict, in order), the host checks aside (the node's
// in node mode).
func wantSameHops(t *testing.T, got, single *trace.Trace) {
	t.Helper()
	var hops []trace.Hop
	for _, h := range single.Hops {
		if h.Kind != trace.KindHostCheck {
			hops = append(hops, h)
		}
	}
	if len(hops) != len(got.Hops) {
		t.Fatalf("%s: node trace has %d hops, single %d", got.Tap, len(got.Hops), len(hops))
	}
	for i := range hops {
		if hops[i].Kind != got.Hops[i].Kind || hops[i].Verdict != got.Hops[i].Verdict || hops[i].Name != got.Hops[i].Name {
			t.Errorf("%s hop %d: node %s %s %s (%s), single %s %s %s (%s)", got.Tap, i, got.Hops[i].Kind, got.Hops[i].Name, got.Hops[i].Verdict, got.Hops[i].Summary,
				hops[i].Kind, hops[i].Name, hops[i].Verdict, hops[i].Summary)
		}
	}
	if got.Verdict != single.Verdict {
		t.Errorf("%s: node verdict %s, single %s", got.Tap, got.Verdict, single.Verdict)
	}
}
