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

func TestIntegrationProbeDHCP(t *testing.T) {
	testutil.RequireRoot(t)
	n := testutil.NewDHCPNetwork(t, t.TempDir(), netip.MustParsePrefix("192.168.31.64/27"), false)
	d := n.StartDnsmasq(t, testutil.DnsmasqOptions{Hosts: []testutil.DnsmasqHost{{MAC: net.HardwareAddr(macA), IP: ipA}}})
	cfg := &Config{NetNSDir: n.Host.Dir, StateDir: d.StateDir}
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
