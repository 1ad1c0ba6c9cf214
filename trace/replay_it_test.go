package trace_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/trace"
)

// TestReplayIntegrationRecordings replays the observations recorded from
// the integration tests' real kernel objects and daemons (it-*.json, see
// testdata/observations/README.md) and checks each judges to the trace the
// live run returned, but for its timings: every verdict, summary, piece of
// evidence, cause and next step, without root.
func TestReplayIntegrationRecordings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "observations", "it-*.trace.json"))
	if len(files) == 0 {
		t.Fatal("no it-*.trace.json recordings")
	}
	verdicts := map[trace.Verdict]int{}
	for _, tf := range files {
		name := strings.TrimSuffix(filepath.Base(tf), ".trace.json")
		t.Run(name, func(t *testing.T) {
			obs, err := trace.ReadObservationFile(strings.TrimSuffix(tf, ".trace.json") + ".json")
			if err != nil {
				t.Fatal(err)
			}
			b, err := os.ReadFile(tf)
			if err != nil {
				t.Fatal(err)
			}
			var live trace.Trace
			if err := json.Unmarshal(b, &live); err != nil {
				t.Fatal(err)
			}
			got, err := trace.JudgeTrace(obs)
			if err != nil {
				t.Fatal(err)
			}
			// Hops added since the recording (the firewall's, judged
			// Unknown on an observation without firewall facts) are not
			// in the live trace: compare the hops it has.
			kinds := map[trace.Kind]bool{}
			for _, h := range live.Hops {
				kinds[h.Kind] = true
			}
			var hops []trace.Hop
			for _, h := range got.Hops {
				if kinds[h.Kind] {
					hops = append(hops, h)
				} else if h.Verdict != trace.Unknown {
					t.Errorf("new hop %s %s on a recording that predates it: %s", h.Kind, h.Verdict, h.Summary)
				}
			}
			got.Hops = hops
			got.Started, got.Duration, live.Started, live.Duration = time.Time{}, 0, time.Time{}, 0
			a, _ := json.Marshal(got)
			w, _ := json.Marshal(&live)
			if string(a) != string(w) {
				t.Errorf("replay differs from the live trace:\n%s\nlive:\n%s", a, w)
			}
			for _, h := range got.Hops {
				verdicts[h.Verdict]++
			}
		})
	}
	if verdicts[trace.Fail] == 0 || verdicts[trace.Warn] == 0 || verdicts[trace.OK] == 0 {
		t.Errorf("the recordings judge to %v: want ok, warn and fail hops among them", verdicts)
	}
}
