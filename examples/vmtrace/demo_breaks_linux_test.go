package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationDemoMoreBreaks runs -demo -break for the faults the
// other demo tests do not (wrong-bridge, lease-seeded, dup-ip,
// fdb-never-learned): exit 0 with the verdict change (ok then fail; ok
// then warn for lease-seeded and fdb-never-learned) and the fault's hop
// in the text, the same
// hop in -json, and nothing left in TMPDIR.
func TestIntegrationDemoMoreBreaks(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	for _, c := range []struct {
		b       demo.Breakage
		verdict trace.Verdict
		hop     trace.Kind
		text    string // in the -demo output
	}{
		{demo.BreakWrongBridge, trace.Fail, trace.KindTap, "master " + demo.WrongBridge},
		{demo.BreakLeaseSeeded, trace.Warn, trace.KindLease, "failing: lease leases (warn)"},
		{demo.BreakDupIP, trace.Fail, trace.KindARP, "failing: arp 192.168.31.74 (fail)"},
		// The bridge floods to the VM and the probes are answered: the
		// FDB hop warns (a FAIL would fail a working path).
		{demo.BreakFDBNeverLearned, trace.Warn, trace.KindFDB, "learning off"},
		{demo.BreakICMPRule, trace.Fail, trace.KindSecurityGroup, "ICMP to 192.168.31.74 is dropped by neutron-linuxbri-sg-fallback"},
		{demo.BreakSSHRule, trace.Fail, trace.KindSecurityGroup, "SSH to 192.168.31.74 is dropped by neutron-linuxbri-sg-fallback"},
		{demo.BreakARPSpoof, trace.Fail, trace.KindAntiSpoofing, "lacks --arp-ip-src 192.168.31.74"},
		{demo.BreakMetadata, trace.Fail, trace.KindMetadata, "is not running"},
		{demo.BreakMTU, trace.Fail, trace.KindMTU, "eth2 (MTU 1400)"},
		{demo.BreakAgentDown, trace.Warn, trace.KindAgents, "Linux bridge agent on compute1 is dead"},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			code, out, errs := runArgs(context.Background(), "-demo", "-break", string(c.b))
			want := "Verdict: ok before, " + c.verdict.String() + " after"
			if code != exitOK || !strings.Contains(out, want) || !strings.Contains(out, c.text) || !strings.Contains(errs, "removed everything") {
				t.Errorf("-demo -break %s: exit %d, output lacks %q or %q:\n%s%s", c.b, code, want, c.text, out, errs)
			}
			code, out, errs = runArgs(context.Background(), "-demo", "-json", "-break", string(c.b))
			var rep demoReport
			if err := json.Unmarshal([]byte(out), &rep); err != nil || code != exitOK {
				t.Fatalf("-demo -json -break %s: exit %d, %v\n%s%s", c.b, code, err, out, errs)
			}
			if rep.Healthy == nil || rep.Broken == nil || rep.Break != string(c.b) || rep.Healthy.Verdict != trace.OK || rep.Broken.Verdict != c.verdict {
				t.Fatalf("-demo -json -break %s: %+v", c.b, rep)
			}
			if h, _ := rep.Broken.Hop(c.hop, ""); h.Verdict != c.verdict {
				t.Errorf("-break %s: %s hop %s (%s), want %s", c.b, c.hop, h.Verdict, h.Summary, c.verdict)
			}
			if left := demo.Residue(tmp, true); len(left) > 0 {
				t.Errorf("-demo -break %s left: %v", c.b, left)
			}
		})
	}
}
