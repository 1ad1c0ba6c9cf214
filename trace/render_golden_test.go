package trace

import (
	"bytes"
	"encoding/json"
	"flag"
	"os"
	"path/filepath"
	"regexp"
	"sort"
	"strconv"
	"strings"
	"testing"
)

var updateGolden = flag.Bool("update", false, "rewrite the golden files under testdata/render")

// demoRecording is what `vmtrace -demo -break X -json` printed (see
// testdata/render/README.md): the healthy and the broken trace of the
// demo's server.
type demoRecording struct {
	Break   string `json:"break"`
	Healthy *Trace `json:"healthy"`
	Broken  *Trace `json:"broken"`
}

// renderCase is one trace drawn by the golden tests.
type renderCase struct {
	name  string // golden file stem
	brk   string // the demo's -break, "" for the healthy trace
	trace *Trace
}

func renderCases(t testing.TB) []renderCase {
	t.Helper()
	files, err := filepath.Glob("testdata/render/demo-*.json")
	if err != nil || len(files) == 0 {
		t.Fatalf("no recordings under testdata/render: %v", err)
	}
	sort.Strings(files)
	var cases []renderCase
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var rec demoRecording
		if err := json.Unmarshal(b, &rec); err != nil {
			t.Fatalf("%s: %v", f, err)
		}
		if rec.Healthy == nil || rec.Broken == nil || rec.Break == "" {
			t.Fatalf("%s: not a -demo -json recording", f)
		}
		if rec.Break == "dnsmasq" {
			// The healthy picture is the libvirt guest's (the dnsmasq
			// recording's first trace): every hop judged.
			cases = append([]renderCase{{name: "healthy", trace: rec.Healthy}}, cases...)
		}
		cases = append(cases, renderCase{name: "break-" + rec.Break, brk: rec.Break, trace: rec.Broken})
	}
	return cases
}

// golden compares got with testdata/render/name (rewriting it with
// -update).
func golden(t *testing.T, name string, got []byte) {
	t.Helper()
	path := filepath.Join("testdata", "render", name)
	if *updateGolden {
		if err := os.WriteFile(path, got, 0o644); err != nil {
			t.Fatal(err)
		}
		return
	}
	want, err := os.ReadFile(path)
	if err != nil {
		t.Fatalf("%v (run go test ./trace -run TestRenderGolden -update to write it)", err)
	}
	if !bytes.Equal(want, got) {
		t.Errorf("%s differs from the golden file (-want +got):\n%s", path, lineDiff(string(want), string(got)))
	}
}

// lineDiff is a crude line diff: the lines only in want (-) or got (+).
func lineDiff(want, got string) string {
	in := func(s string) map[string]int {
		m := map[string]int{}
		for _, l := range strings.Split(s, "\n") {
			m[l]++
		}
		return m
	}
	w, g := in(want), in(got)
	var b strings.Builder
	for _, l := range strings.Split(want, "\n") {
		if g[l] == 0 {
			b.WriteString("-" + l + "\n")
		}
	}
	for _, l := range strings.Split(got, "\n") {
		if w[l] == 0 {
			b.WriteString("+" + l + "\n")
		}
	}
	return b.String()
}

var (
	dotEdge  = regexp.MustCompile(`^\s*(\w+) -> (\w+)(?: \[(.*)\])?;$`)
	dotNode  = regexp.MustCompile(`^\s*(\w+) \[label="((?:[^"\\]|\\.)*)"(.*)\];$`)
	mmdEdge  = regexp.MustCompile(`^\s*(\w+) (-->|-\.->|---|-\.-)(?:\|"[^"]*"\|)? (\w+)$`)
	mmdNode  = regexp.MustCompile(`^\s*(\w+)\[\"([^"]*)\"\]:::(\w+)$`)
	kindLine = func(label, sep string) string { k, _, _ := strings.Cut(label, sep); return k }
)

// drawn is a parsed diagram: node kind by id, node attributes, edges.
type drawn struct {
	kind  map[string]string // node id -> first label line (the hop kind)
	attrs map[string]string // node id -> the rest of its statement
	edges []drawnEdge
}

type drawnEdge struct{ from, to, attrs string }

func (d drawn) idsOf(kind string) []string {
	var ids []string
	for id, k := range d.kind {
		if k == kind {
			ids = append(ids, id)
		}
	}
	sort.Strings(ids)
	return ids
}

func (d drawn) edge(from, to string) (drawnEdge, bool) {
	for _, e := range d.edges {
		if e.from == from && e.to == to {
			return e, true
		}
	}
	return drawnEdge{}, false
}

func parseDOT(t *testing.T, s string) drawn {
	t.Helper()
	d := drawn{kind: map[string]string{}, attrs: map[string]string{}}
	for _, l := range strings.Split(s, "\n") {
		if m := dotEdge.FindStringSubmatch(l); m != nil {
			d.edges = append(d.edges, drawnEdge{m[1], m[2], m[3]})
		} else if m := dotNode.FindStringSubmatch(l); m != nil {
			d.kind[m[1]] = kindLine(m[2], `\n`)
			d.attrs[m[1]] = m[3]
		}
	}
	return d
}

func parseMermaid(t *testing.T, s string) drawn {
	t.Helper()
	d := drawn{kind: map[string]string{}, attrs: map[string]string{}}
	for _, l := range strings.Split(s, "\n") {
		if m := mmdEdge.FindStringSubmatch(l); m != nil {
			d.edges = append(d.edges, drawnEdge{m[1], m[3], m[2]})
		} else if m := mmdNode.FindStringSubmatch(l); m != nil {
			d.kind[m[1]] = kindLine(m[2], "<br/>")
			d.attrs[m[1]] = m[3]
		}
	}
	return d
}

// checkTopology asserts the picture's structure for one recorded trace:
// every hop drawn (the probes as edges), the VM side and the DHCP side
// meeting at the bridge (or, with the tap on a wrong bridge, not
// meeting), the physical NIC leaving it, the probe edges ending at the
// VM's IP, and every failing hop marked with the path edges touching it.
func checkTopology(t *testing.T, c renderCase, d drawn, failMark func(attrs string) bool, cutMark func(attrs string) bool) {
	t.Helper()
	tr := c.trace
	for i, h := range tr.Hops {
		id := "h" + strconv.Itoa(i)
		if h.Kind == KindARP || h.Kind == KindReachability {
			if _, ok := d.kind[id]; ok {
				t.Errorf("probe hop %d (%s) drawn as a node", i, h.Kind)
			}
			continue
		}
		if d.kind[id] != string(h.Kind) {
			t.Errorf("hop %d (%s) drawn as %q", i, h.Kind, d.kind[id])
		}
		if h.Verdict == Fail && !failMark(d.attrs[id]) {
			t.Errorf("failing hop %d %s not marked: %q", i, h.Kind, d.attrs[id])
		}
	}
	one := func(kind Kind) string {
		ids := d.idsOf(string(kind))
		if len(ids) != 1 {
			t.Fatalf("%d nodes of kind %s, want 1", len(ids), kind)
		}
		return ids[0]
	}
	br, tap, dif, phys := one(KindBridge), one(KindTap), one(KindDHCPIf), one(KindPhysicalPort)
	// The VM side: the tap, then the firewall acting on it, into the
	// bridge, in path order.
	last := tap
	for i, h := range tr.Hops {
		if h.Kind != KindAntiSpoofing && h.Kind != KindSecurityGroup {
			continue
		}
		id := "h" + strconv.Itoa(i)
		if _, ok := d.edge(last, id); !ok {
			t.Errorf("no edge %s -> %s (%s) on the VM side", last, id, h.Kind)
		}
		last = id
	}
	if _, ok := d.edge(last, br); !ok {
		t.Errorf("no edge %s -> bridge %s: the VM side does not reach the bridge", last, br)
	}
	_, dhcpMeets := d.edge(dif, br)
	if c.brk == "wrong-bridge" {
		if dhcpMeets {
			t.Errorf("tap on a wrong bridge, yet the DHCP side %s meets the tap's bridge %s", dif, br)
		}
		if _, ok := d.edge(dif, "netbridge"); !ok {
			t.Errorf("tap on a wrong bridge: the DHCP side does not meet the network's bridge")
		}
	} else if !dhcpMeets {
		t.Errorf("no edge dhcp-interface %s -> bridge %s: the two branches do not meet", dif, br)
	}
	if _, ok := d.edge(br, phys); !ok {
		t.Errorf("no edge bridge %s -> physical port %s", br, phys)
	}
	if _, ok := d.edge(dif, "vmip"); !ok {
		t.Errorf("no probe edge from the qdhcp namespace's %s to the VM's IP", dif)
	}
	// The host checks are on no edge.
	for _, id := range d.idsOf(string(KindHostCheck)) {
		for _, e := range d.edges {
			if e.from == id || e.to == id {
				t.Errorf("host check %s on the path: %+v", id, e)
			}
		}
	}
	// The path edges a failing hop touches are marked cut.
	for _, e := range d.edges {
		if e.to == "vmip" || e.from == "vmip" {
			continue
		}
		touches := false
		for _, id := range []string{e.from, e.to} {
			if i, err := strconv.Atoi(strings.TrimPrefix(id, "h")); err == nil && strings.HasPrefix(id, "h") {
				touches = touches || tr.Hops[i].Verdict == Fail
			}
		}
		if cut := cutMark(e.attrs); touches != cut {
			t.Errorf("edge %s -> %s: touches a failing hop %t, marked cut %t (%q)", e.from, e.to, touches, cut, e.attrs)
		}
	}
}

// TestRenderGolden draws the demo's healthy trace and each -break's
// broken trace (recorded, testdata/render) as DOT and Mermaid, compares
// them with the golden files and checks their structure.
func TestRenderGolden(t *testing.T) {
	for _, c := range renderCases(t) {
		t.Run(c.name, func(t *testing.T) {
			var dot, mmd bytes.Buffer
			if err := c.trace.WriteDOT(&dot); err != nil {
				t.Fatal(err)
			}
			if err := c.trace.WriteMermaid(&mmd); err != nil {
				t.Fatal(err)
			}
			golden(t, c.name+".dot", dot.Bytes())
			golden(t, c.name+".mmd", mmd.Bytes())
			if c.brk == "" && c.trace.Verdict != OK || c.brk != "" && c.trace.Verdict == OK {
				t.Fatalf("recording %s has verdict %s", c.name, c.trace.Verdict)
			}
			checkLayout(t, traceGraph(c.trace))
			checkTopology(t, c, parseDOT(t, dot.String()),
				func(a string) bool { return strings.Contains(a, "color=red, penwidth=3") },
				func(a string) bool { return strings.Contains(a, "color=red") })
			checkTopology(t, c, parseMermaid(t, mmd.String()),
				func(a string) bool { return a == "fail" },
				func(a string) bool { return strings.HasPrefix(a, "-.") })
		})
	}
}
