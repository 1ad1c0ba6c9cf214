package dhcpns

import (
	"context"
	"net"
	"net/netip"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationProbeReach probes from a "qdhcp" namespace to a "VM"
// namespace on one veth: a listening port is answered, a closed one
// refused, a port whose SYN is dropped (iptables in the VM) silent, and
// the echo answered; then the echo dropped too is silent.
func TestIntegrationProbeReach(t *testing.T) {
	testutil.RequireRoot(t)
	ipt := testutil.RequireBinary(t, "iptables-nft", "iptables")
	dir := t.TempDir()
	q := testutil.NewNetNSAt(t, dir, testutil.RandNameN("fw-q", 16))
	vm := testutil.NewNetNSAt(t, dir, testutil.RandNameN("fw-v", 16))
	q.Veth(t, "ns-fw", vm, "eth0")
	q.AddAddr(t, "ns-fw", "192.168.31.70/27")
	vm.AddAddr(t, "eth0", "192.168.31.74/27")
	q.SetUp(t, "ns-fw")
	vm.SetUp(t, "eth0")
	vm.SetUp(t, "lo")
	target := netip.MustParseAddr("192.168.31.74")
	var ln net.Listener
	if err := vm.Do(func() error {
		var err error
		ln, err = net.Listen("tcp", "192.168.31.74:2222")
		return err
	}); err != nil {
		t.Fatal(err)
	}
	defer ln.Close()
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			c.Close()
		}
	}()
	cfg := &Config{NetNSDir: dir}
	probe := func(port uint16) ReachResult {
		t.Helper()
		res, err := ProbeReach(context.Background(), cfg, q.Name, []netip.Addr{target}, &ReachOptions{Timeout: 500 * time.Millisecond, TCPPort: port})
		if err != nil {
			t.Fatal(err)
		}
		if res[0].Source != netip.MustParseAddr("192.168.31.70") {
			t.Errorf("source %s, want 192.168.31.70", res[0].Source)
		}
		return res[0]
	}
	// The veths' carrier and the first neighbour resolution can take
	// longer than one probe's timeout on a loaded machine (both silent
	// then): wait for the path before asserting what the probe tells.
	r := probe(2222)
	for deadline := time.Now().Add(10 * time.Second); (r.ICMP != ReachAnswered || r.TCP != ReachAnswered) && time.Now().Before(deadline); {
		t.Logf("path not ready yet: %+v", r)
		time.Sleep(100 * time.Millisecond)
		r = probe(2222)
	}
	if r.ICMP != ReachAnswered || r.TCP != ReachAnswered || r.ICMPRTT <= 0 {
		t.Errorf("listening: %+v, want icmp and tcp answered", r)
	}
	if r := probe(22); r.TCP != ReachRefused || r.Errno != "ECONNREFUSED" {
		t.Errorf("closed: %+v, want tcp refused", r)
	}
	vm.Run(t, ipt, "-A", "INPUT", "-p", "tcp", "--dport", "22", "-j", "DROP")
	vm.Run(t, ipt, "-A", "INPUT", "-p", "icmp", "-j", "DROP")
	start := time.Now()
	if r := probe(22); r.TCP != ReachSilent || r.ICMP != ReachSilent {
		t.Errorf("dropped: %+v, want icmp and tcp silent", r)
	}
	if d := time.Since(start); d > 2*time.Second {
		t.Errorf("a silent probe took %s with a 500 ms timeout", d)
	}
	if _, err := ProbeReach(context.Background(), cfg, "qdhcp-missing", []netip.Addr{target}, nil); err == nil {
		t.Error("probing from a missing namespace gave no error")
	}
	if _, err := ProbeReach(context.Background(), cfg, q.Name, []netip.Addr{netip.MustParseAddr("fe80::1")}, nil); err == nil {
		t.Error("an IPv6 target gave no error")
	}
}
