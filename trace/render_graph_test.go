package trace

import (
	"fmt"
	"net/netip"
	"strings"
	"testing"
)

// TestTopologyPlacesKinds builds the picture of a trace holding every
// kind, the newer ones too (firewall, guest, metadata, MTU, agents,
// provider link, reachability) and one no version knows: each lands in
// its place by kind alone.
func TestTopologyPlacesKinds(t *testing.T) {
	kinds := []Kind{KindServer, KindPort, KindAgents, KindGuest, KindDomain, KindInterface, KindTap, KindAntiSpoofing,
		KindSecurityGroup, KindBridge, KindPhysicalPort, KindProviderLink, KindFDB, KindMTU, KindDHCPNS, KindDnsmasq, KindDHCPIf,
		KindHostsEntry, KindLease, KindMetadata, KindARP, KindReachability, KindCounters, KindHostCheck, Kind("future-thing")}
	tr := &Trace{Target: Target{Tap: "tap31f2d3e9-8d"}, Role: RoleAllInOne, IP: netip.MustParseAddr("192.168.31.74")}
	for _, k := range kinds {
		h := Hop{Kind: k, Name: string(k) + "-name", Verdict: OK}
		if k == KindSecurityGroup {
			h.Verdict, h.Cause = Fail, "ingress drops ICMP"
		}
		tr.Hops = append(tr.Hops, h)
	}
	g := traceGraph(tr)
	byKind := map[Kind]*gnode{}
	for _, n := range g.nodes {
		if n.hop {
			byKind[Kind(n.lines[0])] = n
		}
	}
	for k, want := range map[Kind]string{
		KindServer: "api", KindPort: "api", KindAgents: "api", KindGuest: "vm", KindDomain: "vm", KindInterface: "vm",
		KindTap: "tap", KindAntiSpoofing: "tap", KindSecurityGroup: "tap", KindCounters: "tap",
		KindBridge: "bridge", KindFDB: "bridge", KindMTU: "bridge", KindPhysicalPort: "bridge", KindProviderLink: "provider",
		KindDHCPNS: "qdhcp", KindDnsmasq: "qdhcp", KindDHCPIf: "qdhcp", KindHostsEntry: "qdhcp", KindLease: "qdhcp", KindMetadata: "qdhcp",
		KindHostCheck: "checks", "future-thing": "other",
	} {
		n := byKind[k]
		if n == nil || n.cl == nil || n.cl.id != want {
			t.Errorf("%s: in cluster %v, want %s", k, clusterID(n), want)
		}
	}
	for _, k := range []Kind{KindARP, KindReachability} {
		if byKind[k] != nil {
			t.Errorf("probe %s drawn as a node", k)
		}
	}
	edges := map[string]*gedge{}
	for _, e := range g.edges {
		edges[e.from.lines[0]+">"+e.to.lines[0]] = e
	}
	for _, want := range []struct {
		from, to string
		role     int
		cut      bool
	}{
		{"guest", "domain", edgePath, false}, {"domain", "interface", edgePath, false}, {"interface", "tap", edgePath, false},
		{"tap", "anti-spoofing", edgePath, false}, {"anti-spoofing", "security-group", edgePath, true},
		{"security-group", "bridge", edgePath, true}, {"dhcp-namespace", "dnsmasq", edgePath, false},
		{"dnsmasq", "dhcp-interface", edgePath, false}, {"dhcp-interface", "bridge", edgePath, false},
		{"metadata", "dhcp-interface", edgePath, false}, {"bridge", "physical-port", edgePath, false},
		{"physical-port", "provider-link", edgePath, false}, {"bridge", "fdb", edgeAttach, false}, {"bridge", "mtu", edgeAttach, false},
		{"tap", "counters", edgeAttach, false}, {"dnsmasq", "hosts-entry", edgeAttach, false}, {"dnsmasq", "lease", edgeAttach, false},
		{"port", "agents", edgeAttach, false}, {"server", "port", edgePath, false}, {"port", "tap", edgeAttach, false},
		{"interface", "VM's IP", edgeAttach, false}, {"dhcp-interface", "VM's IP", edgeProbe, false},
	} {
		e := edges[want.from+">"+want.to]
		if e == nil || e.role != want.role || e.cut != want.cut {
			t.Errorf("edge %s -> %s: %+v, want role %d cut %t", want.from, want.to, e, want.role, want.cut)
		}
	}
	probes := 0
	for _, e := range g.edges {
		if e.role == edgeProbe {
			probes++
			if !strings.HasPrefix(e.label, "arp ") && !strings.HasPrefix(e.label, "reachability ") {
				t.Errorf("probe edge label %q", e.label)
			}
		}
		if e.from.lines[0] == "future-thing" || e.to.lines[0] == "future-thing" || e.from.lines[0] == "host-check" || e.to.lines[0] == "host-check" {
			t.Errorf("aside node on an edge: %s -> %s", e.from.lines[0], e.to.lines[0])
		}
	}
	if probes != 2 {
		t.Errorf("%d probe edges, want arp and reachability", probes)
	}
	checkLayout(t, g)
}

// checkLayout lays g out and checks every node is placed inside the
// picture and inside its cluster and the cluster's parents, no two boxes
// overlap, and no two clusters of one parent overlap.
func checkLayout(t *testing.T, g *graph) {
	t.Helper()
	L := g.layout()
	overlap := func(a, b svgRect) bool {
		return a.x < b.x+b.w && b.x < a.x+a.w && a.y < b.y+b.h && b.y < a.y+a.h
	}
	inside := func(a, b svgRect) bool {
		return a.x >= b.x && a.y >= b.y && a.x+a.w <= b.x+b.w && a.y+a.h <= b.y+b.h
	}
	for i, a := range g.nodes {
		ra, ok := L.node[a]
		if !ok || ra.x < 0 || ra.y < 0 || ra.x+ra.w > L.w || ra.y+ra.h > L.h {
			t.Errorf("%s placed at %+v in %.0fx%.0f", a.id, ra, L.w, L.h)
		}
		for c := a.cl; c != nil; c = c.parent {
			if !inside(ra, L.cl[c]) {
				t.Errorf("%s %+v outside its cluster %s %+v", a.id, ra, c.id, L.cl[c])
			}
		}
		for _, b := range g.nodes[i+1:] {
			if rb := L.node[b]; overlap(ra, rb) {
				t.Errorf("%s %+v overlaps %s %+v", a.id, ra, b.id, rb)
			}
		}
	}
	for i, a := range g.clusters {
		for _, b := range g.clusters[i+1:] {
			ra, oka := L.cl[a]
			rb, okb := L.cl[b]
			if oka && okb && a.parent == b.parent && overlap(ra, rb) {
				t.Errorf("clusters %s %+v and %s %+v overlap", a.id, ra, b.id, rb)
			}
		}
	}
}

func clusterID(n *gnode) string {
	if n == nil {
		return "(not drawn)"
	}
	if n.cl == nil {
		return "(none)"
	}
	return n.cl.id
}

// TestWriteTextOneScreen checks the recorded healthy trace's text: the
// header, the table, nothing else, and rows of at most 160 characters.
func TestWriteTextOneScreen(t *testing.T) {
	rec := loadRecording(t, "dnsmasq")
	lines := strings.Split(strings.TrimSuffix(rec.Healthy.String(), "\n"), "\n")
	if len(lines) != len(rec.Healthy.Hops)+2 {
		t.Errorf("healthy trace of %d hops is %d lines, want %d:\n%s", len(rec.Healthy.Hops), len(lines), len(rec.Healthy.Hops)+2, strings.Join(lines, "\n"))
	}
	for _, l := range lines[1:] {
		if n := len([]rune(l)); n > 160 {
			t.Errorf("row of %d characters: %s", n, l)
		}
	}
	// Broken: the first failing hop right under the header.
	s := rec.Broken.String()
	i, h, _ := rec.Broken.firstFailing()
	if h.Kind != KindDnsmasq || !strings.Contains(s, fmt.Sprintf("\nfirst failing hop:\n%d FAIL dnsmasq ", i+1)) {
		t.Errorf("broken trace does not start with its first failing hop:\n%s", s)
	}
}
