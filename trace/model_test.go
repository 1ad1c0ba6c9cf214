package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"net"
	"net/netip"
	"strings"
	"testing"
)

func sampleTrace() *Trace {
	mac, _ := net.ParseMAC("fa:16:3e:57:19:35")
	t := &Trace{
		Target:    Target{Tap: "tap31f2d3e9-8d"},
		Tap:       "tap31f2d3e9-8d",
		PortMAC:   MAC(mac),
		NetworkID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6",
		IP:        netip.MustParseAddr("192.168.31.72"),
		Hops: []Hop{
			{Kind: KindTap, Name: "tap31f2d3e9-8d", Verdict: OK, Summary: "up, forwarding on brqc3e375fb-0a",
				Evidence: []Evidence{{"oper_state", "up"}}},
			{Kind: KindPhysicalPort, Name: "eth2", Verdict: Fail, Summary: "eth2 is down",
				Cause: "the provider NIC \"eth2\" is down", Next: "ip link set eth2 up",
				Evidence: []Evidence{{"up", "false"}, {"lower_up", "false"}}},
			{Kind: KindLease, Name: "leases", Verdict: Warn, Summary: "only seeded", Cause: "guest did not DHCP", Next: "console"},
			{Kind: KindHostCheck, Name: "networkmanager", Verdict: Unknown, Summary: "NetworkManager not running"},
		},
	}
	t.Verdict = Worst(t.Hops)
	return t
}

func TestVerdictText(t *testing.T) {
	for v, want := range map[Verdict]string{Unknown: "unknown", OK: "ok", Warn: "warn", Fail: "fail"} {
		if v.String() != want {
			t.Errorf("%d.String() = %q, want %q", v, v.String(), want)
		}
		b, err := json.Marshal(v)
		if err != nil || string(b) != `"`+want+`"` {
			t.Errorf("json(%v) = %s, %v", v, b, err)
		}
		var back Verdict
		if err := json.Unmarshal([]byte(`"`+strings.ToUpper(want)+`"`), &back); err != nil || back != v {
			t.Errorf("unmarshal %q = %v, %v", want, back, err)
		}
	}
	var v Verdict
	if err := v.UnmarshalText([]byte("bad")); err == nil {
		t.Error("UnmarshalText(bad) succeeded")
	}
	if _, err := Verdict(9).MarshalText(); err == nil {
		t.Error("MarshalText(9) succeeded")
	}
}

func TestWorst(t *testing.T) {
	if v := Worst(nil); v != Unknown {
		t.Errorf("Worst(nil) = %v", v)
	}
	if v := Worst([]Hop{{Verdict: Unknown}, {Verdict: OK}}); v != OK {
		t.Errorf("Worst(unknown, ok) = %v", v)
	}
	if v := Worst([]Hop{{Verdict: Warn}, {Verdict: OK}}); v != Warn {
		t.Errorf("Worst(warn, ok) = %v", v)
	}
	if v := sampleTrace().Verdict; v != Fail {
		t.Errorf("sample verdict = %v, want fail", v)
	}
	tr := sampleTrace()
	if f := tr.Failing(); len(f) != 2 || f[0].Kind != KindPhysicalPort || f[1].Kind != KindLease {
		t.Errorf("Failing = %+v", f)
	}
	if h, ok := tr.Hop(KindPhysicalPort, ""); !ok || h.Name != "eth2" {
		t.Errorf("Hop(physical-port) = %+v, %v", h, ok)
	}
	if _, ok := tr.Hop(KindDnsmasq, ""); ok {
		t.Error("Hop(dnsmasq) found in a trace without one")
	}
}

func TestJSONRoundTrip(t *testing.T) {
	tr := sampleTrace()
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	for _, want := range []string{`"verdict":"fail"`, `"kind":"physical-port"`, `"cause":"the provider NIC \"eth2\" is down"`, `"port_mac":"fa:16:3e:57:19:35"`, `{"key":"lower_up","value":"false"}`} {
		if !bytes.Contains(b, []byte(want)) {
			t.Errorf("JSON lacks %s:\n%s", want, b)
		}
	}
	var back Trace
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if back.Verdict != Fail || len(back.Hops) != 4 || back.Hops[1].Verdict != Fail || back.Hops[1].Next != "ip link set eth2 up" || back.PortMAC.String() != "fa:16:3e:57:19:35" {
		t.Errorf("round trip = %+v", back)
	}
}

func TestWriteText(t *testing.T) {
	s := sampleTrace().String()
	lines := strings.Split(s, "\n")
	if !strings.HasPrefix(lines[0], "trace tap tap31f2d3e9-8d: FAIL (tap tap31f2d3e9-8d, mac fa:16:3e:57:19:35, network c3e375fb-0ac1-4b91-9c66-d297e7d090e6, ip 192.168.31.72)") {
		t.Errorf("header = %q", lines[0])
	}
	// The first failing hop, its cause and next step come right under
	// the header (issue 16); the table follows.
	if lines[1] != "first failing hop:" || lines[2] != "2 FAIL physical-port eth2: eth2 is down" || lines[3] != `  cause: the provider NIC "eth2" is down` || lines[4] != "  next:  ip link set eth2 up" {
		t.Errorf("top of the text does not start with the first failing hop:\n%s", s)
	}
	hdr := -1
	for i, l := range lines {
		if strings.Join(strings.Fields(l), " ") == "# VERDICT KIND NAME SUMMARY" {
			hdr = i
			break
		}
	}
	if hdr < 0 {
		t.Fatalf("no table header:\n%s", s)
	}
	if f := strings.Fields(lines[hdr+2]); len(f) < 4 || f[0] != "2" || f[1] != "FAIL" || f[2] != "physical-port" || f[3] != "eth2" {
		t.Errorf("row 2 = %q", lines[hdr+2])
	}
	if strings.Count(s, "  next:  ip link set eth2 up") != 1 {
		t.Errorf("the first failing hop's detail is written twice:\n%s", s)
	}
	for _, want := range []string{
		"\n2 FAIL physical-port eth2: eth2 is down\n  cause: the provider NIC \"eth2\" is down\n  next:  ip link set eth2 up\n  - up: false\n  - lower_up: false\n",
		"\n3 WARN lease leases: only seeded\n  cause: guest did not DHCP\n",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("text lacks %q:\n%s", want, s)
		}
	}
	// OK and unknown hops get no detail block.
	if strings.Contains(s, "\n1 OK") || strings.Contains(s, "\n4 UNKNOWN") {
		t.Errorf("detail block for a hop that is not failing:\n%s", s)
	}
}

func TestWriteDOT(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTrace().WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"digraph trace {",
		`h0 [label="tap\ntap31f2d3e9-8d\nOK", fillcolor=palegreen];`,
		`h1 [label="physical-port\neth2\nFAIL\nthe provider NIC \"eth2\" is down", fillcolor=salmon, color=red, penwidth=3, style="filled,bold"];`,
		`h2 [label="lease\nleases\nWARN\nguest did not DHCP", fillcolor=gold];`,
		`h3 [label="host-check\nnetworkmanager\nUNKNOWN", fillcolor=lightgrey];`,
		"h0 -> h1 [color=red, style=dashed];",
		// Issue 16: the topology, not a chain of hops: the lease is in
		// the qdhcp namespace, the host check aside, neither on the path.
		"subgraph cluster_qdhcp {",
		"subgraph cluster_checks {",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("DOT lacks %s:\n%s", want, s)
		}
	}
	if !strings.HasSuffix(s, "}\n") {
		t.Errorf("DOT not closed:\n%s", s)
	}
	if strings.Contains(s, "h1 -> h2") || strings.Contains(s, "-> h3") {
		t.Errorf("DOT chains hops that are not on one path:\n%s", s)
	}
}

func TestWriteMermaid(t *testing.T) {
	var b bytes.Buffer
	if err := sampleTrace().WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	s := b.String()
	for _, want := range []string{
		"flowchart LR\n",
		`h0["tap<br/>tap31f2d3e9-8d<br/>OK"]:::ok`,
		`h1["physical-port<br/>eth2<br/>FAIL<br/>the provider NIC #quot;eth2#quot; is down"]:::fail`,
		`h2["lease<br/>leases<br/>WARN<br/>guest did not DHCP"]:::warn`,
		`h3["host-check<br/>networkmanager<br/>UNKNOWN"]:::unknown`,
		"h0 -.-> h1\n", "subgraph c_checks[", "linkStyle 0 stroke:#c00",
		"classDef fail fill:#f88,stroke:#c00,stroke-width:4px",
	} {
		if !strings.Contains(s, want) {
			t.Errorf("Mermaid lacks %s:\n%s", want, s)
		}
	}
}

// TestPlainValueIsSprintf checks Hop.add's shortcut gives what fmt.Sprintf
// gives, and declines what it does not handle.
func TestPlainValueIsSprintf(t *testing.T) {
	for _, c := range []struct {
		format string
		arg    any
		ok     bool
	}{
		{"%s", "eth0", true}, {"%s", "", true}, {"%t", true, true}, {"%t", false, true},
		{"%d", 0, true}, {"%d", -42, true}, {"%d", 1500, true},
		{"%q", "x", false}, {"%s", true, false}, {"%d", int64(3), false}, {"%s (x)", "a", false}, {"%v", 1, false},
	} {
		got, ok := plainValue(c.format, []any{c.arg})
		if ok != c.ok {
			t.Errorf("plainValue(%q, %#v) ok = %v, want %v", c.format, c.arg, ok, c.ok)
		}
		if ok && got != fmt.Sprintf(c.format, c.arg) {
			t.Errorf("plainValue(%q, %#v) = %q, Sprintf gives %q", c.format, c.arg, got, fmt.Sprintf(c.format, c.arg))
		}
	}
	if _, ok := plainValue("%s", []any{"a", "b"}); ok {
		t.Error("two arguments taken as plain")
	}
}
