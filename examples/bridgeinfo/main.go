// Command bridgeinfo is a `brctl show` for OpenStack Neutron's Linux bridge
// agent: every bridge with the network it serves, its ports with the
// Neutron port each stands for, their kind, state, STP port state and the
// MACs the bridge learned on them.
//
// Usage:
//
//	bridgeinfo [-netns NAME] [-network ID] [-mac MAC] [-json]
//	bridgeinfo -demo [-json]
//
// -netns inspects a named namespace (under /run/netns, or -netns-dir);
// -network shows only the bridge of a Neutron network; -mac says which port
// of which bridge learned a MAC; -json prints linuxbridge's own types.
// -demo builds the demo's compute node in throwaway namespaces (a brq
// bridge, an eth2 uplink to a gateway, a DHCP port's veth to the qdhcp
// namespace where dnsmasq runs, a running guest's tap that leased its
// address and a stopped guest's tap), inspects it and removes it, also on
// error or Ctrl-C. Inspecting the current namespace needs no privileges; -netns
// needs CAP_SYS_ADMIN; -demo needs root.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"text/tabwriter"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/linuxbridge"
)

func main() {
	var (
		netns    = flag.String("netns", "", "inspect the named network namespace instead of the current one")
		netnsDir = flag.String("netns-dir", "", "where -netns names live (default /run/netns)")
		network  = flag.String("network", "", "show only the bridge of this Neutron network ID")
		mac      = flag.String("mac", "", "show which port of which bridge learned this MAC")
		asJSON   = flag.Bool("json", false, "print JSON (linuxbridge's types)")
		runDemo  = flag.Bool("demo", false, "build a demo topology in throwaway namespaces, inspect it, remove it")
		verbose  = flag.Bool("v", false, "log progress to stderr")
	)
	flag.Parse()
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	err := run(ctx, os.Stdout, opts{*netns, *netnsDir, *network, *mac, *asJSON, *runDemo, *verbose})
	stop()
	if err != nil {
		fmt.Fprintln(os.Stderr, "bridgeinfo:", err)
		os.Exit(1)
	}
}

type opts struct {
	netns, netnsDir, network, mac string
	json, demo, verbose           bool
}

func run(ctx context.Context, w io.Writer, o opts) error {
	var log *slog.Logger
	if o.verbose {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	cfg := &linuxbridge.Config{NetNSDir: o.netnsDir, Logger: log}
	if o.demo {
		if o.netns != "" {
			return errors.New("-demo inspects its own namespace: drop -netns")
		}
		p, err := demo.BuildPath(ctx, &demo.PathConfig{Logger: log, StoppedGuest: true})
		if err != nil {
			return err
		}
		defer p.Close()
		if !o.json {
			fmt.Fprintf(w, "Demo compute node: namespace %s; network %s, its bridge %s; uplink %s to a gateway.\n",
				p.HostPath, p.NetworkID, p.Bridge, p.Uplink)
			fmt.Fprintf(w, "  Neutron port %s (DHCP port) -> %s\n", p.DHCPPortID, linuxbridge.PortTapName(p.DHCPPortID))
			fmt.Fprintf(w, "  Neutron port %s (running guest, MAC %s, %s) -> %s\n", p.PortID, p.MAC, p.IP, p.Tap)
			fmt.Fprintf(w, "  Neutron port %s (stopped guest, MAC %s) -> %s\n", p.StoppedPortID, p.StoppedMAC, p.StoppedTap)
			fmt.Fprintln(w)
		}
		cfg.NetNSPath = p.HostPath
		if o.network == "" {
			o.network = p.NetworkID
		}
		err = inspect(ctx, w, cfg, o)
		if err == nil && !o.json && o.mac == "" {
			// Where was the running guest's MAC learned?
			fmt.Fprintf(w, "\nbridgeinfo -mac %s:\n", p.MAC)
			o.mac = p.MAC.String()
			err = inspect(ctx, w, cfg, o)
		}
		if cerr := p.Close(); cerr != nil && err == nil {
			err = cerr
		}
		return err
	}
	return inspect(ctx, w, cfg, o)
}

func inspect(ctx context.Context, w io.Writer, cfg *linuxbridge.Config, o opts) error {
	var in *linuxbridge.Inspector
	var err error
	if o.netns != "" {
		in, err = linuxbridge.OpenNamespace(ctx, cfg, o.netns)
	} else {
		in, err = linuxbridge.Open(ctx, cfg)
	}
	if err != nil {
		return err
	}
	defer in.Close()

	if o.mac != "" {
		m, err := hwaddr.Parse(o.mac)
		if err != nil {
			return fmt.Errorf("-mac: %w", err)
		}
		es, err := in.WhereIs(ctx, m)
		if err != nil {
			return err
		}
		if o.json {
			return printJSON(w, es)
		}
		tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
		fmt.Fprintln(tw, "MAC\tBRIDGE\tNETWORK\tPORT\tNEUTRON PORT\tSTATE")
		for _, e := range es {
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\n", e.MAC, e.Bridge, dash(linuxbridge.ParseDeviceName(e.Bridge).IDPrefix),
				e.Port, dash(linuxbridge.ParseDeviceName(e.Port).IDPrefix), e.State)
		}
		return tw.Flush()
	}

	var snap *linuxbridge.Snapshot
	if o.network != "" {
		br, err := in.BridgeForNetwork(ctx, o.network)
		if err != nil {
			return err
		}
		fdb, err := in.FDB(ctx)
		if err != nil {
			return err
		}
		snap = &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{*br}}
		for _, e := range fdb {
			if e.Bridge == br.Name {
				snap.FDB = append(snap.FDB, e)
			}
		}
	} else if snap, err = in.Snapshot(ctx); err != nil {
		return err
	}
	if o.json {
		return printJSON(w, snap)
	}
	return printTable(w, snap)
}

func printJSON(w io.Writer, v any) error {
	enc := json.NewEncoder(w)
	enc.SetIndent("", "  ")
	return enc.Encode(v)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func yesno(b bool) string {
	if b {
		return "yes"
	}
	return "no"
}

// printTable prints brctl-show-like rows: one per port, the bridge's
// columns on its first row, and the MACs learned on each port.
func printTable(w io.Writer, snap *linuxbridge.Snapshot) error {
	learned := map[string][]string{} // bridge/port -> learned MACs
	for _, e := range snap.FDB {
		if e.Learned() {
			k := e.Bridge + "/" + e.Port
			learned[k] = append(learned[k], e.MAC.String())
		}
	}
	tw := tabwriter.NewWriter(w, 0, 4, 2, ' ', 0)
	fmt.Fprintln(tw, "BRIDGE\tNETWORK\tSTP\tSTATE\tADDRS\tPORT\tKIND\tNEUTRON PORT\tSTATE\tSTP STATE\tMAC\tLEARNED MACS")
	for _, b := range snap.Bridges {
		var addrs []string
		for _, a := range b.Addrs {
			addrs = append(addrs, a.String())
		}
		head := fmt.Sprintf("%s\t%s\t%s\t%s\t%s", b.Name, dash(b.Neutron.IDPrefix), yesno(b.STP), b.OperState, dash(strings.Join(addrs, ",")))
		if len(b.Ports) == 0 {
			fmt.Fprintf(tw, "%s\t-\t\t\t\t\t\t\n", head)
		}
		for i, p := range b.Ports {
			if i > 0 {
				head = "\t\t\t\t"
			}
			kind := p.Kind.String()
			if p.Peer != nil && p.Peer.NetNSID >= 0 {
				kind += fmt.Sprintf(" (peer %d@nsid %d)", p.Peer.Index, p.Peer.NetNSID)
			}
			state := p.OperState.String()
			if !p.Up {
				state = "admin-down"
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\t%s\t%s\t%s\n", head, p.Name, kind, dash(p.Neutron.IDPrefix), state, p.STPState, p.MAC,
				dash(strings.Join(learned[b.Name+"/"+p.Name], ",")))
		}
	}
	return tw.Flush()
}
