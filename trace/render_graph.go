package trace

import (
	"fmt"
	"strings"
)

// This file holds the picture every diagram writer draws: the path as the
// topology it is, built from the hops' kinds and names alone (a pure
// function of the Trace), so a hop of a new kind lands in its place by its
// kind, or in the node's "other checks" cluster when its kind has no
// place yet.

// graph is a picture: nodes grouped in nested clusters, and edges.
type graph struct {
	title    string
	clusters []*gcluster // in drawing order, parents before children
	nodes    []*gnode    // in drawing order
	edges    []*gedge
}

// gcluster is a group of nodes: a node (machine), a namespace, the VM,
// the tap with its firewall, the bridge, the API layer, the host checks.
type gcluster struct {
	id     string // DOT "cluster_…" suffix and Mermaid subgraph id
	label  string
	parent *gcluster
	// style is one of "node", "ns", "api", "aside": how it is drawn.
	style string
}

// gnode is one box: a hop, or a marker that is no hop (the VM's IP the
// probes aim at, a collapsed count).
type gnode struct {
	id      string   // h<index> for a hop; a word for markers
	lines   []string // label lines
	verdict Verdict
	hop     bool   // stands for a hop (filled by verdict); else a marker
	name    string // the hop's name ("" for markers)
	cl      *gcluster
	title   string // tooltip: the hop's summary
}

// Edge roles.
const (
	edgePath   = iota // frames flow along it (directed, ranks the layout)
	edgeAttach        // belongs to (undirected: the FDB on the bridge)
	edgeProbe         // an observation sent from one node to another (a hop drawn as an edge)
)

// gedge is one line between two nodes.
type gedge struct {
	from, to *gnode
	role     int
	label    string
	// verdict is a probe edge's hop verdict (0 for other edges).
	verdict Verdict
	// cut marks an edge that touches a failing hop: frames stop there.
	cut bool
}

func (g *graph) cluster(id, label, style string, parent *gcluster) *gcluster {
	c := &gcluster{id: id, label: label, parent: parent, style: style}
	g.clusters = append(g.clusters, c)
	return c
}

func (g *graph) edge(from, to *gnode, role int) *gedge {
	e := &gedge{from: from, to: to, role: role}
	if role != edgeProbe && (from.hop && from.verdict == Fail || to.hop && to.verdict == Fail) {
		e.cut = true
	}
	g.edges = append(g.edges, e)
	return e
}

// hopLines is a hop's label: kind, name, verdict and, for a warn or fail,
// its cause wrapped to lines of about 40 characters.
func hopLines(h Hop) []string {
	lines := []string{string(h.Kind)}
	if h.Kind == "" {
		lines[0] = "(unknown kind)"
	}
	if h.Name != "" {
		lines = append(lines, h.Name)
	}
	lines = append(lines, strings.ToUpper(h.Verdict.String()))
	if (h.Verdict == Fail || h.Verdict == Warn) && h.Cause != "" {
		lines = append(lines, wrapWords(oneLine(h.Cause), 40)...)
	}
	return lines
}

// wrapWords breaks s into lines of at most width runes where it can
// (a longer word gets a line of its own).
func wrapWords(s string, width int) []string {
	var out []string
	var cur []rune
	for _, w := range strings.Fields(s) {
		r := []rune(w)
		if len(cur) > 0 && len(cur)+1+len(r) > width {
			out = append(out, string(cur))
			cur = nil
		}
		if len(cur) > 0 {
			cur = append(cur, ' ')
		}
		cur = append(cur, r...)
	}
	if len(cur) > 0 {
		out = append(out, string(cur))
	}
	return out
}

// Where each kind sits in the trace's picture.
const (
	placeAPI    = "api"
	placeVM     = "vm"
	placeTap    = "tap"
	placeBridge = "bridge"
	placeDHCP   = "dhcp"
	placeProbe  = "probe"
	placeLink   = "link"
	placeChecks = "checks"
	placeOther  = "other"
)

var kindPlace = map[Kind]string{
	KindServer: placeAPI, KindPort: placeAPI, KindAgents: placeAPI,
	KindGuest: placeVM, KindDomain: placeVM, KindInterface: placeVM,
	KindTap: placeTap, KindAntiSpoofing: placeTap, KindSecurityGroup: placeTap, KindCounters: placeTap,
	KindBridge: placeBridge, KindFDB: placeBridge, KindMTU: placeBridge, KindPhysicalPort: placeBridge,
	KindDHCPNS: placeDHCP, KindDnsmasq: placeDHCP, KindDHCPIf: placeDHCP, KindHostsEntry: placeDHCP,
	KindLease: placeDHCP, KindMetadata: placeDHCP,
	KindARP: placeProbe, KindReachability: placeProbe,
	KindProviderLink: placeLink,
	KindHostCheck:    placeChecks,
}

// traceGraph builds the trace's picture: the API layer (server, port,
// agents); the node holding the VM (domain, interface, guest), the tap
// with the firewall acting on it, the bridge with its FDB, MTU and the
// physical NIC leaving it, and the qdhcp namespace (dnsmasq, its ns- port,
// hosts entry, lease, metadata); the VM side and the DHCP side are two
// branches joined at the bridge; the probes (arp, reachability) are edges
// from the qdhcp namespace to the VM's IP; the provider link leaves the
// physical NIC for the other node; the host checks sit aside.
func traceGraph(t *Trace) *graph {
	g := &graph{title: fmt.Sprintf("%s: %s", t.Target, t.Verdict)}
	byPlace := map[string][]int{}
	for i, h := range t.Hops {
		p, ok := kindPlace[h.Kind]
		if !ok {
			p = placeOther
		}
		byPlace[p] = append(byPlace[p], i)
	}
	nodes := make([]*gnode, len(t.Hops))
	add := func(i int, cl *gcluster) *gnode {
		h := t.Hops[i]
		n := &gnode{id: fmt.Sprintf("h%d", i), lines: hopLines(h), verdict: h.Verdict, hop: true, name: h.Name, cl: cl, title: oneLine(h.Summary)}
		nodes[i] = n
		g.nodes = append(g.nodes, n)
		return n
	}
	of := func(kinds ...Kind) []*gnode {
		var out []*gnode
		for i, h := range t.Hops {
			for _, k := range kinds {
				if h.Kind == k && nodes[i] != nil {
					out = append(out, nodes[i])
				}
			}
		}
		return out
	}
	first := func(kinds ...Kind) *gnode {
		for _, k := range kinds {
			if ns := of(k); len(ns) > 0 {
				return ns[0]
			}
		}
		return nil
	}
	chain := func(ns []*gnode) {
		for i := 1; i < len(ns); i++ {
			g.edge(ns[i-1], ns[i], edgePath)
		}
	}
	attach := func(to *gnode, ns []*gnode) {
		if to == nil {
			return
		}
		for _, n := range ns {
			if n == nil {
				continue
			}
			g.edge(to, n, edgeAttach)
		}
	}

	// The API layer.
	if idx := byPlace[placeAPI]; len(idx) > 0 {
		api := g.cluster("api", "API: Nova and Neutron", "api", nil)
		for _, i := range idx {
			add(i, api)
		}
	}
	// The node: VM, tap, bridge, qdhcp namespace, checks.
	nodeLabel := "node"
	if t.Role != "" {
		nodeLabel = fmt.Sprintf("node (role %s)", t.Role)
	}
	if h, ok := t.Hop(KindServer, ""); ok {
		if v, ok := h.Get("host"); ok && v != "" {
			nodeLabel = fmt.Sprintf("node %s (role %s)", v, t.Role)
		}
	}
	node := g.cluster("node", nodeLabel, "node", nil)
	vmLabel := "VM"
	switch {
	case t.Domain != "":
		vmLabel = "VM " + t.Domain
	case t.ServerName != "":
		vmLabel = "VM " + t.ServerName
	}
	var vm, dhcpc *gcluster
	if len(byPlace[placeVM]) > 0 || len(byPlace[placeProbe]) > 0 {
		vm = g.cluster("vm", vmLabel, "ns", node)
		for _, i := range byPlace[placeVM] {
			add(i, vm)
		}
	}
	var vmip *gnode
	if len(byPlace[placeProbe]) > 0 {
		ip := ipText(t.IP)
		if ip == "" {
			ip = "(IP unknown)"
		}
		vmip = &gnode{id: "vmip", lines: []string{"VM's IP", ip}, cl: vm, title: "the address the probes aim at"}
		g.nodes = append(g.nodes, vmip)
	}
	if len(byPlace[placeTap]) > 0 {
		label := "tap"
		if t.Tap != "" {
			label = "tap " + t.Tap
		}
		if len(of(KindAntiSpoofing, KindSecurityGroup)) > 0 {
			label += " and its firewall"
		}
		tapc := g.cluster("tap", label, "ns", node)
		for _, i := range byPlace[placeTap] {
			add(i, tapc)
		}
	}
	if len(byPlace[placeBridge]) > 0 {
		label := "bridge"
		if b, ok := t.Hop(KindBridge, ""); ok && b.Name != "" {
			label = "bridge " + b.Name
		}
		brc := g.cluster("bridge", label, "ns", node)
		for _, i := range byPlace[placeBridge] {
			add(i, brc)
		}
	}
	if len(byPlace[placeDHCP]) > 0 {
		label := "DHCP namespace"
		if ns, ok := t.Hop(KindDHCPNS, ""); ok && ns.Name != "" {
			label = "namespace " + ns.Name
		} else if t.NetworkID != "" {
			label = "namespace qdhcp-" + t.NetworkID
		}
		dhcpc = g.cluster("qdhcp", label, "ns", node)
		for _, i := range byPlace[placeDHCP] {
			add(i, dhcpc)
		}
	}
	if idx := byPlace[placeChecks]; len(idx) > 0 {
		c := g.cluster("checks", "host checks (the node's, not the path's)", "aside", node)
		for _, i := range idx {
			add(i, c)
		}
	}
	if idx := byPlace[placeOther]; len(idx) > 0 {
		c := g.cluster("other", "other checks", "aside", node)
		for _, i := range idx {
			add(i, c)
		}
	}
	if idx := byPlace[placeLink]; len(idx) > 0 {
		c := g.cluster("provider", "provider network to the other node", "node", nil)
		for _, i := range idx {
			add(i, c)
		}
	}

	// The frame path of the VM side, into the bridge; the DHCP side's,
	// into the same bridge; out through the physical NIC and the link.
	bridge := first(KindBridge)
	vmSide := of(KindGuest, KindDomain, KindInterface, KindTap, KindAntiSpoofing, KindSecurityGroup)
	dhcpSide := of(KindDHCPNS, KindDnsmasq, KindDHCPIf)
	uplink := append(of(KindPhysicalPort), of(KindProviderLink)...)
	if bridge != nil {
		uplink = append([]*gnode{bridge}, uplink...)
	}
	// The joint is the bridge; without a bridge hop, what leaves it.
	if len(uplink) > 0 {
		vmSide = append(vmSide, uplink[0])
		dhcpSide = append(dhcpSide, uplink[0])
	}
	// A tap on another bridge than its network's: the DHCP side meets
	// the network's bridge, which the VM side does not reach.
	if bridge != nil && len(dhcpSide) > 1 {
		if h := t.Hops[hopIdx(nodes, bridge)]; h.Verdict == Fail {
			if v, ok := h.Get("network_bridge"); ok {
				name, _, _ := strings.Cut(v, " ")
				nb := &gnode{id: "netbridge", lines: []string{"network's bridge", name, "(the tap is not on it)"}, cl: bridge.cl, title: v}
				g.nodes = append(g.nodes, nb)
				dhcpSide[len(dhcpSide)-1] = nb
			}
		}
	}
	chain(vmSide)
	chain(dhcpSide)
	chain(uplink)
	if dif := first(KindDHCPIf, KindDnsmasq, KindDHCPNS); dif != nil {
		for _, m := range of(KindMetadata) {
			g.edge(m, dif, edgePath)
		}
	}
	// What belongs to a node of the path.
	attach(first(KindDnsmasq, KindDHCPNS), of(KindHostsEntry, KindLease))
	attach(bridge, of(KindFDB, KindMTU))
	attach(first(KindTap), of(KindCounters))
	attach(first(KindInterface, KindDomain, KindTap), []*gnode{vmip})
	attach(first(KindPort), of(KindAgents))
	if srv, port := first(KindServer), of(KindPort); srv != nil {
		for _, p := range port {
			g.edge(srv, p, edgePath)
		}
	}
	if port, tap := first(KindPort), first(KindTap, KindInterface); port != nil && tap != nil {
		e := g.edge(port, tap, edgeAttach)
		e.label = "binds"
	}
	// The probes: from the qdhcp namespace to the VM's IP.
	from := first(KindDHCPIf, KindDHCPNS, KindDnsmasq)
	if from == nil && vmip != nil {
		if dhcpc == nil {
			dhcpc = g.cluster("qdhcp", "DHCP namespace", "ns", node)
		}
		from = &gnode{id: "qdhcp", lines: []string{"qdhcp namespace", "(not traced)"}, cl: dhcpc}
		g.nodes = append(g.nodes, from)
	}
	for _, i := range byPlace[placeProbe] {
		h := t.Hops[i]
		e := g.edge(from, vmip, edgeProbe)
		e.verdict = h.Verdict
		e.label = fmt.Sprintf("%s %s", h.Kind, strings.ToUpper(h.Verdict.String()))
	}
	return g
}

// hopIdx returns the index of n in nodes (the hop index of a hop node).
func hopIdx(nodes []*gnode, n *gnode) int {
	for i, m := range nodes {
		if m == n {
			return i
		}
	}
	return -1
}
