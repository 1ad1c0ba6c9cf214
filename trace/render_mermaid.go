package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
)

// WriteMermaid writes the same topology as WriteDOT as a Mermaid
// flowchart (left to right): a subgraph per node, namespace, VM, tap and
// bridge; the VM side and the DHCP side meeting at the bridge; the probes
// as dotted, labelled edges from the qdhcp namespace to the VM's IP. Each
// hop is a node h<index in Hops> classed ok, warn, fail or unknown; fail
// nodes are drawn red with a thick border, and the edges a failing hop
// cuts are dotted and red.
func (t *Trace) WriteMermaid(w io.Writer) error {
	return traceGraph(t).writeMermaid(w)
}

func (g *graph) writeMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "flowchart LR")
	fmt.Fprintf(bw, "  %%%% %s\n", oneLine(g.title))
	children := map[*gcluster][]*gcluster{}
	members := map[*gcluster][]*gnode{}
	for _, c := range g.clusters {
		children[c.parent] = append(children[c.parent], c)
	}
	for _, n := range g.nodes {
		members[n.cl] = append(members[n.cl], n)
	}
	writeNodes := func(c *gcluster, indent string) {
		for _, n := range members[c] {
			fmt.Fprintf(bw, "%s%s\n", indent, n.mermaid())
		}
	}
	var writeCluster func(c *gcluster, indent string)
	writeCluster = func(c *gcluster, indent string) {
		fmt.Fprintf(bw, "%ssubgraph c_%s[\"%s\"]\n%s  direction LR\n", indent, c.id, mermaidEscape(c.label), indent)
		writeNodes(c, indent+"  ")
		for _, k := range children[c] {
			writeCluster(k, indent+"  ")
		}
		fmt.Fprintf(bw, "%send\n", indent)
	}
	for _, c := range children[nil] {
		writeCluster(c, "  ")
	}
	writeNodes(nil, "  ")
	var red, probes []string
	for i, e := range g.edges {
		arrow := "-->"
		switch {
		case e.role == edgeAttach:
			arrow = "---"
		case e.role == edgeProbe || e.cut:
			arrow = "-.->"
		}
		if e.role == edgeAttach && e.cut {
			arrow = "-.-"
		}
		if e.label != "" {
			arrow += "|\"" + mermaidEscape(e.label) + "\"|"
		}
		fmt.Fprintf(bw, "  %s %s %s\n", e.from.id, arrow, e.to.id)
		switch {
		case e.cut || (e.role == edgeProbe && e.verdict == Fail):
			red = append(red, fmt.Sprint(i))
		case e.role == edgeProbe:
			probes = append(probes, fmt.Sprintf("  linkStyle %d stroke:%s", i, mermaidEdgeColor(e.verdict)))
		}
	}
	fmt.Fprintln(bw, "  classDef ok fill:#9f9,stroke:#393")
	fmt.Fprintln(bw, "  classDef warn fill:#fd6,stroke:#b80")
	fmt.Fprintln(bw, "  classDef fail fill:#f88,stroke:#c00,stroke-width:4px")
	fmt.Fprintln(bw, "  classDef unknown fill:#ddd,stroke:#888")
	fmt.Fprintln(bw, "  classDef marker fill:#fff,stroke:#666,stroke-dasharray:4 3")
	for _, s := range probes {
		fmt.Fprintln(bw, s)
	}
	if len(red) > 0 {
		fmt.Fprintf(bw, "  linkStyle %s stroke:#c00,stroke-width:3px\n", strings.Join(red, ","))
	}
	return bw.Flush()
}

func mermaidEdgeColor(v Verdict) string {
	switch v {
	case OK:
		return "#393"
	case Warn:
		return "#b80"
	case Fail:
		return "#c00"
	}
	return "#888"
}

// mermaid is the node's statement.
func (n *gnode) mermaid() string {
	label := mermaidEscape(strings.Join(n.lines, "<br/>"))
	if !n.hop {
		return fmt.Sprintf("%s([\"%s\"]):::marker", n.id, label)
	}
	return fmt.Sprintf("%s[\"%s\"]:::%s", n.id, label, n.verdict)
}

// mermaidEscape replaces characters that end a quoted Mermaid label.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", "<br/>").Replace(s)
}
