package launch

import (
	"regexp"
	"testing"
	"unicode/utf8"
)

func TestRegexpQuoteMatchesOnlyTheName(t *testing.T) {
	for _, name := range []string{"cirros1", "web.01", "a+b (test)", "café", "東京-vm", "x*y?z[1]", `back\slash`, "sp ace$^|"} {
		q := regexpQuote(name)
		if !utf8.ValidString(q) {
			t.Errorf("regexpQuote(%q) = %q: invalid UTF-8", name, q)
			continue
		}
		re, err := regexp.Compile("^" + q + "$")
		if err != nil {
			t.Errorf("regexpQuote(%q) = %q: %v", name, q, err)
			continue
		}
		if !re.MatchString(name) {
			t.Errorf("^%s$ does not match %q", q, name)
		}
		if re.MatchString(name+"x") || re.MatchString("x"+name) {
			t.Errorf("^%s$ matches more than %q", q, name)
		}
	}
	if regexp.MustCompile("^" + regexpQuote("web.01") + "$").MatchString("webX01") {
		t.Error(`"." in a name is not escaped`)
	}
}
