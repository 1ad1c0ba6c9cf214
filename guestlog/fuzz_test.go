package guestlog

import (
	"os"
	"path/filepath"
	"strings"
	"testing"
	"unicode/utf8"
)

func FuzzParse(f *testing.F) {
	files, _ := filepath.Glob("testdata/*.log")
	for _, p := range files {
		b, err := os.ReadFile(p)
		if err == nil {
			f.Add(b)
		}
	}
	f.Add([]byte("udhcpc: broadcasting select for 1.2.3.4, server \x00\xff"))
	f.Fuzz(func(t *testing.T, b []byte) {
		ev := Parse(b)
		lines := strings.Count(string(b), "\n") + 1
		last := 0
		for _, e := range ev {
			if e.Line <= last || e.Line > lines {
				t.Fatalf("event line %d out of order or past %d lines", e.Line, lines)
			}
			last = e.Line
			if len(e.Text) > MaxLineLen || !utf8.ValidString(e.Text) && utf8.ValidString(string(b)) {
				t.Fatalf("event text %q not cleaned", e.Text)
			}
			if e.Kind == "" || e.Source == "" {
				t.Fatalf("event without kind or source: %+v", e)
			}
		}
		s := Summarize(ev)
		if s.Events != len(ev) || s.DiscoversSinceLease > s.Discovers {
			t.Fatalf("summary inconsistent: %+v", s)
		}
	})
}
