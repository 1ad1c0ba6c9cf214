package main

import (
	"bytes"
	"context"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationDemo runs `bridgeinfo -demo` (table and -json) and checks
// what it printed and that it left no namespace behind.
func TestIntegrationDemo(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	demoDirs := func() map[string]bool {
		m := map[string]bool{}
		es, _ := os.ReadDir(os.TempDir())
		for _, e := range es {
			if strings.HasPrefix(e.Name(), "vifpath-demo-") {
				m[e.Name()] = true
			}
		}
		return m
	}
	before := demoDirs()
	var out bytes.Buffer
	if err := run(ctx, &out, opts{demo: true}); err != nil {
		t.Fatalf("bridgeinfo -demo: %v\n%s", err, out.String())
	}
	s := out.String()
	for _, want := range []string{"brq", "eth2", "forwarding", "disabled", "admin-down", "learned", "fa:16:3e:"} {
		if !strings.Contains(s, want) {
			t.Errorf("output lacks %q:\n%s", want, s)
		}
	}
	t.Logf("bridgeinfo -demo:\n%s", s)

	out.Reset()
	if err := run(ctx, &out, opts{demo: true, json: true}); err != nil {
		t.Fatalf("bridgeinfo -demo -json: %v", err)
	}
	var snap linuxbridge.Snapshot
	if err := json.Unmarshal(out.Bytes(), &snap); err != nil {
		t.Fatalf("-json output is not a linuxbridge.Snapshot: %v\n%s", err, out.String())
	}
	if len(snap.Bridges) != 1 || len(snap.Bridges[0].Ports) != 4 || snap.Bridges[0].Neutron.Kind != linuxbridge.DeviceBridge {
		t.Errorf("-json: %d bridges, want 1 brq bridge with 4 ports: %+v", len(snap.Bridges), snap.Bridges)
	}
	learned := 0
	for _, e := range snap.FDB {
		if e.Learned() {
			learned++
		}
	}
	if learned < 3 {
		t.Errorf("-json: %d learned MACs, want 3 (gateway, DHCP port, guest)", learned)
	}
	for d := range demoDirs() {
		if !before[d] {
			t.Errorf("demo left %s behind", d)
		}
	}
}
