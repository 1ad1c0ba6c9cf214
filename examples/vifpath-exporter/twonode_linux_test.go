package main

import (
	"context"
	"io"
	"net/http"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// tracesOf fetches an exporter's /traces.json and reads it as a half
// (trace.DecodeHalf); nil until the first round succeeded.
func tracesOf(t *testing.T, addr string) *trace.NodeTrace {
	t.Helper()
	r, err := http.Get("http://" + addr + "/traces.json")
	if err != nil {
		t.Fatalf("GET %s/traces.json: %v", addr, err)
	}
	defer r.Body.Close()
	b, err := io.ReadAll(r.Body)
	if err != nil {
		t.Fatal(err)
	}
	if r.StatusCode == http.StatusServiceUnavailable {
		return nil
	}
	if r.StatusCode != http.StatusOK || r.Header.Get("Content-Type") != "application/json" {
		t.Fatalf("GET %s/traces.json: %s %s", addr, r.Status, b)
	}
	nt, err := trace.DecodeHalf(b)
	if err != nil {
		t.Fatalf("%s/traces.json: %v", addr, err)
	}
	return nt
}

// TestIntegrationTwoNodeExporters runs one exporter per node of the
// two-node demo (the controller's with --role network and its agent
// config, compute1's with --role compute, each on its own loopback
// port), joins what their /traces.json serve (trace.JoinTraces, as
// vmtrace -join URL URL does): the provider link judged OK; after the
// provider wire is cut, the joined trace fails at the provider link.
func TestIntegrationTwoNodeExporters(t *testing.T) {
	requireDemo(t)
	tn, err := demo.BuildTwoNode(context.Background(), &demo.PathConfig{Dir: searchableTempDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	common := []string{"--interval", "1s", "--timeout", "5s", "--counter-interval", "200ms", "--arp-timeout", "300ms", "--libvirt-uri", "none",
		"--netns-dir", tn.NetNSDir, "--state-dir", tn.StateDir, "--nm-run-dir", tn.NMRunDir, "--log-level", "warn"}
	ctlAddr := startExporter(t, append([]string{"--role", "network", "--node", demo.ControllerName, "--netns", tn.ControllerNS,
		"--agent-config", tn.ControllerAgentConfig}, common...)...)
	compAddr := startExporter(t, append([]string{"--role", "compute", "--node", demo.ComputeName, "--netns", tn.HostPath,
		"--agent-config", tn.AgentConfig}, common...)...)

	// joined waits for both exporters' rounds and joins their latest.
	joined := func(want trace.Verdict) *trace.Trace {
		t.Helper()
		var last *trace.NodeTrace
		var lastErr error
		deadline := time.Now().Add(30 * time.Second)
		for time.Now().Before(deadline) {
			ctl, comp := tracesOf(t, ctlAddr), tracesOf(t, compAddr)
			if ctl != nil && comp != nil {
				last, lastErr = trace.JoinTraces(comp, ctl)
				if lastErr == nil && len(last.Traces) == 1 {
					if h, _ := last.Traces[0].Hop(trace.KindProviderLink, ""); h.Verdict == want {
						return last.Traces[0]
					}
				}
			}
			time.Sleep(300 * time.Millisecond)
		}
		if ctl, comp := tracesOf(t, ctlAddr), tracesOf(t, compAddr); ctl != nil && comp != nil {
			for _, h := range []*trace.NodeTrace{ctl, comp} {
				for _, tr := range h.Traces {
					var b []byte
					tr.WriteText(&sliceWriter{&b})
					t.Logf("%s's half: network %q ip %q mac %s:\n%s", h.Node, tr.NetworkID, tr.IP, tr.PortMAC, b)
				}
			}
		}
		if last != nil {
			for _, tr := range last.Traces {
				var b []byte
				w := &sliceWriter{&b}
				tr.WriteText(w)
				t.Logf("last joined trace:\n%s", b)
			}
		}
		t.Fatalf("the joined exporters' provider link not %s within 30 s (last join: %v)", want, lastErr)
		return nil
	}
	healthy := joined(trace.OK)
	if healthy.Tap != tn.Tap || healthy.PortMAC.String() != tn.MAC.String() {
		t.Errorf("joined trace of tap %q MAC %s, want %s %s", healthy.Tap, healthy.PortMAC, tn.Tap, tn.MAC)
	}
	for _, k := range []trace.Kind{trace.KindDnsmasq, trace.KindLease, trace.KindARP} {
		if h, ok := healthy.Hop(k, ""); !ok || h.Verdict != trace.OK {
			t.Errorf("healthy: the controller's %s hop %+v, want ok", k, h)
		} else if n, _ := h.Get("node"); n != demo.ControllerName {
			t.Errorf("healthy: %s hop judged on %q, want %s", k, n, demo.ControllerName)
		}
	}
	if err := tn.Break(demo.BreakProviderWire); err != nil {
		t.Fatal(err)
	}
	broken := joined(trace.Fail)
	if h, _ := broken.Hop(trace.KindProviderLink, ""); h.Summary == "" || broken.Verdict != trace.Fail {
		t.Errorf("provider wire cut: link %+v, trace %s", h, broken.Verdict)
	} else {
		t.Logf("provider wire cut, joined from the exporters: %s", h.Summary)
	}
}

type sliceWriter struct{ b *[]byte }

func (w *sliceWriter) Write(p []byte) (int, error) { *w.b = append(*w.b, p...); return len(p), nil }
