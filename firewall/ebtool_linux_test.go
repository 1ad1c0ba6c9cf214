package firewall

import (
	"os"
	"path/filepath"
	"testing"
)

func TestAgentEbtables(t *testing.T) {
	aio, err := os.ReadFile("../aio/ebtables-among.sh")
	if err != nil {
		t.Fatal(err)
	}
	local, sbin, empty := t.TempDir(), t.TempDir(), t.TempDir()
	if err := os.WriteFile(filepath.Join(sbin, "ebtables"), []byte("\x7fELF\x02\x01"), 0o755); err != nil {
		t.Fatal(err)
	}
	for _, tc := range []struct {
		script  []byte
		wrapper string
	}{{aio, WrapperAIO}, {[]byte("#!/bin/sh\nexec /usr/sbin/ebtables \"$@\"\n"), WrapperOther}, {nil, ""}} {
		p := filepath.Join(local, "ebtables")
		os.Remove(p)
		want := filepath.Join(sbin, "ebtables")
		if tc.script != nil {
			if err := os.WriteFile(p, tc.script, 0o755); err != nil {
				t.Fatal(err)
			}
			want = p
		}
		got := agentEbtables(&Config{EbtablesPath: []string{empty, local, sbin}})
		if got.Path != want || got.Wrapper != tc.wrapper {
			t.Errorf("found %q wrapper %q, want %q wrapper %q", got.Path, got.Wrapper, want, tc.wrapper)
		}
	}
}
