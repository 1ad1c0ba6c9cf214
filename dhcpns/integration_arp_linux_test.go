package dhcpns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
)

func TestIntegrationARP(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
	ga := n.AddGuest(t, net.HardwareAddr(macA))
	ga.NS.AddAddr(t, ga.If, "192.168.31.72/27")
	// Two guests claim .80: a duplicate.
	gb := n.AddGuest(t, net.HardwareAddr(macB))
	gb.NS.AddAddr(t, gb.If, "192.168.31.80/27")
	gc := n.AddGuest(t, net.HardwareAddr(macC))
	gc.NS.AddAddr(t, gc.If, "192.168.31.80/27")

	// Neutron's metadata address on the DHCP port must not become the
	// sender address.
	n.QDHCP.Run(t, "ip", "addr", "add", "169.254.169.254/32", "dev", n.ServeIf)
	n.QDHCP.Run(t, "ip", "addr", "del", n.ServerIP.String()+"/27", "dev", n.ServeIf)
	n.QDHCP.AddAddr(t, n.ServeIf, n.ServerIP.String()+"/27")
	ctx := context.Background()
	cfg := &Config{NetNSDir: n.Host.Dir}
	p, err := OpenARPProber(ctx, cfg, n.QDHCP.Name, n.ServeIf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	src, mac := p.Source()
	if src != n.ServerIP || mac.String() != n.ServeMAC.String() {
		t.Errorf("Source() = %v %v, want %v %v", src, mac, n.ServerIP, n.ServeMAC)
	}

	r, err := p.ProbeARP(ctx, ipA, &ARPOptions{Timeout: time.Second})
	if err != nil {
		t.Fatal(err)
	}
	if len(r.Replies) != 1 || r.Replies[0].MAC.String() != macA.String() || r.Replies[0].RTT <= 0 || r.Replies[0].RTT > time.Second {
		t.Errorf("ProbeARP(.72) = %+v; want one reply from %s", r, macA)
	}

	// A target that never answers.
	silent := netip.MustParseAddr("192.168.31.90")
	start := time.Now()
	r, err = p.ProbeARP(ctx, silent, &ARPOptions{Timeout: 200 * time.Millisecond})
	if !errors.Is(err, ErrNoReply) || r.Answered() {
		t.Errorf("ProbeARP(silent) = %+v, %v; want ErrNoReply", r, err)
	}
	if el := time.Since(start); el < 200*time.Millisecond || el > 600*time.Millisecond {
		t.Errorf("silent probe took %v, want about the 200ms timeout", el)
	}

	// A sweep: one answer, one duplicate, one silent, waiting one timeout.
	start = time.Now()
	rs, err := p.SweepARP(ctx, []netip.Addr{ipA, netip.MustParseAddr("192.168.31.80"), silent}, &ARPOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	if el := time.Since(start); el > 700*time.Millisecond {
		t.Errorf("sweep took %v, want one 300ms timeout", el)
	}
	if !rs[0].Answered() || rs[0].Duplicate() {
		t.Errorf(".72: %+v", rs[0])
	}
	if !rs[1].Duplicate() {
		t.Errorf(".80: %+v; want two responders (%s and %s)", rs[1], macB, macC)
	} else {
		got := map[string]bool{rs[1].Replies[0].MAC.String(): true, rs[1].Replies[1].MAC.String(): true}
		if !got[macB.String()] || !got[macC.String()] {
			t.Errorf(".80 responders %+v", rs[1].Replies)
		}
	}
	if rs[2].Answered() {
		t.Errorf("silent: %+v", rs[2])
	}

	// Cancellation ends a sweep early.
	cctx, cancel := context.WithTimeout(ctx, 50*time.Millisecond)
	defer cancel()
	start = time.Now()
	_, err = p.SweepARP(cctx, []netip.Addr{silent}, &ARPOptions{Timeout: 5 * time.Second})
	if !errors.Is(err, context.DeadlineExceeded) || time.Since(start) > time.Second {
		t.Errorf("cancelled sweep: %v after %v", err, time.Since(start))
	}
	c2, cancel2 := context.WithCancel(ctx)
	go func() { time.Sleep(30 * time.Millisecond); cancel2() }()
	start = time.Now()
	_, err = p.SweepARP(c2, []netip.Addr{silent}, &ARPOptions{Timeout: 5 * time.Second})
	if !errors.Is(err, context.Canceled) || time.Since(start) > time.Second {
		t.Errorf("cancelled sweep: %v after %v", err, time.Since(start))
	}

	// Attempts: a host that comes up 150 ms into a 900 ms sweep answers
	// a later request (sent at 300 or 600 ms); with one attempt it is
	// missed. Under load `ip addr add` can wait long for the RTNL lock, so
	// the answer is only required when the address was in place before the
	// last request went out.
	late := netip.MustParseAddr("192.168.31.77")
	for _, attempts := range []int{1, 3} {
		added := make(chan time.Duration, 1)
		start := time.Now()
		go func() {
			time.Sleep(150 * time.Millisecond)
			ga.NS.Command("ip", "addr", "add", late.String()+"/27", "dev", ga.If).Run()
			added <- time.Since(start)
		}()
		rs, err := p.SweepARP(ctx, []netip.Addr{late}, &ARPOptions{Timeout: 900 * time.Millisecond, Attempts: attempts})
		el := time.Since(start)
		if err != nil {
			t.Fatal(err)
		}
		at := <-added
		if el > 1500*time.Millisecond {
			t.Errorf("attempts=%d: sweep took %v, want about one 900ms timeout", attempts, el)
		}
		switch {
		case attempts == 1 && rs[0].Answered():
			t.Errorf("attempts=1: answered although the address appeared after the only request")
		case attempts > 1 && at < 550*time.Millisecond && !rs[0].Answered():
			t.Errorf("attempts=%d: address added at %v, before the last request at 600ms, but no answer", attempts, at)
		case attempts > 1 && !rs[0].Answered():
			t.Logf("attempts=%d: address added only at %v (RTNL busy), after the last request: answer not required", attempts, at)
		case attempts > 1 && rs[0].Replies[0].RTT > 100*time.Millisecond:
			t.Errorf("RTT %v is not measured from the latest request", rs[0].Replies[0].RTT)
		}
		ga.NS.Run(t, "ip", "addr", "del", late.String()+"/27", "dev", ga.If)
	}

	// A large sweep: 400 targets, 300 of them on guest A; replies queue up
	// while requests go out and none may be lost.
	var many []netip.Addr
	a := netip.MustParseAddr("10.99.0.1")
	for i := range 400 {
		if i < 300 {
			ga.NS.AddAddr(t, ga.If, a.String()+"/22")
		}
		many = append(many, a)
		a = a.Next()
	}
	start = time.Now()
	rs, err = p.SweepARP(ctx, many, &ARPOptions{Timeout: 300 * time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	answered := 0
	for i, r := range rs {
		if r.Answered() != (i < 300) {
			t.Errorf("%v: answered %v", r.IP, r.Answered())
		}
		if r.Answered() {
			answered++
		}
	}
	t.Logf("sweep of 400 (300 answer): %d answered in %v", answered, time.Since(start))

	if err := p.Close(); err != nil {
		t.Fatal(err)
	}
	if err := p.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := p.ProbeARP(ctx, ipA, nil); !errors.Is(err, ErrClosed) {
		t.Errorf("ProbeARP after Close = %v", err)
	}
	if _, err := OpenARPProber(ctx, cfg, n.QDHCP.Name, "nosuchif"); !IsNotFound(err) {
		t.Errorf("OpenARPProber(missing interface) = %v; want not found", err)
	}
}

// TestIntegrationARPUnicast: a request sent to the target's own MAC
// (ARPOptions.Unicast) is answered; one sent to another MAC is not,
// although the broadcast request for the same address is, and a reply
// from a MAC other than the one asked does not count.
func TestIntegrationARPUnicast(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
	ga := n.AddGuest(t, net.HardwareAddr(macA))
	ga.NS.AddAddr(t, ga.If, "192.168.31.72/27")
	ctx := context.Background()
	p, err := OpenARPProber(ctx, &Config{NetNSDir: n.Host.Dir}, n.QDHCP.Name, n.ServeIf)
	if err != nil {
		t.Fatal(err)
	}
	defer p.Close()
	opts := func(to hwaddr.MAC) *ARPOptions {
		return &ARPOptions{Timeout: 300 * time.Millisecond, Attempts: 3, Unicast: map[netip.Addr]hwaddr.MAC{ipA: to}}
	}
	r, err := p.ProbeARP(ctx, ipA, opts(macA))
	if err != nil || len(r.Replies) != 1 || !r.Replies[0].MAC.Equal(macA) {
		t.Errorf("unicast to %s: %+v, %v; want its answer", macA, r, err)
	}
	r, err = p.ProbeARP(ctx, ipA, opts(macB))
	if !errors.Is(err, ErrNoReply) || r.Answered() {
		t.Errorf("unicast to %s (nobody's): %+v, %v; want ErrNoReply", macB, r, err)
	}
	if r, err := p.ProbeARP(ctx, ipA, &ARPOptions{Timeout: 300 * time.Millisecond}); err != nil || !r.Answered() {
		t.Errorf("broadcast: %+v, %v; want the answer the unicast to %s did not get", r, err, macB)
	}
}
