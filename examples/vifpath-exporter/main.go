// Command vifpath-exporter is a Prometheus exporter of VM path health for
// one Linux bridge OpenStack node: it traces every VM NIC on the node on
// its own schedule and serves, on --web.telemetry-path, the verdict of
// each NIC and of each hop of its path, the node's host checks and
// orphans, the trace's duration and age, the libvirt domains' interface
// counters (one bulk stats call) and the bridge ports' counters, all
// under the vifpath_ prefix (package metrics lists them).
//
// Usage:
//
//	vifpath-exporter [--web.listen-address ADDR]… [--web.telemetry-path /metrics]
//	        [--web.traces-path /traces.json] [--web.config.file FILE] [--interval 1m] [--timeout D]
//	        [--role aio|compute|network] [--node NAME] [--cloud NAME]
//	        [--libvirt-uri URI|none] [--netns NAME|PATH] [--netns-dir DIR]
//	        [--state-dir DIR] [--nm-run-dir DIR] [--agent-config FILE]
//	        [--counter-interval D] [--arp-timeout D] [--no-arp] [--log-level info]
//
// A scrape returns the last round's result and never waits for a trace:
// a slow node, a dead libvirtd or a hung namespace shows as
// vifpath_exporter_last_run_error, vifpath_exporter_rounds_total{result=
// "timeout"} and an ageing vifpath_trace_last_success_timestamp_seconds,
// never as a hung scrape. Rounds never overlap; one still running when the
// next is due is counted in vifpath_exporter_rounds_skipped_total.
//
// --web.config.file is the Prometheus exporter-toolkit web configuration
// (TLS, basic auth). /-/healthy answers 200 while the process serves.
//
// --web.traces-path (default /traces.json; "" serves none) serves the
// last successful round's traces as the NodeTrace JSON vmtrace -all -json
// prints (metrics.Collector.TracesHandler; 503 before the first round
// succeeded), behind the same web configuration. With --role compute on
// a compute node and --role network on the network node, vmtrace -join
// URL URL joins the two nodes' traces into one path per VM NIC, with the
// provider link between them judged (trace.JoinTraces).
//
// Without --cloud the node alone names each NIC (trace.Node: every tap on
// a brq bridge and every libvirt interface, with the server from the
// domain's Nova metadata). With --cloud (a clouds.yaml entry) every
// server with a port bound to this node is traced from the API
// (trace.NodeServers, which names servers and ports and adds their hops;
// listing ports by binding host needs the admin role). Only GET requests
// reach the cloud.
//
// It needs root (the trace enters the qdhcp namespaces and sends one ARP
// probe per NIC, unless --no-arp) and the libvirt read-only socket.
package main

import (
	"context"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"net"
	"net/http"
	"os"
	"os/signal"
	"strings"
	"syscall"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/collectors"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/prometheus/exporter-toolkit/web"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/metrics"
	"github.com/vifpath/vifpath/trace"
)

const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
)

// defaultListen is the exporter's port (not yet on Prometheus's
// default-port list).
const defaultListen = ":9831"

func main() {
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM)
	defer stop()
	os.Exit(run(ctx, os.Args[1:], os.Stderr, nil))
}

// listFlag is a repeatable string flag.
type listFlag []string

func (l *listFlag) String() string     { return strings.Join(*l, ",") }
func (l *listFlag) Set(s string) error { *l = append(*l, s); return nil }

type options struct {
	listen          listFlag
	telemetryPath   string
	webConfig       string
	interval        time.Duration
	timeout         time.Duration
	role            string
	node            string
	cloud           string
	libvirtURI      string
	netns           string
	netnsDir        string
	stateDir        string
	nmRunDir        string
	agentConfig     string
	counterInterval time.Duration
	arpTimeout      time.Duration
	noARP           bool
	logLevel        string
	tracesPath      string
}

func parse(args []string, stderr io.Writer) (*options, error) {
	o := &options{}
	fs := flag.NewFlagSet("vifpath-exporter", flag.ContinueOnError)
	fs.SetOutput(stderr)
	fs.Var(&o.listen, "web.listen-address", "address to listen on (repeatable; default "+defaultListen+")")
	fs.StringVar(&o.telemetryPath, "web.telemetry-path", "/metrics", "path under which to expose metrics")
	fs.StringVar(&o.tracesPath, "web.traces-path", "/traces.json", "path under which to serve the last round's traces as JSON (for vmtrace -join); empty: none")
	fs.StringVar(&o.webConfig, "web.config.file", "", "exporter-toolkit web configuration file (TLS, basic auth)")
	fs.DurationVar(&o.interval, "interval", time.Minute, "time between the starts of two trace rounds")
	fs.DurationVar(&o.timeout, "timeout", 0, "bound on one round (default: --interval, at most 1m)")
	fs.StringVar(&o.role, "role", "aio", "this node's side of the path: aio, compute or network")
	fs.StringVar(&o.node, "node", "", "this node's name as Nova and Neutron know it (default: the hostname)")
	fs.StringVar(&o.cloud, "cloud", "", "clouds.yaml entry: name servers and ports from the API (default: none, the node alone)")
	fs.StringVar(&o.libvirtURI, "libvirt-uri", "", "libvirtd to ask (default: the local read-only socket; none: no libvirt)")
	fs.StringVar(&o.netns, "netns", "", "namespace holding the bridges: a name under --netns-dir or a path (default: the exporter's own)")
	fs.StringVar(&o.netnsDir, "netns-dir", "", "where the qdhcp namespaces are (default /run/netns)")
	fs.StringVar(&o.stateDir, "state-dir", "", "Neutron's DHCP state directory (default /var/lib/neutron/dhcp)")
	fs.StringVar(&o.nmRunDir, "nm-run-dir", "", "NetworkManager's run directory (default /run/NetworkManager)")
	fs.StringVar(&o.agentConfig, "agent-config", "", "linuxbridge agent configuration (default "+trace.DefaultAgentConfig+")")
	fs.DurationVar(&o.counterInterval, "counter-interval", time.Second, "interval between the two samples of each tap's counters")
	fs.DurationVar(&o.arpTimeout, "arp-timeout", time.Second, "bound on each NIC's ARP probe")
	fs.BoolVar(&o.noARP, "no-arp", false, "send no ARP probe (the arp hop is then unknown)")
	fs.StringVar(&o.logLevel, "log-level", "info", "debug, info, warn or error")
	if err := fs.Parse(args); err != nil {
		return nil, err
	}
	if fs.NArg() > 0 {
		return nil, fmt.Errorf("unexpected arguments %q", fs.Args())
	}
	if len(o.listen) == 0 {
		o.listen = listFlag{defaultListen}
	}
	if !strings.HasPrefix(o.telemetryPath, "/") || o.telemetryPath == "/-/healthy" {
		return nil, fmt.Errorf("--web.telemetry-path %q: want an absolute path other than /-/healthy", o.telemetryPath)
	}
	if _, err := trace.ParseRole(o.role); err != nil {
		return nil, fmt.Errorf("--role: %w", err)
	}
	if o.interval <= 0 || o.timeout < 0 {
		return nil, fmt.Errorf("--interval %v, --timeout %v: want a positive interval and a non-negative timeout", o.interval, o.timeout)
	}
	return o, nil
}

// run parses args and serves until ctx ends. ready, when non-nil, gets
// the bound addresses once listening (for tests).
func run(ctx context.Context, args []string, stderr io.Writer, ready func([]net.Addr)) int {
	o, err := parse(args, stderr)
	if err != nil {
		if !errors.Is(err, flag.ErrHelp) {
			fmt.Fprintln(stderr, "vifpath-exporter:", err)
		}
		return exitUsage
	}
	var level slog.Level
	if err := level.UnmarshalText([]byte(o.logLevel)); err != nil {
		fmt.Fprintln(stderr, "vifpath-exporter: --log-level:", err)
		return exitUsage
	}
	log := slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: level}))
	if err := serve(ctx, o, log, ready); err != nil {
		log.Error("vifpath-exporter: " + err.Error())
		return exitFail
	}
	return exitOK
}

func serve(ctx context.Context, o *options, log *slog.Logger, ready func([]net.Addr)) error {
	role, err := trace.ParseRole(o.role)
	if err != nil {
		return err
	}
	cfg := &trace.Config{
		NetNSDir: o.netnsDir, StateDir: o.stateDir, NMRunDir: o.nmRunDir, AgentConfig: o.agentConfig,
		Role: role, NoARP: o.noARP, CounterInterval: o.counterInterval, ARPTimeout: o.arpTimeout, NodeName: o.node, Logger: log,
	}
	if o.netns != "" {
		cfg.BridgeNetNSPath = o.netns
		if !strings.Contains(o.netns, "/") {
			dir := o.netnsDir
			if dir == "" {
				dir = linuxbridge.DefaultNetNSDir
			}
			cfg.BridgeNetNSPath = dir + "/" + o.netns
		}
	}
	var lv *libvirtinspect.Client
	if o.libvirtURI != "none" && role != trace.RoleNetwork {
		lc := &libvirtinspect.Config{ReadOnly: true, Logger: log}
		if o.libvirtURI != "" {
			lc.URI = o.libvirtURI
		}
		// NewFromConfig is lazy: a libvirtd that is down now is dialled again each
		// round, and its absence is a failed source, not a failed start.
		lv, err = libvirtinspect.NewFromConfig(lc)
		if err != nil {
			return fmt.Errorf("libvirt %q: %w", o.libvirtURI, err)
		}
		defer lv.Close()
		cfg.Libvirt = lv
	}
	var api *launch.Client
	if o.cloud != "" {
		api, err = launch.Open(ctx, &launch.Config{Cloud: o.cloud, Logger: log})
		if err != nil {
			return fmt.Errorf("cloud %q: %w", o.cloud, err)
		}
	}
	nodeTrace := func(ctx context.Context) (*trace.NodeTrace, error) { return trace.Node(ctx, cfg) }
	if api != nil {
		nodeTrace = func(ctx context.Context) (*trace.NodeTrace, error) { return trace.NodeServers(ctx, cfg, api) }
	}
	mc := &metrics.Config{
		Trace:    nodeTrace,
		Interval: o.interval, Timeout: o.timeout, Logger: log,
	}
	if lv != nil {
		mc.Stats = func(ctx context.Context) ([]libvirtinspect.DomainStats, error) {
			return lv.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface})
		}
	}
	if role != trace.RoleNetwork {
		in, err := linuxbridge.Open(ctx, &linuxbridge.Config{NetNSPath: cfg.BridgeNetNSPath, Logger: log})
		if err != nil {
			return fmt.Errorf("bridges' namespace %q: %w", cfg.BridgeNetNSPath, err)
		}
		defer in.Close()
		mc.Bridges = in.Snapshot
	}
	col, err := metrics.New(mc)
	if err != nil {
		return err
	}
	defer col.Close()
	reg := prometheus.NewRegistry()
	reg.MustRegister(col, collectors.NewGoCollector(), collectors.NewProcessCollector(collectors.ProcessCollectorOpts{}))

	mux := http.NewServeMux()
	mux.Handle(o.telemetryPath, promhttp.HandlerFor(reg, promhttp.HandlerOpts{ErrorLog: slog.NewLogLogger(log.Handler(), slog.LevelError), Timeout: 10 * time.Second}))
	links := []web.LandingLinks{{Address: o.telemetryPath, Text: "Metrics"}, {Address: "/-/healthy", Text: "Health"}}
	if o.tracesPath != "" && o.tracesPath != o.telemetryPath {
		mux.Handle(o.tracesPath, col.TracesHandler())
		links = append(links, web.LandingLinks{Address: o.tracesPath, Text: "Traces (JSON, for vmtrace -join)"})
	}
	mux.HandleFunc("/-/healthy", func(w http.ResponseWriter, _ *http.Request) { io.WriteString(w, "vifpath-exporter is healthy.\n") })
	if o.telemetryPath != "/" {
		landing, err := web.NewLandingPage(web.LandingConfig{
			Name: "vifpath exporter", Description: "VM network path health of a Linux bridge OpenStack node", Version: "v0",
			Links: links,
		})
		if err != nil {
			return err
		}
		mux.Handle("/", landing)
	}

	var lns []net.Listener
	defer func() {
		for _, l := range lns {
			l.Close()
		}
	}()
	var addrs []net.Addr
	for _, a := range o.listen {
		l, err := net.Listen("tcp", a)
		if err != nil {
			return fmt.Errorf("--web.listen-address %s: %w", a, err)
		}
		lns = append(lns, l)
		addrs = append(addrs, l.Addr())
	}
	if err := col.Start(); err != nil {
		return err
	}
	srv := &http.Server{Handler: mux, ReadHeaderTimeout: 10 * time.Second}
	flags := &web.FlagConfig{WebListenAddresses: (*[]string)(&o.listen), WebSystemdSocket: new(bool), WebConfigFile: &o.webConfig}
	errc := make(chan error, 1)
	go func() { errc <- web.ServeMultiple(lns, srv, flags, log) }()
	log.Info("vifpath-exporter: serving", "addresses", addrs, "path", o.telemetryPath, "interval", o.interval, "role", role)
	if ready != nil {
		ready(addrs)
	}
	select {
	case err := <-errc:
		return err
	case <-ctx.Done():
	}
	sctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	srv.Shutdown(sctx)
	<-errc
	return nil
}
