package dhcpns

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
)

var (
	macA = mustMAC("fa:16:3e:00:00:0a") // in hosts, renews its lease
	macB = mustMAC("fa:16:3e:00:00:0b") // in hosts, seeded only
	macC = mustMAC("fa:16:3e:00:00:0c") // not in hosts
	ipA  = netip.MustParseAddr("192.168.31.72")
	ipB  = netip.MustParseAddr("192.168.31.73")
)

type dhcpEnv struct {
	netnsDir string
	net      *testutil.DHCPNetwork
	cfg      *Config
}

func newDHCPEnv(t *testing.T, pike, noAddress bool) *dhcpEnv {
	t.Helper()
	testutil.RequireRoot(t)
	e := &dhcpEnv{netnsDir: t.TempDir()}
	e.net = testutil.NewDHCPNetwork(t, e.netnsDir, netip.MustParsePrefix("192.168.31.64/27"), noAddress)
	d := e.net.StartDnsmasq(t, testutil.DnsmasqOptions{Pike: pike, SeedLeases: true, Hosts: []testutil.DnsmasqHost{{MAC: net.HardwareAddr(macA), IP: ipA}, {MAC: net.HardwareAddr(macB), IP: ipB}}})
	e.cfg = &Config{NetNSDir: e.netnsDir, StateDir: d.StateDir}
	return e
}

func health(t *testing.T, e *dhcpEnv, mac hwaddr.MAC) *Health {
	t.Helper()
	h, err := CheckHealth(context.Background(), e.cfg, e.net.NetworkID, mac)
	if err != nil {
		t.Fatal(err)
	}
	return h
}

func wantCheck(t *testing.T, h *Health, name string, want CheckStatus, summaryHas string) {
	t.Helper()
	c, ok := h.Check(name)
	if !ok {
		t.Fatalf("no %s check in %+v", name, h.Checks)
	}
	if c.Status != want || !strings.Contains(c.Summary, summaryHas) || (want != StatusSkipped && len(c.Evidence) == 0) {
		b, _ := json.MarshalIndent(h.Checks, "", "  ")
		t.Errorf("%s check = %s %q; want %s containing %q, with evidence\n%s", name, c.Status, c.Summary, want, summaryHas, b)
	}
}

func TestIntegrationHealth(t *testing.T) {
	testutil.RequireBinary(t, "busybox", "busybox")
	for _, pike := range []bool{false, true} {
		name := "zed"
		if pike {
			name = "pike"
		}
		t.Run(name, func(t *testing.T) {
			e := newDHCPEnv(t, pike, false)
			g := e.net.AddGuest(t, net.HardwareAddr(macA))
			if l := g.NS.RunDHCPClient(t, g.If, "vm-a"); l.IP != ipA {
				t.Fatalf("guest got %v, want %v", l.IP, ipA)
			}

			h := health(t, e, macA)
			if h.Status != StatusOK {
				b, _ := json.MarshalIndent(h.Checks, "", "  ")
				t.Errorf("healthy network: status %s\n%s", h.Status, b)
			}
			wantCheck(t, h, CheckNamespace, StatusOK, "present")
			wantCheck(t, h, CheckDnsmasq, StatusOK, "alive inside")
			wantCheck(t, h, CheckInterface, StatusOK, e.net.ServeIf)
			wantCheck(t, h, CheckHost, StatusOK, ipA.String())
			wantCheck(t, h, CheckLease, StatusOK, "renewed")
			if h.Dnsmasq.Process == nil || h.Dnsmasq.Process.PID != e.net.Dnsmasq.PID || len(h.Dnsmasq.InNamespace) != 1 || h.Dnsmasq.InNamespace[0].PID != e.net.Dnsmasq.PID {
				t.Errorf("dnsmasq status %+v; want pid %d from the pid file and the /proc scan", h.Dnsmasq, e.net.Dnsmasq.PID)
			}
			conf := h.Dnsmasq.Config()
			if conf == nil || conf.NetworkID != e.net.NetworkID || conf.LeaseFile != e.net.Dnsmasq.LeaseFile {
				t.Errorf("parsed command line %+v", conf)
			}
			if pike && (conf.Bind != BindInterfaces || len(conf.Interfaces) != 1 || conf.Interfaces[0] != e.net.ServeIf) {
				t.Errorf("pike command line: %+v", conf)
			}
			if h.Lease == nil || !h.Lease.Renewed() || h.Lease.ClientID != "01:"+macA.String() {
				t.Errorf("lease %+v; want renewed with client id", h.Lease)
			}

			// InspectAll finds the same dnsmasq in its one /proc pass.
			res, err := InspectAll(context.Background(), e.cfg)
			if err != nil {
				t.Fatal(err)
			}
			if len(res) != 1 || res[0].Err != nil || len(res[0].Dnsmasq) != 1 || res[0].Dnsmasq[0].PID != e.net.Dnsmasq.PID ||
				res[0].Dnsmasq[0].Config == nil || res[0].Dnsmasq[0].Config.NetworkID != e.net.NetworkID {
				t.Errorf("InspectAll = %+v; want qdhcp-%s with dnsmasq pid %d", res, e.net.NetworkID, e.net.Dnsmasq.PID)
			}

			// Seeded only: in hosts, never asked.
			h = health(t, e, macB)
			wantCheck(t, h, CheckHost, StatusOK, ipB.String())
			wantCheck(t, h, CheckLease, StatusWarn, "only Neutron's seed")
			if h.Status != StatusWarn {
				t.Errorf("seeded-only status %s, want warn", h.Status)
			}

			// MAC not in the hosts file.
			h = health(t, e, macC)
			wantCheck(t, h, CheckHost, StatusFail, "not in the hosts file")
			wantCheck(t, h, CheckLease, StatusFail, "no lease row")

			// No MAC: host and lease checks skipped, status ok.
			h = health(t, e, nil)
			wantCheck(t, h, CheckHost, StatusSkipped, "no MAC")
			if h.Status != StatusOK {
				t.Errorf("no-MAC status %s, want ok", h.Status)
			}
		})
	}
}

func TestIntegrationHealthNoAddress(t *testing.T) {
	e := newDHCPEnv(t, false, true)
	h := health(t, e, macA)
	wantCheck(t, h, CheckDnsmasq, StatusOK, "alive")
	wantCheck(t, h, CheckInterface, StatusFail, "no IPv4 address")
	if h.Status != StatusFail {
		t.Errorf("status %s, want fail", h.Status)
	}
}

func TestIntegrationHealthDnsmasqKilled(t *testing.T) {
	e := newDHCPEnv(t, false, false)
	pid := e.net.Dnsmasq.PID
	e.net.Dnsmasq.Kill(t, false)
	h := health(t, e, macA)
	wantCheck(t, h, CheckDnsmasq, StatusFail, "zombie")
	if h.Dnsmasq.Process == nil || h.Dnsmasq.Process.PID != pid || h.Dnsmasq.Process.State != "Z" || h.Dnsmasq.Alive {
		t.Errorf("zombie: dnsmasq status %+v", h.Dnsmasq)
	}
	if len(h.Dnsmasq.InNamespace) != 0 {
		t.Errorf("a zombie has no namespace, yet the scan found %+v", h.Dnsmasq.InNamespace)
	}
	e.net.Dnsmasq.Reap()
	h = health(t, e, macA)
	wantCheck(t, h, CheckDnsmasq, StatusFail, "no dnsmasq serves")
	if !strings.Contains(h.Dnsmasq.PIDFileError, "stale pid file") {
		t.Errorf("reaped: pid file error %q", h.Dnsmasq.PIDFileError)
	}
}

func TestIntegrationHealthDnsmasqStopped(t *testing.T) {
	e := newDHCPEnv(t, false, false)
	pid := e.net.Dnsmasq.PID
	if err := syscall.Kill(pid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { syscall.Kill(pid, syscall.SIGCONT) })
	// The state changes once the kernel has delivered the signal.
	var h *Health
	for i := 0; i < 100; i++ {
		if h = health(t, e, macA); h.Dnsmasq.Process != nil && h.Dnsmasq.Process.Stopped() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantCheck(t, h, CheckDnsmasq, StatusFail, "stopped")
	if !h.Dnsmasq.Alive {
		t.Errorf("a stopped dnsmasq is alive by Neutron's rule: %+v", h.Dnsmasq)
	}
	if err := syscall.Kill(pid, syscall.SIGCONT); err != nil {
		t.Fatal(err)
	}
	for i := 0; i < 100; i++ {
		if h = health(t, e, macA); h.Dnsmasq.Process != nil && !h.Dnsmasq.Process.Stopped() {
			break
		}
		time.Sleep(10 * time.Millisecond)
	}
	wantCheck(t, h, CheckDnsmasq, StatusOK, "alive inside")
}

func TestIntegrationHealthNamespaceMissing(t *testing.T) {
	testutil.RequireRoot(t)
	h, err := CheckHealth(context.Background(), &Config{NetNSDir: t.TempDir(), StateDir: t.TempDir()}, randUUID(), macA)
	if err != nil {
		t.Fatal(err)
	}
	wantCheck(t, h, CheckNamespace, StatusFail, "missing")
	wantCheck(t, h, CheckDnsmasq, StatusFail, "no dnsmasq")
	wantCheck(t, h, CheckInterface, StatusSkipped, "not inspected")
	if h.Status != StatusFail {
		t.Errorf("status %s", h.Status)
	}
}
