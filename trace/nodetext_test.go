package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestWriteLines prints the demo's tap-down observation judged as a node:
// one line per NIC with its worst verdict, first failing hop and cause,
// and the node's verdict last.
func TestWriteLines(t *testing.T) {
	obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", "demo-tap-down.json"))
	if err != nil {
		t.Fatal(err)
	}
	obs.Request = trace.Request{Mode: trace.ModeNode}
	nt := trace.Judge(obs)
	var b strings.Builder
	if err := nt.WriteLines(&b); err != nil {
		t.Fatal(err)
	}
	out := b.String()
	t.Logf("\n%s", out)
	lines := strings.Split(strings.TrimSpace(out), "\n")
	if len(lines) < 3 || !strings.HasPrefix(lines[0], "VERDICT") || !strings.HasPrefix(lines[len(lines)-1], "node compute1 (aio): fail") {
		t.Fatalf("output:\n%s", out)
	}
	var nic string
	for _, l := range lines {
		if strings.HasPrefix(l, "FAIL") && strings.Contains(l, nt.Traces[0].Tap) {
			nic = l
		}
	}
	if !strings.Contains(nic, "tap "+nt.Traces[0].Tap) || !strings.Contains(nic, "the tap was set down") || !strings.Contains(nic, "cirros1") {
		t.Errorf("the NIC's line %q lacks the first failing hop (tap), its cause or the server", nic)
	}
	if h, ok := nt.Traces[0].FirstFailing(); !ok || h.Kind != trace.KindTap {
		t.Errorf("first failing hop %+v, want the tap", h)
	}
}
