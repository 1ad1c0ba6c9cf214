package trace_test

import (
	"encoding/json"
	"errors"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

func TestParseRole(t *testing.T) {
	for in, want := range map[string]trace.Role{"": trace.RoleAllInOne, "aio": trace.RoleAllInOne, "All-In-One": trace.RoleAllInOne,
		"both": trace.RoleAllInOne, "compute": trace.RoleCompute, " NETWORK ": trace.RoleNetwork} {
		if got, err := trace.ParseRole(in); err != nil || got != want {
			t.Errorf("ParseRole(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	if _, err := trace.ParseRole("controller"); !errors.Is(err, trace.ErrRole) {
		t.Errorf("ParseRole(controller) = %v, want ErrRole", err)
	}
	if s := trace.Role("").String(); s != "aio" {
		t.Errorf("zero role String() = %q", s)
	}
}

// Role selection: the zero value is all-in-one, SkipDHCP is the compute
// role, and contradictions are errors.
func TestEffectiveRole(t *testing.T) {
	for _, c := range []struct {
		cfg  *trace.Config
		want trace.Role
		err  bool
	}{
		{cfg: nil, want: trace.RoleAllInOne},
		{cfg: &trace.Config{}, want: trace.RoleAllInOne},
		{cfg: &trace.Config{SkipDHCP: true}, want: trace.RoleCompute},
		{cfg: &trace.Config{Role: trace.RoleCompute, SkipDHCP: true}, want: trace.RoleCompute},
		{cfg: &trace.Config{Role: trace.RoleCompute}, want: trace.RoleCompute},
		{cfg: &trace.Config{Role: trace.RoleNetwork}, want: trace.RoleNetwork},
		{cfg: &trace.Config{Role: trace.RoleAllInOne}, want: trace.RoleAllInOne},
		{cfg: &trace.Config{Role: trace.RoleNetwork, SkipDHCP: true}, err: true},
		{cfg: &trace.Config{Role: trace.RoleAllInOne, SkipDHCP: true}, err: true},
		{cfg: &trace.Config{Role: "Compute"}, err: true},
	} {
		got, err := c.cfg.EffectiveRole()
		if c.err {
			if !errors.Is(err, trace.ErrRole) {
				t.Errorf("%+v: %q, %v; want ErrRole", c.cfg, got, err)
			}
			continue
		}
		if err != nil || got != c.want {
			t.Errorf("%+v: %q, %v; want %q", c.cfg, got, err, c.want)
		}
	}
}

func TestRoleJSON(t *testing.T) {
	b, err := json.Marshal(&trace.Trace{Role: trace.RoleNetwork})
	if err != nil {
		t.Fatal(err)
	}
	var m map[string]any
	json.Unmarshal(b, &m)
	if m["role"] != "network" {
		t.Errorf("role in JSON = %v: %s", m["role"], b)
	}
	var back trace.Trace
	if err := json.Unmarshal(b, &back); err != nil || back.Role != trace.RoleNetwork {
		t.Errorf("back: %q, %v", back.Role, err)
	}
	if b, _ := json.Marshal(&trace.Trace{}); !json.Valid(b) || !strings.Contains(string(b), `"role":"aio"`) {
		t.Errorf("zero role JSON: %s", b)
	}
	if err := json.Unmarshal([]byte(`{"role":"controller"}`), &back); !errors.Is(err, trace.ErrRole) {
		t.Errorf("bad role JSON: %v", err)
	}
}
