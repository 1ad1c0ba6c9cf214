package trace

import (
	"bufio"
	"fmt"
	"io"
	"strings"
	"text/tabwriter"
)

// WriteText writes the trace for a terminal: a header line (target,
// verdict, identities, duration); when a hop failed (else warned), the
// first such hop in path order with its cause, next step and evidence,
// right under the header; a table with one row per hop (verdict, kind, name, summary
// cut to 72 characters), so a healthy trace fits one screen; then each
// other warn or fail hop's full summary, cause, next step and evidence.
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
		if t.IP.IsValid() {
			ids = append(ids, "ip "+t.IP.String())
		}
		fmt.Fprintf(bw, " (%s)", strings.Join(ids, ", "))
	}
	fmt.Fprintf(bw, " in %s\n", t.Duration.Round(100_000))
	first, fh, failing := t.firstFailing()
	if failing {
		fmt.Fprintf(bw, "first %s:\n", failWord(fh.Verdict))
		writeHopDetail(bw, first, fh)
		fmt.Fprintln(bw)
	}
	tw := tabwriter.NewWriter(bw, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "#\tVERDICT\tKIND\tNAME\tSUMMARY")
	for i, h := range t.Hops {
		fmt.Fprintf(tw, "%d\t%s\t%s\t%s\t%s\n", i+1, strings.ToUpper(h.Verdict.String()), h.Kind, h.Name, cut(oneLine(h.Summary), tableSummary))
	}
	tw.Flush()
	for i, h := range t.Hops {
		if h.Verdict != Warn && h.Verdict != Fail || failing && i == first {
			continue
		}
		fmt.Fprintln(bw)
		writeHopDetail(bw, i, h)
	}
	return bw.Flush()
}

// writeHopDetail writes hop i's verdict line, cause, next step and
// evidence.
func writeHopDetail(w io.Writer, i int, h Hop) {
	fmt.Fprintf(w, "%d %s %s %s: %s\n", i+1, strings.ToUpper(h.Verdict.String()), h.Kind, h.Name, oneLine(h.Summary))
	if h.Cause != "" {
		fmt.Fprintf(w, "  cause: %s\n", oneLine(h.Cause))
	}
	if h.Next != "" {
		fmt.Fprintf(w, "  next:  %s\n", oneLine(h.Next))
	}
	for _, e := range h.Evidence {
		fmt.Fprintf(w, "  - %s: %s\n", e.Key, oneLine(e.Value))
	}
}

// String returns WriteText's output.
func (t *Trace) String() string {
	var b strings.Builder
	t.WriteText(&b)
	return b.String()
}

func oneLine(s string) string { return strings.Join(strings.Fields(s), " ") }

// tableSummary is the most of a summary WriteText's table shows.
const tableSummary = 72

// cut shortens s to n runes, ending with "…" when it cut.
func cut(s string, n int) string {
	r := []rune(s)
	if len(r) <= n {
		return s
	}
	return string(r[:n-1]) + "…"
}

// firstFailing returns the first hop in path order whose verdict is Fail,
// else the first that is Warn, with its index.
func (t *Trace) firstFailing() (int, Hop, bool) {
	for _, v := range []Verdict{Fail, Warn} {
		for i, h := range t.Hops {
			if h.Verdict == v {
				return i, h, true
			}
		}
	}
	return 0, Hop{}, false
}

func failWord(v Verdict) string {
	if v == Fail {
		return "failing hop"
	}
	return "warning"
}
