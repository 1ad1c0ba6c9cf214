// Command vmtrace traces a VM NIC on a Linux bridge OpenStack node, hop by
// hop, with a verdict, evidence, cause and next step at each (package
// trace lists the hops: from the Nova server and Neutron port through the
// domain, tap, firewall, bridge and physical port to the network's DHCP
// side and the probes), for one NIC, one server or every NIC on the node.
//
// Usage:
//
//	vmtrace (-port ID | -mac MAC | -tap NAME) [-role aio|compute|network]
//	        [-agent-config FILE | -interface-mappings PHYSNET:NIC,…]
//	        [-netns NAME|PATH] [-netns-dir DIR] [-state-dir DIR] [-nm-run-dir DIR]
//	        [-no-arp] [-interval D] [-json | -dot | -mermaid]
//	vmtrace -server NAME|ID [-cloud NAME] [-libvirt-uri URI|none] [-node NAME]
//	        [-role …] [-agent-config …] [-netns …] [-netns-dir …] [-state-dir …]
//	        [-nm-run-dir …] [-no-arp] [-interval D] [-json | -dot | -mermaid]
//	vmtrace -all [-cloud NAME] [-libvirt-uri URI|none] [-node NAME] [-role …] [-netns …]
//	        [-netns-dir …] [-state-dir …] [-no-arp] [-interval D] [-json | -dot | -mermaid]
//	vmtrace -demo [-break FAULT] [-guest auto|netns|libvirt] [-json | -dot | -mermaid]
//	vmtrace -demo -nodes 2 [-break provider-wire|unknown-unicast|wrong-mapping|tap-down|dnsmasq] [-guest auto|netns|libvirt] [-json]
//	vmtrace -replay FILE [-json | -dot | -mermaid]
//	vmtrace -join [-json] FILE|URL…
//
// -join judges halves traced on different nodes as one path
// (trace.JoinTraces): a compute node's (-role compute -record A, or its
// -json output) and a network node's (-role network, recorded first),
// matched by port ID or MAC, with a provider-link hop between them. Each
// half is a file or an http(s) URL holding a recorded observation,
// vmtrace's -json output (a NIC's, a server's or -all's), or what
// vifpath-exporter serves on /traces.json when both nodes run one. It prints each joined
// NIC's hops (or -json, the NodeTrace) and exits with the worst verdict.
//
// Any trace takes -record FILE: the observation the verdicts were judged
// on (bridges, domains, DHCP facts, probe results, the API's answers;
// tokens and passwords removed) is written to FILE as JSON, and
// vmtrace -replay FILE judges it again anywhere, without root, the node or
// the cloud, and prints what the live run printed. With -demo, FILE gets
// the broken trace's observation and FILE.healthy (before its extension)
// the healthy one's.
//
// -all traces every VM NIC on this node from one observation (every tap
// on a brq bridge and every interface of a running libvirt domain; with
// -cloud, every server with a port bound to -node as well), with one
// counter interval and one ARP sweep per qdhcp namespace, and prints one
// line per NIC (verdict, tap, server, MAC, IP, first failing hop, cause),
// the orphans (taps no domain or port owns, interfaces and ports without
// a tap) and the failing host checks; -json prints the NodeTrace, -dot and
// -mermaid the node's picture (bridges, NICs coloured by verdict, healthy
// ones counted when many). It exits with the worst verdict.
//
// Every mode also takes -html FILE: a self-contained HTML report of the
// trace (the server's, with -server; the broken one, with -demo) written
// to FILE besides the output: verdict, first failing hop, picture, hops.
//
// With -server it asks Nova and Neutron (the cloud -cloud names in
// clouds.yaml; default OS_CLOUD, else an openrc's OS_* variables) for the
// server, in any status, by ID or unique name, and traces each of its
// ports on this node, starting with a server hop (ACTIVE ok; SHUTOFF or
// BUILD warn; ERROR fails with Nova's fault) and a port hop (binding). The
// domain and interface hops ask libvirtd: -libvirt-uri (default: the local
// read-only socket when it exists; "none", or no socket, leaves those hops
// unknown). -node is this node's name as Nova knows it (default the
// hostname). Only GET requests reach the cloud.
//
// -role says which side of the path this node holds: aio (the default:
// all of it), compute (libvirt, the tap, the bridge and its physical port,
// the FDB, the counters; the DHCP side is unknown; -skip-dhcp is a
// deprecated spelling) or network (the qdhcp namespace, dnsmasq, the hosts entry, the
// lease and the ARP probe; the compute side is unknown). On a network node
// without the API give -mac: the network is the one whose hosts file under
// -state-dir lists it (a port ID or tap name is a usage error there). The
// physical-port hop expects the interface the linuxbridge agent's
// physical_interface_mappings names (-agent-config, default
// /etc/neutron/plugins/ml2/linuxbridge_agent.ini; or -interface-mappings),
// chosen by the network's physical network with -server. With -role
// network the same flags name the network node's provider NIC: its half
// records the mappings (and the bridges), and -join finds the network
// node's bridge and eth2 through them for the provider-link hop.
//
// Without an API, give the Neutron port ID (or its first 11 characters),
// the port's MAC, or the tap's name. -netns names the namespace holding the bridges
// (a name under -netns-dir, or a path; default: vmtrace's own);
// -netns-dir is where the qdhcp-… namespaces are (default /run/netns);
// -state-dir is Neutron's DHCP state directory (default
// /var/lib/neutron/dhcp). Output is a text table, or -json, or a Graphviz
// (-dot) or Mermaid (-mermaid) diagram of the path with failing hops marked.
//
// -demo needs nothing but this machine and root: it builds the Pike
// launch-instance walkthrough's node in throwaway namespaces (a brq
// bridge and its eth2 uplink, a qdhcp namespace with the real dnsmasq
// started as Neutron starts it, and the guest), with an in-process fake
// Keystone, Nova and Neutron on 127.0.0.1 that knows it as the
// walkthrough's cloud does; traces the server as -cloud and -server do;
// breaks one hop (-break; the README lists the faults, dnsmasq is the
// default); traces again to show the verdict change; and removes
// everything, also on error, Ctrl-C or SIGTERM. A demo killed with
// SIGKILL is cleaned up by the next one.
//
// -demo -nodes 2 builds the walkthrough's two nodes instead (a controller
// with the qdhcp namespace and dnsmasq, compute1 with the guest, each with
// its own brq and eth2 on a provider switch, eth1 between them; -guest as
// for one node, the libvirt guest's libvirtd inside compute1), and a fake
// cloud that knows both hosts (nova-compute, the hypervisor and cirros1
// on compute1; the conductor, scheduler, DHCP and metadata agents on the
// controller; a Linux bridge agent on each). Each node traces the server
// with its role (-role network on the controller, then -role compute on
// compute1), the halves are joined (as -join does), one fault of the
// provider link or of one node is injected (-break), and both are traced
// and joined again.
//
// -guest chooses the demo's VM: libvirt boots a real qemu TCG domain
// shaped like Nova's (instance-…, the server's UUID, Nova metadata,
// <interface type='bridge'> on the brq with the tap) in a libvirtd the demo
// runs inside its compute1 namespace, from the kernel and initramfs
// scripts/guest-image.sh builds in /var/cache/vifpath/guest; the trace
// then also judges the domain, its interface and its libvirt counters
// (about 10 s more). netns is the namespace guest above. auto (the
// default) is libvirt when libvirtd, qemu and the image are there, else
// netns, saying why.
//
// Exit status: 0 when the overall verdict is ok; 1 when it is fail (or the
// trace could not run); 3 when it is warn or unknown (the path may work but
// something deserves a look); 2 on a usage error. With -demo: 0 when the
// healthy trace is ok and the broken one fails (warns, for lease-seeded),
// 1 otherwise.
//
// vmtrace needs root: it enters namespaces, reads dnsmasq's /proc entries
// and sends the ARP probe (-no-arp skips it).
package main

import (
	"cmp"
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"log/slog"
	"os"
	"os/signal"
	"path/filepath"
	"strings"
	"syscall"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// Exit statuses.
const (
	exitOK    = 0
	exitFail  = 1
	exitUsage = 2
	exitWarn  = 3
)

func main() {
	// SIGPIPE too: `vmtrace -demo | head` must not kill vmtrace before it
	// has removed the demo (Go would exit on a write to a closed stdout).
	ctx, stop := signal.NotifyContext(context.Background(), os.Interrupt, syscall.SIGTERM, syscall.SIGPIPE)
	code := run(ctx, os.Args[1:], os.Stdout, os.Stderr)
	stop()
	os.Exit(code)
}

type opts struct {
	port, mac, tap            string
	cloud, server             string
	libvirtURI, node          string
	netns, netnsDir, stateDir string
	nmRunDir                  string
	role, agentConfig         string
	ifMappings                string
	skipDHCP, noARP           bool
	probeDHCPServers          bool
	interval                  time.Duration
	json, dot, mermaid        bool
	demo                      bool
	breakage                  string
	guest                     string
	verbose                   bool
	html                      string
	all                       bool
	record, replay            string
	join                      bool
	nodes                     int
}

// run parses args, runs, and returns the exit status.
func run(ctx context.Context, args []string, stdout, stderr io.Writer) int {
	fs := flag.NewFlagSet("vmtrace", flag.ContinueOnError)
	fs.SetOutput(stderr)
	var o opts
	fs.StringVar(&o.port, "port", "", "Neutron port `ID` (or its first 11 characters)")
	fs.StringVar(&o.mac, "mac", "", "the port's `MAC` (fa:16:3e:…)")
	fs.StringVar(&o.tap, "tap", "", "the tap device's `NAME`")
	fs.StringVar(&o.server, "server", "", "trace a Nova server's ports: its `NAME or ID` (asks the cloud)")
	fs.StringVar(&o.cloud, "cloud", "", "with -server: the clouds.yaml entry `NAME` (default: OS_CLOUD, else the OS_* variables)")
	fs.StringVar(&o.libvirtURI, "libvirt-uri", "", "with -server: libvirtd `URI` for the domain hops, or none (default: the local read-only socket if it exists)")
	fs.StringVar(&o.node, "node", "", "with -server, -all, or -role compute|network: this node's `NAME` as Nova knows it, which -join names its half by (default: the hostname; - : do not compare)")
	fs.StringVar(&o.netns, "netns", "", "namespace holding the bridges: a `NAME` under -netns-dir or a path (default: this process's)")
	fs.StringVar(&o.netnsDir, "netns-dir", "", "where qdhcp-… (and -netns names) live (default /run/netns)")
	fs.StringVar(&o.stateDir, "state-dir", "", "Neutron's DHCP state directory (default /var/lib/neutron/dhcp)")
	fs.StringVar(&o.nmRunDir, "nm-run-dir", "", "NetworkManager's run directory (default /run/NetworkManager)")
	fs.BoolVar(&o.skipDHCP, "skip-dhcp", false, "deprecated: use -role compute (leave the DHCP side unjudged)")
	fs.StringVar(&o.role, "role", "", "this node's side of the path: `aio` (all of it, the default), compute or network")
	fs.StringVar(&o.agentConfig, "agent-config", "", "the linuxbridge agent's `FILE`, for physical_interface_mappings (default "+trace.DefaultAgentConfig+"; - : none, guess the NIC)")
	fs.StringVar(&o.ifMappings, "interface-mappings", "", "physical_interface_mappings given here, `PHYSNET:NIC,…` (instead of -agent-config)")
	fs.BoolVar(&o.noARP, "no-arp", false, "skip the ARP probe (the only hop that sends packets)")
	fs.BoolVar(&o.probeDHCPServers, "probe-dhcp-servers", false, "also look for DHCP servers other than Neutron's on each network: broadcasts DHCP DISCOVERs for an unknown MAC from a probe veth it adds to the network's bridge for 4s, onto the provider network too")
	fs.DurationVar(&o.interval, "interval", 0, "least time between the two counter samples (default 1s; negative: no wait)")
	fs.BoolVar(&o.json, "json", false, "print JSON")
	fs.BoolVar(&o.dot, "dot", false, "print a Graphviz DOT diagram of the path")
	fs.BoolVar(&o.mermaid, "mermaid", false, "print a Mermaid diagram of the path")
	fs.BoolVar(&o.demo, "demo", false, "build the walkthrough's path in throwaway namespaces, trace it, break it, trace again, remove it (root)")
	fs.StringVar(&o.breakage, "break", string(demo.BreakDnsmasq), "with -demo: the fault to inject: dnsmasq (kill it), tap-down, uplink (delete eth2), hosts-entry (drop the port from the hosts file), wrong-bridge (tap on virbr0), lease-seeded (dnsmasq restarted, lease not renewed), dup-ip (another host with the VM's IP) or fdb-never-learned (learning off on the tap)")
	fs.StringVar(&o.guest, "guest", string(demo.GuestAuto), "with -demo: the VM: libvirt (a qemu TCG domain), netns (a namespace) or auto (libvirt when available)")
	fs.BoolVar(&o.verbose, "v", false, "log progress to stderr")
	fs.StringVar(&o.html, "html", "", "also write a self-contained HTML report (picture, verdicts, evidence) to `FILE`")
	fs.BoolVar(&o.all, "all", false, "trace every VM NIC on this node from one observation (with -cloud: every server bound to -node too); one line per NIC")
	fs.StringVar(&o.record, "record", "", "also write the observation the trace judged to `FILE` (JSON, secrets removed), for -replay anywhere")
	fs.StringVar(&o.replay, "replay", "", "judge the observation recorded in `FILE` (no root, node or cloud needed) and print it as the live run did")
	fs.IntVar(&o.nodes, "nodes", 1, "with -demo: 1 (one all-in-one node) or 2 (a controller and compute1 on a provider switch, each traced with its role, the halves joined)")
	fs.BoolVar(&o.join, "join", false, "judge a compute node's and a network node's halves (recorded observations, -json output, or exporter /traces.json files or URLs), given as arguments, as one path")
	if err := fs.Parse(args); err != nil {
		if errors.Is(err, flag.ErrHelp) {
			return exitOK
		}
		return exitUsage
	}
	usage := func(format string, a ...any) int {
		fmt.Fprintf(stderr, "vmtrace: "+format+"\n", a...)
		fs.Usage()
		return exitUsage
	}
	if o.join {
		return runJoin(ctx, o, fs.Args(), stdout, stderr)
	}
	if fs.NArg() > 0 {
		return usage("unexpected arguments %q", fs.Args())
	}
	if n := count(o.json, o.dot, o.mermaid); n > 1 {
		return usage("-json, -dot and -mermaid exclude each other")
	}
	var log *slog.Logger
	if o.verbose {
		log = slog.New(slog.NewTextHandler(stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	if o.replay != "" {
		if o.demo || o.all || o.record != "" || o.server != "" || o.cloud != "" || o.port != "" || o.mac != "" || o.tap != "" {
			return usage("-replay judges a recorded observation: drop -demo, -all, -record, -server, -cloud, -port, -mac and -tap")
		}
		return runReplay(o, stdout, stderr)
	}
	if o.demo {
		if o.all {
			return usage("-demo traces its own topology: drop -all")
		}
		if o.server != "" || o.cloud != "" || o.libvirtURI != "" || o.node != "" {
			return usage("-demo traces its own topology: drop -server, -cloud, -libvirt-uri and -node")
		}
		if o.port != "" || o.mac != "" || o.tap != "" || o.netns != "" || o.netnsDir != "" || o.stateDir != "" || o.nmRunDir != "" ||
			o.skipDHCP || o.noARP || o.interval != 0 || o.probeDHCPServers {
			return usage("-demo traces its own topology: drop -port, -mac, -tap, -netns, -netns-dir, -state-dir, -nm-run-dir, -skip-dhcp, -no-arp, -interval and -probe-dhcp-servers")
		}
		if o.role != "" || o.agentConfig != "" || o.ifMappings != "" {
			return usage("-demo traces its own all-in-one topology: drop -role, -agent-config and -interface-mappings")
		}
		if o.nodes != 1 {
			return runTwoNodeDemo(ctx, o, log, stdout, stderr) // twonode.go
		}
		if !validBreakage(o.breakage) {
			return usage("-break %q: want one of %v", o.breakage, demo.Breakages())
		}
		if _, err := demo.ParseGuestKind(o.guest); err != nil {
			return usage("-guest %q: want one of %v", o.guest, demo.GuestKinds())
		}
		return runDemo(ctx, o, log, stdout, stderr)
	}
	if o.server == "" && !o.all && (o.cloud != "" || o.libvirtURI != "" || o.node != "" && (o.role == "" || o.role == string(trace.RoleAllInOne))) {
		return usage("-cloud, -libvirt-uri and -node go with -server or -all (-node also with -role compute or network: the half's name in -join)")
	}
	if n := count(o.port != "", o.mac != "", o.tap != "", o.server != "", o.all); n != 1 {
		return usage("give exactly one of -server, -port, -mac and -tap (or -all, -demo or -replay)")
	}
	var target trace.Target
	switch {
	case o.port != "":
		target.PortID = o.port
	case o.mac != "":
		m, err := hwaddr.Parse(o.mac)
		if err != nil {
			return usage("-mac: %v", err)
		}
		target.MAC = m
	default:
		target.Tap = o.tap
	}
	role, ifMappings, msg := roleFlags(o)
	if msg != "" {
		return usage("%s", msg)
	}
	cfg := &trace.Config{
		NetNSDir:         o.netnsDir,
		StateDir:         o.stateDir,
		NMRunDir:         o.nmRunDir,
		NoARP:            o.noARP,
		ProbeDHCPServers: o.probeDHCPServers,
		CounterInterval:  o.interval,
		NodeName:         o.node,
		Logger:           log,
	}
	cfg.Role, cfg.AgentConfig, cfg.InterfaceMappings = role, o.agentConfig, ifMappings
	if o.netns != "" {
		cfg.BridgeNetNSPath = o.netns
		if !strings.Contains(o.netns, "/") {
			dir := o.netnsDir
			if dir == "" {
				dir = "/run/netns"
			}
			cfg.BridgeNetNSPath = filepath.Join(dir, o.netns)
		}
	}
	if o.server != "" || o.all {
		return runServer(ctx, o, cfg, log, stdout, stderr)
	}
	obs, err := observe(ctx, o, cfg, trace.Request{Mode: trace.ModeNIC, Target: &target}, nil)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	tr, err := trace.JudgeTrace(obs)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	if err := render(stdout, o, tr); err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	if !report(o, tr, stderr) {
		return exitFail
	}
	return status(tr.Verdict)
}

// observe observes the node for req and, with -record, writes the
// observation.
func observe(ctx context.Context, o opts, cfg *trace.Config, req trace.Request, api *launch.Client) (*trace.Observation, error) {
	obs, err := trace.Observe(ctx, cfg, req, api)
	if err != nil {
		return nil, err
	}
	if o.record != "" {
		if err := obs.WriteFile(o.record); err != nil {
			return nil, err
		}
	}
	return obs, nil
}

// runReplay is -replay: judge a recorded observation and print it as the
// mode it was recorded in printed it.
func runReplay(o opts, stdout, stderr io.Writer) int {
	obs, err := trace.ReadObservationFile(o.replay)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	switch obs.Request.Mode {
	case trace.ModeNIC:
		tr, err := trace.JudgeTrace(obs)
		if err == nil {
			err = render(stdout, o, tr)
		}
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
		if !report(o, tr, stderr) {
			return exitFail
		}
		return status(tr.Verdict)
	case trace.ModeServer:
		st, err := trace.JudgeServer(obs)
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
		return printServer(o, st, stdout, stderr)
	}
	return printNode(o, trace.Judge(obs), stdout, stderr)
}

// printNode prints a node's traces: one line per NIC, -json, or the
// node's picture (-dot, -mermaid).
func printNode(o opts, nt *trace.NodeTrace, stdout, stderr io.Writer) int {
	var err error
	switch {
	case o.json:
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		err = e.Encode(nt)
	case o.dot:
		err = nt.WriteDOT(stdout)
	case o.mermaid:
		err = nt.WriteMermaid(stdout)
	default:
		err = nt.WriteLines(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	if !report(o, nt, stderr) {
		return exitFail
	}
	return status(nt.Verdict)
}

// runServer is the -server and -all mode: the cloud names the server and
// its ports (or the servers bound to this node), libvirtd (when there is
// one) the domains.
func runServer(ctx context.Context, o opts, cfg *trace.Config, log *slog.Logger, stdout, stderr io.Writer) int {
	cfg.NodeName = o.node
	switch {
	case o.libvirtURI == "none", cfg.Role == trace.RoleNetwork: // no domain on a network node
	case o.libvirtURI != "":
		lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{URI: o.libvirtURI, ReadOnly: true, Logger: log})
		if err != nil {
			fmt.Fprintf(stderr, "vmtrace: -libvirt-uri: %v\n", err)
			return exitUsage
		}
		defer lv.Close()
		cfg.Libvirt = lv
	default:
		// libvirtd absent or not answering (a network node): the domain
		// hops stay unknown ("no libvirt client").
		if _, err := os.Stat(libvirtinspect.DefaultReadOnlySocket); err == nil {
			lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true, DialTimeout: 2 * time.Second, Logger: log})
			if err == nil {
				defer lv.Close()
				cfg.Libvirt = lv
			} else if log != nil {
				log.Debug("no libvirt: the domain hops stay unknown", "err", err)
			}
		}
	}
	var api *launch.Client
	if o.server != "" || o.cloud != "" {
		var err error
		api, err = launch.Open(ctx, &launch.Config{Cloud: o.cloud, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
	}
	if o.all {
		obs, err := observe(ctx, o, cfg, trace.Request{Mode: trace.ModeNode}, api)
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
		return printNode(o, trace.Judge(obs), stdout, stderr)
	}
	obs, err := observe(ctx, o, cfg, trace.Request{Mode: trace.ModeServer, Server: o.server}, api)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	st, err := trace.JudgeServer(obs)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	return printServer(o, st, stdout, stderr)
}

// printServer prints a server's traces.
func printServer(o opts, st *trace.ServerTrace, stdout, stderr io.Writer) int {
	var err error
	switch {
	case o.json:
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		err = e.Encode(st)
	case o.dot || o.mermaid:
		// One diagram per port.
		for _, tr := range st.Traces {
			if err = render(stdout, o, tr); err != nil {
				break
			}
		}
	default:
		err = st.WriteText(stdout)
	}
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitFail
	}
	if !report(o, st, stderr) {
		return exitFail
	}
	return status(st.Verdict)
}

func count(bs ...bool) int {
	n := 0
	for _, b := range bs {
		if b {
			n++
		}
	}
	return n
}

func validBreakage(s string) bool {
	for _, b := range demo.Breakages() {
		if string(b) == s {
			return true
		}
	}
	return false
}

// report writes -html's file (nothing without -html), saying on stderr
// why it could not.
func report(o opts, r trace.HTMLReport, stderr io.Writer) bool {
	if o.html == "" {
		return true
	}
	err := trace.WriteHTMLFile(o.html, r)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: -html:", err)
	}
	return err == nil
}

// status maps an overall verdict to the exit status.
func status(v trace.Verdict) int {
	switch v {
	case trace.OK:
		return exitOK
	case trace.Fail:
		return exitFail
	}
	return exitWarn
}

func render(w io.Writer, o opts, tr *trace.Trace) error {
	switch {
	case o.json:
		e := json.NewEncoder(w)
		e.SetIndent("", "  ")
		return e.Encode(tr)
	case o.dot:
		return tr.WriteDOT(w)
	case o.mermaid:
		return tr.WriteMermaid(w)
	}
	return tr.WriteText(w)
}

// demoReport is -demo's JSON output.
type demoReport struct {
	Topology demoTopology `json:"topology"`
	Break    string       `json:"break"`
	Healthy  *trace.Trace `json:"healthy"`
	Broken   *trace.Trace `json:"broken"`
}

type demoTopology struct {
	Dir string `json:"dir"`
	// The fake cloud's server and where it listens (loopback).
	ServerID     string   `json:"server_id"`
	ServerName   string   `json:"server_name"`
	InstanceName string   `json:"instance_name"`
	Node         string   `json:"node"`
	AuthURL      string   `json:"auth_url"`
	NetworkID    string   `json:"network_id"`
	Bridge       string   `json:"bridge"`
	Uplink       string   `json:"uplink"`
	DHCPNetNS    string   `json:"dhcp_netns"`
	DHCPIf       string   `json:"dhcp_interface"`
	PortID       string   `json:"port_id"`
	Tap          string   `json:"tap"`
	MAC          string   `json:"mac"`
	IP           string   `json:"ip"`
	DnsmasqArgs  []string `json:"dnsmasq_args"`
	// Guest: which guest ran, and the libvirt guest's daemon and domain.
	demo.GuestInfo
}

func runDemo(ctx context.Context, o opts, log *slog.Logger, stdout, stderr io.Writer) (code int) {
	start := time.Now()
	// A demo killed with SIGKILL could not remove its dnsmasq and
	// namespace mounts: remove them now.
	done, err := demo.ReclaimStale("")
	if len(done) > 0 {
		fmt.Fprintf(stderr, "vmtrace: demo: removed what an earlier demo killed with SIGKILL left: %s\n", strings.Join(done, "; "))
	}
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo: removing an earlier demo's leftovers:", err)
	}
	guest, _ := demo.ParseGuestKind(o.guest)
	p, err := demo.BuildPath(ctx, &demo.PathConfig{Logger: log, Guest: guest})
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	defer func() {
		if err := p.Close(); err != nil {
			fmt.Fprintln(stderr, "vmtrace: demo: cleanup:", err)
			code = exitFail
		}
		if left := p.Leftovers(); len(left) > 0 {
			fmt.Fprintf(stderr, "vmtrace: demo: left behind: %s\n", strings.Join(left, ", "))
			code = exitFail
		} else {
			fmt.Fprintf(stderr, "vmtrace: demo: removed everything (namespaces, dnsmasq, the %s guest, %s) in %.1fs in all\n", p.GuestKind, p.Dir, time.Since(start).Seconds())
		}
	}()
	// The fake Nova/Neutron that knows this path; Path.Close stops it.
	cloud, err := p.StartCloud(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	text := !o.json && !o.dot && !o.mermaid
	if text {
		fmt.Fprintf(stdout, "Built in %s (%d ms): bridge %s with uplink %s, qdhcp-%s (%s 192.168.31.70/27, dnsmasq pid %d),\n"+
			"guest port %s on %s, MAC %s, leased %s by udhcpc;\n"+
			"a fake Nova/Neutron on %s knows it as server %s (%s, %s on %s).\n",
			p.Dir, time.Since(start).Milliseconds(), p.Bridge, p.Uplink, p.NetworkID, p.DHCPIf, p.DnsmasqPID, p.PortID, p.Tap, p.MAC, p.IP,
			cloud.AuthURL, cloud.ServerName, cloud.ServerID, cloud.InstanceName, cloud.NodeName)
		if p.GuestKind == demo.GuestLibvirt {
			fmt.Fprintf(stdout, "Guest: libvirt TCG domain %s (uuid %s, qemu pid %d) in the demo's libvirtd (%s), booted to its lease in %.1fs.\n\n",
				p.Domain, p.DomainUUID, p.QemuPID, p.LibvirtURI, p.GuestBoot.Seconds())
		} else {
			fmt.Fprintf(stdout, "Guest: a network namespace on a veth (not a libvirt domain: %s).\n\n", cmp.Or(p.GuestWhy, "-guest netns"))
		}
	}
	// As -cloud X -server NAME: the clouds.yaml entry, then the server.
	api, err := launch.Open(ctx, &launch.Config{Cloud: cloud.CloudName, CloudsFile: cloud.CloudsFile, Logger: log})
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	cfg := &trace.Config{
		BridgeNetNSPath: p.HostPath,
		NetNSDir:        p.NetNSDir,
		StateDir:        p.StateDir,
		NMRunDir:        p.NMRunDir,
		AgentConfig:     p.AgentConfig,
		// The demo's haproxy keeps Neutron's layout under the demo's
		// directory.
		MetadataPIDDir:      p.MetadataPIDDir,
		MetadataProxyDir:    p.MetadataProxyDir,
		MetadataAgentSocket: p.MetadataAgentSocket,
		CounterInterval:     500 * time.Millisecond,
		ARPTimeout:          500 * time.Millisecond,
		NodeName:            cloud.NodeName,
		Logger:              log,
	}
	if p.LibvirtSocketRO != "" {
		lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: p.LibvirtSocketRO, ReadOnly: true, Logger: log})
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace: demo:", err)
			return exitFail
		}
		defer lv.Close() // before p.Close: deferred calls run last-in first-out
		cfg.Libvirt = lv
	}
	healthySrv, err := demoServer(ctx, cfg, api, cloud.ServerName, recordName(o.record, "healthy"))
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	healthy := healthySrv.Traces[0] // the server has one port
	what := map[string]string{
		string(demo.BreakDnsmasq):         fmt.Sprintf("kill -9 dnsmasq (pid %d)", p.DnsmasqPID),
		string(demo.BreakTapDown):         fmt.Sprintf("ip link set %s down", p.Tap),
		string(demo.BreakUplink):          fmt.Sprintf("ip link delete %s (the bridge's physical port)", p.Uplink),
		string(demo.BreakHostsEntry):      fmt.Sprintf("drop %s from dnsmasq's hosts file and SIGHUP it", p.MAC),
		string(demo.BreakWrongBridge):     fmt.Sprintf("ip link set %s master %s (a bridge no Neutron agent made)", p.Tap, demo.WrongBridge),
		string(demo.BreakLeaseSeeded):     "restart dnsmasq as the DHCP agent does (lease file seeded), the guest not renewing",
		string(demo.BreakDupIP):           fmt.Sprintf("another host on %s holding %s (a duplicate address: both answer ARP)", p.Bridge, p.IP),
		string(demo.BreakFDBNeverLearned): fmt.Sprintf("bridge link set dev %s learning off; bridge fdb del %s dev %s master", p.Tap, p.MAC, p.Tap),
		string(demo.BreakAgentDown):       fmt.Sprintf("the Linux bridge agent on %s stops heartbeating (the fake cloud marks it dead, as after kill neutron-linuxbridge-agent)", cloud.NodeName),
	}[o.breakage]
	if text {
		fmt.Fprintf(stdout, "== 1. The healthy path: vmtrace -cloud %s -server %s\n\n", cloud.CloudName, cloud.ServerName)
		healthySrv.WriteText(stdout)
		fmt.Fprintf(stdout, "\n== 2. Break one hop: %s, and trace again\n\n", what)
	}
	if err := p.Break(demo.Breakage(o.breakage)); err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	brokenSrv, err := demoServer(ctx, cfg, api, cloud.ServerName, o.record)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	broken := brokenSrv.Traces[0]
	switch {
	case o.json:
		rep := demoReport{
			Topology: demoTopology{Dir: p.Dir, ServerID: cloud.ServerID, ServerName: cloud.ServerName, InstanceName: cloud.InstanceName,
				Node: cloud.NodeName, AuthURL: cloud.AuthURL, NetworkID: p.NetworkID, Bridge: p.Bridge, Uplink: p.Uplink,
				DHCPNetNS: filepath.Base(p.DHCP), DHCPIf: p.DHCPIf, PortID: p.PortID, Tap: p.Tap,
				MAC: p.MAC.String(), IP: p.IP.String(), DnsmasqArgs: p.DnsmasqArgs, GuestInfo: p.GuestInfo},
			Break: o.breakage, Healthy: healthy, Broken: broken,
		}
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		err = e.Encode(rep)
	case o.dot || o.mermaid:
		// Two diagrams, one after the other: before and after the break.
		if err = render(stdout, o, healthy); err == nil {
			err = render(stdout, o, broken)
		}
	default:
		err = brokenSrv.WriteText(stdout)
		var failing []string
		for _, h := range broken.Failing() {
			failing = append(failing, fmt.Sprintf("%s %s (%s)", h.Kind, h.Name, h.Verdict))
		}
		fmt.Fprintf(stdout, "\nVerdict: %s before, %s after %s; failing: %s.\n", healthy.Verdict, broken.Verdict, what, strings.Join(failing, ", "))
	}
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	if !report(o, brokenSrv, stderr) {
		return exitFail
	}
	// A lease only seeded is a warning: the path may still work; so is a
	// dead Linux bridge agent under a port it wired, and learning off on
	// the tap (the bridge floods to the VM, the probes are answered).
	wantBroken := trace.Fail
	if o.breakage == string(demo.BreakLeaseSeeded) || o.breakage == string(demo.BreakAgentDown) || o.breakage == string(demo.BreakFDBNeverLearned) {
		wantBroken = trace.Warn
	}
	if healthySrv.Verdict != trace.OK || brokenSrv.Verdict != wantBroken {
		fmt.Fprintf(stderr, "vmtrace: demo: expected ok then %s, got %s then %s\n", wantBroken, healthySrv.Verdict, brokenSrv.Verdict)
		return exitFail
	}
	return exitOK
}

// roleFlags checks -role, -skip-dhcp, -agent-config and
// -interface-mappings against each other and the target; msg is the
// usage error.
func roleFlags(o opts) (role trace.Role, mappings map[string]string, msg string) {
	role, err := trace.ParseRole(o.role)
	if err != nil {
		return "", nil, fmt.Sprintf("-role %q: want aio, compute or network", o.role)
	}
	if o.role == "" {
		role = "" // the zero value: -skip-dhcp may still make it compute
	}
	switch {
	case o.skipDHCP && o.role != "" && role != trace.RoleCompute:
		return "", nil, fmt.Sprintf("-skip-dhcp means -role compute: drop one of -skip-dhcp and -role %s", role)
	case o.agentConfig != "" && o.ifMappings != "":
		return "", nil, "-agent-config and -interface-mappings exclude each other"
	case role == trace.RoleNetwork && o.libvirtURI != "" && o.libvirtURI != "none":
		return "", nil, "-libvirt-uri with -role network: the domain is on the compute node"
	case role == trace.RoleNetwork && o.tap != "":
		return "", nil, "-tap with -role network: the tap is on the compute node; give -mac (the network is found by the hosts files) or -server"
	case role == trace.RoleNetwork && o.port != "":
		return "", nil, "-port with -role network: Neutron's hosts files hold mac,host-…,ip, not the port ID; give -mac or use -server"
	}
	if o.skipDHCP {
		role = trace.RoleCompute
	}
	if o.ifMappings != "" {
		m, err := linuxbridge.ParseMappings(o.ifMappings)
		if err != nil {
			return "", nil, fmt.Sprintf("-interface-mappings: %v", err)
		}
		mappings = m
	}
	return role, mappings, ""
}

// demoServer traces the demo's server as Server does and, when record is
// set, writes the observation it judged there.
func demoServer(ctx context.Context, cfg *trace.Config, api *launch.Client, server, record string) (*trace.ServerTrace, error) {
	if record == "" {
		return trace.Server(ctx, cfg, api, server)
	}
	obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeServer, Server: server}, api)
	if err != nil {
		return nil, err
	}
	if err := obs.WriteFile(record); err != nil {
		return nil, err
	}
	return trace.JudgeServer(obs)
}

// recordName is where -demo -record FILE writes the healthy trace's
// observation: FILE with ".healthy" before its extension (FILE itself
// gets the broken one).
func recordName(file, what string) string {
	if file == "" {
		return ""
	}
	ext := filepath.Ext(file)
	return strings.TrimSuffix(file, ext) + "." + what + ext
}
