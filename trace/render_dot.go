package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// dotColor returns Graphviz fill colours per verdict.
func dotColor(v Verdict) string {
	switch v {
	case OK:
		return "palegreen"
	case Warn:
		return "gold"
	case Fail:
		return "salmon"
	}
	return "lightgrey"
}

// dotEdgeColor returns the line colour of a probe edge per verdict.
func dotEdgeColor(v Verdict) string {
	switch v {
	case OK:
		return "darkgreen"
	case Warn:
		return "darkorange"
	case Fail:
		return "red"
	}
	return "grey50"
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// WriteDOT writes the trace as a Graphviz digraph of the topology it
// crossed (left to right): the API layer (server, port, agents); a cluster
// for the node with, inside, one for the VM (domain, interface, guest and
// the VM's IP), one for the tap and the firewall acting on it, one for the
// bridge (its FDB, MTU and the physical NIC leaving it) and one for the
// qdhcp namespace (dnsmasq, its ns- port, hosts entry, lease, metadata);
// the VM side and the DHCP side are two chains of edges that meet at the
// bridge; the probes (arp, reachability) are dashed edges from the qdhcp
// namespace to the VM's IP, coloured by verdict; the host checks sit aside
// in their own cluster; a provider link leaves the physical NIC for the
// other node. Each hop is a box named h<index in Hops>, filled by verdict
// (green ok, gold warn, red fail, grey unknown); a failing hop gets a bold
// red border and its cause in the label, and the edges it cuts are red and
// dashed. A hop of a kind with no place yet is drawn in the node's "other
// checks" cluster.
func (t *Trace) WriteDOT(w io.Writer) error {
	return traceGraph(t).writeDOT(w, "trace")
}

func (g *graph) writeDOT(w io.Writer, name string) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph %s {\n  rankdir=LR;\n  newrank=true;\n  labelloc=t;\n  label=%s;\n  fontname=\"monospace\";\n", name, dotQuote(g.title))
	fmt.Fprintln(bw, "  node [shape=box, style=filled, fontname=\"monospace\"];")
	fmt.Fprintln(bw, "  edge [fontname=\"monospace\", fontsize=10];")
	children := map[*gcluster][]*gcluster{}
	members := map[*gcluster][]*gnode{}
	for _, c := range g.clusters {
		children[c.parent] = append(children[c.parent], c)
	}
	for _, n := range g.nodes {
		members[n.cl] = append(members[n.cl], n)
	}
	var writeCluster func(c *gcluster, indent string)
	writeNodes := func(c *gcluster, indent string) {
		for _, n := range members[c] {
			fmt.Fprintf(bw, "%s%s;\n", indent, n.dot())
		}
	}
	writeCluster = func(c *gcluster, indent string) {
		fmt.Fprintf(bw, "%ssubgraph cluster_%s {\n%s  label=%s;\n", indent, c.id, indent, dotQuote(c.label))
		switch c.style {
		case "node":
			fmt.Fprintf(bw, "%s  style=\"rounded,bold\"; color=grey30;\n", indent)
		case "api":
			fmt.Fprintf(bw, "%s  style=\"rounded,dashed\"; color=steelblue;\n", indent)
		case "aside":
			fmt.Fprintf(bw, "%s  style=\"rounded,dotted\"; color=grey50;\n", indent)
		default:
			fmt.Fprintf(bw, "%s  style=rounded; color=grey60;\n", indent)
		}
		writeNodes(c, indent+"  ")
		for _, k := range children[c] {
			writeCluster(k, indent+"  ")
		}
		fmt.Fprintf(bw, "%s}\n", indent)
	}
	for _, c := range children[nil] {
		writeCluster(c, "  ")
	}
	writeNodes(nil, "  ")
	for _, e := range g.edges {
		var attrs []string
		switch e.role {
		case edgeAttach:
			attrs = append(attrs, "dir=none", "style=dotted")
		case edgeProbe:
			attrs = append(attrs, "style=dashed", "color="+dotEdgeColor(e.verdict), "fontcolor="+dotEdgeColor(e.verdict), "constraint=false")
			if e.verdict == Fail {
				attrs = append(attrs, "penwidth=3")
			}
		}
		if e.label != "" {
			attrs = append([]string{"label=" + dotQuote(e.label)}, attrs...)
		}
		if e.cut {
			if e.role == edgeAttach {
				attrs = append(attrs, "color=red")
			} else {
				attrs = append(attrs, "color=red", "style=dashed")
			}
		}
		a := ""
		if len(attrs) > 0 {
			a = " [" + strings.Join(attrs, ", ") + "]"
		}
		fmt.Fprintf(bw, "  %s -> %s%s;\n", e.from.id, e.to.id, a)
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

// dot is the node's statement (without the semicolon).
func (n *gnode) dot() string {
	label := dotQuote(strings.Join(n.lines, "\n"))
	if !n.hop {
		return fmt.Sprintf("%s [label=%s, shape=ellipse, style=dashed]", n.id, label)
	}
	attrs := "fillcolor=" + dotColor(n.verdict)
	if n.verdict == Fail {
		attrs += ", color=red, penwidth=3, style=\"filled,bold\""
	}
	return fmt.Sprintf("%s [label=%s, %s]", n.id, label, attrs)
}
