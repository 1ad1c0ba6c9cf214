package trace

import (
	"fmt"
	"io"
	"sort"
	"strings"
)

// The node's picture: its bridges, every VM NIC and DHCP namespace on
// each, the physical NIC leaving it, coloured by verdict; healthy NICs
// collapse into a count when a bridge has many, so 200 NICs stay readable.

// Collapsing thresholds of the node picture.
const (
	// nodeCollapseAbove is the number of NICs on one bridge above which
	// the healthy ones are drawn as one count.
	nodeCollapseAbove = 12
	// nodeShowMost is the most NICs (or orphans) drawn one by one per
	// bridge once collapsed; the rest are counted by verdict.
	nodeShowMost = 24
)

// nicBridge returns the bridge a NIC's trace found it on ("" when none).
func nicBridge(t *Trace) string {
	if h, ok := t.Hop(KindBridge, ""); ok && h.Name != "" {
		return h.Name
	}
	return ""
}

// worstOf returns the worst verdict of t's hops of the given kinds and
// the names of those hops (deduplicated, in order).
func worstOf(t *Trace, kinds ...Kind) (Verdict, []string) {
	v := Unknown
	var names []string
	seen := map[string]bool{}
	for _, h := range t.Hops {
		for _, k := range kinds {
			if h.Kind != k {
				continue
			}
			v = max(v, h.Verdict)
			if h.Name != "" && !seen[h.Name] {
				seen[h.Name] = true
				names = append(names, h.Name)
			}
		}
	}
	return v, names
}

// nicLines is a NIC's label: tap, server, IP, verdict and the first
// failing hop.
func nicLines(t *Trace) []string {
	name := t.Tap
	if name == "" {
		name = t.Target.String()
	}
	lines := []string{name}
	if s := serverLabel(t); s != "" {
		lines = append(lines, cut(s, 40))
	}
	if t.IP.IsValid() {
		lines = append(lines, t.IP.String())
	}
	lines = append(lines, strings.ToUpper(t.Verdict.String()))
	if _, h, ok := t.firstFailing(); ok {
		lines = append(lines, cut(fmt.Sprintf("%s: %s", h.Kind, oneLine(h.Summary)), 44))
	}
	return lines
}

// countLines counts NICs (or orphans) by verdict: "3 fail, 2 warn".
func countLines(vs []Verdict) (string, Verdict) {
	n := map[Verdict]int{}
	worst := Unknown
	for _, v := range vs {
		n[v]++
		worst = max(worst, v)
	}
	var parts []string
	for _, v := range []Verdict{Fail, Warn, Unknown, OK} {
		if n[v] > 0 {
			parts = append(parts, fmt.Sprintf("%d %s", n[v], v))
		}
	}
	return strings.Join(parts, ", "), worst
}

// nodeGraph builds the node's picture.
func nodeGraph(nt *NodeTrace) *graph {
	g := &graph{title: fmt.Sprintf("node %s: %s (%d NICs)", nt.Node, nt.Verdict, len(nt.Traces))}
	label := "node " + nt.Node
	if nt.Role != "" {
		label += fmt.Sprintf(" (role %s)", nt.Role)
	}
	node := g.cluster("node", label, "node", nil)
	byBridge := map[string][]int{}
	for i, t := range nt.Traces {
		byBridge[nicBridge(t)] = append(byBridge[nicBridge(t)], i)
	}
	bridges := make([]string, 0, len(byBridge))
	for b := range byBridge {
		bridges = append(bridges, b)
	}
	sort.Strings(bridges)
	for bi, bname := range bridges {
		idx := byBridge[bname]
		clabel := "bridge " + bname
		if bname == "" {
			clabel = "NICs on no bridge"
		}
		c := g.cluster(fmt.Sprintf("br%d", bi), clabel, "ns", node)
		var brNode *gnode
		if bname != "" {
			v := Unknown
			physV := Unknown
			var phys []string
			for _, i := range idx {
				bv, _ := worstOf(nt.Traces[i], KindBridge)
				v = max(v, bv)
				pv, names := worstOf(nt.Traces[i], KindPhysicalPort)
				physV = max(physV, pv)
				for _, n := range names {
					if !contains(phys, n) {
						phys = append(phys, n)
					}
				}
			}
			brNode = &gnode{id: fmt.Sprintf("b%d", bi), lines: []string{"bridge", bname, strings.ToUpper(v.String()), fmt.Sprintf("%d VM NICs", len(idx))},
				verdict: v, hop: true, name: bname, cl: c, title: "worst bridge verdict of its NICs' traces"}
			g.nodes = append(g.nodes, brNode)
			if len(phys) > 0 {
				p := &gnode{id: fmt.Sprintf("b%dphys", bi), lines: []string{"physical-port", strings.Join(phys, ","), strings.ToUpper(physV.String())},
					verdict: physV, hop: true, cl: c, title: "the NIC leaving the bridge"}
				g.nodes = append(g.nodes, p)
				g.edge(brNode, p, edgePath)
			}
			// The DHCP namespaces serving the bridge's NICs.
			type dns struct {
				v     Verdict
				iface []string
			}
			nss := map[string]*dns{}
			var order []string
			for _, i := range idx {
				t := nt.Traces[i]
				h, ok := t.Hop(KindDHCPNS, "")
				if !ok || h.Name == "" {
					continue
				}
				d := nss[h.Name]
				if d == nil {
					d = &dns{}
					nss[h.Name] = d
					order = append(order, h.Name)
				}
				v, ifs := worstOf(t, KindDHCPNS, KindDnsmasq, KindDHCPIf, KindMetadata)
				d.v = max(d.v, v)
				for _, n := range ifs {
					if strings.HasPrefix(n, "ns-") && !contains(d.iface, n) {
						d.iface = append(d.iface, n)
					}
				}
			}
			for k, name := range order {
				d := nss[name]
				lines := []string{"dhcp-namespace", name}
				if len(d.iface) > 0 {
					lines = append(lines, strings.Join(d.iface, ","))
				}
				lines = append(lines, strings.ToUpper(d.v.String()))
				n := &gnode{id: fmt.Sprintf("b%dns%d", bi, k), lines: lines, verdict: d.v, hop: true, name: name, cl: c,
					title: "worst of the namespace, dnsmasq, serving interface and metadata hops"}
				g.nodes = append(g.nodes, n)
				g.edge(n, brNode, edgePath)
			}
		}
		// The NICs: all of them, or the unhealthy ones and counts.
		show := idx
		var healthy, rest []Verdict
		if len(idx) > nodeCollapseAbove {
			show = nil
			for _, i := range idx {
				if nt.Traces[i].Verdict == OK {
					healthy = append(healthy, OK)
				} else if len(show) < nodeShowMost {
					show = append(show, i)
				} else {
					rest = append(rest, nt.Traces[i].Verdict)
				}
			}
		}
		link := func(n *gnode) {
			g.nodes = append(g.nodes, n)
			if brNode != nil {
				g.edge(n, brNode, edgePath)
			}
		}
		for _, i := range show {
			t := nt.Traces[i]
			link(&gnode{id: fmt.Sprintf("nic%d", i), lines: nicLines(t), verdict: t.Verdict, hop: true, name: t.Tap, cl: c, title: t.Target.String()})
		}
		if len(healthy) > 0 {
			link(&gnode{id: fmt.Sprintf("b%dok", bi), lines: []string{fmt.Sprintf("%d healthy VM NICs", len(healthy)), "OK", "(collapsed: see the table)"},
				verdict: OK, hop: true, cl: c, title: "every hop ok"})
		}
		if len(rest) > 0 {
			s, v := countLines(rest)
			link(&gnode{id: fmt.Sprintf("b%dmore", bi), lines: []string{fmt.Sprintf("%d more VM NICs", len(rest)), s, "(see the table)"},
				verdict: v, hop: true, cl: c, title: "not drawn one by one"})
		}
	}
	if len(nt.Orphans) > 0 {
		c := g.cluster("orphans", "orphans (objects of no complete VM NIC)", "aside", node)
		var rest []Verdict
		for i, o := range nt.Orphans {
			if i >= nodeShowMost {
				rest = append(rest, o.Verdict)
				continue
			}
			lines := []string{string(o.Kind), o.Name, strings.ToUpper(o.Verdict.String())}
			g.nodes = append(g.nodes, &gnode{id: fmt.Sprintf("o%d", i), lines: lines, verdict: o.Verdict, hop: true, name: o.Name, cl: c, title: o.Detail})
		}
		if len(rest) > 0 {
			s, v := countLines(rest)
			g.nodes = append(g.nodes, &gnode{id: "omore", lines: []string{fmt.Sprintf("%d more orphans", len(rest)), s}, verdict: v, hop: true, cl: c})
		}
	}
	if len(nt.HostChecks) > 0 {
		c := g.cluster("checks", "host checks", "aside", node)
		for i, h := range nt.HostChecks {
			g.nodes = append(g.nodes, &gnode{id: fmt.Sprintf("hc%d", i), lines: hopLines(h), verdict: h.Verdict, hop: true, name: h.Name, cl: c, title: oneLine(h.Summary)})
		}
	}
	return g
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// WriteDOT writes the node's picture as a Graphviz digraph (left to
// right): a cluster per bridge holding the bridge, the physical NIC
// leaving it, the DHCP namespaces serving its networks and every VM NIC
// on it, each filled by verdict (a failing NIC's label names its first
// failing hop); when a bridge has more than 12 NICs the healthy ones are
// one box with their count and at most 24 others are drawn one by one,
// the rest counted by verdict. Orphans and the node's host checks sit
// aside in their own clusters.
func (nt *NodeTrace) WriteDOT(w io.Writer) error {
	return nodeGraph(nt).writeDOT(w, "nodetrace")
}

// WriteMermaid writes the node's picture (see WriteDOT) as a Mermaid
// flowchart.
func (nt *NodeTrace) WriteMermaid(w io.Writer) error {
	return nodeGraph(nt).writeMermaid(w)
}
