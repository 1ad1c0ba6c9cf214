package hwaddr

import (
	"encoding/json"
	"net"
	"strings"
	"testing"
)

func TestMACJSONRoundTrip(t *testing.T) {
	type rec struct {
		MAC  MAC   `json:"mac"`
		Opt  MAC   `json:"opt,omitempty"`
		Many []MAC `json:"many"`
	}
	in := rec{MAC: MustParse("FA:16:3E:8C:4D:2A"), Many: []MAC{MustParse("fe-16-3e-00-00-01"), nil}}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	const want = `{"mac":"fa:16:3e:8c:4d:2a","many":["fe:16:3e:00:00:01",""]}`
	if string(b) != want {
		t.Fatalf("marshal = %s, want %s", b, want)
	}
	var out rec
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if !out.MAC.Equal(in.MAC) || out.Opt != nil || len(out.Many) != 2 || !out.Many[0].Equal(in.Many[0]) || out.Many[1] != nil {
		t.Fatalf("round trip = %+v, want %+v", out, in)
	}
}

func TestMACParseErrors(t *testing.T) {
	for _, s := range []string{"", "fa:16:3e", "zz:16:3e:8c:4d:2a", "fa:16:3e:8c:4d:2a:"} {
		_, err := Parse(s)
		if err == nil || !strings.Contains(err.Error(), "hwaddr: bad MAC") {
			t.Errorf("Parse(%q) err = %v, want a hwaddr: bad MAC error", s, err)
		}
	}
	var m MAC
	if err := json.Unmarshal([]byte(`"nonsense"`), &m); err == nil {
		t.Error("unmarshal of nonsense succeeded")
	}
}

func TestMACConverts(t *testing.T) {
	hw, _ := net.ParseMAC("fa:16:3e:8c:4d:2a")
	m := MAC(hw)
	if m.String() != hw.String() || net.HardwareAddr(m).String() != "fa:16:3e:8c:4d:2a" {
		t.Fatalf("conversion changed the address: %s", m)
	}
	if !MAC(nil).IsZero() || m.IsZero() {
		t.Fatal("IsZero wrong")
	}
}

func FuzzMACText(f *testing.F) {
	for _, s := range []string{"fa:16:3e:8c:4d:2a", "", "0000.5e00.5301", "02-00-5e-10-00-00-00-01"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, s string) {
		var m MAC
		if err := m.UnmarshalText([]byte(s)); err != nil {
			return
		}
		b, err := m.MarshalText()
		if err != nil {
			t.Fatal(err)
		}
		var back MAC
		if err := back.UnmarshalText(b); err != nil || !back.Equal(m) {
			t.Fatalf("%q -> %q -> %v (%v)", s, b, back, err)
		}
	})
}
