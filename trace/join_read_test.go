package trace_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestJoinTracesFromJSON: each recorded pair of halves, judged on its
// node and printed as vmtrace -json prints it (a Trace per NIC) or as
// the exporter serves it (a NodeTrace), read back (DecodeHalf) and joined
// (JoinTraces), gives the very NodeTrace Join gives from the
// observations: the link's facts travel with the traces.
func TestJoinTracesFromJSON(t *testing.T) {
	for _, name := range []string{"healthy", "provider-wire", "unknown-unicast", "wrong-mapping", "tap-down", "dnsmasq"} {
		t.Run(name, func(t *testing.T) {
			comp, netw := readHalves(t, name)
			want, err := trace.Join(comp, netw)
			if err != nil {
				t.Fatal(err)
			}
			wantJSON, _ := json.Marshal(want)
			for form, enc := range map[string]func(*trace.Observation) any{
				"trace": func(o *trace.Observation) any {
					tr, err := trace.JudgeTrace(o)
					if err != nil {
						t.Fatal(err)
					}
					return tr
				},
				"node": func(o *trace.Observation) any {
					nt, err := trace.JudgeHalf(o)
					if err != nil {
						t.Fatal(err)
					}
					return nt
				},
				"observation": func(o *trace.Observation) any { return o },
			} {
				var halves []*trace.NodeTrace
				for _, o := range []*trace.Observation{comp, netw} {
					v := enc(o)
					if tr, ok := v.(*trace.Trace); ok && tr.Link == nil {
						t.Fatalf("%s: %s's trace has no Link facts", form, o.Node)
					}
					b, err := json.Marshal(v)
					if err != nil {
						t.Fatal(err)
					}
					h, err := trace.DecodeHalf(b)
					if err != nil {
						t.Fatalf("%s: %v", form, err)
					}
					if h.Node != o.Node || h.Role != o.Role {
						t.Errorf("%s: decoded half of %s (%s), want %s (%s)", form, h.Node, h.Role, o.Node, o.Role)
					}
					halves = append(halves, h)
				}
				got, err := trace.JoinTraces(halves[1], halves[0])
				if err != nil {
					t.Fatalf("%s: %v", form, err)
				}
				if gotJSON, _ := json.Marshal(got); !bytes.Equal(gotJSON, wantJSON) {
					t.Errorf("%s: JoinTraces over the JSON halves differs from Join over the observations:\n got %s\nwant %s", form, gotJSON, wantJSON)
				}
			}
		})
	}
}

// TestJoinTracesWithoutLinkFacts: a compute half whose traces lack the
// Link facts (an older vmtrace's -json) still joins, the provider link
// not judged rather than guessed OK.
func TestJoinTracesWithoutLinkFacts(t *testing.T) {
	comp, netw := readHalves(t, "healthy")
	ch, err := trace.JudgeHalf(comp)
	if err != nil {
		t.Fatal(err)
	}
	nh, err := trace.JudgeHalf(netw)
	if err != nil {
		t.Fatal(err)
	}
	for _, tr := range ch.Traces {
		tr.Link = nil
	}
	nt, err := trace.JoinTraces(ch, nh)
	if err != nil {
		t.Fatal(err)
	}
	h, ok := nt.Traces[0].Hop(trace.KindProviderLink, "")
	if !ok || h.Verdict != trace.Unknown {
		t.Errorf("provider link without the compute half's facts: %+v, want unknown (not judged)", h)
	}
	if _, err := trace.DecodeHalf([]byte(`{"foo": 1}`)); !errors.Is(err, trace.ErrJoin) {
		t.Errorf("DecodeHalf of unrelated JSON: %v, want ErrJoin", err)
	}
	if _, err := trace.JoinTraces(ch); !errors.Is(err, trace.ErrJoin) {
		t.Errorf("JoinTraces of one half: %v, want ErrJoin", err)
	}
}
