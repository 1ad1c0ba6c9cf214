package main

import (
	"context"
	"encoding/json"
	"net/http"
	"net/http/httptest"
	"os"
	"path/filepath"
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
	code, out, errs := runArgs(context.Background(), "-demo", "-nodes", "2", "-guest", "netns", "-break", string(demo.BreakProviderWire))
	if code != exitOK || !strings.Contains(out, "Verdict: ok before, fail after provider-wire") || !strings.Contains(out, "provider-link compute1:eth2 <-> controller:eth2 (fail)") || !strings.Contains(errs, "removed everything") ||
		!strings.Contains(out, "knows both hosts: server cirros1") || !strings.Contains(out, "server          cirros1") {
		t.Errorf("-demo -nodes 2: exit %d:\n%s%s", code, out, errs)
	}
	code, out, errs = runArgs(context.Background(), "-demo", "-nodes", "2", "-guest", "netns", "-json", "-break", string(demo.BreakUnknownUnicast))
	var rep twoNodeReport
	if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
		t.Fatalf("-json: exit %d, %v:\n%s%s", code, err, out, errs)
	}
	if h, ok := rep.Broken.Traces[0].Hop(trace.KindProviderLink, ""); !ok || h.Verdict != trace.Fail {
		t.Errorf("-json: broken provider link %+v", h)
	}
	if h := rep.Healthy.Traces[0].Hops[0]; h.Kind != trace.KindServer || h.Verdict != trace.OK {
		t.Errorf("-json: the healthy trace starts at %s %s, want the server hop ok", h.Kind, h.Verdict)
	}
	if code, _, _ := runArgs(context.Background(), "-demo", "-nodes", "2", "-break", string(demo.BreakUplink)); code != exitUsage {
		t.Errorf("-break uplink (one node's demo): exit %d, want usage", code)
	}
	if es, _ := os.ReadDir(tmp); len(es) > 0 {
		t.Errorf("left in TMPDIR: %v", es)
	}
}

// TestIntegrationJoinJSONHalves: on the two-node demo, each node traced
// by vmtrace with its role and -json (the controller's with -role network
// -agent-config naming its linuxbridge_agent.ini), the printed halves
// joined by -join from files and from an http URL: the provider link OK.
// The controller's agent config then mapping the provider network to a
// NIC its bridge lacks is what the joined link blames: -agent-config is
// used with -role network, not ignored.
func TestIntegrationJoinJSONHalves(t *testing.T) {
	requireDemo(t)
	dir := searchableTempDir(t)
	tn, err := demo.BuildTwoNode(context.Background(), &demo.PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { tn.Close() })
	common := []string{"-netns-dir", tn.NetNSDir, "-state-dir", tn.StateDir, "-nm-run-dir", tn.NMRunDir, "-interval", "200ms", "-json"}
	half := func(name string, args ...string) string {
		t.Helper()
		code, out, errs := runArgs(context.Background(), append(args, common...)...)
		var tr trace.Trace
		if err := json.Unmarshal([]byte(out), &tr); err != nil || tr.Link == nil {
			t.Fatalf("%q: exit %d, %v, link facts %v\n%s%s", args, code, err, tr.Link, out, errs)
		}
		f := filepath.Join(dir, name)
		if err := os.WriteFile(f, []byte(out), 0o600); err != nil {
			t.Fatal(err)
		}
		return f
	}
	network := func(agentConfig string) string {
		return half("network.json", "-role", "network", "-node", demo.ControllerName, "-mac", tn.MAC.String(), "-netns", tn.ControllerNS, "-agent-config", agentConfig)
	}
	link := func(files ...string) trace.Hop {
		t.Helper()
		code, out, errs := runArgs(context.Background(), append([]string{"-join", "-json"}, files...)...)
		var nt trace.NodeTrace
		if err := json.Unmarshal([]byte(out), &nt); err != nil || len(nt.Traces) != 1 || nt.Node != "compute1+controller" {
			t.Fatalf("-join %q: exit %d, %v\n%s%s", files, code, err, out, errs)
		}
		h, _ := nt.Traces[0].Hop(trace.KindProviderLink, "")
		return h
	}
	n := network(tn.ControllerAgentConfig)
	c := half("compute.json", "-role", "compute", "-node", demo.ComputeName, "-tap", tn.Tap, "-netns", tn.HostPath, "-agent-config", tn.AgentConfig)
	if h := link(c, n); h.Verdict != trace.OK || !strings.Contains(h.Name, "controller:eth2") {
		t.Errorf("joined from the -json files: link %s %q %q, want ok over controller:eth2", h.Verdict, h.Name, h.Summary)
	}
	srv := httptest.NewServer(http.FileServer(http.Dir(dir)))
	defer srv.Close()
	if h := link(c, srv.URL+"/network.json"); h.Verdict != trace.OK {
		t.Errorf("joined with the network half from %s: link %s %q", srv.URL, h.Verdict, h.Summary)
	}
	if code, _, errs := runArgs(context.Background(), "-join", c, srv.URL+"/missing.json"); code != exitFail || !strings.Contains(errs, "404") {
		t.Errorf("-join with a URL that 404s: exit %d, %q", code, errs)
	}

	wrong := filepath.Join(dir, "controller-wrong.ini")
	if err := os.WriteFile(wrong, []byte("[linux_bridge]\nphysical_interface_mappings = provider:eth9\n"), 0o644); err != nil {
		t.Fatal(err)
	}
	if h := link(c, network(wrong)); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "controller's mapped interface eth9 is not on") {
		t.Errorf("the controller's agent config mapping eth9: link %s %q, want it to blame the controller's eth9", h.Verdict, h.Summary)
	}
}
