package firewall

import (
	"os"
	"path/filepath"
	"testing"
)

func TestEbtablesTool(t *testing.T) {
	for _, tc := range []struct {
		out     string
		version string
		backend Backend
		fails   bool
	}{
		{"ebtables 1.8.9 (nf_tables)\n", "1.8.9", BackendNFT, true},
		{"ebtables 1.8.10 (nf_tables)\n", "1.8.10", BackendNFT, false},
		{"ebtables v2.0.11 (legacy) (December 2011)\n", "2.0.11", BackendLegacy, false},
		{"", "", "", false},
	} {
		line, b := parseEbtablesVersion(tc.out)
		tool := EbtablesTool{Version: line, Backend: b}
		if tool.VersionNumber() != tc.version || b != tc.backend || tool.AmongDeleteFails() != tc.fails {
			t.Errorf("%q: version %q backend %q fails %v, want %q %q %v", tc.out, tool.VersionNumber(), b, tool.AmongDeleteFails(), tc.version, tc.backend, tc.fails)
		}
		tool.Wrapper = WrapperAIO
		if tool.AmongDeleteFails() {
			t.Errorf("%q behind the aio wrapper still reported failing", tc.out)
		}
	}
}

// TestAgentEbtables resolves `ebtables` in a search path as the agent
// does: the first hit wins, a script is a wrapper, the aio's is known by
// its marker (the real aio/ebtables-among.sh is read).
func TestAmongRules(t *testing.T) {
	for dir, want := range map[string]int{"healthy": 1, "mac-removed": 0} {
		b, err := os.ReadFile(filepath.Join("testdata/zed-aio", dir, "ebtables-nat.txt"))
		if err != nil {
			t.Fatal(err)
		}
		eb, err := ParseEbtablesList(string(b), BackendNFT)
		if err != nil {
			t.Fatal(err)
		}
		if got := (&Snapshot{Ebtables: eb}).AmongRules(); len(got) != want {
			t.Errorf("%s: %d among rules, want %d: %+v", dir, len(got), want, got)
		}
	}
}

func TestSaveHeaderVersion(t *testing.T) {
	b, err := os.ReadFile("testdata/zed-aio/healthy/iptables-save-nft.txt")
	if err != nil {
		t.Fatal(err)
	}
	if v := saveHeaderVersion(string(b)); v != "1.8.9" {
		t.Errorf("version %q from the recorded save, want 1.8.9", v)
	}
	if v := saveHeaderVersion("*filter\n"); v != "" {
		t.Errorf("version %q from a save without header", v)
	}
}
