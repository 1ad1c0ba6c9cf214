package dhcpns

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// probeLinks lists the probe veths left in the host namespace.
func probeLinks(t *testing.T, ns *testutil.NetNS) []string {
	t.Helper()
	ls, err := ns.Handle(t).LinkList()
	if err != nil {
		t.Fatal(err)
	}
	var out []string
	for _, l := range ls {
		if strings.HasPrefix(l.Attrs().Name, "dhp-") {
			out = append(out, l.Attrs().Name)
		}
	}
	return out
}

// probedNetwork builds a network whose real dnsmasq runs as Neutron runs
// it, knowing macA at ipA, and the Config to probe it with.
func probedNetwork(t *testing.T) (*testutil.DHCPNetwork, *testutil.Dnsmasq, *Config) {
	t.Helper()
	testutil.RequireRoot(t)
	n := testutil.NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
	d := n.StartDnsmasq(t, testutil.DnsmasqOptions{Hosts: []testutil.DnsmasqHost{{MAC: net.HardwareAddr(macA), IP: ipA}}})
	return n, d, &Config{NetNSDir: n.Host.Dir, StateDir: d.StateDir}
}

func TestIntegrationProbeDHCP(t *testing.T) {
	n, d, cfg := probedNetwork(t)
	opts := &DHCPProbeOptions{BridgeNetNSPath: n.Host.Path, Timeout: 2 * time.Second, Retransmit: 200 * time.Millisecond}
	ctx := context.Background()

	o, err := ProbeDHCP(ctx, cfg, n.NetworkID, macA, opts)
	if err != nil {
		t.Fatalf("ProbeDHCP: %v\ndnsmasq log:\n%s", err, d.Log())
	}
	gw := netip.MustParseAddr("192.168.31.65")
	if o.IP != ipA || o.Server != n.ServerIP || o.ServerMAC.String() != n.ServeMAC.String() || o.LeaseTime != 24*time.Hour ||
		o.Prefix != netip.MustParsePrefix("192.168.31.72/27") || o.MTU != 1500 || o.ClientMAC.String() != macA.String() ||
		len(o.Routers) != 1 || o.Routers[0] != gw || len(o.DNS) != 1 || o.DNS[0] != gw || o.RTT <= 0 || o.RTT > time.Second {
		t.Errorf("OFFER %+v; want %v from %v (%v), 24h, /27, MTU 1500, router and DNS %v", o, ipA, n.ServerIP, n.ServeMAC, gw)
	}
	if !strings.Contains(o.Domain, "openstacklocal") || !strings.HasPrefix(o.Hostname, "host-192-168-31-72") {
		t.Errorf("domain %q hostname %q", o.Domain, o.Hostname)
	}
	// No REQUEST was sent, so no lease was taken.
	leases, _ := os.ReadFile(d.LeaseFile)
	if strings.Contains(string(leases), macA.String()) {
		t.Errorf("the probe took a lease:\n%s", leases)
	}
	log := d.Log()
	if !strings.Contains(log, "DHCPOFFER") || strings.Contains(log, "DHCPREQUEST") {
		t.Errorf("dnsmasq log should show an OFFER and no REQUEST:\n%s", log)
	}
	if l := probeLinks(t, n.Host); len(l) != 0 {
		t.Errorf("probe endpoint left behind: %v", l)
	}

	// A MAC not in the hosts file: no OFFER, endpoint removed.
	start := time.Now()
	_, err = ProbeDHCP(ctx, cfg, n.NetworkID, macC, &DHCPProbeOptions{BridgeNetNSPath: n.Host.Path, Timeout: 600 * time.Millisecond, Retransmit: 200 * time.Millisecond})
	if !errors.Is(err, ErrNoReply) || !strings.Contains(err.Error(), "hosts file") {
		t.Errorf("ProbeDHCP(unknown MAC) = %v; want ErrNoReply with a hint", err)
	}
	if el := time.Since(start); el > 2*time.Second {
		t.Errorf("unknown MAC probe took %v", el)
	}
	if !strings.Contains(d.Log(), "no address available") {
		t.Errorf("dnsmasq did not see the DISCOVER for %s:\n%s", macC, d.Log())
	}
	if l := probeLinks(t, n.Host); len(l) != 0 {
		t.Errorf("probe endpoint left behind after no reply: %v", l)
	}

	// Cancellation.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	_, err = ProbeDHCP(cctx, cfg, n.NetworkID, macC, opts)
	if !errors.Is(err, context.Canceled) {
		t.Errorf("cancelled probe = %v", err)
	}
	if l := probeLinks(t, n.Host); len(l) != 0 {
		t.Errorf("probe endpoint left behind after cancel: %v", l)
	}

	// No such bridge.
	_, err = ProbeDHCP(ctx, cfg, randUUID(), macA, &DHCPProbeOptions{BridgeNetNSPath: n.Host.Path})
	if !IsNotFound(err) {
		t.Errorf("ProbeDHCP(no bridge) = %v; want not found", err)
	}
}

// startRogueDnsmasq runs a real dnsmasq with a dynamic pool (a rogue
// server) at address ip in a guest namespace on n's bridge.
func startRogueDnsmasq(t *testing.T, n *testutil.DHCPNetwork, ip string, pool string) (*testutil.DHCPGuest, func() string) {
	t.Helper()
	g := n.AddGuest(t, net.HardwareAddr{0x02, 0x00, 0x5e, 0x10, 0x00, netip.MustParsePrefix(ip).Addr().As4()[3]})
	g.NS.AddAddr(t, g.If, ip)
	return g, g.NS.StartDynamicDnsmasq(t, g.If, pool)
}

// TestIntegrationProbeDHCPServers looks for DHCP servers other than
// Neutron's on a network whose real dnsmasq runs as Neutron runs it
// (static, answering only its hosts file): none at first (nil, no
// error), then a real dnsmasq with a dynamic pool in another namespace
// on the bridge (a rogue): its OFFER, with its address and MAC, and not
// Neutron's; then a second rogue: both. No probe endpoint is left behind,
// and no lease is taken.
func TestIntegrationProbeDHCPServers(t *testing.T) {
	n, d, cfg := probedNetwork(t)
	opts := &DHCPProbeOptions{BridgeNetNSPath: n.Host.Path, Timeout: 1500 * time.Millisecond, Retransmit: 300 * time.Millisecond}
	ctx := context.Background()

	offers, err := ProbeDHCPServers(ctx, cfg, n.NetworkID, opts)
	if err != nil || offers != nil {
		t.Fatalf("Neutron's dnsmasq alone: offers %+v, err %v; want none, nil", offers, err)
	}
	if !strings.Contains(d.Log(), "no address available") {
		t.Errorf("Neutron's dnsmasq did not see the DISCOVER:\n%s", d.Log())
	}

	// dnsmasq pings a new address before it offers it (up to 3 s): a
	// rogue's OFFER comes that late, so the probe must listen longer.
	opts.Timeout = 4 * time.Second
	rogue, rogueLog := startRogueDnsmasq(t, n, "192.168.31.66/27", "192.168.31.80,192.168.31.90,255.255.255.224,1h")
	var got []DHCPOffer
	for try := 0; try < 3 && len(got) == 0; try++ { // the rogue may still be starting
		if got, err = ProbeDHCPServers(ctx, cfg, n.NetworkID, opts); err != nil {
			t.Fatal(err)
		}
	}
	if len(got) != 1 {
		t.Fatalf("one rogue: offers %+v; want one; the rogue's log:\n%s", got, rogueLog())
	}
	o := got[0]
	lo, hi := netip.MustParseAddr("192.168.31.80"), netip.MustParseAddr("192.168.31.90")
	if o.Server != netip.MustParseAddr("192.168.31.66") || o.ServerMAC.String() != rogue.MAC.String() || o.IP.Less(lo) || hi.Less(o.IP) ||
		o.ClientMAC[0]&3 != 2 || o.LeaseTime != time.Hour {
		t.Errorf("offer %+v; want from 192.168.31.66 (%s), .80–.90 for a locally administered MAC, 1h", o, rogue.MAC)
	}

	_, rogue2Log := startRogueDnsmasq(t, n, "192.168.31.67/27", "192.168.31.91,192.168.31.94,255.255.255.224,2h")
	servers := map[netip.Addr]bool{}
	for try := 0; try < 3 && len(servers) < 2; try++ {
		got, err = ProbeDHCPServers(ctx, cfg, n.NetworkID, opts)
		if err != nil {
			t.Fatal(err)
		}
		for _, o := range got {
			servers[o.Server] = true
		}
	}
	if len(servers) != 2 || servers[n.ServerIP] {
		t.Errorf("two rogues: servers %v; want .66 and .67, not Neutron's %s; the second's log:\n%s", servers, n.ServerIP, rogue2Log())
	}
	if l := probeLinks(t, n.Host); len(l) != 0 {
		t.Errorf("probe endpoint left behind: %v", l)
	}
	if leases, _ := os.ReadFile(d.LeaseFile); strings.TrimSpace(string(leases)) != "" && !strings.Contains(string(leases), macA.String()) {
		t.Errorf("the probe took a lease from Neutron's dnsmasq:\n%s", leases)
	}

	// ctx canceled while listening: its error, and no endpoint left.
	cctx, cancel := context.WithCancel(ctx)
	go func() { time.Sleep(100 * time.Millisecond); cancel() }()
	if _, err := ProbeDHCPServers(cctx, cfg, n.NetworkID, opts); !errors.Is(err, context.Canceled) {
		t.Errorf("canceled probe = %v; want context.Canceled", err)
	}
	if l := probeLinks(t, n.Host); len(l) != 0 {
		t.Errorf("probe endpoint left behind after cancel: %v", l)
	}
}
