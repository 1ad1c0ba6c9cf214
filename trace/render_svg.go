package trace

import (
	"bufio"
	"fmt"
	"html"
	"io"
	"math"
	"strings"
)

// This file draws a graph as SVG in pure Go, with a simple layered layout:
// the frame-path edges rank the nodes into columns (longest path from the
// sources, then pulled right next to what they feed, so the two branches
// of a trace end side by side at the bridge); a node attached to another
// (the FDB to the bridge) shares its column; a node with no edge fills a
// grid in its cluster. Each cluster is a horizontal band (a lane), nested
// clusters inside their parent's band, so cluster boxes never cross.

const (
	svgCharW    = 7.2 // monospace advance at font-size 12
	svgLineH    = 15.0
	svgPadX     = 8.0
	svgPadY     = 6.0
	svgColGap   = 56.0
	svgRowGap   = 12.0
	svgClPad    = 10.0
	svgClLabelH = 20.0
	svgMargin   = 12.0
)

type svgRect struct{ x, y, w, h float64 }

type svgLayout struct {
	w, h float64
	node map[*gnode]svgRect
	cl   map[*gcluster]svgRect
}

func nodeSize(n *gnode) (w, h float64) {
	m := 0
	for _, l := range n.lines {
		if c := len([]rune(l)); c > m {
			m = c
		}
	}
	return float64(m)*svgCharW + 2*svgPadX, float64(len(n.lines))*svgLineH + 2*svgPadY
}

// layout places g's nodes and clusters.
func (g *graph) layout() *svgLayout {
	idx := map[*gnode]int{}
	for i, n := range g.nodes {
		idx[n] = i
	}
	nn := len(g.nodes)
	succ := make([][]int, nn)
	pred := make([][]int, nn)
	onPath := make([]bool, nn)
	for _, e := range g.edges {
		if e.role != edgePath {
			continue
		}
		a, b := idx[e.from], idx[e.to]
		succ[a] = append(succ[a], b)
		pred[b] = append(pred[b], a)
		onPath[a], onPath[b] = true, true
	}
	// Kahn's order; a cycle (none is built) leaves nodes out, ranked 0.
	indeg := make([]int, nn)
	for i := range pred {
		indeg[i] = len(pred[i])
	}
	var order, queue []int
	for i := 0; i < nn; i++ {
		if indeg[i] == 0 {
			queue = append(queue, i)
		}
	}
	for len(queue) > 0 {
		i := queue[0]
		queue = queue[1:]
		order = append(order, i)
		for _, j := range succ[i] {
			if indeg[j]--; indeg[j] == 0 {
				queue = append(queue, j)
			}
		}
	}
	rank := make([]int, nn)
	for _, i := range order {
		for _, j := range succ[i] {
			rank[j] = max(rank[j], rank[i]+1)
		}
	}
	for k := len(order) - 1; k >= 0; k-- {
		i := order[k]
		if len(succ[i]) == 0 {
			continue
		}
		m := math.MaxInt
		for _, j := range succ[i] {
			m = min(m, rank[j])
		}
		rank[i] = max(rank[i], m-1)
	}
	placed := append([]bool(nil), onPath...)
	for changed := true; changed; {
		changed = false
		for _, e := range g.edges {
			if e.role != edgeAttach {
				continue
			}
			a, b := idx[e.from], idx[e.to]
			switch {
			case placed[a] && !placed[b]:
				rank[b], placed[b], changed = rank[a], true, true
			case placed[b] && !placed[a]:
				rank[a], placed[a], changed = rank[b], true, true
			}
		}
	}
	maxRank := 0
	for i := range rank {
		if placed[i] {
			maxRank = max(maxRank, rank[i])
		}
	}
	cols := max(maxRank+1, 4)
	// Unplaced nodes fill a grid in their cluster, row by row.
	stack := make([]int, nn)
	grid := map[*gcluster]int{}
	for i, n := range g.nodes {
		if !placed[i] {
			k := grid[n.cl]
			grid[n.cl]++
			rank[i] = k % cols
		}
	}
	// Column widths.
	colW := map[int]float64{}
	for i, n := range g.nodes {
		w, _ := nodeSize(n)
		colW[rank[i]] = max(colW[rank[i]], w)
	}
	depth := func(c *gcluster) int {
		d := 0
		for ; c != nil; c = c.parent {
			d++
		}
		return d
	}
	maxDepth := 0
	for _, c := range g.clusters {
		maxDepth = max(maxDepth, depth(c))
	}
	colX := map[int]float64{}
	x := svgMargin + float64(maxDepth)*svgClPad
	for r := 0; r <= maxRank || r < cols; r++ {
		colX[r] = x
		x += colW[r] + svgColGap
	}
	// Stacks within a lane: nodes of one cluster in one column.
	members := map[*gcluster][]int{}
	for i, n := range g.nodes {
		members[n.cl] = append(members[n.cl], i)
	}
	children := map[*gcluster][]*gcluster{}
	for _, c := range g.clusters {
		children[c.parent] = append(children[c.parent], c)
	}
	L := &svgLayout{node: map[*gnode]svgRect{}, cl: map[*gcluster]svgRect{}}
	// x comes from the columns alone.
	nodeX := make([]float64, nn)
	for i, n := range g.nodes {
		w, _ := nodeSize(n)
		nodeX[i] = colX[rank[i]] + (colW[rank[i]]-w)/2
	}
	type span struct {
		x0, x1 float64
		ok     bool
	}
	xr := map[*gcluster]span{}
	var extent func(c *gcluster) span
	extent = func(c *gcluster) span {
		sp := span{x0: math.Inf(1), x1: math.Inf(-1)}
		for _, i := range members[c] {
			w, _ := nodeSize(g.nodes[i])
			sp.x0, sp.x1, sp.ok = min(sp.x0, nodeX[i]), max(sp.x1, nodeX[i]+w), true
		}
		for _, k := range children[c] {
			if ks := extent(k); ks.ok {
				sp.x0, sp.x1, sp.ok = min(sp.x0, ks.x0), max(sp.x1, ks.x1), true
			}
		}
		if sp.ok && c != nil {
			sp.x0 -= svgClPad
			sp.x1 = max(sp.x1+svgClPad, sp.x0+float64(len([]rune(c.label)))*svgCharW+2*svgClPad)
		}
		xr[c] = sp
		return sp
	}
	extent(nil)
	// bands packs sibling clusters into horizontal bands: a cluster joins
	// the first band none of whose clusters it overlaps in x, so the VM,
	// its tap and the bridge share one band and the qdhcp namespace takes
	// the next, meeting the bridge from below.
	bands := func(cs []*gcluster) [][]*gcluster {
		var out [][]*gcluster
		for _, c := range cs {
			sp := xr[c]
			if !sp.ok {
				continue
			}
			placed := false
			for bi := range out {
				free := true
				for _, o := range out[bi] {
					if so := xr[o]; sp.x0 < so.x1+svgClPad && so.x0 < sp.x1+svgClPad {
						free = false
						break
					}
				}
				if free {
					out[bi] = append(out[bi], c)
					placed = true
					break
				}
			}
			if !placed {
				out = append(out, []*gcluster{c})
			}
		}
		return out
	}
	// lane places c's own nodes from y down and returns its height.
	lane := func(c *gcluster, y float64) float64 {
		ids := members[c]
		if len(ids) == 0 {
			return 0
		}
		count := map[int]int{}
		for _, i := range ids {
			stack[i] = count[rank[i]]
			count[rank[i]]++
		}
		rows := 0
		for _, v := range count {
			rows = max(rows, v)
		}
		rowH := make([]float64, rows)
		for _, i := range ids {
			_, h := nodeSize(g.nodes[i])
			rowH[stack[i]] = max(rowH[stack[i]], h)
		}
		rowY := make([]float64, rows)
		yy := y
		for k := range rowH {
			rowY[k] = yy
			yy += rowH[k] + svgRowGap
		}
		for _, i := range ids {
			n := g.nodes[i]
			w, h := nodeSize(n)
			L.node[n] = svgRect{x: nodeX[i], y: rowY[stack[i]] + (rowH[stack[i]]-h)/2, w: w, h: h}
		}
		return yy - svgRowGap - y
	}
	// walk places cluster c from y0 down and returns its height.
	var walk func(c *gcluster, y0 float64) float64
	walk = func(c *gcluster, y0 float64) float64 {
		y := y0 + svgClLabelH + svgClPad
		if h := lane(c, y); h > 0 {
			y += h + svgRowGap
		}
		for _, band := range bands(children[c]) {
			bh := 0.0
			for _, k := range band {
				bh = max(bh, walk(k, y))
			}
			y += bh + svgRowGap
		}
		y += svgClPad - svgRowGap
		sp := xr[c]
		L.cl[c] = svgRect{x: sp.x0, y: y0, w: sp.x1 - sp.x0, h: y - y0}
		return y - y0
	}
	y := svgMargin
	for _, band := range bands(children[nil]) {
		bh := 0.0
		for _, c := range band {
			bh = max(bh, walk(c, y))
		}
		y += bh + 2*svgRowGap
	}
	lane(nil, y)
	// Size.
	for _, r := range L.node {
		L.w, L.h = max(L.w, r.x+r.w), max(L.h, r.y+r.h)
	}
	for _, r := range L.cl {
		L.w, L.h = max(L.w, r.x+r.w), max(L.h, r.y+r.h)
	}
	L.w += svgMargin
	L.h += svgMargin
	return L
}

func svgFill(v Verdict, hop bool) string {
	if !hop {
		return "#ffffff"
	}
	switch v {
	case OK:
		return "#b8f0b8"
	case Warn:
		return "#ffe07a"
	case Fail:
		return "#ff9c8c"
	}
	return "#e2e2e2"
}

func svgStroke(v Verdict) string {
	switch v {
	case OK:
		return "#2a8a2a"
	case Warn:
		return "#b07800"
	case Fail:
		return "#cc0000"
	}
	return "#888888"
}

// writeSVG writes g as a standalone <svg> element (no external
// reference: fonts are the viewer's monospace, markers are inline).
func (g *graph) writeSVG(w io.Writer) error {
	L := g.layout()
	bw := bufio.NewWriter(w)
	esc := html.EscapeString
	fmt.Fprintf(bw, `<svg xmlns="http://www.w3.org/2000/svg" class="topology" width="%.0f" height="%.0f" viewBox="0 0 %.0f %.0f" font-family="monospace" font-size="12" role="img" aria-label="%s">`+"\n",
		L.w, L.h+20, L.w, L.h+20, esc(g.title))
	bw.WriteString("<defs>")
	for _, v := range []Verdict{Unknown, OK, Warn, Fail} {
		fmt.Fprintf(bw, `<marker id="arrow-%s" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="%s"/></marker>`, v, svgStroke(v))
	}
	fmt.Fprintf(bw, `<marker id="arrow-path" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" markerHeight="7" orient="auto-start-reverse"><path d="M0,0 L10,5 L0,10 z" fill="#333"/></marker>`)
	bw.WriteString("</defs>\n")
	// Clusters, outermost first (they are in parent-first order).
	for _, c := range g.clusters {
		r, ok := L.cl[c]
		if !ok {
			continue
		}
		stroke, fill, dash := "#999", "#fafafa", ""
		switch c.style {
		case "node":
			stroke, fill = "#444", "#f4f4f4"
		case "api":
			stroke, fill, dash = "#4682b4", "#eef4fa", ` stroke-dasharray="6 4"`
		case "aside":
			stroke, fill, dash = "#888", "#ffffff", ` stroke-dasharray="2 3"`
		}
		fmt.Fprintf(bw, `<g class="cluster" id="cluster-%s"><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="8" fill="%s" stroke="%s"%s/><text x="%.1f" y="%.1f" font-weight="bold" fill="#333">%s</text></g>`+"\n",
			esc(c.id), r.x, r.y, r.w, r.h, fill, stroke, dash, r.x+svgClPad, r.y+15, esc(c.label))
	}
	// Edges under the nodes.
	for _, e := range g.edges {
		a, b := L.node[e.from], L.node[e.to]
		x1, y1, x2, y2, c1x, c1y, c2x, c2y := edgeGeometry(a, b)
		stroke, width, dash, marker := "#333", 1.4, "", "arrow-path"
		switch e.role {
		case edgeAttach:
			dash, marker = ` stroke-dasharray="2 3"`, ""
			stroke = "#777"
		case edgeProbe:
			stroke, dash, marker = svgStroke(e.verdict), ` stroke-dasharray="7 4"`, "arrow-"+e.verdict.String()
			if e.verdict == Fail {
				width = 3
			}
		}
		if e.cut {
			stroke, width, dash = svgStroke(Fail), 2.5, ` stroke-dasharray="7 4"`
			if marker != "" {
				marker = "arrow-fail"
			}
		}
		m := ""
		if marker != "" {
			m = fmt.Sprintf(` marker-end="url(#%s)"`, marker)
		}
		cls := "edge"
		if e.cut {
			cls = "edge cut"
		}
		fmt.Fprintf(bw, `<path class="%s" d="M%.1f,%.1f C%.1f,%.1f %.1f,%.1f %.1f,%.1f" fill="none" stroke="%s" stroke-width="%.1f"%s%s><title>%s → %s</title></path>`+"\n",
			cls, x1, y1, c1x, c1y, c2x, c2y, x2, y2, stroke, width, dash, m, esc(strings.Join(e.from.lines[:1], "")), esc(strings.Join(e.to.lines[:1], "")))
		if e.label != "" {
			// The label sits a quarter of the way along, clear of the
			// target's other incoming edges.
			mx, my := bezierAt(0.5, x1, y1, c1x, c1y, c2x, c2y, x2, y2)
			tw := float64(len([]rune(e.label)))*svgCharW*0.85 + 8
			fmt.Fprintf(bw, `<g class="edge-label"><rect x="%.1f" y="%.1f" width="%.1f" height="15" fill="#ffffff" fill-opacity="0.9"/><text x="%.1f" y="%.1f" text-anchor="middle" font-size="10.5" fill="%s">%s</text></g>`+"\n",
				mx-tw/2, my-11, tw, mx, my, stroke, esc(e.label))
		}
	}
	// Nodes.
	for _, n := range g.nodes {
		r := L.node[n]
		stroke, width, dash, rx := svgStroke(n.verdict), 1.2, "", 4.0
		if n.verdict == Fail && n.hop {
			width = 3.5
		}
		if !n.hop {
			stroke, dash, rx = "#666", ` stroke-dasharray="4 3"`, r.h/2
		}
		cls := "node " + n.verdict.String()
		if !n.hop {
			cls = "node marker"
		}
		fmt.Fprintf(bw, `<g class="%s" id="node-%s"><title>%s</title><rect x="%.1f" y="%.1f" width="%.1f" height="%.1f" rx="%.1f" fill="%s" stroke="%s" stroke-width="%.1f"%s/>`,
			cls, esc(n.id), esc(n.title), r.x, r.y, r.w, r.h, rx, svgFill(n.verdict, n.hop), stroke, width, dash)
		for k, l := range n.lines {
			weight := ""
			if k == 0 {
				weight = ` font-weight="bold"`
			}
			fmt.Fprintf(bw, `<text x="%.1f" y="%.1f"%s>%s</text>`, r.x+svgPadX, r.y+svgPadY+float64(k+1)*svgLineH-3.5, weight, esc(l))
		}
		bw.WriteString("</g>\n")
	}
	fmt.Fprintf(bw, `<text x="%.1f" y="%.1f" fill="#555">%s</text>`+"\n", svgMargin, L.h+12, esc(g.title))
	bw.WriteString("</svg>\n")
	return bw.Flush()
}

// edgeGeometry returns a cubic Bézier from box a to box b: right side to
// left side when b is to the right, left to right when to the left, and
// bottom to top (or top to bottom) in the same column.
func edgeGeometry(a, b svgRect) (x1, y1, x2, y2, c1x, c1y, c2x, c2y float64) {
	acx, acy := a.x+a.w/2, a.y+a.h/2
	bcx, bcy := b.x+b.w/2, b.y+b.h/2
	switch {
	case b.x >= a.x+a.w:
		x1, y1, x2, y2 = a.x+a.w, acy, b.x, bcy
		d := max((x2-x1)/2, 20)
		return x1, y1, x2, y2, x1 + d, y1, x2 - d, y2
	case b.x+b.w <= a.x:
		x1, y1, x2, y2 = a.x, acy, b.x+b.w, bcy
		d := max((x1-x2)/2, 20)
		return x1, y1, x2, y2, x1 - d, y1, x2 + d, y2
	case bcy >= acy:
		x1, y1, x2, y2 = acx, a.y+a.h, bcx, b.y
	default:
		x1, y1, x2, y2 = acx, a.y, bcx, b.y+b.h
	}
	d := (y2 - y1) / 2
	return x1, y1, x2, y2, x1, y1 + d, x2, y2 - d
}

func bezierAt(t, x1, y1, c1x, c1y, c2x, c2y, x2, y2 float64) (float64, float64) {
	u := 1 - t
	x := u*u*u*x1 + 3*u*u*t*c1x + 3*u*t*t*c2x + t*t*t*x2
	y := u*u*u*y1 + 3*u*u*t*c1y + 3*u*t*t*c2y + t*t*t*y2
	return x, y
}
