package trace

import (
	"cmp"
	"errors"
	"fmt"
	"runtime"
	"slices"
	"strings"
	"sync"
	"sync/atomic"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
)

// needLinks, when set, collects the interfaces a physical-port hop looked
// up but the observation lacks (the observer reads them, then judges
// again).
type linkCollector = map[string]bool

// trace judges every hop of the NIC. Host checks are included when
// withHost is set (a NIC's own trace), left to the node otherwise.
func (v *view) trace(withHost bool) *Trace {
	id := &v.id
	t := &Trace{Target: id.Target, Role: v.role, ServerID: id.ServerID, ServerName: id.ServerName, PortID: id.PortID,
		Tap: id.Tap, NetworkID: id.NetworkID, Started: v.obs.Started, Duration: v.obs.Duration,
		Hops: make([]Hop, 0, traceHops)}
	if id.MAC != nil {
		t.PortMAC = id.MAC
	}
	if id.IP.IsValid() {
		t.IP = id.IP
	}
	if v.dom != nil {
		t.Domain = v.dom.Name
	}
	t.Hops = append(t.Hops, v.agentsHop())
	if !v.role.compute() {
		t.Tap = "" // the tap is on the compute node
		for _, k := range []Kind{KindDomain, KindInterface, KindGuest, KindTap, KindBridge, KindPhysicalPort, KindMTU, KindFDB} {
			t.Hops = append(t.Hops, offNode(k, notComputeSide))
		}
		t.Hops = append(t.Hops, v.dhcpHops()...)
		t.Hops = append(t.Hops, v.metadataHop())
		t.Hops = append(t.Hops, offNode(KindSecurityGroup, notComputeSide), offNode(KindAntiSpoofing, notComputeSide))
		t.Hops = append(t.Hops, v.arpHop(), v.reachHop(), offNode(KindCounters, notComputeSide))
		if withHost {
			t.Hops = append(t.Hops, v.hostHops(nil)...)
		}
		t.Verdict = Worst(t.Hops)
		return t
	}
	domHop, ifHop := v.domainHops()
	tapHop := v.tapHop()
	bridgeHop, physHop, up := v.bridgeHops()
	v.up = up
	t.Hops = append(t.Hops, domHop, ifHop, v.guestHop(), tapHop)
	t.Hops = append(t.Hops, v.firewallHops()...)
	t.Hops = append(t.Hops, bridgeHop, physHop, v.mtuHop(&up), v.fdbHop())
	t.Hops = append(t.Hops, v.dhcpHops()...)
	t.Hops = append(t.Hops, v.metadataHop())
	if v.role.dhcp() {
		t.Hops = append(t.Hops, v.arpHop(), v.reachHop(), v.countersHop())
	} else {
		t.Hops = append(t.Hops, v.arpHop(), offNode(KindReachability, notDHCPSide), v.countersHop())
	}
	if withHost {
		t.Hops = append(t.Hops, v.hostHops(&up)...)
	}
	t.Verdict = Worst(t.Hops)
	return t
}

// traceHops is room for a NIC's hops and its host checks (a node judges
// hundreds of traces: no regrowing).
const traceHops = 32

// devices adds the NIC's devices (bridge, provider ports, tap, expected
// uplink) to the NetworkManager check's list.
func (v *view) devices(up *uplink, devs map[string]int, names *[]string) {
	add := func(name string, index int) {
		if _, ok := devs[name]; ok || name == "" {
			return
		}
		devs[name] = index
		*names = append(*names, name)
	}
	if v.bridge != nil && up != nil {
		add(v.bridge.Name, v.bridge.Index)
		for _, p := range up.phys {
			add(p.Name, p.Index)
		}
		if v.tap != nil {
			add(v.tap.Name, v.tap.Index)
		}
	}
	if up != nil && up.index > 0 {
		add(up.name, up.index)
	}
}

// hostHops are the node's checks for one NIC's devices.
func (v *view) hostHops(up *uplink) []Hop {
	devs := map[string]int{}
	var names []string
	v.devices(up, devs, &names)
	return hostHops(v.obs, devs, names)
}

func hostHops(obs *Observation, devs map[string]int, names []string) []Hop {
	br := brNFFacts(&obs.Host)
	if obs.Settings.BridgeNetNSPath != "" {
		br.put("netns", obs.Settings.BridgeNetNSPath)
	}
	hops := []Hop{br, judgeNM(obs.Host.NM, devs, names, obs.Settings.HostNetNS)}
	if fw := obs.Firewall; fw != nil && fw.Before != nil {
		hops = append(hops, JudgeFirewallHost(fw.Before, nodeTaps(obs))...)
	}
	return hops
}

// nodeTaps are the taps on the node's bridges (nil when the bridges were
// not read, which skips the stale-chain check).
func nodeTaps(obs *Observation) []string {
	if obs.Bridges == nil || obs.Bridges.Before == nil {
		return nil
	}
	taps := []string{}
	for _, b := range obs.Bridges.Before.Bridges {
		for _, p := range b.Ports {
			if strings.HasPrefix(p.Name, "tap") {
				taps = append(taps, p.Name)
			}
		}
	}
	return taps
}

// ErrReplay is the error of judging an Observation that cannot be judged
// in the way asked (another request mode, another version).
var ErrReplay = errors.New("trace: cannot judge the observation")

// JudgeTrace judges a one-NIC observation (Request.Mode ModeNIC, as Run
// takes it) into the Trace Run returned. It is pure.
func JudgeTrace(obs *Observation) (*Trace, error) {
	if obs.Request.Mode != ModeNIC || obs.Request.Target == nil {
		return nil, fmt.Errorf("%w: mode %q is not %q", ErrReplay, obs.Request.Mode, ModeNIC)
	}
	t := resolve(obs, *obs.Request.Target, nil).trace(true)
	attachLinkEnds(obs, []*Trace{t})
	return t, nil
}

// JudgeServer judges a server observation (Request.Mode ModeServer, as
// Server takes it) into the ServerTrace Server returned. It is pure.
func JudgeServer(obs *Observation) (*ServerTrace, error) {
	if obs.Request.Mode != ModeServer || obs.API == nil {
		return nil, fmt.Errorf("%w: mode %q is not %q", ErrReplay, obs.Request.Mode, ModeServer)
	}
	api := obs.API
	st := &ServerTrace{ServerID: obs.Request.Server, Role: obs.Role}
	sh := Hop{Kind: KindServer, Name: obs.Request.Server}
	var srv *ServerFacts
	if len(api.Servers) > 0 {
		srv = &api.Servers[0]
		st.ServerID, st.ServerName, st.Status, st.Host, st.InstanceName = srv.ID, srv.Name, srv.Status, srv.Host, srv.InstanceName
		sh = serverHop(srv)
	} else {
		sh.Verdict = Fail
		sh.Summary = "cannot read the server: " + api.Error
		sh.put("error", api.Error)
		sh.Cause = "Nova or Neutron did not answer about the server (down, slow past Config.ServerWait, or the credentials lack a role)"
		sh.Next = "openstack server show " + obs.Request.Server
	}
	if srv == nil || len(srv.Ports) == 0 {
		serverID := st.ServerID
		ph := Hop{Kind: KindPort, Name: "(none)", Verdict: Fail,
			Summary: "Neutron has no port with device_id " + serverID,
			Cause:   "the server has no network interface: Nova never allocated one (scheduling failed) or it was detached",
			Next:    "openstack port list --device-id " + serverID}
		if srv == nil {
			ph.Verdict, ph.Summary, ph.Cause, ph.Next = Unknown, "not reached: the server could not be read", "", ""
		}
		t := &Trace{Role: obs.Role, Hops: []Hop{sh, ph}, Started: obs.Started, Duration: obs.Duration}
		t.Verdict = Worst(t.Hops)
		st.Traces = []*Trace{t}
		st.Verdict = t.Verdict
		return st, nil
	}
	node := serverNode(obs)
	for _, p := range srv.Ports {
		t := judgePort(obs, nil, srv, p, sh, node, true)
		st.Traces = append(st.Traces, t)
		st.Verdict = max(st.Verdict, t.Verdict)
	}
	attachLinkEnds(obs, st.Traces)
	return st, nil
}

// serverNode is the node name the port hop compares binding hosts with
// ("" disables the comparison).
func serverNode(obs *Observation) string {
	if obs.Settings.IgnoreBinding || obs.Role == RoleNetwork {
		return "" // a network node traces ports bound elsewhere by design
	}
	return obs.Node
}

// portReq is the target and hint of a server's port.
func portReq(obs *Observation, srv *ServerFacts, p *launch.Port) nicReq {
	domRef := srv.InstanceName
	if domRef == "" {
		domRef = srv.ID // the domain's UUID is the instance's
	}
	h := &portHint{port: p, serverID: srv.ID}
	if obs.Role.compute() && obs.API != nil {
		h.net = obs.API.Networks[p.NetworkID]
	}
	return nicReq{target: Target{PortID: p.ID, Domain: domRef}, hint: h}
}

// judgePort is one port's trace of a server: the server hop, the port
// hop, then the local hops.
func judgePort(obs *Observation, ix *obsIndex, srv *ServerFacts, p launch.Port, sh Hop, node string, withHost bool) *Trace {
	ph := portHop(p, srv.Host, node)
	if obs.Role.compute() && p.NetworkID != "" {
		networkEvidence(obs.API, p.NetworkID, &ph)
	}
	r := portReq(obs, srv, &p)
	v := resolveIx(obs, ix, r.target, r.hint)
	t := v.trace(withHost)
	t.ServerID, t.ServerName, t.PortID = srv.ID, srv.Name, p.ID
	t.Hops = append([]Hop{sh, ph}, t.Hops...)
	if t.NetworkID == "" {
		t.NetworkID = p.NetworkID
	}
	t.Verdict = Worst(t.Hops)
	return t
}

// nodeNICs are the VM NICs of a node observation: every tap on a brq
// bridge, every interface of a domain that holds its taps, and (with the
// API) every VM port bound to the node.
func nodeNICs(obs *Observation) []nicReq {
	var out []nicReq
	seen := map[string]bool{}
	if obs.API != nil {
		for i := range obs.API.Servers {
			srv := &obs.API.Servers[i]
			for j := range srv.Ports {
				p := &srv.Ports[j]
				if p.HostID != obs.Node {
					continue
				}
				out = append(out, portReq(obs, srv, p))
				seen[linuxbridge.PortTapName(p.ID)] = true
			}
		}
	}
	if obs.Role.compute() && obs.Bridges != nil && obs.Bridges.Before != nil {
		for _, b := range obs.Bridges.Before.Bridges {
			if b.Neutron.Kind != linuxbridge.DeviceBridge {
				continue
			}
			for _, p := range b.Ports {
				if isVMTap(obs, &p) && !seen[p.Name] {
					seen[p.Name] = true
					out = append(out, nicReq{target: Target{Tap: p.Name}})
				}
			}
		}
		if lv := obs.Libvirt; lv != nil {
			for _, d := range lv.Domains {
				if !holdsTap(d.State) {
					continue
				}
				for _, i := range d.Interfaces {
					if i.Target != "" && !seen[i.Target] {
						seen[i.Target] = true
						out = append(out, nicReq{target: Target{Tap: i.Target, Domain: d.UUID}})
					}
				}
			}
		}
	}
	if obs.Role == RoleNetwork && obs.DHCP != nil && obs.API == nil {
		for _, n := range obs.DHCP.Networks {
			for _, h := range n.Hosts {
				if h.MAC != nil && !seen[h.MAC.String()] {
					seen[h.MAC.String()] = true
					out = append(out, nicReq{target: Target{MAC: h.MAC}})
				}
			}
		}
	}
	return out
}

// Judge judges a node observation (Request.Mode ModeNode, as Node and
// NodeServers take it): one Trace per VM NIC, the orphans and the host
// checks. It is pure.
func Judge(obs *Observation) *NodeTrace {
	nt := &NodeTrace{Node: obs.Node, Role: obs.Role, Started: obs.Started, Duration: obs.Duration, Traces: []*Trace{}}
	devs := map[string]int{}
	var names []string
	node := serverNode(obs)
	ix := newIndex(obs)
	reqs := nodeNICs(obs)
	// Each NIC is judged on its own (a pure function of the observation,
	// which no judge writes): the NICs are shared among the CPUs. Their
	// devices are then collected in the NICs' order.
	nt.Traces = make([]*Trace, len(reqs))
	views := make([]*view, len(reqs))
	ups := make([]uplink, len(reqs))
	judge := func(i int) {
		r := reqs[i]
		v := resolveIx(obs, ix, r.target, r.hint)
		var t *Trace
		if r.hint != nil && obs.API != nil {
			srv := obs.API.server(r.hint.serverID)
			t = judgePort(obs, ix, srv, *r.hint.port, serverHop(srv), node, false)
			if obs.Role.compute() && v.bridge != nil {
				_, _, ups[i] = v.bridgeHops()
			}
		} else {
			t = v.trace(false)
			ups[i] = v.up // (bridgeHops' uplink, judged by trace)
		}
		nt.Traces[i], views[i] = t, v
	}
	parallel(len(reqs), judge)
	for i, v := range views {
		if obs.Role.compute() && v.bridge != nil {
			v.devices(&ups[i], devs, &names)
		}
	}
	slices.SortStableFunc(nt.Traces, func(a, b *Trace) int {
		if c := strings.Compare(a.Tap, b.Tap); c != 0 {
			return c // (the MACs are formatted only on a tie)
		}
		return strings.Compare(a.PortMAC.String(), b.PortMAC.String())
	})
	attachLinkEnds(obs, nt.Traces)
	nt.Orphans = orphans(obs, nt.Traces)
	nt.HostChecks = hostHops(obs, devs, names)
	nt.Verdict = Worst(nt.HostChecks)
	for _, t := range nt.Traces {
		nt.Verdict = max(nt.Verdict, t.Verdict)
	}
	for _, o := range nt.Orphans {
		nt.Verdict = max(nt.Verdict, o.Verdict)
	}
	return nt
}

func (a *APIFacts) server(id string) *ServerFacts {
	for i := range a.Servers {
		if a.Servers[i].ID == id {
			return &a.Servers[i]
		}
	}
	return nil
}

// orphans are the node's objects that belong to no complete NIC.
func orphans(obs *Observation, traces []*Trace) []Orphan {
	var out []Orphan
	if !obs.Role.compute() || obs.Bridges == nil || obs.Bridges.Before == nil {
		return nil
	}
	onBridge := map[string]string{}
	for _, b := range obs.Bridges.Before.Bridges {
		for _, p := range b.Ports {
			onBridge[p.Name] = b.Name
		}
	}
	lv := obs.Libvirt
	if lv != nil && lv.Error == "" {
		byTap := map[string]*Trace{}
		for _, t := range traces {
			byTap[t.Tap] = t
		}
		for _, b := range obs.Bridges.Before.Bridges {
			if b.Neutron.Kind != linuxbridge.DeviceBridge {
				continue
			}
			for _, p := range b.Ports {
				if t := byTap[p.Name]; isVMTap(obs, &p) && (t == nil || t.Domain == "") {
					out = append(out, Orphan{Kind: OrphanTapNoDomain, Name: p.Name, Verdict: Warn,
						Detail: fmt.Sprintf("on %s; no libvirt domain's interface targets it (a leftover of a deleted or migrated guest?)", b.Name)})
				}
			}
		}
		for _, d := range lv.Domains {
			if !holdsTap(d.State) {
				continue
			}
			for _, i := range d.Interfaces {
				if i.Target == "" || onBridge[i.Target] != "" {
					continue
				}
				out = append(out, Orphan{Kind: OrphanInterfaceNoTap, Name: d.Name + "/" + i.Target, Verdict: Fail,
					Detail: fmt.Sprintf("%s is %s but its interface's tap %s is on no bridge", d.Name, d.State, i.Target)})
			}
		}
	}
	if api := obs.API; api != nil {
		ports := map[string]bool{}
		for _, s := range api.Servers {
			for _, p := range s.Ports {
				if p.HostID != obs.Node {
					continue
				}
				tap := linuxbridge.PortTapName(p.ID)
				ports[tap] = true
				if onBridge[tap] == "" {
					out = append(out, Orphan{Kind: OrphanPortNoTap, Name: p.ID, Verdict: Fail,
						Detail: fmt.Sprintf("bound to %s (server %s) but its tap %s is on no bridge", p.HostID, s.ID, tap)})
				}
			}
		}
		for _, b := range obs.Bridges.Before.Bridges {
			if b.Neutron.Kind != linuxbridge.DeviceBridge {
				continue
			}
			for _, p := range b.Ports {
				if isVMTap(obs, &p) && !ports[p.Name] {
					out = append(out, Orphan{Kind: OrphanTapNoPort, Name: p.Name, Verdict: Warn,
						Detail: fmt.Sprintf("on %s; no Neutron port bound to %s has this tap", b.Name, obs.Node)})
				}
			}
		}
	}
	slices.SortFunc(out, func(a, b Orphan) int {
		return cmp.Or(strings.Compare(string(a.Kind), string(b.Kind)), strings.Compare(a.Name, b.Name))
	})
	return out
}

// isVMTap reports whether a bridge port is a VM NIC's tap: a tap device,
// or a port Neutron named tap<port> that is not the bridge end of an
// observed DHCP port (whose twin ns-<port> serves a qdhcp namespace).
// Router ports (qr-…) on a network node are not told apart.
func isVMTap(obs *Observation, p *linuxbridge.Port) bool {
	if p.Kind == linuxbridge.PortTap {
		return true
	}
	if p.Neutron.Kind != linuxbridge.DeviceTap {
		return false
	}
	if obs.DHCP != nil {
		twin := "ns-" + strings.TrimPrefix(p.Name, "tap")
		for _, n := range obs.DHCP.Networks {
			if n.ServingInterface == twin {
				return false
			}
		}
	}
	return true
}

// parallel calls fn(0) … fn(n-1) on up to GOMAXPROCS goroutines and
// returns when every call has. The calls must not depend on each other.
func parallel(n int, fn func(i int)) {
	workers := min(runtime.GOMAXPROCS(0), (n+parallelMin-1)/parallelMin)
	if workers <= 1 {
		for i := range n {
			fn(i)
		}
		return
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range workers {
		wg.Go(func() {
			for {
				i := int(next.Add(1)) - 1
				if i >= n {
					return
				}
				fn(i)
			}
		})
	}
	wg.Wait()
}

// parallelMin is the fewest calls a goroutine of parallel is started for.
const parallelMin = 16
