package launch_test

import (
	"context"
	"net"
	"net/http"
	"net/netip"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
)

// defaultGroup is the recorded default group of the Zed cloud the fake
// serves (internal/fakecloud/testdata/neutron-secgroups-default.json).
const defaultGroup = "d822dd80-1481-4952-a69d-68598f875426"

// TestPortPolicy reads ports of the fake through PortPolicy: the
// recorded default group (remote-group rules and 0.0.0.0/0 prefixes), a
// second group with prefix rules, allowed address pairs with and without
// their own MAC, port security off; only GETs.
func TestPortPolicy(t *testing.T) {
	ctx := context.Background()
	fake := fakecloud.New(nil)
	n, err := fake.AddNetwork(fakecloud.NetworkSpec{Name: "fw-net", CIDR: netip.MustParsePrefix("192.168.31.64/27")})
	if err != nil {
		t.Fatal(err)
	}
	web, err := fake.AddSecurityGroup(fakecloud.SecurityGroupSpec{Name: "web", Rules: []fakecloud.SecurityGroupRuleSpec{
		{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: 80, PortMax: 443, RemoteIPPrefix: "10.0.0.0/8"},
		{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp", PortMin: 8, RemoteIPPrefix: "192.168.31.64/27"},
		{Direction: "ingress", EtherType: "IPv6", Protocol: "ipv6-icmp", RemoteGroupID: defaultGroup},
	}})
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("fa:16:3e:1a:7f:cf")
	pairMAC, _ := net.ParseMAC("fa:16:3e:00:00:99")
	p, err := fake.AddPort(fakecloud.PortSpec{NetworkID: n.ID, MAC: mac, IPs: []netip.Addr{netip.MustParseAddr("192.168.31.74")},
		SecurityGroups:      []string{defaultGroup, web.ID},
		AllowedAddressPairs: []fakecloud.AddressPair{{IP: "192.168.31.99"}, {IP: "10.9.0.0/16", MAC: pairMAC}}})
	if err != nil {
		t.Fatal(err)
	}
	off, err := fake.AddPort(fakecloud.PortSpec{NetworkID: n.ID, IPs: []netip.Addr{netip.MustParseAddr("192.168.31.75")}, NoPortSecurity: true})
	if err != nil {
		t.Fatal(err)
	}
	c := openFake(t, fake, nil)
	fake.ResetRequests()

	pol, err := c.PortPolicy(ctx, p.ID)
	if err != nil {
		t.Fatal(err)
	}
	want := &firewall.Policy{
		PortID: p.ID, MAC: hwaddr.MustParse("fa:16:3e:1a:7f:cf"), FixedIPs: []netip.Addr{netip.MustParseAddr("192.168.31.74")},
		AllowedAddressPairs: []firewall.AddressPair{
			{IP: netip.MustParsePrefix("192.168.31.99/32"), MAC: hwaddr.MustParse("fa:16:3e:1a:7f:cf")},
			{IP: netip.MustParsePrefix("10.9.0.0/16"), MAC: hwaddr.MustParse("fa:16:3e:00:00:99")},
		},
		PortSecurityEnabled: true,
		SecurityGroups: []firewall.SecurityGroup{
			{ID: defaultGroup, Name: "default", Rules: []firewall.SecurityGroupRule{
				{ID: "0bb1ac26-0009-47dd-bf42-83cf1e2dba4a", Direction: "egress", EtherType: "IPv6"},
			}},
			{ID: web.ID, Name: "web", Rules: []firewall.SecurityGroupRule{
				{ID: web.Rules[0].ID, Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 80, PortRangeMax: 443, RemoteIPPrefix: "10.0.0.0/8"},
				{ID: web.Rules[1].ID, Direction: "ingress", EtherType: "IPv4", Protocol: "icmp", PortRangeMin: 8, RemoteIPPrefix: "192.168.31.64/27"},
				{ID: web.Rules[2].ID, Direction: "ingress", EtherType: "IPv6", Protocol: "ipv6-icmp", RemoteGroupID: defaultGroup},
			}},
		},
	}
	// The default group's rules as recorded: compare the ones that tell
	// remote group from remote prefix, then the rest wholesale.
	got := pol.SecurityGroups[0].Rules
	byKind := map[string]firewall.SecurityGroupRule{}
	for _, r := range got {
		byKind[r.Direction+" "+r.EtherType+" "+r.Protocol] = r
	}
	if r := byKind["ingress IPv4 "]; r.RemoteGroupID != defaultGroup || r.RemoteIPPrefix != "" {
		t.Errorf("default's IPv4 ingress from itself: %+v, want remote group %s and no prefix", r, defaultGroup)
	}
	if r := byKind["ingress IPv4 tcp"]; r.RemoteIPPrefix != "0.0.0.0/0" || r.RemoteGroupID != "" || r.PortRangeMin != 22 || r.PortRangeMax != 22 {
		t.Errorf("default's ssh rule: %+v, want tcp 22 from 0.0.0.0/0", r)
	}
	if r := byKind["ingress IPv4 icmp"]; r.RemoteIPPrefix != "0.0.0.0/0" || r.PortRangeMin != 0 {
		t.Errorf("default's icmp rule: %+v, want any type from 0.0.0.0/0", r)
	}
	if len(got) != 6 {
		t.Errorf("default has %d rules, the recording 6: %+v", len(got), got)
	}
	pol.SecurityGroups[0].Rules = got[:1]
	if d := cmp.Diff(want, pol, cmp.Comparer(func(a, b netip.Addr) bool { return a == b }), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("PortPolicy (-want +got):\n%s", d)
	}
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet {
			t.Errorf("PortPolicy sent %s %s: it only reads", r.Method, r.Path)
		}
	}

	pol, err = c.PortPolicy(ctx, off.ID)
	if err != nil {
		t.Fatal(err)
	}
	if pol.PortSecurityEnabled || len(pol.SecurityGroups) != 0 || len(pol.AllowedAddressPairs) != 0 {
		t.Errorf("port security off: %+v, want disabled, no groups, no pairs", pol)
	}

	if _, err := c.PortPolicy(ctx, "00000000-0000-4000-8000-000000000000"); err == nil {
		t.Error("PortPolicy of a missing port: no error")
	}
	if _, err := c.PortPolicy(ctx, ""); err == nil {
		t.Error("PortPolicy without an ID: no error")
	}
}
