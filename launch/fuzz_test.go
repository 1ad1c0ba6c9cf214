package launch

import (
	"net/http"
	"strings"
	"testing"
)

// Error bodies and headers come from the cloud: parsing them must never
// panic, and a message never exceeds its bound.
func FuzzServiceMessage(f *testing.F) {
	for _, s := range []string{
		`{"badRequest": {"code": 400, "message": "Unavailable console type novnc."}}`,
		`{"NeutronError": {"type": "SecurityGroupRuleExists", "message": "Security group rule already exists.", "detail": ""}}`,
		`{"error": {"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}}`,
		"404 Not Found\n\nThe resource could not be found.\n\n   ", ``, `{"message": 3}`, `[]`,
	} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, body string) {
		m := serviceMessage([]byte(body))
		if m == "" {
			t.Fatalf("empty message for %q", body)
		}
		if !strings.HasPrefix(strings.TrimSpace(body), "{") && len(m) > 204 {
			t.Fatalf("message of %d bytes", len(m))
		}
		h := http.Header{}
		h.Set("Retry-After", body)
		if d := parseRetryAfter(h); d < 0 {
			t.Fatalf("negative Retry-After %v", d)
		}
		_ = parseTime(body)
	})
}

func TestParseTimeShapes(t *testing.T) {
	for _, s := range []string{"2026-11-24T06:09:55.000000", "2026-11-24 06:00:19", "2026-11-24T06:01:43Z", "2026-11-24T07:09:55.000000Z"} {
		if parseTime(s).IsZero() {
			t.Errorf("parseTime(%q) is zero", s)
		}
	}
	h := http.Header{"Retry-After": {"7"}}
	if d := parseRetryAfter(h); d.Seconds() != 7 {
		t.Errorf("Retry-After 7 = %v", d)
	}
}
