package trace

import (
	"bytes"
	"encoding/json"
	"os"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/firewall"
)

func hopNamed(hops []Hop, name string) *Hop {
	for i := range hops {
		if hops[i].Name == name {
			return &hops[i]
		}
	}
	return nil
}

// TestJudgeAmongDelete: the recorded healthy node (one --among-src rule
// in neutronMAC-tap63035db3-59) under each ebtables the agent may run.
func TestJudgeAmongDelete(t *testing.T) {
	base := loadFacts(t, "healthy").Snapshot
	for _, tc := range []struct {
		name    string
		tool    *firewall.EbtablesTool
		noAmong bool
		verdict Verdict
		has     []string
	}{
		{"1.8.9 bare", &firewall.EbtablesTool{Path: "/usr/sbin/ebtables", Real: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: firewall.BackendNFT}, false, Warn,
			[]string{"the linuxbridge agent will loop on RULE_DELETE after a restart (new ports stay BUILD)", "neutronMAC-tap63035db3-59#1"}},
		{"1.8.9 behind another script", &firewall.EbtablesTool{Path: "/usr/local/sbin/ebtables", Wrapper: firewall.WrapperOther, Real: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: firewall.BackendNFT}, false, Warn,
			[]string{"loop on RULE_DELETE", "/usr/local/sbin/ebtables is a script in front of it"}},
		{"1.8.9 behind the aio wrapper", &firewall.EbtablesTool{Path: "/usr/local/sbin/ebtables", Wrapper: firewall.WrapperAIO, Real: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: firewall.BackendNFT}, false, OK,
			[]string{"aio/ebtables-among.sh"}},
		{"1.8.9 without among rules", &firewall.EbtablesTool{Path: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: firewall.BackendNFT}, true, OK,
			[]string{"no anti-spoofing rule uses an among match"}},
		{"a version not known to fail", &firewall.EbtablesTool{Path: "/usr/sbin/ebtables", Version: "ebtables 1.8.11 (nf_tables)", Backend: firewall.BackendNFT}, false, OK,
			[]string{"not known to fail"}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			b, _ := json.Marshal(base)
			var s firewall.Snapshot
			if err := json.Unmarshal(b, &s); err != nil {
				t.Fatal(err)
			}
			s.EbtablesTool = tc.tool
			if tc.noAmong {
				s.Ebtables = &firewall.EbTable{Backend: firewall.BackendNFT, Name: "nat"}
			}
			h := hopNamed(JudgeFirewallHost(&s, nil), "ebtables-among-delete")
			if h == nil {
				t.Fatal("no ebtables-among-delete hop")
			}
			if h.Verdict != tc.verdict {
				t.Errorf("%s %q, want %s", h.Verdict, h.Summary, tc.verdict)
			}
			for _, w := range tc.has {
				if !strings.Contains(h.Summary, w) {
					t.Errorf("summary %q lacks %q", h.Summary, w)
				}
			}
			if h.Verdict == Warn && (!strings.Contains(h.Next, "aio/ebtables-among.sh") || !strings.Contains(h.Next, "upgrade")) {
				t.Errorf("next step %q names neither the aio wrapper nor an upgrade", h.Next)
			}
		})
	}
	// Read in a namespace standing in for a node (the demo): no agent
	// there, so the risk is said but does not raise the verdict.
	{
		b, _ := json.Marshal(base)
		var s firewall.Snapshot
		json.Unmarshal(b, &s)
		s.NetNS = "/run/netns/demo"
		s.EbtablesTool = &firewall.EbtablesTool{Path: "/usr/sbin/ebtables", Version: "ebtables 1.8.9 (nf_tables)", Backend: firewall.BackendNFT}
		if h := hopNamed(JudgeFirewallHost(&s, nil), "ebtables-among-delete"); h == nil || h.Verdict != Unknown || !strings.Contains(h.Summary, "loop on RULE_DELETE") {
			t.Errorf("in a namespace: %+v, want unknown still naming the risk", h)
		}
	}
	// An older recording (no tool read): no hop, not a wrong verdict.
	if h := hopNamed(JudgeFirewallHost(base, nil), "ebtables-among-delete"); h != nil {
		t.Errorf("a snapshot without EbtablesTool got %+v", h)
	}
}

// TestTraceNamesStaleTaps replays the recorded aio server trace with the
// recorded firewall of a port whose tap is not on this node's bridges:
// the server trace's host checks name that tap as stale, with the
// agent's among-delete failure as the cause.
func TestTraceNamesStaleTaps(t *testing.T) {
	b, err := os.ReadFile("testdata/observations/aio-healthy.json")
	if err != nil {
		t.Fatal(err)
	}
	var obs Observation
	if err := json.Unmarshal(b, &obs); err != nil {
		t.Fatal(err)
	}
	obs.Firewall = &FirewallObs{Before: loadFacts(t, "healthy").Snapshot}
	st, err := JudgeServer(&obs)
	if err != nil {
		t.Fatal(err)
	}
	var buf bytes.Buffer
	if err := st.WriteText(&buf); err != nil {
		t.Fatal(err)
	}
	var stale *Hop
	for _, tr := range st.Traces {
		if h := hopNamed(tr.Hops, "firewall-stale"); h != nil {
			stale = h
		}
	}
	if stale == nil {
		t.Fatalf("no firewall-stale hop in the server trace:\n%s", buf.String())
	}
	if stale.Verdict != Warn || !strings.Contains(stale.Summary, "tap63035db3-59") || !strings.Contains(stale.Cause, "among") {
		t.Errorf("firewall-stale: %s %q (cause %q), want warn naming tap63035db3-59", stale.Verdict, stale.Summary, stale.Cause)
	}
	if !strings.Contains(buf.String(), "tap63035db3-59") {
		t.Errorf("the rendered trace does not name the stale tap:\n%s", buf.String())
	}
}

// TestScopedSnapshotStaleUnknown: the same recorded firewall, marked as
// read for one tap only (firewall.Config.Taps), cannot say whether
// other taps' chains are stale: the firewall-stale hop is Unknown, says
// node-wide checks need -all or the exporter, and names no tap as stale
// (neither a wrong OK nor a wrong warning); the other host checks are
// judged as from the whole read.
func TestScopedSnapshotStaleUnknown(t *testing.T) {
	whole := loadFacts(t, "healthy").Snapshot
	scoped := *whole
	scoped.Scope = []string{"tap31f2d3e9-8d"}
	present := []string{"tap31f2d3e9-8d"}
	hw, hs := JudgeFirewallHost(whole, present), JudgeFirewallHost(&scoped, present)
	if len(hw) != len(hs) {
		t.Fatalf("whole read %d host hops, scoped %d", len(hw), len(hs))
	}
	for i := range hw {
		if hw[i].Name != "firewall-stale" {
			if hw[i].Verdict != hs[i].Verdict || hw[i].Summary != hs[i].Summary {
				t.Errorf("%s: whole %s %q, scoped %s %q", hw[i].Name, hw[i].Verdict, hw[i].Summary, hs[i].Verdict, hs[i].Summary)
			}
			continue
		}
		if hw[i].Verdict != Warn {
			t.Fatalf("the whole read's firewall-stale is %s %q: the recording should have a stale tap", hw[i].Verdict, hw[i].Summary)
		}
		h := hs[i]
		if h.Verdict != Unknown || !strings.Contains(h.Summary, "-all or the exporter") || strings.Contains(h.Summary, "tap63035db3-59") {
			t.Errorf("scoped firewall-stale: %s %q, want unknown saying node-wide checks need -all or the exporter", h.Verdict, h.Summary)
		}
	}
}
