package main

import (
	"context"
	"fmt"
	"os"
	"sort"
	"sync"
	"time"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/metrics"
	"github.com/vifpath/vifpath/trace"
)

// tapsNodeTrace is a STOPGAP until trace.Node and trace.NodeServers land
// (issue 10): the lead swaps it for
//
//	func(ctx context.Context) (*trace.NodeTrace, error) { return trace.Node(ctx, cfg) }
//
// (or trace.NodeServers(ctx, cfg, api) with --cloud). It traces every VM
// tap on the node's brq bridges (a "tap…" port whose MAC is libvirt's
// fe:… rewrite; the DHCP ports' host-side veths are not VM NICs) with
// trace.Run, a few at a time, and builds a NodeTrace: host checks moved
// to HostChecks, no orphans (node mode finds them). With api, each local
// Nova domain's server is traced with trace.Server instead, which names
// its ports and adds the server and port hops. On a network node
// (RoleNetwork) it traces the MACs of the hosts files.
func tapsNodeTrace(cfg *trace.Config, api *launch.Client) metrics.TraceFunc {
	return func(ctx context.Context) (*trace.NodeTrace, error) {
		start := time.Now()
		role, err := cfg.EffectiveRole()
		if err != nil {
			return nil, err
		}
		node := cfg.NodeName
		if node == "" || node == "-" {
			node, _ = os.Hostname()
		}
		nt := &trace.NodeTrace{Node: node, Role: role, Started: start}
		if role == trace.RoleNetwork {
			return nil, fmt.Errorf("vifpath-exporter: role network needs trace.Node (issue 10), not in this build: run with --role compute or aio")
		}
		in, err := linuxbridge.Open(&linuxbridge.Config{NetNSPath: cfg.BridgeNetNS, Logger: cfg.Logger})
		if err != nil {
			return nil, fmt.Errorf("vifpath-exporter: inspect the bridges' namespace %q: %w", cfg.BridgeNetNS, err)
		}
		snap, err := in.Snapshot(ctx)
		in.Close()
		if err != nil {
			return nil, fmt.Errorf("vifpath-exporter: read the bridges: %w", err)
		}
		var taps []string
		for _, b := range snap.Bridges {
			if b.Neutron.Kind != linuxbridge.DeviceBridge {
				continue
			}
			for _, p := range b.Ports {
				if p.Neutron.Kind == linuxbridge.DeviceTap && len(p.MAC) == 6 && p.MAC[0] == 0xfe {
					taps = append(taps, p.Name)
				}
			}
		}
		// Identity from libvirt's Nova metadata (tap → server), and with
		// the API the servers to trace from Nova.
		idents := map[string]*libvirtinspect.NovaInstance{}
		if cfg.Libvirt != nil {
			if doms, err := cfg.Libvirt.Domains(ctx); err == nil {
				for _, d := range doms {
					det, err := cfg.Libvirt.Details(ctx, d.UUID)
					if err != nil || det.Nova == nil {
						continue
					}
					for _, i := range det.Interfaces {
						idents[i.Target] = det.Nova
					}
				}
			}
		}
		var (
			mu     sync.Mutex
			traces []*trace.Trace
			errs   []error
			done   = map[string]bool{}
		)
		if api != nil {
			servers := map[string]bool{}
			for _, n := range idents {
				servers[n.InstanceUUID] = true
			}
			for id := range servers {
				st, err := trace.Server(ctx, cfg, api, id)
				if err != nil {
					errs = append(errs, err)
					continue
				}
				for _, t := range st.Traces {
					t.ServerID, t.ServerName = st.ServerID, st.ServerName
					if h, ok := t.Hop(trace.KindPort, ""); ok && t.PortID == "" {
						t.PortID = h.Name
					}
					traces = append(traces, t)
					done[t.Tap] = true
				}
			}
		}
		sem := make(chan struct{}, 4)
		var wg sync.WaitGroup
		for _, tap := range taps {
			if done[tap] {
				continue
			}
			wg.Go(func() {
				sem <- struct{}{}
				defer func() { <-sem }()
				t, err := trace.Run(ctx, cfg, trace.Target{Tap: tap})
				mu.Lock()
				defer mu.Unlock()
				if err != nil {
					errs = append(errs, err)
					return
				}
				if n := idents[tap]; n != nil {
					t.ServerID, t.ServerName = n.InstanceUUID, n.Name
				}
				if t.PortID == "" {
					t.PortID = linuxbridge.ParseDeviceName(tap).IDPrefix
				}
				traces = append(traces, t)
			})
		}
		wg.Wait()
		if err := ctx.Err(); err != nil {
			return nil, fmt.Errorf("vifpath-exporter: trace the node: %w", err)
		}
		if len(errs) > 0 && len(traces) == 0 {
			return nil, fmt.Errorf("vifpath-exporter: every trace failed, the first: %w", errs[0])
		}
		sort.Slice(traces, func(i, j int) bool { return traces[i].Tap < traces[j].Tap })
		for i, t := range traces {
			var keep []trace.Hop
			for _, h := range t.Hops {
				if h.Kind == trace.KindHostCheck {
					if i == 0 {
						nt.HostChecks = append(nt.HostChecks, h)
					}
					continue
				}
				keep = append(keep, h)
			}
			t.Hops = keep
			t.Verdict = trace.Worst(keep)
		}
		nt.Traces = traces
		v := trace.Worst(nt.HostChecks)
		for _, t := range traces {
			v = max(v, t.Verdict)
		}
		nt.Verdict = v
		nt.Duration = time.Since(start)
		return nt, nil
	}
}
