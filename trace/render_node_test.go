package trace

import (
	"bytes"
	"encoding/json"
	"fmt"
	"html"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"
)

// loadRecording reads testdata/render/demo-<brk>.json.
func loadRecording(t testing.TB, brk string) demoRecording {
	t.Helper()
	b, err := os.ReadFile("testdata/render/demo-" + brk + ".json")
	if err != nil {
		t.Fatal(err)
	}
	var rec demoRecording
	if err := json.Unmarshal(b, &rec); err != nil {
		t.Fatal(err)
	}
	return rec
}

// cloneTrace deep-copies t through JSON (a result round-trips).
func cloneTrace(t testing.TB, tr *Trace) *Trace {
	t.Helper()
	b, err := json.Marshal(tr)
	if err != nil {
		t.Fatal(err)
	}
	var out Trace
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	return &out
}

// rename gives a copy of a recorded trace its own tap, IP and bridge, as
// the n-th NIC of a node.
func rename(tr *Trace, n int, bridge string) {
	oldTap, oldBr := tr.Tap, ""
	if h, ok := tr.Hop(KindBridge, ""); ok {
		oldBr = h.Name
	}
	tap := fmt.Sprintf("tap%08x-%02x", n, n%256)
	tr.Tap = tap
	tr.Target = Target{Tap: tap}
	tr.IP = netip.AddrFrom4([4]byte{10, byte(n / 65536), byte(n / 256 % 256), byte(n % 256)})
	for i := range tr.Hops {
		h := &tr.Hops[i]
		h.Name = strings.ReplaceAll(h.Name, oldTap, tap)
		if oldBr != "" {
			h.Name = strings.ReplaceAll(h.Name, oldBr, bridge)
		}
		if h.Kind == KindServer {
			h.Name = fmt.Sprintf("vm%d", n)
		}
	}
}

// syntheticNode is a node of n VM NICs on two bridges, built from the
// recorded demo traces: every 20th NIC broken by one of the recorded
// breaks, the rest healthy; two orphans; the recording's host checks.
func syntheticNode(t testing.TB, n int) *NodeTrace {
	t.Helper()
	breaks := []string{"tap-down", "dnsmasq", "fdb-never-learned", "dup-ip", "lease-seeded", "hosts-entry", "uplink"}
	recs := map[string]demoRecording{}
	for _, b := range breaks {
		recs[b] = loadRecording(t, b)
	}
	healthy := recs["dnsmasq"].Healthy
	nt := &NodeTrace{Node: "compute1", Role: RoleAllInOne, Started: healthy.Started, Duration: 25 * time.Millisecond}
	for i := range n {
		src := healthy
		if i%20 == 7 {
			src = recs[breaks[(i/20)%len(breaks)]].Broken
		}
		tr := cloneTrace(t, src)
		var checks []Hop
		for _, h := range tr.Hops {
			if h.Kind == KindHostCheck {
				if i == 0 {
					nt.HostChecks = append(nt.HostChecks, h)
				}
				continue
			}
			checks = append(checks, h)
		}
		tr.Hops = checks
		rename(tr, i, fmt.Sprintf("brq%08x-%02x", i%2, i%2))
		nt.Traces = append(nt.Traces, tr)
	}
	nt.Orphans = []Orphan{
		{Kind: OrphanTapNoDomain, Name: "tapdeadbeef-00", Verdict: Warn, Detail: "tap on brq00000000-00 with no libvirt interface"},
		{Kind: OrphanPortNoTap, Name: "5e6f7a8b-0000-4000-8000-000000000000", Verdict: Fail, Detail: "port bound here, no tap"},
	}
	var all []Hop
	for _, tr := range nt.Traces {
		all = append(all, Hop{Verdict: tr.Verdict})
	}
	for _, o := range nt.Orphans {
		all = append(all, Hop{Verdict: o.Verdict})
	}
	nt.Verdict = Worst(append(all, nt.HostChecks...))
	return nt
}

// TestNodePicture draws a node of 200 NICs: the healthy ones collapse
// into one count per bridge, every broken one is drawn and marked, both
// bridges, their physical NIC and DHCP namespace, the orphans and the
// host checks are there, and the picture stays small.
func TestNodePicture(t *testing.T) {
	nt := syntheticNode(t, 200)
	var dot, mmd bytes.Buffer
	if err := nt.WriteDOT(&dot); err != nil {
		t.Fatal(err)
	}
	if err := nt.WriteMermaid(&mmd); err != nil {
		t.Fatal(err)
	}
	d := parseDOT(t, dot.String())
	bad, good := 0, 0
	for i, tr := range nt.Traces {
		id := fmt.Sprintf("nic%d", i)
		_, drawn := d.kind[id]
		switch {
		case tr.Verdict == OK && drawn:
			t.Errorf("healthy NIC %d drawn one by one among 200", i)
		case tr.Verdict != OK && !drawn:
			t.Errorf("NIC %d (%s) not drawn", i, tr.Verdict)
		case tr.Verdict == Fail && !strings.Contains(d.attrs[id], "color=red"):
			t.Errorf("failing NIC %d not marked: %q", i, d.attrs[id])
		case tr.Verdict == Fail:
			if e, ok := d.edge(id, "b"+fmt.Sprint(i%2)); !ok || !strings.Contains(e.attrs, "color=red") {
				t.Errorf("failing NIC %d: edge to its bridge %+v %v", i, e, ok)
			}
		}
		if tr.Verdict == OK {
			good++
		} else {
			bad++
		}
	}
	okOn := map[string]int{}
	for _, tr := range nt.Traces {
		if tr.Verdict == OK {
			okOn[nicBridge(tr)]++
		}
	}
	for _, want := range []string{"healthy0", "healthy1", "subgraph cluster_orphans", "tapdeadbeef-00", "subgraph cluster_checks",
		`"bridge\nbrq00000000-00\n`, `"bridge\nbrq00000001-01\n`, "physical-port", "dhcp-namespace\\nqdhcp-"} {
		if bad == 0 || good == 0 {
			t.Fatal("the synthetic node lacks healthy or broken NICs")
		}
		if b, ok := strings.CutPrefix(want, "healthy"); ok {
			want = fmt.Sprintf(`"%d healthy VM NICs\nOK`, okOn[fmt.Sprintf("brq0000000%s-0%s", b, b)])
		}
		if !strings.Contains(dot.String(), want) {
			t.Errorf("node DOT lacks %q", want)
		}
	}
	if n := len(d.kind); n > 40 {
		t.Errorf("node picture of 200 NICs has %d boxes: not collapsed", n)
	}
	if !strings.Contains(mmd.String(), ":::fail") || !strings.Contains(mmd.String(), "subgraph c_br0[") {
		t.Errorf("node Mermaid lacks failing NICs or the bridge subgraph:\n%s", mmd.String())
	}
	checkLayout(t, nodeGraph(nt))
	// A small node: every NIC drawn.
	small := syntheticNode(t, 8)
	dot.Reset()
	small.WriteDOT(&dot)
	if d := parseDOT(t, dot.String()); len(d.idsOf("tap00000007-07")) != 1 || len(d.idsOf("tap00000000-00")) != 1 {
		t.Errorf("small node: NICs missing:\n%s", dot.String())
	}
}

// TestNodePicture200UnderASecond is issue 16's bound: the 200-NIC node's
// picture (DOT, Mermaid and the HTML report with its SVG) in under a
// second.
func TestNodePicture200UnderASecond(t *testing.T) {
	nt := syntheticNode(t, 200)
	start := time.Now()
	var b bytes.Buffer
	if err := nt.WriteDOT(&b); err != nil {
		t.Fatal(err)
	}
	if err := nt.WriteMermaid(&b); err != nil {
		t.Fatal(err)
	}
	if err := nt.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("200-NIC node rendered in %s, want under 1 s", d)
	} else {
		t.Logf("200-NIC node: DOT, Mermaid and HTML (%d bytes) in %s", b.Len(), d)
	}
}

// BenchmarkNodePicture200 renders a 200-NIC node's HTML report (its SVG
// laid out in Go) and, in the same run, times Graphviz laying out and
// rendering the same picture (`dot -Tsvg` of WriteDOT's output), the
// CLI way to get an SVG of it.
func BenchmarkNodePicture200(b *testing.B) {
	nt := syntheticNode(b, 200)
	var dot bytes.Buffer
	if err := nt.WriteDOT(&dot); err != nil {
		b.Fatal(err)
	}
	dotPath, dotErr := exec.LookPath("dot")
	var lib, cli, maxLib time.Duration
	b.ResetTimer()
	for range b.N {
		start := time.Now()
		var out bytes.Buffer
		if err := nt.WriteHTML(&out); err != nil {
			b.Fatal(err)
		}
		d := time.Since(start)
		lib += d
		maxLib = max(maxLib, d)
		if dotErr == nil {
			start = time.Now()
			cmd := exec.Command(dotPath, "-Tsvg")
			cmd.Stdin = bytes.NewReader(dot.Bytes())
			if err := cmd.Run(); err != nil {
				b.Fatal(err)
			}
			cli += time.Since(start)
		}
	}
	b.StopTimer()
	n := float64(b.N)
	b.ReportMetric(float64(lib.Microseconds())/n/1000, "html-ms/op")
	b.ReportMetric(float64(maxLib.Microseconds())/1000, "html-max-ms")
	if dotErr == nil {
		b.ReportMetric(float64(cli.Microseconds())/n/1000, "dot-svg-ms/op")
		b.ReportMetric(float64(cli)/float64(lib), "x-faster-than-dot")
	}
	if maxLib > time.Second {
		b.Errorf("slowest 200-NIC render took %s, the issue asks for under 1 s", maxLib)
	}
}

// TestWriteHTML checks the reports' content from the recordings: the
// verdict, the first failing hop's cause and next step before the
// picture, every hop's evidence, the timings; the server report holds
// each port's trace; WriteHTMLFile writes the same bytes.
func TestWriteHTML(t *testing.T) {
	rec := loadRecording(t, "dnsmasq")
	var b bytes.Buffer
	if err := rec.Broken.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s := html.UnescapeString(b.String())
	_, h, _ := rec.Broken.firstFailing()
	if h.Kind != KindDnsmasq {
		t.Fatalf("first failing hop %s, want dnsmasq", h.Kind)
	}
	cause := strings.Index(s, (h.Cause))
	next := strings.Index(s, (h.Next))
	pic := strings.Index(s, "<svg")
	if cause < 0 || next < 0 || pic < 0 || cause > pic || next > pic {
		t.Errorf("cause at %d, next at %d, picture at %d: want the cause and next step before the picture", cause, next, pic)
	}
	for _, want := range []string{`id="verdict">FAIL</span>`, "<title>vifpath trace", "took</td>", "started</td>", "@media print",
		`<tr class="v-fail">`, `id="hop-10"`} {
		if !strings.Contains(s, want) {
			t.Errorf("HTML lacks %q", want)
		}
	}
	for _, hop := range rec.Broken.Hops {
		for _, e := range hop.Evidence {
			if !strings.Contains(s, (e.Value)) {
				t.Errorf("HTML lacks %s's evidence %s=%q", hop.Kind, e.Key, e.Value)
			}
		}
	}
	if strings.Contains(strings.ToLower(s), "<script") {
		t.Error("HTML holds a script")
	}
	// The server report: one section per port.
	st := &ServerTrace{ServerID: "926b964b", ServerName: "cirros1", Status: "ACTIVE", Verdict: Fail, Traces: []*Trace{rec.Healthy, rec.Broken}}
	b.Reset()
	if err := st.WriteHTML(&b); err != nil {
		t.Fatal(err)
	}
	s = html.UnescapeString(b.String())
	if strings.Count(s, `<section class="port">`) != 2 || strings.Count(s, `id="verdict"`) != 1 || !strings.Contains(s, "cirros1 (926b964b)") ||
		!strings.Contains(s, `id="p2-hop-10"`) || !strings.Contains(s, (h.Cause)) {
		t.Errorf("server report: want two port sections, one page verdict, per-port anchors and the cause")
	}
	path := filepath.Join(t.TempDir(), "r.html")
	if err := WriteHTMLFile(path, st); err != nil {
		t.Fatal(err)
	}
	if got, err := os.ReadFile(path); err != nil || !bytes.Equal(got, b.Bytes()) {
		t.Errorf("WriteHTMLFile wrote %d bytes (%v), want the %d WriteHTML writes", len(got), err, b.Len())
	}
	if err := WriteHTMLFile(filepath.Join(t.TempDir(), "no", "such", "dir.html"), st); err == nil || !strings.HasPrefix(err.Error(), "trace: ") {
		t.Errorf("WriteHTMLFile into a missing directory: %v", err)
	}
}
