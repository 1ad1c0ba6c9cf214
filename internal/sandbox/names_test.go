package sandbox

import (
	"regexp"
	"strings"
	"testing"
)

func TestRandNames(t *testing.T) {
	for _, p := range []string{"", "sb", "veryveryverylongprefix"} {
		n := RandName(p)
		if len(n) != IfNameMax {
			t.Errorf("RandName(%q) = %q: %d characters, want %d", p, n, len(n), IfNameMax)
		}
		if want := p; len(want) > IfNameMax-2 {
			want = want[:IfNameMax-2]
			if !strings.HasPrefix(n, want) {
				t.Errorf("RandName(%q) = %q lacks the cut prefix %q", p, n, want)
			}
		} else if !strings.HasPrefix(n, p) {
			t.Errorf("RandName(%q) = %q lacks its prefix", p, n)
		}
	}
	if a, b := RandName("sb"), RandName("sb"); a == b {
		t.Errorf("two RandName calls gave the same %q", a)
	}
	uuid := regexp.MustCompile(`^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$`)
	if u := RandUUID(); !uuid.MatchString(u) {
		t.Errorf("RandUUID() = %q, not a UUID", u)
	}
	if m := RandNeutronMAC(); len(m) != 6 || m[0] != 0xfa || m[1] != 0x16 || m[2] != 0x3e {
		t.Errorf("RandNeutronMAC() = %s, want fa:16:3e:…", m)
	}
}
