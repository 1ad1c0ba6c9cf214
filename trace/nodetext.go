package trace

import (
	"fmt"
	"io"
	"net/netip"
	"strings"
	"text/tabwriter"
)

// FirstFailing returns the first hop whose verdict is the trace's (Fail,
// else Warn), and false when the trace has none.
func (t *Trace) FirstFailing() (Hop, bool) {
	if t.Verdict != Fail && t.Verdict != Warn {
		return Hop{}, false
	}
	for _, h := range t.Hops {
		if h.Verdict == t.Verdict {
			return h, true
		}
	}
	return Hop{}, false
}

// WriteLines writes one line per NIC (verdict, tap, server or domain,
// MAC, IP, the first failing hop and its cause), one per orphan and one
// per host check that is not ok, then the node's verdict.
func (n *NodeTrace) WriteLines(w io.Writer) error {
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintf(tw, "VERDICT\tTAP\tSERVER\tMAC\tIP\tFIRST FAILING HOP\tCAUSE\n")
	for _, t := range n.Traces {
		who := t.ServerName
		if who == "" {
			who = t.Domain
		}
		hop, cause := "-", ""
		if h, ok := t.FirstFailing(); ok {
			hop = string(h.Kind)
			if h.Name != "" {
				hop += " " + h.Name
			}
			cause = h.Cause
			if cause == "" {
				cause = h.Summary
			}
		}
		fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\n", strings.ToUpper(t.Verdict.String()), dash(t.Tap), dash(who), dash(t.PortMAC.String()), dash(ipText(t.IP)), hop, cause)
	}
	for _, o := range n.Orphans {
		fmt.Fprintf(tw, "%s\t%s\torphan: %s\t\t\t\t%s\n", strings.ToUpper(o.Verdict.String()), o.Name, o.Kind, o.Detail)
	}
	for _, h := range n.HostChecks {
		if h.Verdict == Fail || h.Verdict == Warn {
			fmt.Fprintf(tw, "%s\t-\thost check\t\t\t%s %s\t%s\n", strings.ToUpper(h.Verdict.String()), h.Kind, h.Name, h.Cause)
		}
	}
	if err := tw.Flush(); err != nil {
		return err
	}
	_, err := fmt.Fprintf(w, "node %s (%s): %s, %d NICs, %d orphans, in %s\n", n.Node, n.Role, n.Verdict, len(n.Traces), len(n.Orphans), n.Duration.Round(1e6))
	return err
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

// ipText is the address's text, "" for the zero Addr (which String
// prints as "invalid IP").
func ipText(a netip.Addr) string {
	if !a.IsValid() {
		return ""
	}
	return a.String()
}
