package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestReplayNight2Observations judges, joined, the two halves recorded on
// the real aio cloud during a second operator's night, on two nodes
// (aio-night2-<fault>-{compute,network}.json, see
// testdata/observations/README.md): the server n2vm1 on compute1, its
// compute half traced inside compute1's namespace, the network half on
// the controller. Each fault is named at the hop where it is, with its
// cause, and none fails a hop the fault does not break.
func TestReplayNight2Observations(t *testing.T) {
	for _, c := range []struct {
		fault    string
		verdict  trace.Verdict
		kind     trace.Kind // the first failing hop, or with verdict Warn the first warning
		has      string     // in its summary
		cause    string     // in its cause
		check    trace.Kind // another hop to check ("" none)
		checkV   trace.Verdict
		checkHas string
	}{
		// compute1's Linux bridge agent stopped: the port it wired keeps
		// working (every path hop OK), so the agents hop warns (it failed).
		{"c1-agent-stopped", trace.Warn, trace.KindAgents, "Linux bridge agent on compute1 is dead", "the ports it wired keep working",
			trace.KindReachability, trace.OK, "answered"},
		// compute1's brq deleted under the running server: the interface
		// hop names the missing bridge (it blamed a tap without a master).
		{"c1-brq-deleted", trace.Fail, trace.KindInterface, "its bridge brq0ed84132-72 does not exist", "was deleted while the server runs",
			trace.KindTap, trace.Fail, "is not a port of any bridge"},
		// `openstack server pause`: the domain hop is the fault (the FDB
		// hop, first to fail before, only shows it).
		{"paused", trace.Fail, trace.KindDomain, "paused (user)", "the guest answers nothing",
			trace.KindServer, trace.Warn, "PAUSED"},
		// Ping and ssh admitted only from a remote group's members: the
		// probe's source is not one. Not a drop: both hops warn.
		{"remote-group", trace.Warn, trace.KindSecurityGroup, "admitted only from members of group n2sgrg", "dropped by design",
			trace.KindReachability, trace.Warn, "silent"},
	} {
		t.Run(c.fault, func(t *testing.T) {
			nt := joinRecorded(t, "aio-night2-"+c.fault)
			if len(nt.Traces) != 1 || nt.Traces[0].Verdict != c.verdict {
				t.Fatalf("%d traces, verdict %v; want 1, %s", len(nt.Traces), nt.Verdict, c.verdict)
			}
			tr := nt.Traces[0]
			var h trace.Hop
			for _, o := range tr.Hops {
				if o.Verdict == c.verdict {
					h = o
					break
				}
			}
			if h.Kind != c.kind || !strings.Contains(h.Summary, c.has) || !strings.Contains(h.Cause, c.cause) || h.Next == "" {
				t.Errorf("first %s hop %s %q (cause %q, next %q); want %s containing %q, cause with %q", c.verdict, h.Kind, h.Summary, h.Cause, h.Next, c.kind, c.has, c.cause)
			}
			if node, _ := h.Get("node"); node != "compute1" && c.kind != trace.KindReachability {
				t.Errorf("%s hop judged on %q; want compute1", h.Kind, node)
			}
			if c.check != "" {
				o, ok := tr.Hop(c.check, "")
				if !ok || o.Verdict != c.checkV || !strings.Contains(o.Summary, c.checkHas) {
					t.Errorf("%s hop %s %q; want %s containing %q", c.check, o.Verdict, o.Summary, c.checkV, c.checkHas)
				}
			}
		})
	}
}

// joinRecorded joins the two halves recorded as prefix-compute.json and
// prefix-network.json in testdata/observations.
func joinRecorded(t *testing.T, prefix string) *trace.NodeTrace {
	t.Helper()
	var halves []*trace.Observation
	for _, h := range []string{"compute", "network"} {
		obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", prefix+"-"+h+".json"))
		if err != nil {
			t.Fatal(err)
		}
		halves = append(halves, obs)
	}
	nt, err := trace.Join(halves[0], halves[1])
	if err != nil {
		t.Fatal(err)
	}
	return nt
}
