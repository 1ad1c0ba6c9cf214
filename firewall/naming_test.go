package firewall

import (
	"testing"

	"github.com/vifpath/vifpath/hwaddr"
)

// The names the agent gives, checked against Neutron's truncation rules
// (iptables_manager.get_chain_name: 11 characters after the 17-character
// wrap "neutron-linuxbri-"; ipset_manager.get_name: 29 characters) and the
// project's Zed cloud (NOTES.md: tap31f2d3e9-8d → neutron-linuxbri-i31f2d3e9-8).
func TestNaming(t *testing.T) {
	const port = "31f2d3e9-8d4c-4b0e-9a1f-2c3d4e5f6a7b"
	for _, tc := range []struct{ got, want string }{
		{TapName(port), "tap31f2d3e9-8d"},
		{TapName("tap31f2d3e9-8d"), "tap31f2d3e9-8d"},
		{PortChain(port, Ingress), "neutron-linuxbri-i31f2d3e9-8"},
		{PortChain("tap31f2d3e9-8d", Egress), "neutron-linuxbri-o31f2d3e9-8"},
		{PortChain(port, Spoof), "neutron-linuxbri-s31f2d3e9-8"},
		{IPSetName("351acb45-01f6-4d2c-9bba-2feb56697def", IPv4), "NIPv4351acb45-01f6-4d2c-9bba-"},
		{IPSetName("351acb45-01f6-4d2c-9bba-2feb56697def", IPv6), "NIPv6351acb45-01f6-4d2c-9bba-"},
		{EbARPChain("tap31f2d3e9-8d"), "neutronARP-tap31f2d3e9-8d"},
		{EbMACChain("tap31f2d3e9-8d"), "neutronMAC-tap31f2d3e9-8d"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
	if n := len(PortChain(port, Ingress)); n != 28 {
		t.Errorf("chain name is %d characters, want 28 (iptables allows 28)", n)
	}
	if n := len(IPSetName("351acb45-01f6-4d2c-9bba-2feb56697def", IPv4)); n != 29 {
		t.Errorf("ipset name is %d characters, want 29 (31 minus the agent's swap suffix -n)", n)
	}
}

func TestLinkLocal(t *testing.T) {
	// The walkthrough port's MAC; the address Neutron's
	// get_ipv6_addr_by_EUI64("fe80::/64", mac) gives.
	if got := LinkLocal(hwaddr.MustParse("fa:16:3e:1a:7f:cf")).String(); got != "fe80::f816:3eff:fe1a:7fcf" {
		t.Errorf("LinkLocal = %s, want fe80::f816:3eff:fe1a:7fcf", got)
	}
}
