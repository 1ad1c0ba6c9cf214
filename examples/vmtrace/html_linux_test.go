package main

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"testing"
)

// TestIntegrationDemoHTML runs -demo -break tap-down -html FILE: the file
// is the broken server trace's self-contained report, with the failing
// tap, its cause and the picture.
func TestIntegrationDemoHTML(t *testing.T) {
	requireDemo(t)
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	out := filepath.Join(t.TempDir(), "report.html")
	code, stdout, errs := runArgs(context.Background(), "-demo", "-guest", "netns", "-break", "tap-down", "-html", out)
	if code != exitOK {
		t.Fatalf("-demo -html: exit %d\n%s%s", code, stdout, errs)
	}
	b, err := os.ReadFile(out)
	if err != nil {
		t.Fatalf("-html wrote no report: %v", err)
	}
	s := string(b)
	for _, want := range []string{"<!DOCTYPE html>", `id="verdict">FAIL<`, "Server trace: cirros1", "First failing hop", "the tap was set down", "<svg", `class="node fail"`} {
		if !strings.Contains(s, want) {
			t.Errorf("report lacks %q", want)
		}
	}
	if strings.Contains(strings.ToLower(s), "<script") {
		t.Error("report holds a script")
	}
	// A report that cannot be written is an error, after the demo ran.
	code, _, errs = runArgs(context.Background(), "-demo", "-guest", "netns", "-break", "tap-down", "-html", filepath.Join(tmp, "missing", "r.html"))
	if code != exitFail || !strings.Contains(errs, "vmtrace: -html: trace: create the HTML report") {
		t.Errorf("-html into a missing directory: exit %d, stderr %q", code, errs)
	}
}
