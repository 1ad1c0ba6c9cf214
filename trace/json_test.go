package trace_test

import (
	"bytes"
	"encoding/json"
	"path/filepath"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestObservationAndNodeTraceJSON: every recorded observation, and the
// NodeTrace it judges to, read back from JSON byte for byte (MACs as
// colon text, addresses as netip, enums by name).
func TestObservationAndNodeTraceJSON(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "observations", "*.json"))
	n := 0
	for _, f := range files {
		if filepath.Ext(f[:len(f)-len(".json")]) == ".trace" {
			continue
		}
		obs, err := trace.ReadObservationFile(f)
		if err != nil {
			t.Fatal(err)
		}
		n++
		obs.Request = trace.Request{Mode: trace.ModeNode}
		for _, v := range []any{obs, trace.Judge(obs)} {
			b1, err := json.Marshal(v)
			if err != nil {
				t.Fatalf("%s: %v", f, err)
			}
			var back any
			switch v.(type) {
			case *trace.Observation:
				back = new(trace.Observation)
			default:
				back = new(trace.NodeTrace)
			}
			if err := json.Unmarshal(b1, back); err != nil {
				t.Fatalf("%s: %T: %v", f, v, err)
			}
			b2, _ := json.Marshal(back)
			if !bytes.Equal(b1, b2) {
				t.Errorf("%s: %T does not round-trip through JSON", f, v)
			}
		}
	}
	if n < 20 {
		t.Errorf("only %d observations", n)
	}
}
