package main

import (
	"context"
	"fmt"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vishvananda/netlink"
	"github.com/vishvananda/netns"
	"golang.org/x/sys/unix"
)

// setLinkUp sets name up in the namespace at nsPath (the undo of the
// demo's tap-down), through a netlink handle bound to that namespace.
func setLinkUp(t *testing.T, nsPath, name string) {
	t.Helper()
	ns, err := netns.GetFromPath(nsPath)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	h, err := netlink.NewHandleAt(ns, unix.NETLINK_ROUTE)
	if err != nil {
		t.Fatal(err)
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		t.Fatal(err)
	}
	if err := h.LinkSetUp(l); err != nil {
		t.Fatal(err)
	}
}

// TestIntegrationPrometheusDemo: a real Prometheus scrapes the exporter on
// the demo node every second and evaluates a copy of the shipped rules
// (for: 3s). Healthy first; the demo's tap-down break then shows as the
// tap hop failing in a PromQL query within two scrape intervals of the
// exporter serving it, VifpathNICPathFailing goes pending then firing on
// Prometheus's own evaluation; after the tap is set up again the NIC is
// ok in PromQL and the alert resolves.
func TestIntegrationPrometheusDemo(t *testing.T) {
	requireDemo(t)
	dir := searchableTempDir(t)
	p, err := demo.BuildPath(context.Background(), &demo.PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	const scrapeEvery = time.Second
	addr := startExporter(t, demoArgs(p, "1s")...)
	prom := testutil.StartPrometheus(t, scrapeEvery, testutil.ShortenRuleFor(t, "rules/vifpath.rules.yml", t.TempDir(), "3s"), addr)

	nic := fmt.Sprintf(`tap=%q,node="compute1"`, p.Tap)
	waitFor(t, "healthy NIC in PromQL", 30*time.Second, func() bool {
		return len(prom.Query(t, `vifpath_nic_verdict{`+nic+`,verdict="ok"} == 1`)) == 1
	})
	if s := prom.Query(t, `vifpath_hop_verdict{`+nic+`,verdict="fail"} == 1`); len(s) != 0 {
		t.Fatalf("healthy demo has failing hops: %v", s)
	}

	broke := time.Now()
	if err := p.Break(demo.BreakTapDown); err != nil {
		t.Fatal(err)
	}
	served := waitFor(t, "the exporter serving the tap hop's fail", 20*time.Second, func() bool {
		body, _ := scrape(t, addr)
		return strings.Contains(body, `vifpath_hop_verdict{hop="tap",node="compute1",port="`) &&
			strings.Contains(body, `tap="`+p.Tap+`",verdict="fail"} 1`)
	})
	seen := waitFor(t, "the tap hop failing in PromQL", 2*scrapeEvery+time.Second, func() bool {
		return len(prom.Query(t, `vifpath_hop_verdict{`+nic+`,hop="tap",verdict="fail"} == 1`)) == 1
	})
	t.Logf("tap down at 0: exporter served the fail at %v, PromQL saw it at %v (%v after the exporter; scrape interval %v)",
		served.Sub(broke).Round(time.Millisecond), seen.Sub(broke).Round(time.Millisecond), seen.Sub(served).Round(time.Millisecond), scrapeEvery)
	if d := seen.Sub(served); d > 2*scrapeEvery {
		t.Errorf("PromQL saw the fail %v after the exporter served it, want within two scrape intervals (%v)", d, 2*scrapeEvery)
	}

	state := func() string {
		for _, a := range prom.Alerts(t, "VifpathNICPathFailing") {
			if a.Labels["tap"] == p.Tap {
				return a.State
			}
		}
		return ""
	}
	pending := waitFor(t, "VifpathNICPathFailing pending", 10*time.Second, func() bool { return state() == "pending" })
	firing := waitFor(t, "VifpathNICPathFailing firing", 15*time.Second, func() bool { return state() == "firing" })
	t.Logf("alert pending at %v, firing at %v after the break", pending.Sub(broke).Round(time.Millisecond), firing.Sub(broke).Round(time.Millisecond))

	setLinkUp(t, p.HostPath, p.Tap)
	undone := time.Now()
	ok := waitFor(t, "NIC ok again in PromQL", 30*time.Second, func() bool {
		return len(prom.Query(t, `vifpath_nic_verdict{`+nic+`,verdict="ok"} == 1`)) == 1
	})
	waitFor(t, "alert resolved", 10*time.Second, func() bool { return state() == "" })
	t.Logf("tap up: ok in PromQL after %v", ok.Sub(undone).Round(time.Millisecond))
	if s := prom.Query(t, `vifpath_exporter_rounds_total{result="success"} > 0`); len(s) != 1 {
		t.Errorf("rounds: %v", s)
	}
}
