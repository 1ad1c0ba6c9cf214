package firewall_test

import (
	"context"
	"net/netip"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
)

// nftOddRules go into a host chain FORWARD jumps to (as docker's): forms
// the decoder knows beyond the agent's (negations, interface prefixes,
// a /20, port ranges, multiport, conntrack, goto, a wildcard physdev,
// quoted comments) and, in the chain nftOddCLI, ones it does not (limit,
// LOG, -p gre), which make that chain fall back to the CLI.
var nftOddRules = [][]string{
	{"-i", "eth+", "-o", "brq1", "-s", "10.1.0.0/20", "-j", "ACCEPT"},
	{"!", "-s", "10.1.2.3", "!", "-p", "udp", "-j", "RETURN"},
	{"-d", "10.2.0.0/16", "-p", "tcp", "--dport", "1000:2000", "-j", "RETURN"},
	{"-p", "tcp", "--sport", "1:2", "--dport", "3", "-j", "RETURN"},
	{"-p", "tcp", "!", "--dport", "3", "-j", "RETURN"},
	{"-p", "udp", "--sport", "53", "-j", "RETURN"},
	{"-p", "udp", "--sport", "53", "--dport", "54", "-j", "RETURN"},
	{"-m", "conntrack", "--ctstate", "NEW,UNTRACKED", "-j", "RETURN"},
	{"-m", "state", "!", "--state", "NEW", "-j", "RETURN"},
	{"-p", "icmp", "--icmp-type", "3/1", "-j", "RETURN"},
	{"-p", "icmp", "--icmp-type", "any", "-j", "RETURN"},
	{"-m", "comment", "--comment", "simple", "-j", "RETURN"},
	{"-m", "comment", "--comment", `a "q" b`, "-j", "RETURN"},
	{"-m", "mac", "!", "--mac-source", "fa:16:3e:00:00:01", "-j", "RETURN"},
	{"-m", "physdev", "!", "--physdev-in", "tap+", "--physdev-is-in", "-j", "RETURN"},
	{"-p", "tcp", "-m", "multiport", "--sports", "1,2,5:7", "-j", "RETURN"},
	{"-p", "udp", "-m", "udp", "-j", "RETURN"},
	{"-p", "tcp", "-g", "neutron-linuxbri-sg-fallback"},
	{},
}

var nftOddCLI = [][]string{
	{"-m", "limit", "--limit", "3/min", "-j", "RETURN"},
	{"-p", "gre", "-j", "RETURN"},
	{"-j", "LOG"},
}

// TestIntegrationNFTRead installs the agent's layout for a dual-stack
// port (ICMP, SSH, a port range, a /20 remote prefix, remote groups
// through ipsets, IPv6 echo) with iptables-nft, plus host chains on
// FORWARD's path, pings the VM in both families so counters move, and
// reads it scoped to the port three times: with the CLI
// (Config.NFTCLI), through nf_tables netlink, with the CLI again. The
// netlink read equals the CLI's field by field (chains, policies, rules
// with their Spec and typed matches), its counters lie between the two
// CLI reads' (the race of a live counter), some counters are non-zero,
// Snapshot.Reads says netlink for both families and names the one chain
// with rules the decoder does not know (left to the CLI, and equal to
// its listing), and no other chain.
func TestIntegrationNFTRead(t *testing.T) {
	testutil.RequireBinary(t, "ping", "iputils-ping")
	testutil.RequireBinary(t, "iptables-nft", "iptables")
	v4, v6 := netip.MustParseAddr("192.168.31.74"), netip.MustParseAddr("2001:db8:31::74")
	port := walkthroughPort(testPort, v4)
	port.IPs = append(port.IPs, v6)
	g := &port.Groups[0]
	g.Members = append(g.Members, v6)
	g.Rules = append(g.Rules,
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp", PortMin: 8, RemoteIPPrefix: "10.0.0.0/8"},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp", PortMin: 3, PortMax: 1, RemoteIPPrefix: "10.16.0.0/20"},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 1000, PortMax: 2000, RemoteIPPrefix: "0.0.0.0/0"},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv4", Protocol: "udp", PortMin: 53, RemoteIPPrefix: "192.168.31.64/27"},
		fwlayout.Rule{Direction: "egress", Ethertype: "IPv4", RemoteGroupID: testGroup},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: testGroup},
		fwlayout.Rule{Direction: "egress", Ethertype: "IPv6"},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", Protocol: "ipv6-icmp", PortMin: 128, RemoteIPPrefix: "::/0"},
		fwlayout.Rule{Direction: "ingress", Ethertype: "IPv6", Protocol: "tcp", PortMin: 22, PortMax: 22, RemoteIPPrefix: "2001:db8::/33"})
	n := newNode(t, firewall.BackendNFT, port)
	dhcp6 := netip.MustParseAddr("2001:db8:31::70")
	n.vm.Run(t, "/usr/sbin/ip", "-6", "addr", "add", v6.String()+"/64", "dev", "eth0", "nodad")
	n.dhcp.Run(t, "/usr/sbin/ip", "-6", "addr", "add", dhcp6.String()+"/64", "dev", "ns-fw", "nodad")

	odd, oddCLI := testutil.RandName("fn-o"), testutil.RandName("fn-c")
	for _, tool := range []string{"/usr/sbin/iptables-nft", "/usr/sbin/ip6tables-nft"} {
		for _, c := range []string{odd, oddCLI} {
			n.node.Run(t, tool, "-N", c)
			n.node.Run(t, tool, "-I", "FORWARD", "-j", c)
		}
		for _, r := range nftOddRules {
			if tool == "/usr/sbin/ip6tables-nft" && (slices.Contains(r, "icmp") || slices.Contains(r, "10.1.0.0/20") || slices.Contains(r, "10.1.2.3") || slices.Contains(r, "10.2.0.0/16")) {
				continue
			}
			n.node.Run(t, tool, append([]string{"-A", odd}, r...)...)
		}
		for _, r := range nftOddCLI {
			n.node.Run(t, tool, append([]string{"-A", oddCLI}, r...)...)
		}
	}
	n.node.Run(t, "/usr/sbin/ip6tables-nft", "-A", odd, "-s", "2001:db8:31::/48", "!", "-d", "::1.2.3.4/128", "-j", "RETURN")
	n.node.Run(t, "/usr/sbin/ip6tables-nft", "-A", odd, "-p", "ipv6-icmp", "--icmpv6-type", "1/3", "-j", "RETURN")

	// Traffic through both families' chains.
	n.dhcp.Run(t, "/usr/bin/ping", "-c", "2", "-i", "0.2", "-W", "1", n.vmIP.String())
	n.dhcp.Run(t, "/usr/bin/ping", "-6", "-c", "2", "-i", "0.2", "-W", "1", v6.String())

	cfg := func(cli bool) *firewall.Config {
		return &firewall.Config{NetNSPath: n.node.Path, Taps: []string{port.ID}, NFTCLI: cli}
	}
	readOne := func(cli bool) *firewall.Snapshot {
		s, err := firewall.Read(context.Background(), cfg(cli))
		if err != nil {
			t.Fatalf("Read (cli %v): %v", cli, err)
		}
		return s
	}
	before, nl, after := readOne(true), readOne(false), readOne(true)

	for _, s := range []*firewall.Snapshot{before, after} {
		for _, r := range s.Reads {
			if r.Backend == firewall.BackendNFT && r.Via != firewall.ViaList {
				t.Errorf("NFTCLI read: %s %s via %q, want %q", r.Backend, r.Family, r.Via, firewall.ViaList)
			}
		}
	}
	if len(nl.Reads) != 2 {
		t.Fatalf("netlink read: Reads %+v, want the two iptables-nft tables", nl.Reads)
	}
	for _, r := range nl.Reads {
		if r.Via != firewall.ViaNetlink {
			t.Errorf("%s: read via %q, want %q", r.Family, r.Via, firewall.ViaNetlink)
		}
		if len(r.Fallback) != 1 || !strings.Contains(r.Fallback[0], oddCLI) || !strings.Contains(r.Fallback[0], "not decoded") {
			t.Errorf("%s: fallback %q, want exactly chain %s's rule not decoded", r.Family, r.Fallback, oddCLI)
		}
	}

	eq := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	noCounts := cmpopts.IgnoreFields(firewall.Rule{}, "Packets", "Bytes")
	noChainCounts := cmpopts.IgnoreFields(firewall.Chain{}, "Packets", "Bytes")
	moved := 0
	for _, f := range []firewall.Family{firewall.IPv4, firewall.IPv6} {
		tb, tn, ta := before.Table(firewall.BackendNFT, f), nl.Table(firewall.BackendNFT, f), after.Table(firewall.BackendNFT, f)
		if tb == nil || tn == nil || ta == nil {
			t.Fatalf("%s: no iptables-nft table (cli %v, netlink %v, cli %v)", f, tb != nil, tn != nil, ta != nil)
		}
		if d := cmp.Diff(tb, tn, eq, noCounts, noChainCounts); d != "" {
			t.Errorf("%s: netlink read differs from the CLI's (-cli +netlink):\n%s", f, d)
		}
		for _, want := range []string{odd, oddCLI, firewall.PortChain(port.ID, firewall.Ingress), firewall.SGChain, "FORWARD"} {
			if tn.Chain(want) == nil {
				t.Errorf("%s: netlink read lacks chain %s", f, want)
			}
		}
		if c := tn.Chain(odd); c != nil && len(c.Rules) < 10 {
			t.Errorf("%s: chain %s has %d rules, want the odd rules", f, odd, len(c.Rules))
		}
		// Counters: before ≤ netlink ≤ after.
		within := func(what string, b, x, a uint64) {
			if x < b || x > a {
				t.Errorf("%s: %s counter %d outside the CLI reads' [%d, %d]", f, what, x, b, a)
			}
			if x > 0 {
				moved++
			}
		}
		for i, c := range tn.Chains {
			cb, ca := tb.Chains[i], ta.Chains[i]
			if cb.Name != c.Name || ca.Name != c.Name || len(cb.Rules) != len(c.Rules) || len(ca.Rules) != len(c.Rules) {
				t.Fatalf("%s: chain %d: %s / %s / %s with %d/%d/%d rules", f, i, cb.Name, c.Name, ca.Name, len(cb.Rules), len(c.Rules), len(ca.Rules))
			}
			within(c.Name+" policy packets", cb.Packets, c.Packets, ca.Packets)
			within(c.Name+" policy bytes", cb.Bytes, c.Bytes, ca.Bytes)
			for j, r := range c.Rules {
				within(c.Name+" rule packets", cb.Rules[j].Packets, r.Packets, ca.Rules[j].Packets)
				within(c.Name+" rule bytes", cb.Rules[j].Bytes, r.Bytes, ca.Rules[j].Bytes)
			}
		}
		// What the judges see: the port's firewall, whole.
		if d := cmp.Diff(before.Port(port.ID, f), nl.Port(port.ID, f), eq, noCounts); d != "" {
			t.Errorf("%s: Port differs (-cli +netlink):\n%s", f, d)
		}
	}
	if moved < 8 {
		t.Errorf("only %d non-zero counters after pinging both families: the comparison proved little", moved)
	}
}
