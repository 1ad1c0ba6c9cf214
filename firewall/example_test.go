package firewall_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vifpath/vifpath/firewall"
)

// The chain names the linuxbridge agent gives a port, as it truncates
// them.
func ExamplePortChain() {
	port := "31f2d3e9-8d4c-4b0e-9a1f-2c3d4e5f6a7b"
	fmt.Println(firewall.TapName(port))
	fmt.Println(firewall.PortChain(port, firewall.Ingress))
	fmt.Println(firewall.IPSetName("351acb45-01f6-4d2c-9bba-2feb56697def", firewall.IPv4))
	// Output:
	// tap31f2d3e9-8d
	// neutron-linuxbri-i31f2d3e9-8
	// NIPv4351acb45-01f6-4d2c-9bba-
}

// Which rule would the walkthrough's ping hit? Evaluate walks the chains
// of a parsed iptables-save.
func ExampleSnapshot_Evaluate() {
	tables, err := firewall.ParseIPTablesSave(`*filter
:FORWARD ACCEPT [0:0]
:neutron-linuxbri-sg-chain - [0:0]
:neutron-linuxbri-i31f2d3e9-8 - [0:0]
:neutron-linuxbri-sg-fallback - [0:0]
[0:0] -A FORWARD -m physdev --physdev-out tap31f2d3e9-8d --physdev-is-bridged -j neutron-linuxbri-sg-chain
[0:0] -A neutron-linuxbri-sg-chain -m physdev --physdev-out tap31f2d3e9-8d --physdev-is-bridged -j neutron-linuxbri-i31f2d3e9-8
[0:0] -A neutron-linuxbri-sg-chain -j ACCEPT
[0:0] -A neutron-linuxbri-i31f2d3e9-8 -m state --state RELATED,ESTABLISHED -j RETURN
[0:0] -A neutron-linuxbri-i31f2d3e9-8 -p tcp -m tcp --dport 22 -j RETURN
[0:0] -A neutron-linuxbri-i31f2d3e9-8 -j neutron-linuxbri-sg-fallback
[0:0] -A neutron-linuxbri-sg-fallback -j DROP
COMMIT
`, firewall.BackendNFT, firewall.IPv4)
	if err != nil {
		fmt.Println(err)
		return
	}
	s := &firewall.Snapshot{Tables: tables}
	for _, pk := range []firewall.Packet{
		{Protocol: "icmp", ICMPType: 8, Src: netip.MustParseAddr("192.168.31.70"), Dst: netip.MustParseAddr("192.168.31.74"), PhysOut: "tap31f2d3e9-8d", Bridged: true},
		{Protocol: "tcp", DstPort: 22, Src: netip.MustParseAddr("192.168.31.70"), Dst: netip.MustParseAddr("192.168.31.74"), PhysOut: "tap31f2d3e9-8d", Bridged: true},
	} {
		r, _ := s.Evaluate(firewall.BackendNFT, "FORWARD", pk)
		fmt.Println(pk.Protocol, r.Verdict, r.Decider())
	}
	// Output:
	// icmp DROP neutron-linuxbri-sg-fallback#1
	// tcp ACCEPT neutron-linuxbri-sg-chain#2
}

// Read the node's firewall and look at one port (needs root).
func ExampleRead() {
	s, err := firewall.Read(context.Background(), nil)
	if err != nil {
		fmt.Println(err)
		return
	}
	p := s.Port("tap31f2d3e9-8d", firewall.IPv4)
	fmt.Println(p.Backend, p.Filtered(), s.StaleTaps([]string{"tap31f2d3e9-8d"}))
}
