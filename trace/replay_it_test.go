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
			got.Hops = dropNewKinds(t, obs, got.Hops, live.Hops)
			// A compute or network node's trace carries its end of the
			// provider link (Trace.Link); recordings made before it
			// existed lack it (and a network node's is nil when its
			// observation has no provider facts, older still).
			if (obs.Role == trace.RoleCompute || obs.Role == trace.RoleNetwork && obs.Provider != nil) != (got.Link != nil) {
				t.Errorf("role %s: Link %+v", obs.Role, got.Link)
			}
			if live.Link == nil {
				got.Link = nil
			}
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

// hasFactsOf reports whether obs holds the facts of a hop kind added
// after the first recordings: the firewall's, the console, the DHCP
// options and the metadata side.
func hasFactsOf(obs *trace.Observation, k trace.Kind) bool {
	switch k {
	case trace.KindSecurityGroup, trace.KindAntiSpoofing, trace.KindReachability:
		return obs.Firewall != nil
	case trace.KindAgents:
		return obs.API != nil && obs.API.Agents != nil
	case trace.KindGuest:
		if obs.Libvirt != nil {
			for _, d := range obs.Libvirt.Domains {
				if d.Console != nil {
					return true
				}
			}
		}
	case trace.KindMetadata, trace.KindMTU:
		if k == trace.KindMTU && obs.Libvirt != nil {
			for _, d := range obs.Libvirt.Domains {
				for _, i := range d.Interfaces {
					if i.MTU > 0 {
						return true // the libvirt <mtu>: what the guest is told
					}
				}
			}
		}
		if obs.DHCP != nil {
			for _, n := range obs.DHCP.Networks {
				if n.Metadata != nil || n.OptsPath != "" {
					return true
				}
			}
		}
	}
	return false
}

// dropNewKinds removes from hops the kinds the live trace did not have:
// hops added after the observation was recorded (the firewall's; the guest,
// metadata and mtu hops), whose facts it lacks. Each such hop must be Unknown: an observation without
// the facts of a hop can never make it ok, warn or fail.
func dropNewKinds(t *testing.T, obs *trace.Observation, hops, live []trace.Hop) []trace.Hop {
	t.Helper()
	had := map[trace.Kind]bool{}
	for _, h := range live {
		had[h.Kind] = true
	}
	var out []trace.Hop
	for _, h := range hops {
		if had[h.Kind] {
			out = append(out, h)
			continue
		}
		if hasFactsOf(obs, h.Kind) {
			t.Errorf("%s hop absent from the live trace of an observation that has its facts", h.Kind)
		}
		if h.Verdict != trace.Unknown {
			t.Errorf("%s hop judged %s (%s) on an observation recorded without its facts, want unknown", h.Kind, h.Verdict, h.Summary)
		}
	}
	return out
}
