package metrics

import (
	"context"
	"encoding/json"
	"errors"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/trace"
)

// TestTracesHandler: 503 before a round succeeded; then the last
// successful round's NodeTrace, read back by trace.DecodeHalf as it was
// produced; a failed round later leaves it served.
func TestTracesHandler(t *testing.T) {
	want := loadNode(t, "node-healthy.json")
	fail := false
	c, err := New(&Config{Trace: func(context.Context) (*trace.NodeTrace, error) {
		if fail {
			return nil, errors.New("the trace failed")
		}
		return want, nil
	}})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	get := func() (*httptest.ResponseRecorder, *trace.NodeTrace) {
		rec := httptest.NewRecorder()
		c.TracesHandler().ServeHTTP(rec, httptest.NewRequest(http.MethodGet, "/traces.json", nil))
		if rec.Code != http.StatusOK {
			return rec, nil
		}
		nt, err := trace.DecodeHalf(rec.Body.Bytes())
		if err != nil {
			t.Fatalf("DecodeHalf: %v", err)
		}
		return rec, nt
	}
	if rec, _ := get(); rec.Code != http.StatusServiceUnavailable {
		t.Errorf("before the first round: %d, want 503", rec.Code)
	}
	for round, f := range []bool{false, true} {
		fail = f
		if err := c.RunOnce(context.Background()); err != nil && !f {
			t.Fatal(err)
		}
		rec, got := get()
		if got == nil || rec.Header().Get("Content-Type") != "application/json" || rec.Header().Get("Last-Modified") == "" {
			t.Fatalf("round %d (failed %t): %d %v %s", round, f, rec.Code, rec.Header(), rec.Body)
		}
		wb, _ := json.Marshal(want)
		var wantBack trace.NodeTrace
		json.Unmarshal(wb, &wantBack)
		if d := cmp.Diff(&wantBack, got, cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})); d != "" {
			t.Errorf("round %d: served traces differ (-want +got):\n%s", round, d)
		}
	}
}
