package metrics

import (
	"maps"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// state is what the last rounds found; Collect turns it into series with
// the pure function descs.metrics.
type state struct {
	node            *trace.NodeTrace
	traceErr        error
	lastRun         time.Time // zero: no round finished yet
	lastRunDuration time.Duration
	lastSuccess     time.Time            // zero: no trace succeeded yet
	lastOK          map[string]time.Time // nicKey → last time its verdict was OK
	runs            map[string]float64   // result → rounds
	skipped         float64
	running         bool

	// hasStats and hasBridges say whether those sources are configured.
	hasStats, hasBridges bool
	domains              []libvirtinspect.DomainStats
	statsErr             error
	bridges              *linuxbridge.Snapshot
	// bridgeErr is the last bridge snapshot's error.
	bridgeErr error
}

func (s state) clone() state {
	s.runs = maps.Clone(s.runs)
	return s
}

// verdicts are the states of every verdict state-set, in severity order.
var verdicts = []trace.Verdict{trace.Unknown, trace.OK, trace.Warn, trace.Fail}

// nicLabels label every per-NIC series.
var nicLabels = []string{"node", "role", "server", "server_id", "port", "tap"}

func nicKey(t *trace.Trace) string { return t.Tap + "\x00" + t.PortMAC.String() }

func nicValues(node string, role trace.Role, t *trace.Trace) []string {
	return []string{node, role.String(), t.ServerName, t.ServerID, t.PortID, t.Tap}
}

type descs struct {
	nodeInfo, nodeVerdict                 *prometheus.Desc
	nicVerdict, nicLastOK, hopVerdict     *prometheus.Desc
	hostCheck, orphans, orphanInfo        *prometheus.Desc
	traceDuration, traceSuccess, traceRun *prometheus.Desc
	nics                                  *prometheus.Desc
	runs, skipped, running, lastErr       *prometheus.Desc
	roundDuration                         *prometheus.Desc
	domInfo                               *prometheus.Desc
	ifCounters                            map[string]*prometheus.Desc
	portCounters                          map[string]*prometheus.Desc
	portUp                                *prometheus.Desc
}

// counterNames are the interface counters, as <direction>_<what>.
var counterNames = []string{
	"receive_bytes", "receive_packets", "receive_errors", "receive_drops",
	"transmit_bytes", "transmit_packets", "transmit_errors", "transmit_drops",
}

func newDescs() *descs {
	hop := append(append([]string{}, nicLabels...), "hop", "verdict")
	d := &descs{
		nodeInfo:    prometheus.NewDesc("vifpath_node_info", "The node the exporter traces: its name as Nova and Neutron know it, and its role (aio, compute, network). Always 1.", []string{"node", "role"}, nil),
		nodeVerdict: prometheus.NewDesc("vifpath_node_verdict", "State-set of the node's worst verdict over every NIC, orphan and host check of the last successful trace: 1 for the current verdict, 0 for the others.", []string{"node", "role", "verdict"}, nil),
		nicVerdict:  prometheus.NewDesc("vifpath_nic_verdict", "State-set of a VM NIC's trace verdict (the worst of its hops): 1 for the current verdict, 0 for the others.", append(append([]string{}, nicLabels...), "verdict"), nil),
		nicLastOK:   prometheus.NewDesc("vifpath_nic_last_ok_timestamp_seconds", "When a VM NIC's trace was last OK, as seen by this exporter (absent when it never was).", nicLabels, nil),
		hopVerdict:  prometheus.NewDesc("vifpath_hop_verdict", "State-set of the verdict of one hop kind of a VM NIC's trace: 1 for the current verdict, 0 for the others.", hop, nil),
		hostCheck:   prometheus.NewDesc("vifpath_host_check_verdict", "State-set of a node-wide host check's verdict (bridge-nf-call-iptables, NetworkManager, …).", []string{"node", "role", "check", "verdict"}, nil),
		orphans:     prometheus.NewDesc("vifpath_orphans", "Objects on the node that belong to no complete VM NIC, by kind (tap-without-domain, tap-without-port, interface-without-tap, port-without-tap).", []string{"node", "role", "kind"}, nil),
		orphanInfo:  prometheus.NewDesc("vifpath_orphan_info", "One orphan: its kind, name (tap, domain/interface or port ID) and verdict. Always 1.", []string{"node", "role", "kind", "name", "verdict"}, nil),
		nics:        prometheus.NewDesc("vifpath_nics", "VM NICs in the last successful trace.", []string{"node", "role"}, nil),

		traceDuration: prometheus.NewDesc("vifpath_trace_duration_seconds", "How long the last successful node trace took (observing and judging).", nil, nil),
		traceSuccess:  prometheus.NewDesc("vifpath_trace_last_success_timestamp_seconds", "When the last successful node trace finished; time() minus it is the age of every verdict series (absent before the first).", nil, nil),
		traceRun:      prometheus.NewDesc("vifpath_trace_last_run_timestamp_seconds", "When the last round finished, successful or not (absent before the first).", nil, nil),
		roundDuration: prometheus.NewDesc("vifpath_exporter_round_duration_seconds", "How long the last round took (every source, successful or not).", nil, nil),
		runs:          prometheus.NewDesc("vifpath_exporter_rounds_total", "Rounds run, by the trace's result: success, error or timeout.", []string{"result"}, nil),
		skipped:       prometheus.NewDesc("vifpath_exporter_rounds_skipped_total", "Rounds not started because the previous one was still running (a slow or hung trace).", nil, nil),
		running:       prometheus.NewDesc("vifpath_exporter_round_running", "1 while a round is running.", nil, nil),
		lastErr:       prometheus.NewDesc("vifpath_exporter_last_run_error", "1 when the source's last run failed (the exporter logs why), 0 when it worked.", []string{"source"}, nil),

		domInfo: prometheus.NewDesc("vifpath_libvirt_domain_info", "A libvirt domain from the last bulk stats call: name, UUID (the Nova server ID) and state. Always 1.", []string{"domain", "uuid", "state"}, nil),
		portUp:  prometheus.NewDesc("vifpath_bridge_port_up", "1 when a bridge port is administratively up and has carrier or is a running tap (oper state up or unknown), else 0.", []string{"bridge", "port"}, nil),

		ifCounters:   map[string]*prometheus.Desc{},
		portCounters: map[string]*prometheus.Desc{},
	}
	for _, n := range counterNames {
		d.ifCounters[n] = prometheus.NewDesc("vifpath_libvirt_interface_"+n+"_total", "A libvirt domain interface's counter, from the tap's side like the bridge port counters (receive: what the guest sent), from one bulk stats call.", []string{"domain", "uuid", "interface"}, nil)
		d.portCounters[n] = prometheus.NewDesc("vifpath_bridge_port_"+n+"_total", "A bridge port's interface counter, from the host's side (receive: what the port received from its peer or guest).", []string{"bridge", "port"}, nil)
	}
	return d
}

func (d *descs) describe(ch chan<- *prometheus.Desc) {
	for _, x := range []*prometheus.Desc{d.nodeInfo, d.nodeVerdict, d.nicVerdict, d.nicLastOK, d.hopVerdict, d.hostCheck, d.orphans, d.orphanInfo, d.nics,
		d.traceDuration, d.traceSuccess, d.traceRun, d.roundDuration, d.runs, d.skipped, d.running, d.lastErr, d.domInfo, d.portUp} {
		ch <- x
	}
	for _, n := range counterNames {
		ch <- d.ifCounters[n]
		ch <- d.portCounters[n]
	}
}

func gauge(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.GaugeValue, v, labels...)
}

func counter(desc *prometheus.Desc, v float64, labels ...string) prometheus.Metric {
	return prometheus.MustNewConstMetric(desc, prometheus.CounterValue, v, labels...)
}

func unix(t time.Time) float64 { return float64(t.UnixNano()) / 1e9 }

func b2f(b bool) float64 {
	if b {
		return 1
	}
	return 0
}

// stateSet appends one series per verdict, 1 for v.
func stateSet(out []prometheus.Metric, desc *prometheus.Desc, v trace.Verdict, labels ...string) []prometheus.Metric {
	for _, s := range verdicts {
		out = append(out, gauge(desc, b2f(s == v), append(labels, s.String())...))
	}
	return out
}

// metrics turns a state into series. It is a pure function of st.
func (d *descs) metrics(st *state) []prometheus.Metric {
	var out []prometheus.Metric
	for _, r := range []string{"success", "error", "timeout"} {
		out = append(out, counter(d.runs, st.runs[r], r))
	}
	out = append(out, counter(d.skipped, st.skipped), gauge(d.running, b2f(st.running)))
	if !st.lastRun.IsZero() {
		out = append(out, gauge(d.traceRun, unix(st.lastRun)), gauge(d.roundDuration, st.lastRunDuration.Seconds()),
			gauge(d.lastErr, b2f(st.traceErr != nil), SourceTrace))
		if st.hasStats {
			out = append(out, gauge(d.lastErr, b2f(st.statsErr != nil), SourceLibvirt))
		}
		if st.hasBridges {
			out = append(out, gauge(d.lastErr, b2f(st.bridgeErr != nil), SourceBridges))
		}
	}
	if !st.lastSuccess.IsZero() {
		out = append(out, gauge(d.traceSuccess, unix(st.lastSuccess)))
	}
	if nt := st.node; nt != nil {
		out = d.nodeMetrics(out, nt, st.lastOK)
	}
	for _, ds := range st.domains {
		state := "unknown"
		if ds.State != nil {
			state = ds.State.State.String()
		}
		out = append(out, gauge(d.domInfo, 1, ds.Domain.Name, ds.Domain.UUID, state))
		for _, i := range dedupIfaces(ds.Interfaces) {
			vals := []uint64{i.RxBytes, i.RxPackets, i.RxErrors, i.RxDropped, i.TxBytes, i.TxPackets, i.TxErrors, i.TxDropped}
			for k, n := range counterNames {
				out = append(out, counter(d.ifCounters[n], float64(vals[k]), ds.Domain.Name, ds.Domain.UUID, i.Name))
			}
		}
	}
	if st.bridges != nil {
		for _, b := range st.bridges.Bridges {
			for _, p := range b.Ports {
				s := p.Stats
				vals := []uint64{s.RxBytes, s.RxPackets, s.RxErrors, s.RxDropped, s.TxBytes, s.TxPackets, s.TxErrors, s.TxDropped}
				for k, n := range counterNames {
					out = append(out, counter(d.portCounters[n], float64(vals[k]), b.Name, p.Name))
				}
				up := p.Up && (p.OperState == linuxbridge.OperUp || p.OperState == linuxbridge.OperUnknown)
				out = append(out, gauge(d.portUp, b2f(up), b.Name, p.Name))
			}
		}
	}
	return out
}

// dedupIfaces keeps the first interface of each name (a stopped domain's
// interfaces may have none).
func dedupIfaces(in []libvirtinspect.InterfaceStats) []libvirtinspect.InterfaceStats {
	seen := map[string]bool{}
	var out []libvirtinspect.InterfaceStats
	for _, i := range in {
		if !seen[i.Name] {
			seen[i.Name] = true
			out = append(out, i)
		}
	}
	return out
}

func (d *descs) nodeMetrics(out []prometheus.Metric, nt *trace.NodeTrace, lastOK map[string]time.Time) []prometheus.Metric {
	node, role := nt.Node, nt.Role.String()
	out = append(out, gauge(d.nodeInfo, 1, node, role), gauge(d.nics, float64(len(nt.Traces)), node, role),
		gauge(d.traceDuration, nt.Duration.Seconds()))
	out = stateSet(out, d.nodeVerdict, nt.Verdict, node, role)
	seenNIC := map[string]bool{}
	for _, t := range nt.Traces {
		lv := nicValues(node, nt.Role, t)
		k := joinLabels(lv)
		if seenNIC[k] {
			continue // two NICs the exporter cannot tell apart: export the first
		}
		seenNIC[k] = true
		out = stateSet(out, d.nicVerdict, t.Verdict, lv...)
		if at, ok := lastOK[nicKey(t)]; ok {
			out = append(out, gauge(d.nicLastOK, unix(at), lv...))
		}
		for _, h := range worstPerKind(t.Hops, false) {
			out = stateSet(out, d.hopVerdict, h.Verdict, append(lv, string(h.Kind))...)
		}
	}
	for _, h := range worstPerKind(nt.HostChecks, true) {
		// Host checks are one kind; their names are the checks.
		out = stateSet(out, d.hostCheck, h.Verdict, node, role, h.Name)
	}
	counts := map[trace.OrphanKind]int{}
	seenOrphan := map[string]bool{}
	for _, o := range nt.Orphans {
		counts[o.Kind]++
		k := string(o.Kind) + "\x00" + o.Name
		if seenOrphan[k] {
			continue
		}
		seenOrphan[k] = true
		out = append(out, gauge(d.orphanInfo, 1, node, role, string(o.Kind), o.Name, o.Verdict.String()))
	}
	for _, k := range []trace.OrphanKind{trace.OrphanTapNoDomain, trace.OrphanTapNoPort, trace.OrphanInterfaceNoTap, trace.OrphanPortNoTap} {
		out = append(out, gauge(d.orphans, float64(counts[k]), node, role, string(k)))
	}
	return out
}

func joinLabels(v []string) string {
	n := ""
	for _, s := range v {
		n += s + "\x00"
	}
	return n
}

// worstPerKind keeps the worst hop of each kind (of each kind and name
// when byName), in first-seen order.
func worstPerKind(hops []trace.Hop, byName bool) []trace.Hop {
	idx := map[string]int{}
	var out []trace.Hop
	for _, h := range hops {
		k := string(h.Kind)
		if byName {
			k += "\x00" + h.Name
		}
		if i, ok := idx[k]; ok {
			if h.Verdict > out[i].Verdict {
				out[i] = h
			}
			continue
		}
		idx[k] = len(out)
		out = append(out, h)
	}
	return out
}
