package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the trace as a human-readable table: one row per hop
// (verdict, kind, name, summary), then each warn or fail hop's cause, next
// step and evidence.
func (t *Trace) WriteText(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "trace %s: %s", t.Target, strings.ToUpper(t.Verdict.String()))
	if t.Role != "" && t.Role != RoleAllInOne {
		fmt.Fprintf(bw, " [role %s]", t.Role)
	}
	if t.Tap != "" || t.NetworkID != "" {
		var ids []string
		if t.Tap != "" {
			ids = append(ids, "tap "+t.Tap)
		}
		if t.PortMAC != nil {
			ids = append(ids, "mac "+t.PortMAC.String())
		}
		if t.NetworkID != "" {
			ids = append(ids, "network "+t.NetworkID)
		}
		if t.IP != "" {
			ids = append(ids, "ip "+t.IP)
		}
		fmt.Fprintf(bw, " (%s)", strings.Join(ids, ", "))
	}
	fmt.Fprintf(bw, " in %s\n", t.Duration.Round(100_000))
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tVERDICT\tKIND\tNAME\tSUMMARY")
	for i, h := range t.Hops {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, strings.ToUpper(h.Verdict.String()), h.Kind, h.Name, oneLine(h.Summary))
	}
	tw.Flush()
	for i, h := range t.Hops {
		if h.Verdict != Warn && h.Verdict != Fail {
			continue
		}
		fmt.Fprintf(bw, "\n%d %s %s %s: %s\n", i+1, strings.ToUpper(h.Verdict.String()), h.Kind, h.Name, oneLine(h.Summary))
		if h.Cause != "" {
			fmt.Fprintf(bw, "  cause: %s\n", oneLine(h.Cause))
		}
		if h.Next != "" {
			fmt.Fprintf(bw, "  next:  %s\n", oneLine(h.Next))
		}
		for _, e := range h.Evidence {
			fmt.Fprintf(bw, "  - %s: %s\n", e.Key, oneLine(e.Value))
		}
	}
	return bw.Flush()
}

// String returns WriteText's output.
func (t *Trace) String() string {
	var b strings.Builder
	t.WriteText(&b)
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

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

// WriteDOT writes the path as a Graphviz digraph: one box per hop in path
// order, filled by verdict (green ok, gold warn, red fail, grey unknown);
// failing hops get a bold red border and their cause in the label.
func (t *Trace) WriteDOT(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintf(bw, "digraph trace {\n  rankdir=LR;\n  label=%s;\n  node [shape=box, style=filled, fontname=\"monospace\"];\n",
		dotQuote(fmt.Sprintf("%s: %s", t.Target, t.Verdict)))
	for i, h := range t.Hops {
		label := fmt.Sprintf("%s\n%s\n%s", h.Kind, h.Name, strings.ToUpper(h.Verdict.String()))
		attrs := fmt.Sprintf("fillcolor=%s", dotColor(h.Verdict))
		if h.Verdict == Fail || h.Verdict == Warn {
			if h.Cause != "" {
				label += "\n" + h.Cause
			}
			if h.Verdict == Fail {
				attrs += ", color=red, penwidth=3, style=\"filled,bold\""
			}
		}
		fmt.Fprintf(bw, "  h%d [label=%s, %s];\n", i, dotQuote(label), attrs)
	}
	for i := 1; i < len(t.Hops); i++ {
		attr := ""
		if t.Hops[i].Verdict == Fail {
			attr = " [color=red, style=dashed]"
		}
		fmt.Fprintf(bw, "  h%d -> h%d%s;\n", i-1, i, attr)
	}
	fmt.Fprintln(bw, "}")
	return bw.Flush()
}

func dotQuote(s string) string {
	r := strings.NewReplacer(`\`, `\\`, `"`, `\"`, "\n", `\n`)
	return `"` + r.Replace(s) + `"`
}

// WriteMermaid writes the path as a Mermaid flowchart (left to right):
// one node per hop, classed ok, warn, fail or unknown; fail nodes are drawn
// red with a thick border and edges into them are dotted.
func (t *Trace) WriteMermaid(w io.Writer) error {
	bw := bufio.NewWriter(w)
	fmt.Fprintln(bw, "flowchart LR")
	for i, h := range t.Hops {
		label := fmt.Sprintf("%s<br/>%s<br/>%s", h.Kind, h.Name, strings.ToUpper(h.Verdict.String()))
		if (h.Verdict == Fail || h.Verdict == Warn) && h.Cause != "" {
			label += "<br/>" + h.Cause
		}
		fmt.Fprintf(bw, "  h%d[\"%s\"]:::%s\n", i, mermaidEscape(label), h.Verdict)
	}
	for i := 1; i < len(t.Hops); i++ {
		arrow := "-->"
		if t.Hops[i].Verdict == Fail {
			arrow = "-.->"
		}
		fmt.Fprintf(bw, "  h%d %s h%d\n", i-1, arrow, i)
	}
	fmt.Fprintln(bw, "  classDef ok fill:#9f9,stroke:#393")
	fmt.Fprintln(bw, "  classDef warn fill:#fd6,stroke:#b80")
	fmt.Fprintln(bw, "  classDef fail fill:#f88,stroke:#c00,stroke-width:4px")
	fmt.Fprintln(bw, "  classDef unknown fill:#ddd,stroke:#888")
	return bw.Flush()
}

// mermaidEscape replaces characters that end a quoted Mermaid label.
func mermaidEscape(s string) string {
	return strings.NewReplacer(`"`, "#quot;", "\n", "<br/>").Replace(s)
}
