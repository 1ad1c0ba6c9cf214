package trace

import (
	"bytes"
	"fmt"
	"html/template"
	"io"
	"os"
	"strings"
	"time"
)

// The HTML report: one self-contained page (inline CSS and SVG, no
// script, no external resource: it opens anywhere, offline, and prints).
// The picture is drawn in Go (render_svg.go), never by a program run at
// report time, so the report is the same on every machine.

const htmlStyle = `
:root { --ok:#b8f0b8; --warn:#ffe07a; --fail:#ff9c8c; --unknown:#e2e2e2; }
* { box-sizing: border-box; }
body { font-family: system-ui, sans-serif; margin: 1.5em; color: #222; line-height: 1.35; }
h1 { font-size: 1.4em; margin: 0 0 .3em; }
h2 { font-size: 1.15em; margin: 1.4em 0 .5em; border-bottom: 1px solid #ccc; }
h3 { font-size: 1em; margin: 1em 0 .3em; }
code, td.mono, .mono { font-family: ui-monospace, monospace; font-size: .92em; }
table { border-collapse: collapse; margin: .3em 0; }
th, td { border: 1px solid #ccc; padding: .2em .5em; text-align: left; vertical-align: top; }
th { background: #f0f0f0; }
.verdict { display: inline-block; padding: .1em .6em; border-radius: .3em; font-weight: bold; font-family: ui-monospace, monospace; }
.v-ok { background: var(--ok); } .v-warn { background: var(--warn); } .v-fail { background: var(--fail); } .v-unknown { background: var(--unknown); }
tr.v-ok td.v, tr.v-warn td.v, tr.v-fail td.v, tr.v-unknown td.v { font-weight: bold; }
.first { border: 3px solid #c00; background: #fff3f1; padding: .6em 1em; margin: 1em 0; border-radius: .4em; }
.first.warn { border-color: #b07800; background: #fffbea; }
.first p { margin: .25em 0; }
.picture { overflow-x: auto; border: 1px solid #ddd; padding: .5em; background: #fff; }
.hop { border-left: 6px solid var(--unknown); padding: .1em .8em .4em; margin: .8em 0; break-inside: avoid; }
.hop.v-ok { border-left-color: #2a8a2a; background: none; } .hop.v-warn { border-left-color: #b07800; background: none; }
.hop.v-fail { border-left-color: #cc0000; background: none; } .hop.v-unknown { border-left-color: #888; background: none; }
.meta td:first-child { font-weight: bold; white-space: nowrap; }
footer { margin-top: 2em; color: #666; font-size: .85em; }
@media print {
  body { margin: 0; font-size: 10pt; }
  .picture { overflow: visible; border: none; padding: 0; }
  .picture svg { max-width: 100%; height: auto; }
  .hop, .first, table { break-inside: avoid; }
  h2 { break-after: avoid; }
  * { -webkit-print-color-adjust: exact; print-color-adjust: exact; }
}
`

var htmlFuncs = template.FuncMap{
	"upper": func(v Verdict) string { return strings.ToUpper(v.String()) },
	"inc":   func(i int) int { return i + 1 },
	"when": func(t time.Time) string {
		if t.IsZero() {
			return "(not recorded)"
		}
		return t.UTC().Format("2006-01-02 15:04:05.000 UTC")
	},
	"dur": func(d time.Duration) string { return d.Round(time.Millisecond).String() },
}

var traceHTML = template.Must(template.New("trace").Funcs(htmlFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vifpath trace {{.T.Target}}: {{upper .T.Verdict}}</title>
<style>{{.Style}}</style>
</head>
<body>
{{template "body" .}}
<footer>Written by vifpath's trace.WriteHTML. Self-contained: no script, no external resource; the picture is SVG drawn by vifpath.</footer>
</body>
</html>
{{define "body"}}
{{if .Top}}<h1>VM NIC trace: {{.T.Target}} <span class="verdict v-{{.T.Verdict}}" id="verdict">{{upper .T.Verdict}}</span></h1>
{{- else}}<h2 class="port">Port trace: {{.T.Target}} <span class="verdict v-{{.T.Verdict}}">{{upper .T.Verdict}}</span></h2>{{end}}
{{- with .First}}
<div class="first {{.Hop.Verdict}}">
<p><strong>First {{.Word}}: hop {{inc .Index}}, {{.Hop.Kind}} <code>{{.Hop.Name}}</code></strong> <span class="verdict v-{{.Hop.Verdict}}">{{upper .Hop.Verdict}}</span></p>
<p>{{.Hop.Summary}}</p>
{{- with .Hop.Cause}}<p><strong>Cause:</strong> <span class="cause">{{.}}</span></p>{{end}}
{{- with .Hop.Next}}<p><strong>Next step:</strong> <span class="next">{{.}}</span></p>{{end}}
</div>
{{- end}}
<h2>Target</h2>
<table class="meta">
<tr><td>asked for</td><td class="mono">{{.T.Target}}</td></tr>
{{- with .Server}}<tr><td>server</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .T.PortID}}<tr><td>port</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .T.Domain}}<tr><td>domain</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .T.Tap}}<tr><td>tap</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .MAC}}<tr><td>MAC</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .T.NetworkID}}<tr><td>network</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .T.IP}}<tr><td>IP</td><td class="mono">{{.}}</td></tr>{{end}}
<tr><td>role</td><td class="mono">{{.T.Role}}</td></tr>
<tr><td>started</td><td class="mono">{{when .T.Started}}</td></tr>
<tr><td>took</td><td class="mono">{{dur .T.Duration}}</td></tr>
</table>
<h2>The path</h2>
<div class="picture">
{{.SVG}}</div>
<h2>Verdicts</h2>
<table class="verdicts">
<tr><th>#</th><th>verdict</th><th>kind</th><th>name</th><th>summary</th></tr>
{{- range $i, $h := .T.Hops}}
<tr class="v-{{$h.Verdict}}"><td><a href="#{{$.ID}}hop-{{inc $i}}">{{inc $i}}</a></td><td class="v"><span class="verdict v-{{$h.Verdict}}">{{upper $h.Verdict}}</span></td><td class="mono">{{$h.Kind}}</td><td class="mono">{{$h.Name}}</td><td>{{$h.Summary}}</td></tr>
{{- end}}
</table>
<h2>Hops</h2>
{{- range $i, $h := .T.Hops}}
<div class="hop v-{{$h.Verdict}}" id="{{$.ID}}hop-{{inc $i}}">
<h3>{{inc $i}}. {{$h.Kind}} <code>{{$h.Name}}</code> <span class="verdict v-{{$h.Verdict}}">{{upper $h.Verdict}}</span></h3>
<p>{{$h.Summary}}</p>
{{- with $h.Cause}}<p><strong>Cause:</strong> {{.}}</p>{{end}}
{{- with $h.Next}}<p><strong>Next step:</strong> <code>{{.}}</code></p>{{end}}
{{- with $h.Evidence}}
<table class="evidence"><tr><th>evidence</th><th>value</th></tr>
{{- range .}}<tr><td class="mono">{{.Key}}</td><td class="mono">{{.Value}}</td></tr>{{end}}
</table>
{{- end}}
</div>
{{- end}}
{{end}}
`))

var serverHTML = template.Must(template.Must(traceHTML.Clone()).New("server").Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vifpath server {{.Name}}: {{upper .S.Verdict}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>Server trace: {{.Name}} <span class="verdict v-{{.S.Verdict}}" id="verdict">{{upper .S.Verdict}}</span></h1>
<table class="meta">
<tr><td>server</td><td class="mono">{{.Name}}</td></tr>
{{- with .S.Status}}<tr><td>status</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .S.Host}}<tr><td>host</td><td class="mono">{{.}}</td></tr>{{end}}
{{- with .S.InstanceName}}<tr><td>instance</td><td class="mono">{{.}}</td></tr>{{end}}
<tr><td>role</td><td class="mono">{{.S.Role}}</td></tr>
<tr><td>ports</td><td>{{len .S.Traces}}</td></tr>
</table>
{{- range .Traces}}
<section class="port">
{{template "body" .}}
</section>
{{- end}}
<footer>Written by vifpath's ServerTrace.WriteHTML. Self-contained: no script, no external resource; the pictures are SVG drawn by vifpath.</footer>
</body>
</html>
`))

type firstFailingView struct {
	Index int
	Hop   Hop
	Word  string
}

// WriteHTML writes the trace as one self-contained HTML page to hand on
// with a ticket: the verdict, the first failing hop with its cause and
// next step at the top, the target (server, port, domain, tap, MAC,
// network, IP, role) and timings, the topology drawn as inline SVG (the
// picture WriteDOT describes, laid out in Go: no Graphviz, no network),
// the verdict table, and each hop's summary, cause, next step and
// evidence. It needs no JavaScript, loads nothing, and prints (print CSS
// keeps colours and hop blocks whole).
func (t *Trace) WriteHTML(w io.Writer) error {
	v, err := newTraceView(t, "", true)
	if err != nil {
		return err
	}
	return traceHTML.Execute(w, v)
}

// traceView is what the "body" template draws of one trace.
type traceView struct {
	T     *Trace
	Style template.CSS
	SVG   template.HTML
	First *firstFailingView
	// Server and MAC are the server's name and ID, and the MAC as text.
	Server, MAC string
	// ID prefixes its anchors; Top says the trace is the page's (its
	// heading is the page's h1, its verdict gets id="verdict").
	ID  string
	Top bool
}

func newTraceView(t *Trace, id string, top bool) (*traceView, error) {
	var svg bytes.Buffer
	if err := traceGraph(t).writeSVG(&svg); err != nil {
		return nil, err
	}
	v := &traceView{T: t, Style: template.CSS(htmlStyle), SVG: template.HTML(svg.String()), ID: id, Top: top}
	if i, h, ok := t.firstFailing(); ok {
		v.First = &firstFailingView{Index: i, Hop: h, Word: failWord(h.Verdict)}
	}
	v.Server = serverLabel(t)
	if t.PortMAC != nil {
		v.MAC = t.PortMAC.String()
	}
	return v, nil
}

// WriteHTML writes the server's report as one self-contained HTML page:
// the server's verdict, status, host and instance, then each port's trace
// as Trace.WriteHTML draws it (first failing hop, target, picture,
// verdicts, hops).
func (s *ServerTrace) WriteHTML(w io.Writer) error {
	data := struct {
		S      *ServerTrace
		Name   string
		Style  template.CSS
		Traces []*traceView
	}{S: s, Name: s.ServerName, Style: template.CSS(htmlStyle)}
	if data.Name == "" {
		data.Name = s.ServerID
	} else if s.ServerID != "" {
		data.Name += " (" + s.ServerID + ")"
	}
	for i, t := range s.Traces {
		v, err := newTraceView(t, fmt.Sprintf("p%d-", i+1), false)
		if err != nil {
			return err
		}
		data.Traces = append(data.Traces, v)
	}
	return serverHTML.Execute(w, data)
}

// HTMLReport is a result that writes a self-contained HTML report: a
// *Trace, *ServerTrace or *NodeTrace.
type HTMLReport interface {
	WriteHTML(w io.Writer) error
}

// WriteHTMLFile creates (or truncates) the file at path, mode 0644, and
// writes r's HTML report into it.
func WriteHTMLFile(path string, r HTMLReport) error {
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_TRUNC, 0o644)
	if err != nil {
		return fmt.Errorf("trace: create the HTML report: %w: give a file in a writable directory", err)
	}
	if err := r.WriteHTML(f); err != nil {
		f.Close()
		return fmt.Errorf("trace: write the HTML report to %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		return fmt.Errorf("trace: write the HTML report to %s: %w", path, err)
	}
	return nil
}

// serverLabel names the trace's server: "name (id)", from the Trace's
// fields or else its server hop.
func serverLabel(t *Trace) string {
	name, id := t.ServerName, t.ServerID
	if h, ok := t.Hop(KindServer, ""); ok {
		if name == "" {
			name = h.Name
		}
		if v, ok := h.Get("id"); ok && id == "" {
			id = v
		}
	}
	switch {
	case name != "" && id != "" && name != id:
		return fmt.Sprintf("%s (%s)", name, id)
	case name != "":
		return name
	}
	return id
}

var nodeHTML = template.Must(template.New("node").Funcs(htmlFuncs).Parse(`<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>vifpath node {{.N.Node}}: {{upper .N.Verdict}}</title>
<style>{{.Style}}</style>
</head>
<body>
<h1>Node trace: {{.N.Node}} <span class="verdict v-{{.N.Verdict}}" id="verdict">{{upper .N.Verdict}}</span></h1>
<table class="meta">
<tr><td>node</td><td class="mono">{{.N.Node}}</td></tr>
<tr><td>role</td><td class="mono">{{.N.Role}}</td></tr>
<tr><td>VM NICs</td><td>{{len .N.Traces}}: {{.Counts}}</td></tr>
<tr><td>orphans</td><td>{{len .N.Orphans}}</td></tr>
<tr><td>started</td><td class="mono">{{when .N.Started}}</td></tr>
<tr><td>took</td><td class="mono">{{dur .N.Duration}}</td></tr>
</table>
<h2>The node</h2>
<div class="picture">
{{.SVG}}</div>
<h2>VM NICs</h2>
<table class="verdicts">
<tr><th>#</th><th>verdict</th><th>tap</th><th>server</th><th>IP</th><th>bridge</th><th>first failing hop</th><th>cause</th><th>next step</th></tr>
{{- range .NICs}}
<tr class="v-{{.T.Verdict}}"><td>{{if .Detail}}<a href="#nic-{{.N}}">{{.N}}</a>{{else}}{{.N}}{{end}}</td><td class="v"><span class="verdict v-{{.T.Verdict}}">{{upper .T.Verdict}}</span></td><td class="mono">{{.T.Tap}}</td><td class="mono">{{.Server}}</td><td class="mono">{{.T.IP}}</td><td class="mono">{{.Bridge}}</td>
{{- with .First}}<td class="mono">{{.Kind}} {{.Name}}</td><td>{{.Cause}}</td><td><code>{{.Next}}</code></td>{{else}}<td></td><td></td><td></td>{{end}}</tr>
{{- end}}
</table>
{{- with .N.Orphans}}
<h2>Orphans</h2>
<table class="verdicts"><tr><th>verdict</th><th>kind</th><th>name</th><th>detail</th></tr>
{{- range .}}<tr class="v-{{.Verdict}}"><td class="v"><span class="verdict v-{{.Verdict}}">{{upper .Verdict}}</span></td><td class="mono">{{.Kind}}</td><td class="mono">{{.Name}}</td><td>{{.Detail}}</td></tr>{{end}}
</table>
{{- end}}
{{- with .N.HostChecks}}
<h2>Host checks</h2>
{{- range .}}
<div class="hop v-{{.Verdict}}">
<h3>{{.Kind}} <code>{{.Name}}</code> <span class="verdict v-{{.Verdict}}">{{upper .Verdict}}</span></h3>
<p>{{.Summary}}</p>
{{- with .Cause}}<p><strong>Cause:</strong> {{.}}</p>{{end}}
{{- with .Next}}<p><strong>Next step:</strong> <code>{{.}}</code></p>{{end}}
{{- with .Evidence}}<table class="evidence">{{range .}}<tr><td class="mono">{{.Key}}</td><td class="mono">{{.Value}}</td></tr>{{end}}</table>{{end}}
</div>
{{- end}}
{{- end}}
<h2>NICs that are not ok: their warn and fail hops</h2>
{{- range .NICs}}{{if .Detail}}
<h3 id="nic-{{.N}}">{{.N}}. {{.T.Tap}} {{.Server}} <span class="verdict v-{{.T.Verdict}}">{{upper .T.Verdict}}</span></h3>
{{- range .Detail}}
<div class="hop v-{{.Verdict}}">
<h3>{{.Kind}} <code>{{.Name}}</code> <span class="verdict v-{{.Verdict}}">{{upper .Verdict}}</span></h3>
<p>{{.Summary}}</p>
{{- with .Cause}}<p><strong>Cause:</strong> {{.}}</p>{{end}}
{{- with .Next}}<p><strong>Next step:</strong> <code>{{.}}</code></p>{{end}}
{{- with .Evidence}}<table class="evidence">{{range .}}<tr><td class="mono">{{.Key}}</td><td class="mono">{{.Value}}</td></tr>{{end}}</table>{{end}}
</div>
{{- end}}
{{- end}}{{end}}
<footer>Written by vifpath's NodeTrace.WriteHTML. Self-contained: no script, no external resource; the picture is SVG drawn by vifpath.</footer>
</body>
</html>
`))

type nicView struct {
	N              int
	T              *Trace
	Server, Bridge string
	First          *Hop
	Detail         []Hop
}

// WriteHTML writes the node's report as one self-contained HTML page:
// the node's verdict, counts and timings, its picture (see WriteDOT; SVG
// laid out in Go), a table of every VM NIC with its verdict and first
// failing hop's cause and next step, the orphans, the host checks, and
// the warn and fail hops of every NIC that is not ok with their
// evidence. No JavaScript, no external resource; printable.
func (nt *NodeTrace) WriteHTML(w io.Writer) error {
	var svg bytes.Buffer
	if err := nodeGraph(nt).writeSVG(&svg); err != nil {
		return err
	}
	data := struct {
		N      *NodeTrace
		Style  template.CSS
		SVG    template.HTML
		Counts string
		NICs   []nicView
	}{N: nt, Style: template.CSS(htmlStyle), SVG: template.HTML(svg.String())}
	var vs []Verdict
	for i, t := range nt.Traces {
		vs = append(vs, t.Verdict)
		v := nicView{N: i + 1, T: t, Server: serverLabel(t), Bridge: nicBridge(t)}
		if _, h, ok := t.firstFailing(); ok {
			v.First = &h
			v.Detail = t.Failing()
		}
		data.NICs = append(data.NICs, v)
	}
	data.Counts, _ = countLines(vs)
	return nodeHTML.Execute(w, data)
}
