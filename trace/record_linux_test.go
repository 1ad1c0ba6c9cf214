package trace_test

import (
	"context"
	"encoding/json"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

var recorded sync.Map // test name → how many recorded

// runRec is trace.Run. With VIFPATH_RECORD_DIR set it observes and judges
// in two steps, as Run does, and writes the observation and the live trace
// to it-<test>-<n>.json and it-<test>-<n>.trace.json there: how the it-*
// fixtures under testdata/observations were recorded from these
// integration tests' real kernel objects and daemons.
func runRec(t testing.TB, ctx context.Context, cfg *trace.Config, target trace.Target) (*trace.Trace, error) {
	dir := os.Getenv("VIFPATH_RECORD_DIR")
	if dir == "" {
		return trace.Run(ctx, cfg, target)
	}
	obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNIC, Target: &target}, nil)
	if err != nil {
		return nil, err
	}
	tr, err := trace.JudgeTrace(obs)
	if err != nil {
		return nil, err
	}
	n, _ := recorded.LoadOrStore(t.Name(), new(int))
	*n.(*int)++
	base := filepath.Join(dir, fmt.Sprintf("it-%s-%d", strings.NewReplacer("/", "-", " ", "-").Replace(strings.TrimPrefix(t.Name(), "TestIntegration")), *n.(*int)))
	if err := obs.WriteFile(base + ".json"); err != nil {
		t.Fatal(err)
	}
	b, _ := json.MarshalIndent(tr, "", "  ")
	if err := os.WriteFile(base+".trace.json", append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	return tr, nil
}
