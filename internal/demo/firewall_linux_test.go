package demo

import (
	"context"
	"net/netip"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationFirewallBreak builds the demo's path (namespace guest),
// whose node holds the agent's firewall for the VM's port, and injects
// each firewall fault: the firewall judges, on a live read and a live
// probe from the qdhcp namespace, name the hop and the rule.
func TestIntegrationFirewallBreak(t *testing.T) {
	requirePath(t)
	for _, c := range []struct {
		b        Breakage
		kind     trace.Kind
		contains string
	}{
		{BreakICMPRule, trace.KindSecurityGroup, "ICMP to"},
		{BreakSSHRule, trace.KindSecurityGroup, "SSH to"},
		{BreakARPSpoof, trace.KindAntiSpoofing, "lacks --arp-ip-src"},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			dir := searchableTempDir(t)
			ctx := context.Background()
			p, err := BuildPath(ctx, &PathConfig{Dir: dir, Guest: GuestNetNS})
			if err != nil {
				t.Fatal(err)
			}
			defer p.Close()
			facts := func() trace.FirewallFacts {
				s, err := firewall.Read(ctx, &firewall.Config{NetNSPath: p.HostPath})
				if err != nil {
					t.Fatal(err)
				}
				res, err := dhcpns.ProbeReach(ctx, &dhcpns.Config{NetNSDir: p.NetNSDir}, "qdhcp-"+p.NetworkID, []netip.Addr{p.IP}, nil)
				if err != nil {
					t.Fatal(err)
				}
				return trace.FirewallFacts{Tap: p.Tap, MAC: hwaddr.MAC(p.MAC), FixedIPs: []netip.Addr{p.IP}, Snapshot: s, Probes: res, ProbeSource: res[0].Source,
					ProbeSourceTap: "tap" + strings.TrimPrefix(p.DHCPIf, "ns-")}
			}
			f := facts()
			for _, h := range []trace.Hop{trace.JudgeSecurityGroup(f), trace.JudgeAntiSpoofing(f), trace.JudgeReachability(f)} {
				if h.Verdict != trace.OK {
					t.Errorf("before the fault: %s %s %q", h.Kind, h.Verdict, h.Summary)
				}
			}
			if err := p.Break(c.b); err != nil {
				t.Fatal(err)
			}
			f = facts()
			var h trace.Hop
			switch c.kind {
			case trace.KindSecurityGroup:
				h = trace.JudgeSecurityGroup(f)
			default:
				h = trace.JudgeAntiSpoofing(f)
			}
			if h.Verdict != trace.Fail || !strings.Contains(h.Summary, c.contains) {
				t.Errorf("after %s: %s %s %q; want fail containing %q", c.b, h.Kind, h.Verdict, h.Summary, c.contains)
			}
			// (After arp-spoof the qdhcp namespace still holds the VM's
			// neighbour entry from the probe before: the ping goes on
			// until it expires.)
			if r := trace.JudgeReachability(f); r.Verdict == trace.OK && c.b != BreakARPSpoof {
				t.Errorf("after %s: reachability still ok: %q", c.b, r.Summary)
			}
		})
	}
}
