package main

import (
	"bytes"
	"context"
	"encoding/json"
	"net"
	"net/netip"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/internal/testutil"
)

func TestIntegrationDhcpprobe(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	n := testutil.NewDHCPNetwork(t, dir, netip.MustParsePrefix("192.168.31.64/27"), false)
	mac, _ := net.ParseMAC("fa:16:3e:00:00:0a")
	d := n.StartDnsmasq(t, testutil.DnsmasqOptions{SeedLeases: true, Hosts: []testutil.DnsmasqHost{{MAC: mac, IP: netip.MustParseAddr("192.168.31.72")}}})
	g := n.AddGuest(t, mac)
	g.NS.AddAddr(t, g.If, "192.168.31.72/27")
	common := []string{"-netns-dir", dir, "-state-dir", d.StateDir}

	var out bytes.Buffer
	if err := run(context.Background(), common, &out); err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(out.String(), n.NetworkID) || !strings.Contains(out.String(), n.ServeIf) {
		t.Errorf("list output lacks the network or its interface:\n%s", out.String())
	}

	out.Reset()
	args := append(common, "-json", "-network", n.NetworkID, "-arp", "192.168.31.72,192.168.31.90", "-dhcp", mac.String(), "-bridge-netns", n.Host.Path, "-timeout", "300ms")
	if err := run(context.Background(), args, &out); err != nil {
		t.Fatal(err)
	}
	var rep struct {
		Networks []struct {
			Status string `json:"status"`
			Checks []struct{ Name, Status string }
		} `json:"networks"`
		ARP   []dhcpns.ARPResult `json:"arp"`
		Offer *dhcpns.DHCPOffer  `json:"offer"`
	}
	if err := json.Unmarshal(out.Bytes(), &rep); err != nil {
		t.Fatalf("%v\n%s", err, out.String())
	}
	if len(rep.Networks) != 1 || rep.Networks[0].Status != "warn" {
		t.Errorf("want one network with status warn (lease only seeded): %+v", rep.Networks)
	}
	if len(rep.ARP) != 2 || len(rep.ARP[0].Replies) != 1 || rep.ARP[0].Replies[0].MAC.String() != mac.String() || len(rep.ARP[1].Replies) != 0 {
		t.Errorf("ARP: %+v", rep.ARP)
	}
	if rep.Offer == nil || rep.Offer.IP != netip.MustParseAddr("192.168.31.72") || rep.Offer.Server != n.ServerIP {
		t.Errorf("offer: %+v", rep.Offer)
	}

	out.Reset()
	if err := run(context.Background(), append(common, "-network", n.NetworkID, "-mac", mac.String()), &out); err != nil {
		t.Fatal(err)
	}
	t.Log("\n" + out.String())
	for _, want := range []string{"namespace", "dnsmasq", "alive inside", "only Neutron's seed", "neighbours (arp -n)"} {
		if !strings.Contains(out.String(), want) {
			t.Errorf("text output lacks %q:\n%s", want, out.String())
		}
	}
}
