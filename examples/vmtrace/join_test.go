package main

import (
	"bytes"
	"context"
	"encoding/json"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// -join over the two-node demo's recorded halves (trace/testdata/join):
// the exit status is the joined verdict, the text names the provider
// link, -json is the NodeTrace.
func TestJoinFlag(t *testing.T) {
	dir := filepath.Join("..", "..", "trace", "testdata", "join")
	for name, want := range map[string]int{"healthy": exitOK, "provider-wire": exitFail, "dnsmasq": exitFail} {
		files := []string{filepath.Join(dir, name+".compute.json"), filepath.Join(dir, name+".network.json")}
		var out, errb bytes.Buffer
		if code := run(context.Background(), append([]string{"-join"}, files...), &out, &errb); code != want {
			t.Errorf("%s: exit %d, want %d; stderr %s", name, code, want, errb.String())
		}
		if !strings.Contains(out.String(), "provider-link") {
			t.Errorf("%s: no provider-link hop in\n%s", name, out.String())
		}
		out.Reset()
		run(context.Background(), append([]string{"-join", "-json"}, files...), &out, &errb)
		var nt trace.NodeTrace
		if err := json.Unmarshal(out.Bytes(), &nt); err != nil || nt.Node != "compute1+controller" {
			t.Errorf("%s -json: %v, node %q", name, err, nt.Node)
		}
	}
	var out, errb bytes.Buffer
	if code := run(context.Background(), []string{"-join", filepath.Join(dir, "healthy.compute.json")}, &out, &errb); code != exitUsage || !strings.Contains(errb.String(), "network") {
		t.Errorf("one half: exit %d, stderr %q; want a usage error asking for the network half", code, errb.String())
	}
}
