package testutil

import (
	"os"
	"path/filepath"
	"testing"
)

// SearchableTempDir is a tb.TempDir() whose parents others may search
// (up to os.TempDir()): dnsmasq reads its files as nobody.
func SearchableTempDir(tb testing.TB) string {
	tb.Helper()
	dir := tb.TempDir()
	for p := dir; p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	return dir
}
