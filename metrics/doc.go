// Package metrics provides a Prometheus collector of VM path health for
// one node: the verdict of every VM NIC's trace and of each of its hops,
// the node's host checks and orphans, the trace's duration and age, the
// libvirt domains' interface counters from one bulk stats call, and the
// bridge ports' counters, all under the vifpath_ prefix so the series sit
// beside the libvirt and node exporters without clashing.
//
// A Collector runs its sources (a node trace, libvirt stats, a bridge
// snapshot) on its own schedule, never more than one round at a time and
// each round under a timeout, and keeps the last result. A scrape
// (Collect) only reads that result: it never waits for a round, so a
// scrape during a trace, a dead libvirtd or a trace that hangs leaves the
// exporter answering, with the health series (vifpath_exporter_*) saying
// what went wrong and the age series (vifpath_trace_last_success_…)
// growing.
//
// The collector takes the trace as a function
// (func(context.Context) (*trace.NodeTrace, error)), so any node mode
// plugs in: trace.Node, trace.NodeServers with an API, or a replay.
//
// # Series and cardinality
//
// Per VM NIC (labels node, role, server, server_id, port, tap):
// vifpath_nic_verdict (a state-set: one series per verdict, value 1 for
// the NIC's verdict), vifpath_nic_last_ok_timestamp_seconds, and per hop
// kind vifpath_hop_verdict (the state-set again, with label hop). Hop
// kinds are a fixed list (trace.Kind; about 20), verdicts four, so a node
// has at most 4 × (1 + hop kinds) verdict series per NIC; the README has
// the measured count for a node of 200 NICs. Two hops of one kind in a
// trace are exported as the worse of the two. Names, addresses and
// evidence are never labels. Orphans are exported by name
// (vifpath_orphan_info), bounded by the node's taps and interfaces.
//
// # Joining two nodes
//
// Collector.TracesHandler serves the last round's traces as JSON (the
// exporter's /traces.json). On a compute node (trace role compute) and a
// network node (role network) those are the two halves of each VM's path:
// trace.DecodeHalf reads them and trace.JoinTraces joins them, with the
// provider link between the nodes judged (vmtrace -join URL URL).
//
// # Privileges
//
// None of its own: the sources need what they need (trace.Node: root;
// libvirtinspect: the libvirt read-only socket; linuxbridge: none in the
// process's own namespace).
//
// # Example
//
//	c, err := metrics.New(&metrics.Config{Trace: nodeTrace, Interval: time.Minute})
//	if err != nil { … }
//	defer c.Close()
//	reg := prometheus.NewRegistry()
//	reg.MustRegister(c)
//	c.Start()
//
// Collector is safe for concurrent use.
package metrics
