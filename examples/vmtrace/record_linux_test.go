package main

import (
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationDemoRecordReplay records the demo's observations
// (-record) and replays them (-replay, no root needed): each replayed
// trace is the live one but for its timings, and the replay's exit status
// is the live verdict's. -replay -all and -replay with a target are usage
// errors.
func TestIntegrationDemoRecordReplay(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	rec := filepath.Join(t.TempDir(), "obs.json")
	code, out, errs := runArgs(context.Background(), "-demo", "-guest", "netns", "-json", "-break", "dup-ip", "-record", rec)
	if code != exitOK {
		t.Fatalf("-demo -record: exit %d\n%s%s", code, out, errs)
	}
	var rep demoReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil {
		t.Fatalf("-demo -json: %v\n%s", err, out)
	}
	for _, c := range []struct {
		file string
		live *trace.Trace
		code int
	}{{rec, rep.Broken, exitFail}, {strings.TrimSuffix(rec, ".json") + ".healthy.json", rep.Healthy, exitOK}} {
		code, out, errs := runArgs(context.Background(), "-replay", c.file, "-json")
		if code != c.code {
			t.Errorf("-replay %s: exit %d, want %d\n%s", c.file, code, c.code, errs)
		}
		var st trace.ServerTrace
		if err := json.Unmarshal([]byte(out), &st); err != nil || len(st.Traces) != 1 {
			t.Fatalf("-replay -json: %v\n%s", err, out)
		}
		got, want := st.Traces[0], *c.live
		got.Started, got.Duration, want.Started, want.Duration = time.Time{}, 0, time.Time{}, 0
		a, _ := json.Marshal(got)
		b, _ := json.Marshal(&want)
		if string(a) != string(b) {
			t.Errorf("-replay %s differs from the live trace:\n%s\nlive:\n%s", c.file, a, b)
		}
	}
	if left := demo.Residue(tmp, true); len(left) > 0 {
		t.Errorf("-demo -record left: %v", left)
	}
	for _, args := range [][]string{{"-replay", rec, "-all"}, {"-replay", rec, "-tap", "x"}, {"-demo", "-all"}} {
		if code, _, errs := runArgs(context.Background(), args...); code != exitUsage {
			t.Errorf("%q: exit %d, want %d (%s)", args, code, exitUsage, errs)
		}
	}
}
