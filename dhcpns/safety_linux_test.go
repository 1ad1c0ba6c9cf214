package dhcpns

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"runtime"
	"strings"
	"sync"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationNamespaceSafety runs 10,000 inspections and ARP and DHCP
// probes (20 DHCP probes, each with its own namespace and veth; 230 ARP
// probes with a prober of their own, the rest on shared probers) from
// 64 goroutines while other goroutines keep checking that the thread they
// run on is in the process's namespace. Afterwards every thread must be in
// the original namespace and fd and goroutine counts back to baseline.
func TestIntegrationNamespaceSafety(t *testing.T) {
	testutil.RequireRoot(t)
	ops := 10000
	if testing.Short() {
		ops = 1000
	}
	home := testutil.ThreadNetNS(t)
	n := testutil.NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
	d := n.StartDnsmasq(t, testutil.DnsmasqOptions{Hosts: []testutil.DnsmasqHost{{MAC: net.HardwareAddr(macA), IP: ipA}}})
	g := n.AddGuest(t, net.HardwareAddr(macA))
	g.NS.AddAddr(t, g.If, "192.168.31.72/27")
	cfg := &Config{NetNSDir: n.Host.Dir, StateDir: d.StateDir}
	qname, serveIf := n.QDHCP.Name, n.ServeIf
	dhcpOpts := &DHCPProbeOptions{BridgeNetNSPath: n.Host.Path, Timeout: 5 * time.Second}
	ctx := context.Background()
	peerIP := ipA

	// Warm up everything that allocates fds once per process (netpoller,
	// netlink), then take the baseline.
	if ns, err := Open(ctx, cfg, qname); err != nil {
		t.Fatal(err)
	} else {
		ns.Inspect(ctx)
		ns.Close()
	}
	runtime.GC()
	time.Sleep(50 * time.Millisecond)
	baseFDs, baseG := testutil.CountFDs(t), runtime.NumGoroutine()

	shared := make([]*ARPProber, 4)
	for i := range shared {
		p, err := OpenARPProber(ctx, cfg, qname, serveIf)
		if err != nil {
			t.Fatal(err)
		}
		shared[i] = p
	}
	sharedNS, err := Open(ctx, cfg, qname)
	if err != nil {
		t.Fatal(err)
	}

	stopWatch := testutil.WatchThreads(home, 8)

	var next atomic.Int64
	var failures atomic.Int64
	var firstErr sync.Once
	var errMsg string
	fail := func(err error) {
		failures.Add(1)
		firstErr.Do(func() { errMsg = err.Error() })
	}
	var wg sync.WaitGroup
	start := time.Now()
	for g := range 64 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for {
				i := next.Add(1)
				if i > int64(ops) {
					return
				}
				switch {
				case i%500 == 0: // DHCP probe: a namespace and a veth of its own
					if o, err := ProbeDHCP(ctx, cfg, n.NetworkID, macA, dhcpOpts); err != nil {
						fail(err)
					} else if o.IP != ipA {
						fail(fmt.Errorf("offer %v, want %v", o.IP, ipA))
					}
				case i%40 == 0: // own prober: opened and closed (16 ms close)
					p, err := OpenARPProber(ctx, cfg, qname, serveIf)
					if err != nil {
						fail(err)
						continue
					}
					if _, err := p.ProbeARP(ctx, peerIP, &ARPOptions{Timeout: time.Second}); err != nil {
						fail(err)
					}
					p.Close()
				case i%4 == 1: // own namespace handle
					ns, err := Open(ctx, cfg, qname)
					if err != nil {
						fail(err)
						continue
					}
					if _, err := ns.Inspect(ctx); err != nil {
						fail(err)
					}
					ns.Close()
				case i%4 == 2:
					if _, err := sharedNS.Inspect(ctx); err != nil {
						fail(err)
					}
				default:
					if _, err := shared[g%len(shared)].ProbeARP(ctx, peerIP, &ARPOptions{Timeout: time.Second}); err != nil {
						fail(err)
					}
				}
			}
		}()
	}
	wg.Wait()
	elapsed := time.Since(start)
	watch := stopWatch()
	for _, p := range shared {
		p.Close()
	}
	sharedNS.Close()
	t.Logf("%d operations from 64 goroutines in %v; %d namespace checks by watchers", ops, elapsed, watch.Checks)

	if n := failures.Load(); n > 0 {
		t.Errorf("%d of %d operations failed; first: %s", n, ops, errMsg)
	}
	if n := watch.Wrong; n > 0 {
		t.Errorf("watcher goroutines ran %d times on a thread outside the process's namespace", n)
	}
	if f := testutil.ForeignThreads(home); len(f) > 0 {
		t.Errorf("threads outside the original namespace: %s", strings.Join(f, ", "))
	}
	// Goroutines and fds settle shortly after the last Close.
	var fds, gs int
	for i := 0; i < 100; i++ {
		runtime.GC()
		fds, gs = testutil.CountFDs(t), runtime.NumGoroutine()
		if fds <= baseFDs && gs <= baseG {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if fds > baseFDs || gs > baseG {
		t.Errorf("after the run: %d fds (baseline %d), %d goroutines (baseline %d)", fds, baseFDs, gs, baseG)
	}
}
