package main

import (
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationDemoTwoNodes runs -demo -nodes 2: exit 0 with ok then
// fail, the provider link named for a link fault (text and -json), and
// nothing left in TMPDIR.
func TestIntegrationDemoTwoNodes(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	code, out, errs := runArgs(context.Background(), "-demo", "-nodes", "2", "-break", string(demo.BreakProviderWire))
	if code != exitOK || !strings.Contains(out, "Verdict: ok before, fail after provider-wire") || !strings.Contains(out, "provider-link compute1:eth2 <-> controller:eth2 (fail)") || !strings.Contains(errs, "removed everything") {
		t.Errorf("-demo -nodes 2: exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runArgs(context.Background(), "-demo", "-nodes", "2", "-json", "-break", string(demo.BreakUnknownUnicast))
	var rep twoNodeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("-json: exit %d, %v:\n%s%s", code, err, out, errs)
	}
	if h, ok := rep.Broken.Traces[0].Hop(trace.KindProviderLink, ""); !ok || h.Verdict != trace.Fail {
		t.Errorf("-json: broken provider link %+v", h)
	}
	if code, _, _ := runArgs(context.Background(), "-demo", "-nodes", "2", "-break", string(demo.BreakUplink)); code != exitUsage {
		t.Errorf("-break uplink (one node's demo): exit %d, want usage", code)
	}
	if es, _ := os.ReadDir(tmp); len(es) > 0 {
		t.Errorf("left in TMPDIR: %v", es)
	}
}
