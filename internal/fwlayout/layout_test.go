package fwlayout

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// TestLayoutMatchesRecorded renders the layout for the port recorded on
// the project's Zed cloud (its policy from the API) and compares it, chain
// by chain, with the agent's own iptables-save and ebtables listing
// recorded at the same time (firewall/testdata/zed-aio/healthy).
func TestLayoutMatchesRecorded(t *testing.T) {
	dir := "../../firewall/testdata/zed-aio/healthy/"
	var pol firewall.Policy
	b, err := os.ReadFile(dir + "policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pol); err != nil {
		t.Fatal(err)
	}
	port := Port{ID: pol.PortID, MAC: pol.MAC, IPs: pol.FixedIPs}
	for _, g := range pol.SecurityGroups {
		grp := Group{ID: g.ID, Members: pol.FixedIPs}
		for _, r := range g.Rules {
			grp.Rules = append(grp.Rules, Rule{Direction: r.Direction, Ethertype: r.EtherType, Protocol: r.Protocol,
				PortMin: r.PortRangeMin, PortMax: r.PortRangeMax, RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID})
		}
		port.Groups = append(port.Groups, grp)
	}
	for _, fam := range []struct {
		f    firewall.Family
		file string
	}{{firewall.IPv4, "iptables-save-nft.txt"}, {firewall.IPv6, "ip6tables-save-nft.txt"}} {
		compareFilter(t, dir+fam.file, fam.f, FilterRestore([]Port{port}, fam.f))
	}
	// ebtables: the rendered restore input against ebtables-nft-save.
	ebRec, err := os.ReadFile(dir + "ebtables-save.txt")
	if err != nil {
		t.Fatal(err)
	}
	ew, err := firewall.ParseIPTablesSave(string(ebRec), firewall.BackendNFT, "")
	if err != nil {
		t.Fatal(err)
	}
	eg, err := firewall.ParseIPTablesSave(EbtablesRestore([]Port{port}), firewall.BackendNFT, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ew[0].Chains, eg[0].Chains, cmpopts.IgnoreFields(firewall.Rule{}, "Packets", "Bytes"), cmpopts.IgnoreFields(firewall.Chain{}, "Packets", "Bytes"), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("ebtables nat (-recorded +rendered):\n%s", d)
	}
}

// compareFilter compares, chain by chain, the rendered filter table of
// family f with the agent's recorded iptables-save output in file.
func compareFilter(t *testing.T, file string, f firewall.Family, restore string) {
	t.Helper()
	rec, err := os.ReadFile(file)
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := firewall.ParseIPTablesSave(string(rec), firewall.BackendNFT, f)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := firewall.ParseIPTablesSave(restore, firewall.BackendNFT, f)
	if err != nil {
		t.Fatal(err)
	}
	want := (&firewall.Snapshot{Tables: recorded}).Table(firewall.BackendNFT, f)
	got := (&firewall.Snapshot{Tables: rendered}).Table(firewall.BackendNFT, f)
	if len(got.Chains) == 0 {
		t.Fatalf("%s: nothing rendered", f)
	}
	specs := func(c *firewall.Chain) []string {
		var s []string
		for _, r := range c.Rules {
			// The DHCP port's "trusted" ACCEPTs are not the VM port's layout.
			if !strings.Contains(r.Comment, "trusted") {
				s = append(s, strings.ReplaceAll(r.Spec, "-m mac --mac-source FA:", "-m mac --mac-source fa:"))
			}
		}
		return s
	}
	for _, c := range got.Chains {
		wc := want.Chain(c.Name)
		if wc == nil {
			t.Errorf("%s: rendered chain %s is not in the recorded table", f, c.Name)
			continue
		}
		g := specs(&c)
		if d := cmp.Diff(specs(wc), lowerMAC(g)); d != "" {
			t.Errorf("%s chain %s (-recorded +rendered):\n%s", f, c.Name, d)
		}
	}
}

// lowerMAC writes --mac-source in lower case, as iptables-save prints it.
func lowerMAC(specs []string) []string {
	for i, s := range specs {
		if j := strings.Index(s, "--mac-source "); j >= 0 {
			k := j + len("--mac-source ") + 17
			if k <= len(s) {
				specs[i] = s[:j] + strings.ToLower(s[j:k]) + s[k:]
			}
		}
	}
	return specs
}

// TestIPv6Layout checks the IPv6 chains of a dual-stack port against
// Neutron's iptables_firewall.py: ND admitted into the port first, the
// RA and DHCPv6 provider rules, the spoof chain with each IPv6 address
// and the EUI-64 link-local of the MAC, and the RA drop out of the VM.
func TestIPv6Layout(t *testing.T) {
	mac, _ := hwaddr.Parse("fa:16:3e:1a:7f:cf")
	if got, want := firewall.LinkLocal(mac), netip.MustParseAddr("fe80::f816:3eff:fe1a:7fcf"); got != want {
		t.Errorf("firewall.LinkLocal(%s) = %s, want %s", mac, got, want)
	}
	p := Port{ID: "63035db3-5975-4705-9464-f93d0e4d0c61", MAC: mac,
		IPs: []netip.Addr{netip.MustParseAddr("192.168.31.74"), netip.MustParseAddr("2001:db8:31::74")},
		Groups: []Group{{ID: "351acb45-01f6-4d2c-9bba-2feb56697def", Rules: []Rule{
			{Direction: "ingress", Ethertype: "IPv6", Protocol: "icmp"},
			{Direction: "ingress", Ethertype: "IPv6", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "::/0"},
			{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: "351acb45-01f6-4d2c-9bba-2feb56697def"},
			{Direction: "egress", Ethertype: "IPv6"},
		}, Members: []netip.Addr{netip.MustParseAddr("2001:db8:31::74")}}},
	}
	snap := func() *firewall.Snapshot {
		v4, err := firewall.ParseIPTablesSave(IPTablesRestore([]Port{p}), firewall.BackendNFT, firewall.IPv4)
		if err != nil {
			t.Fatal(err)
		}
		v6, err := firewall.ParseIPTablesSave(IP6TablesRestore([]Port{p}), firewall.BackendNFT, firewall.IPv6)
		if err != nil {
			t.Fatal(err)
		}
		return &firewall.Snapshot{Tables: append(v4, v6...)}
	}
	s := snap()
	pp := s.Port(p.ID, firewall.IPv6)
	if pp.Spoof == nil {
		t.Fatal("no IPv6 spoof chain for a port with an IPv6 address")
	}
	specs := func(c *firewall.Chain) []string {
		var out []string
		for _, r := range c.Rules {
			out = append(out, r.Spec)
		}
		return out
	}
	wantIn := []string{
		"-p ipv6-icmp -m icmp6 --icmpv6-type 130 -j RETURN",
		"-p ipv6-icmp -m icmp6 --icmpv6-type 135 -j RETURN",
		"-p ipv6-icmp -m icmp6 --icmpv6-type 136 -j RETURN",
		`-m state --state RELATED,ESTABLISHED -m comment --comment "Direct packets associated with a known session to the RETURN chain." -j RETURN`,
		"-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j RETURN",
		"-d 2001:db8:31::74/128 -p udp -m udp --sport 547 --dport 546 -j RETURN",
		"-d fe80::/64 -p udp -m udp --sport 547 --dport 546 -j RETURN",
		"-p ipv6-icmp -j RETURN",
		"-p tcp -m tcp --dport 22 -j RETURN",
		"-m set --match-set NIPv6351acb45-01f6-4d2c-9bba- src -j RETURN",
		`-m state --state INVALID -m comment --comment "Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack." -j DROP`,
		`-m comment --comment "Send unmatched traffic to the fallback chain." -j neutron-linuxbri-sg-fallback`,
	}
	if d := cmp.Diff(wantIn, specs(pp.Ingress)); d != "" {
		t.Errorf("IPv6 ingress (-want +got):\n%s", d)
	}
	wantSpoof := []string{
		`-s 2001:db8:31::74/128 -m mac --mac-source FA:16:3E:1A:7F:CF -m comment --comment "Allow traffic from defined IP/MAC pairs." -j RETURN`,
		`-s fe80::f816:3eff:fe1a:7fcf/128 -m mac --mac-source FA:16:3E:1A:7F:CF -m comment --comment "Allow traffic from defined IP/MAC pairs." -j RETURN`,
		`-m comment --comment "Drop traffic without an IP/MAC allow rule." -j DROP`,
	}
	if d := cmp.Diff(wantSpoof, specs(pp.Spoof)); d != "" {
		t.Errorf("IPv6 spoof (-want +got):\n%s", d)
	}
	if eg := specs(pp.Egress); len(eg) < 5 || eg[3] != "-j "+pp.Spoof.Name || !strings.Contains(eg[4], "--icmpv6-type 134") || !strings.HasSuffix(eg[4], "-j DROP") {
		t.Errorf("IPv6 egress: want the three DAD rules, the spoof jump, then the RA drop; got %q", eg)
	}
	// NoND takes out exactly NS and NA.
	p.NoND = true
	in := snap().Port(p.ID, firewall.IPv6).Ingress
	if got := specs(in); len(got) != len(wantIn)-2 || strings.Contains(strings.Join(got, "\n"), "type 135") || strings.Contains(strings.Join(got, "\n"), "type 136") {
		t.Errorf("NoND: %q", got)
	}
	// The IPv6 set holds the IPv6 members only.
	sets, err := firewall.ParseIPSetSave(IPSetRestore([]Port{p}))
	if err != nil {
		t.Fatal(err)
	}
	if len(sets) != 2 || sets[0].Name != "NIPv6351acb45-01f6-4d2c-9bba-" || len(sets[0].Members) != 1 || sets[0].Members[0] != netip.MustParsePrefix("2001:db8:31::74/128") || len(sets[1].Members) != 0 {
		t.Errorf("ipsets: %+v", sets)
	}
}
