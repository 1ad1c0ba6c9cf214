package dhcpns

import (
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"reflect"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationCheckHealthAllEqualsCheckHealth builds three real qdhcp
// namespaces with real dnsmasq in one netns directory (one healthy, one
// whose serving interface has no address, one whose dnsmasq is a zombie)
// plus a network with no namespace, and asserts that CheckHealthAll's one
// /proc scan gives the same checks and dnsmasq status, network by
// network, as one CheckHealth call each.
func TestIntegrationCheckHealthAllEqualsCheckHealth(t *testing.T) {
	testutil.RequireRoot(t)
	netnsDir, stateDir := t.TempDir(), t.TempDir()
	opts := testutil.DnsmasqOptions{StateDir: stateDir, SeedLeases: true,
		Hosts: []testutil.DnsmasqHost{{MAC: net.HardwareAddr(macA), IP: ipA}}}
	ok := testutil.NewDHCPNetwork(t, netnsDir, netip.MustParsePrefix("192.168.31.64/27"), false)
	ok.StartDnsmasq(t, opts)
	noAddr := testutil.NewDHCPNetwork(t, netnsDir, netip.MustParsePrefix("192.168.32.64/27"), true)
	noAddr.StartDnsmasq(t, opts)
	zombie := testutil.NewDHCPNetwork(t, netnsDir, netip.MustParsePrefix("192.168.33.64/27"), false)
	zombie.StartDnsmasq(t, opts)
	zombie.Dnsmasq.Kill(t, false)
	ids := []string{ok.NetworkID, noAddr.NetworkID, zombie.NetworkID, randUUID()}
	cfg := &Config{NetNSDir: netnsDir, StateDir: stateDir}

	all, err := CheckHealthAll(context.Background(), cfg, ids)
	if err != nil {
		t.Fatal(err)
	}
	if len(all) != len(ids) {
		t.Fatalf("CheckHealthAll gave %d healths for %d networks", len(all), len(ids))
	}
	wantDnsmasq := []CheckStatus{StatusOK, StatusOK, StatusFail, StatusFail}
	for i, id := range ids {
		one, err := CheckHealth(context.Background(), cfg, id, nil)
		if err != nil {
			t.Fatal(err)
		}
		got := all[i]
		if got.NetworkID != id {
			t.Errorf("healths[%d] is network %s, want %s", i, got.NetworkID, id)
		}
		if !reflect.DeepEqual(got.Checks, one.Checks) || !reflect.DeepEqual(got.Dnsmasq, one.Dnsmasq) ||
			got.Status != one.Status || got.ServingInterface != one.ServingInterface {
			a, _ := json.MarshalIndent(got.Checks, "", "  ")
			b, _ := json.MarshalIndent(one.Checks, "", "  ")
			t.Errorf("network %d: CheckHealthAll\n%s\nCheckHealth\n%s\ndnsmasq %+v vs %+v", i, a, b, got.Dnsmasq, one.Dnsmasq)
		}
		if c, _ := got.Check(CheckDnsmasq); c.Status != wantDnsmasq[i] {
			t.Errorf("network %d: dnsmasq check %s %q, want %s", i, c.Status, c.Summary, wantDnsmasq[i])
		}
	}
	if len(all[0].Dnsmasq.InNamespace) != 1 || len(all[1].Dnsmasq.InNamespace) != 1 {
		t.Errorf("the one scan missed a live dnsmasq: %+v / %+v", all[0].Dnsmasq.InNamespace, all[1].Dnsmasq.InNamespace)
	}
	if c, _ := all[1].Check(CheckInterface); c.Status != StatusFail {
		t.Errorf("no-address network: interface check %s %q, want fail", c.Status, c.Summary)
	}

	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if hs, err := CheckHealthAll(ctx, cfg, ids); err == nil || hs != nil {
		t.Errorf("cancelled ctx: CheckHealthAll = %v, %v; want nil and an error", hs, err)
	}
}
