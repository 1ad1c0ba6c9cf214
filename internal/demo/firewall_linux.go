package demo

import (
	"context"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
)

// DemoSecurityGroupID is the ID of the demo port's security group: the
// "default" group the demo's fake cloud serves for the port (recorded on
// the project's Zed cloud, internal/fakecloud/testdata), whose layout (the
// remote-group rule, egress any, and the walkthrough's ICMP and SSH rules)
// the demo node's firewall reproduces (firewall/testdata/zed-aio), so the
// security-group hop compares the API's rules with the chain they made.
const DemoSecurityGroupID = "d822dd80-1481-4952-a69d-68598f875426"

// FirewallPort is the demo port as the linuxbridge agent's firewall sees
// it: its ID, MAC, fixed IP and the default group with the walkthrough's
// rules (both families).
func (p *Path) FirewallPort() fwlayout.Port {
	return fwlayout.Port{
		ID:  p.PortID,
		MAC: hwaddr.MAC(p.MAC),
		IPs: []netip.Addr{p.IP},
		Groups: []fwlayout.Group{{
			ID: DemoSecurityGroupID,
			Rules: []fwlayout.Rule{
				{Direction: "ingress", Ethertype: "IPv4", RemoteGroupID: DemoSecurityGroupID},
				{Direction: "egress", Ethertype: "IPv4"},
				// The group's IPv6 rules: the agent writes them into the
				// port's ip6tables chains, which the security-group hop
				// compares with the API.
				{Direction: "ingress", Ethertype: "IPv6", RemoteGroupID: DemoSecurityGroupID},
				{Direction: "egress", Ethertype: "IPv6"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "icmp"},
				{Direction: "ingress", Ethertype: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
			},
			Members: []netip.Addr{p.IP},
		}},
	}
}

// installFirewall gives the node's namespace the agent's firewall for the
// demo port (iptables-nft chains, the group's ipset, the ebtables ARP and
// MAC anti-spoofing chains) and turns bridge-nf-call-iptables on there,
// as the agent does. Without the tools it does nothing (the firewall hops
// then say the chains are missing).
func (p *Path) installFirewall(ctx context.Context) error {
	for _, bin := range []string{"/usr/sbin/iptables-nft-restore", "/usr/sbin/ebtables-nft-restore", "/usr/sbin/ipset", "/usr/bin/nsenter"} {
		if _, err := os.Stat(bin); err != nil {
			p.log.Info("demo: no firewall on the node", "missing", bin)
			return nil
		}
	}
	if err := fwlayout.Run(ctx, p.HostPath, "", "/usr/sbin/sysctl", "-q", "-w", "net.bridge.bridge-nf-call-iptables=1", "net.bridge.bridge-nf-call-ip6tables=1"); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if err := fwlayout.Install(ctx, p.HostPath, firewall.BackendNFT, []fwlayout.Port{p.FirewallPort()}); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// breakFirewall injects one of the firewall faults on the node: the
// port's ICMP or SSH ingress rule deleted from its chain (as when the
// rule is missing from its group), or the ebtables rule admitting the
// VM's ARP removed from its anti-spoofing chain.
func (p *Path) breakFirewall(b Breakage) error {
	ctx := context.Background()
	ingress := firewall.PortChain(p.PortID, firewall.Ingress)
	var argv []string
	switch b {
	case BreakICMPRule:
		argv = []string{"/usr/sbin/iptables-nft", "-D", ingress, "-p", "icmp", "-j", "RETURN"}
	case BreakSSHRule:
		argv = []string{"/usr/sbin/iptables-nft", "-D", ingress, "-p", "tcp", "-m", "tcp", "--dport", "22", "-j", "RETURN"}
	case BreakARPSpoof:
		argv = []string{"/usr/sbin/ebtables-nft", "-t", "nat", "-D", firewall.EbARPChain(p.Tap), "-p", "ARP", "--arp-ip-src", p.IP.String(), "-j", "ACCEPT"}
	default:
		return fmt.Errorf("demo: %q is not a firewall fault", b)
	}
	if err := fwlayout.Run(ctx, p.HostPath, "", argv...); err != nil {
		return fmt.Errorf("demo: break %s (is the node's firewall installed? %s): %w", b, filepath.Base(argv[0]), err)
	}
	return nil
}
