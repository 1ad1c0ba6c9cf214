package main

import (
	"cmp"
	"context"
	"encoding/json"
	"fmt"
	"io"
	"log/slog"
	"net/http"
	"slices"
	"strings"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// twoNodeReport is -demo -nodes 2's JSON output.
type twoNodeReport struct {
	Dir     string           `json:"dir"`
	Break   string           `json:"break"`
	Healthy *trace.NodeTrace `json:"healthy"`
	Broken  *trace.NodeTrace `json:"broken"`
}

// runTwoNodeDemo is -demo -nodes 2: build the walkthrough's two nodes,
// trace each half with its role and join them, break one thing, trace
// and join again, remove everything.
func runTwoNodeDemo(ctx context.Context, o opts, log *slog.Logger, stdout, stderr io.Writer) (code int) {
	start := time.Now()
	if o.nodes != 2 {
		fmt.Fprintf(stderr, "vmtrace: -demo -nodes %d: want 1 or 2\n", o.nodes)
		return exitUsage
	}
	if o.dot || o.mermaid || o.record != "" {
		fmt.Fprintln(stderr, "vmtrace: -demo -nodes 2 prints text or -json and records nothing: drop -dot, -mermaid and -record")
		return exitUsage
	}
	guest, err := demo.ParseGuestKind(o.guest)
	if err != nil {
		fmt.Fprintf(stderr, "vmtrace: -guest %q: want one of %v\n", o.guest, demo.GuestKinds())
		return exitUsage
	}
	if !slices.Contains(demo.TwoNodeBreakages(), demo.Breakage(o.breakage)) {
		fmt.Fprintf(stderr, "vmtrace: -demo -nodes 2 -break %q: want one of %v\n", o.breakage, demo.TwoNodeBreakages())
		return exitUsage
	}
	if done, err := demo.ReclaimStale(""); len(done) > 0 || err != nil {
		fmt.Fprintf(stderr, "vmtrace: demo: removed an earlier demo's leftovers: %s %v\n", strings.Join(done, "; "), err)
	}
	tn, err := demo.BuildTwoNode(ctx, &demo.PathConfig{Logger: log, Guest: guest})
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	defer func() {
		if err := tn.Close(); err != nil {
			fmt.Fprintln(stderr, "vmtrace: demo: cleanup:", err)
			code = exitFail
		}
		if left := tn.Leftovers(); len(left) > 0 {
			fmt.Fprintf(stderr, "vmtrace: demo: left behind: %s\n", strings.Join(left, ", "))
			code = exitFail
		} else {
			fmt.Fprintf(stderr, "vmtrace: demo: removed everything (both nodes, the switch, dnsmasq, %s) in %.1fs in all\n", tn.Dir, time.Since(start).Seconds())
		}
	}()
	// The fake Nova/Neutron that knows both hosts; Close stops it.
	cloud, err := tn.StartCloud(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	text := !o.json
	if text {
		fmt.Fprintf(stdout, "Built in %s (%d ms): %s (qdhcp-%s, dnsmasq pid %d, %s with eth2) and %s (guest port %s on %s, MAC %s, leased %s across the link),\n"+
			"each eth2 on the provider switch %s, eth1 the management link;\n"+
			"a fake Nova/Neutron on %s knows both hosts: server %s (%s) on %s, the DHCP and metadata agents on %s.\n",
			tn.Dir, time.Since(start).Milliseconds(), demo.ControllerName, tn.NetworkID, tn.DnsmasqPID, tn.Bridge, demo.ComputeName, tn.PortID, tn.Tap, tn.MAC, tn.IP, tn.Switch,
			cloud.AuthURL, cloud.ServerName, cloud.ServerID, demo.ComputeName, demo.ControllerName)
		if tn.GuestKind == demo.GuestLibvirt {
			fmt.Fprintf(stdout, "Guest: libvirt TCG domain %s (qemu pid %d) in %s's libvirtd, booted to its lease across the switch in %.1fs.\n\n",
				tn.Domain, tn.QemuPID, demo.ComputeName, tn.GuestBoot.Seconds())
		} else {
			fmt.Fprintf(stdout, "Guest: a network namespace on a veth (not a libvirt domain: %s).\n\n", cmp.Or(tn.GuestWhy, "-guest netns"))
		}
		fmt.Fprintf(stdout, "== 1. Each node traces its half (vmtrace -cloud %s -role network -server %s -json > N on %s, then -role compute … > C on %s); vmtrace -join N C\n\n",
			cloud.CloudName, cloud.ServerName, demo.ControllerName, demo.ComputeName)
	}
	healthy, err := tn.Join(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	if text {
		healthy.Traces[0].WriteText(stdout)
		fmt.Fprintf(stdout, "\n== 2. Break: %s; each node traces again, joined\n\n", o.breakage)
	}
	if err := tn.Break(demo.Breakage(o.breakage)); err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	broken, err := tn.Join(ctx)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace: demo:", err)
		return exitFail
	}
	if text {
		broken.Traces[0].WriteText(stdout)
		var failing []string
		for _, h := range broken.Traces[0].Failing() {
			failing = append(failing, fmt.Sprintf("%s %s (%s)", h.Kind, h.Name, h.Verdict))
		}
		fmt.Fprintf(stdout, "\nVerdict: %s before, %s after %s; failing: %s.\n", healthy.Verdict, broken.Verdict, o.breakage, strings.Join(failing, ", "))
	} else {
		e := json.NewEncoder(stdout)
		e.SetIndent("", "  ")
		if err := e.Encode(twoNodeReport{Dir: tn.Dir, Break: o.breakage, Healthy: healthy, Broken: broken}); err != nil {
			fmt.Fprintln(stderr, "vmtrace: demo:", err)
			return exitFail
		}
	}
	if healthy.Verdict != trace.OK || broken.Verdict != trace.Fail {
		fmt.Fprintf(stderr, "vmtrace: demo: expected ok then fail, got %s then %s\n", healthy.Verdict, broken.Verdict)
		return exitFail
	}
	return exitOK
}

// runJoin is -join: judge halves traced on different nodes as one path
// (trace.JoinTraces): each argument a file or an http(s) URL holding a
// recorded observation, vmtrace's -json output, or an exporter's
// traces endpoint (trace.DecodeHalf).
func runJoin(ctx context.Context, o opts, args []string, stdout, stderr io.Writer) int {
	var halves []*trace.NodeTrace
	for _, a := range args {
		var h *trace.NodeTrace
		var err error
		if strings.HasPrefix(a, "http://") || strings.HasPrefix(a, "https://") {
			h, err = fetchHalf(ctx, a)
		} else {
			h, err = trace.ReadHalfFile(a)
		}
		if err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
		halves = append(halves, h)
	}
	nt, err := trace.JoinTraces(halves...)
	if err != nil {
		fmt.Fprintln(stderr, "vmtrace:", err)
		return exitUsage
	}
	if o.json {
		return printNode(o, nt, stdout, stderr)
	}
	for i, t := range nt.Traces {
		if i > 0 {
			fmt.Fprintln(stdout)
		}
		if err := t.WriteText(stdout); err != nil {
			fmt.Fprintln(stderr, "vmtrace:", err)
			return exitFail
		}
	}
	return status(nt.Verdict)
}

// fetchHalf GETs one half from an exporter's traces endpoint (or any
// URL serving what trace.DecodeHalf reads), within 30 s.
func fetchHalf(ctx context.Context, url string) (*trace.NodeTrace, error) {
	ctx, cancel := context.WithTimeout(ctx, 30*time.Second)
	defer cancel()
	req, err := http.NewRequestWithContext(ctx, http.MethodGet, url, nil)
	if err != nil {
		return nil, err
	}
	req.Header.Set("Accept", "application/json")
	resp, err := http.DefaultClient.Do(req)
	if err != nil {
		return nil, err
	}
	defer resp.Body.Close()
	body, err := io.ReadAll(io.LimitReader(resp.Body, 64<<20))
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	if resp.StatusCode != http.StatusOK {
		return nil, fmt.Errorf("%s: %s: %s", url, resp.Status, strings.TrimSpace(string(body)))
	}
	h, err := trace.DecodeHalf(body)
	if err != nil {
		return nil, fmt.Errorf("%s: %w", url, err)
	}
	return h, nil
}
