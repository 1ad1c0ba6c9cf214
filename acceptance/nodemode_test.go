//go:build acceptance && linux

package acceptance

import (
	"context"
	"fmt"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// nodeServerPrefix begins the names of the servers
// TestAcceptanceNodeSeveral boots beside the walkthrough's (sweepLeftovers
// deletes any a stopped run left).
const nodeServerPrefix = "nt-node-"

// TestAcceptanceNodeSeveral is issue 10's proof on the real cloud: a node
// holding several servers, one of them broken, traced whole (node mode
// with the API: trace.Observe with ModeNode, then trace.Judge) gives each
// NIC the verdict and the first failing hop its own single-server trace
// gives it. Three servers run on the controller (the walkthrough's and
// two more booted beside it, in parallel, on m1.micro with the cirros
// image); once each has a renewed lease the node is traced healthy, then
// the second server's tap is set down: node mode and the single traces
// both fail that NIC first at its tap hop, naming the tap, and leave the
// other two OK; the tap is set up again and the node is healthy. The
// servers it booted are deleted when it ends (cloud's t.Cleanup), the tap
// is set up again even when a check fails.
func TestAcceptanceNodeSeveral(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	start := time.Now()

	p := walkthrough(ctx, t, c, 1)
	servers := []*launch.Server{p.server}
	var mu sync.Mutex
	var wg sync.WaitGroup
	for range 2 {
		name := testutil.RandName(nodeServerPrefix)
		wg.Add(1)
		go func() {
			defer wg.Done()
			s, err := c.Launch(ctx, launch.ServerSpec{Name: name, Flavor: flavorMicro, Image: imageName(), Network: p.network.ID, SecurityGroups: []string{"default"}})
			if err != nil {
				t.Errorf("launch %s: %v", name, err)
				return
			}
			mu.Lock()
			servers = append(servers, s)
			mu.Unlock()
		}()
	}
	wg.Wait()
	if t.Failed() {
		t.FailNow()
	}
	me := p.server.Host
	for _, s := range servers {
		if len(s.Ports) != 1 || len(s.Ports[0].FixedIPs) != 1 {
			t.Fatalf("server %s has ports %+v; want one port with one address", s.Name, s.Ports)
		}
		if s.Host == "" || s.Host != me {
			t.Fatalf("server %s landed on %s, not %s with the walkthrough's server: node mode here cannot see it", s.Name, s.Host, me)
		}
	}
	t.Logf("3 servers ACTIVE on %s after %s", me, time.Since(start).Round(time.Second))
	for _, s := range servers {
		port := s.Ports[0]
		waitRenewed(ctx, t, "a renewed lease for "+s.Name+" "+port.MAC.String(), p.network.ID, hwaddr.MAC(port.MAC))
	}
	t.Logf("3 leases after %s", time.Since(start).Round(time.Second))

	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	cfg := &trace.Config{Libvirt: lv}
	taps := map[string]bool{}
	for _, s := range servers {
		taps[linuxbridge.PortTapName(s.Ports[0].ID)] = true
	}

	// Healthy: node mode sees the three NICs OK (the guests' ARP answers
	// and counters may lag a fresh boot: bounded wait), each equal to its
	// server trace.
	waitNodeHealthy(ctx, t, c, cfg, taps, "healthy")
	nodeMatchesServers(ctx, t, c, cfg, "", taps)

	broken := linuxbridge.PortTapName(servers[1].Ports[0].ID)
	t.Run("one-broken", func(t *testing.T) {
		t.Cleanup(func() { ipLink(t, "set", broken, "up") })
		ipLink(t, "set", broken, "down")
		nt := nodeMatchesServers(ctx, t, c, cfg, broken, taps)
		var b strings.Builder
		nt.WriteLines(&b)
		if !strings.Contains(b.String(), broken) || nt.Verdict != trace.Fail {
			t.Errorf("node lines (verdict %s) do not name the broken tap %s:\n%s", nt.Verdict, broken, b.String())
		}
	})
	waitNodeHealthy(ctx, t, c, cfg, taps, "after tap up")
	nodeMatchesServers(ctx, t, c, cfg, "", taps)
	t.Logf("done in %s", time.Since(start).Round(time.Second))
}

// waitNodeHealthy traces the node whole until every NIC in taps is OK
// (bounded: 2 minutes), and fails naming those that are not.
func waitNodeHealthy(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, taps map[string]bool, label string) {
	t.Helper()
	deadline := time.Now().Add(2 * time.Minute)
	for {
		obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNode}, c)
		if err != nil {
			t.Fatalf("%s: node: %v", label, err)
		}
		nt := trace.Judge(obs)
		var bad []string
		seen := 0
		for _, x := range nt.Traces {
			if !taps[x.Tap] {
				continue
			}
			seen++
			if x.Verdict != trace.OK {
				h, _ := x.FirstFailing()
				bad = append(bad, fmt.Sprintf("%s %s at %s %s: %s", x.Tap, x.Verdict, h.Kind, h.Name, h.Summary))
			}
		}
		if seen == len(taps) && len(bad) == 0 {
			recordObservation(t, obs, "node-several-"+label)
			return
		}
		if time.Now().After(deadline) {
			var b strings.Builder
			nt.WriteLines(&b)
			t.Fatalf("%s: node mode saw %d of %d NICs, not ok: %v\n%s", label, seen, len(taps), bad, b.String())
		}
		time.Sleep(3 * time.Second)
	}
}

// nodeMatchesServers traces this node whole (node mode with the API) and
// checks every server NIC on it against that server's own trace: the same
// verdict and the same first hop that is neither ok nor unknown (kind,
// name and verdict; host checks aside). Every tap in want must be among
// them. broken ("" none) is the NIC that must fail in both; every other
// tap in want must be OK in both. It returns the node trace.
func nodeMatchesServers(ctx context.Context, t *testing.T, c *launch.Client, cfg *trace.Config, broken string, want map[string]bool) *trace.NodeTrace {
	t.Helper()
	obs, err := trace.Observe(ctx, cfg, trace.Request{Mode: trace.ModeNode}, c)
	if err != nil {
		t.Fatalf("node: %v", err)
	}
	label := "node broken"
	if broken == "" {
		label = "node healthy"
	}
	recordObservation(t, obs, label)
	nt := trace.Judge(obs)
	var b strings.Builder
	nt.WriteLines(&b)
	t.Logf("node mode:\n%s", b.String())
	firstBad := func(tr *trace.Trace) string {
		for _, h := range tr.Hops {
			if h.Kind != trace.KindHostCheck && h.Verdict != trace.OK && h.Verdict != trace.Unknown {
				return fmt.Sprintf("%s %s %s", h.Kind, h.Name, h.Verdict)
			}
		}
		return ""
	}
	seen := map[string]bool{}
	for _, x := range nt.Traces {
		if x.ServerID == "" {
			continue
		}
		st := traceServer(ctx, t, c, cfg, x.ServerID, "single "+x.ServerName)
		var single *trace.Trace
		for _, tr := range st.Traces {
			if tr.PortID == x.PortID {
				single = tr
			}
		}
		if single == nil {
			t.Errorf("node mode traced port %s of server %s; its server trace has no such port", x.PortID, x.ServerID)
			continue
		}
		if x.Verdict != single.Verdict || firstBad(x) != firstBad(single) {
			t.Errorf("%s (server %s): node mode %s, first bad hop %q; server trace %s, %q", x.Tap, x.ServerName, x.Verdict, firstBad(x), single.Verdict, firstBad(single))
		}
		if !want[x.Tap] {
			continue
		}
		seen[x.Tap] = true
		switch {
		case x.Tap == broken:
			for _, tr := range []*trace.Trace{x, single} {
				h, ok := tr.FirstFailing()
				if tr.Verdict != trace.Fail || !ok || h.Kind != trace.KindTap || h.Name != broken || h.Cause == "" {
					t.Errorf("broken NIC %s: verdict %s, first failing hop %s %s (cause %q); want fail at the tap hop naming it", broken, tr.Verdict, h.Kind, h.Name, h.Cause)
				}
			}
		case x.Verdict != trace.OK || single.Verdict != trace.OK:
			t.Errorf("healthy NIC %s (%s): node mode %s, server trace %s; want ok in both (first bad %q)", x.Tap, x.ServerName, x.Verdict, single.Verdict, firstBad(x))
		}
	}
	for tap := range want {
		if !seen[tap] {
			t.Errorf("node mode did not trace %s with its server", tap)
		}
	}
	return nt
}
