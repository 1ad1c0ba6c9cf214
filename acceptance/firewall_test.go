//go:build acceptance && linux

package acceptance

import (
	"context"
	"encoding/json"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// fwObserver gathers the firewall facts of the walkthrough's port on the
// all-in-one node: the API's policy, the firewall read before and after
// the reachability probe from the qdhcp namespace, and which counters
// moved. It is what the trace's observation will do once wired.
type fwObserver struct {
	c      *launch.Client
	portID string
	netID  string
	tap    string
	mac    hwaddr.MAC
	ips    []netip.Addr
	srcTap string
}

func (o *fwObserver) observe(ctx context.Context, t *testing.T) trace.FirewallFacts {
	t.Helper()
	f := trace.FirewallFacts{Tap: o.tap, MAC: o.mac, FixedIPs: o.ips, Role: trace.RoleAllInOne, ProbeSourceTap: o.srcTap}
	pol, err := o.c.PortPolicy(ctx, o.portID)
	if err != nil {
		t.Fatalf("PortPolicy: %v", err)
	}
	f.Policy = pol
	before, err := firewall.Read(ctx, nil)
	if err != nil {
		t.Fatalf("firewall.Read: %v", err)
	}
	probes, err := dhcpns.ProbeReach(ctx, nil, dhcpns.NamespaceName(o.netID), o.ips, nil)
	if err != nil {
		f.ProbeErr = err.Error()
	} else {
		f.Probes = probes
		f.ProbeSource = probes[0].Source
	}
	after, err := firewall.Read(ctx, nil)
	if err != nil {
		t.Fatalf("firewall.Read: %v", err)
	}
	f.Snapshot = after
	if b, ok := after.NeutronBackend(); ok {
		f.Moved = firewall.Moved(before, after, b, firewall.IPv4)
	}
	return f
}

// record writes the facts (trace/testdata/firewall/NAME.json) and the
// tools' raw output (firewall/testdata/zed-aio/NAME/) when
// VIFPATH_RECORD_FIREWALL names the repository's root.
func record(t *testing.T, name string, f trace.FirewallFacts) {
	root := os.Getenv("VIFPATH_RECORD_FIREWALL")
	if root == "" {
		return
	}
	b, err := json.MarshalIndent(f, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	dir := filepath.Join(root, "trace", "testdata", "firewall")
	os.MkdirAll(dir, 0o755)
	if err := os.WriteFile(filepath.Join(dir, name+".json"), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
	raw := filepath.Join(root, "firewall", "testdata", "zed-aio", name)
	os.MkdirAll(raw, 0o755)
	for file, argv := range map[string][]string{
		"iptables-save-nft.txt":    {"/usr/sbin/iptables-nft-save", "-c"},
		"ip6tables-save-nft.txt":   {"/usr/sbin/ip6tables-nft-save", "-c"},
		"iptables-save-legacy.txt": {"/usr/sbin/iptables-legacy-save", "-c"},
		"ebtables-nat.txt":         {"/usr/sbin/ebtables", "-t", "nat", "-L", "--Lc"},
		"ebtables-save.txt":        {"/usr/sbin/ebtables-nft-save", "-c"},
		"ipset-save.txt":           {"/usr/sbin/ipset", "save"},
		"ipset-list.txt":           {"/usr/sbin/ipset", "list"},
	} {
		out, err := exec.Command(argv[0], argv[1:]...).Output()
		if err != nil {
			t.Errorf("record %s: %v", file, err)
		}
		os.WriteFile(filepath.Join(raw, file), out, 0o644)
	}
	pb, _ := json.MarshalIndent(f.Policy, "", "  ")
	os.WriteFile(filepath.Join(raw, "policy.json"), append(pb, '\n'), 0o644)
}

func judgeAll(f trace.FirewallFacts) []trace.Hop {
	return []trace.Hop{trace.JudgeSecurityGroup(f), trace.JudgeAntiSpoofing(f), trace.JudgeReachability(f)}
}

func hopsText(hs []trace.Hop) string {
	var b strings.Builder
	for _, h := range hs {
		b.WriteString(string(h.Kind) + " " + h.Verdict.String() + ": " + h.Summary + "\n")
		for _, e := range h.Evidence {
			b.WriteString("    " + e.Key + ": " + e.Value + "\n")
		}
	}
	return b.String()
}

// TestAcceptanceFirewall traces the walkthrough's server's firewall on the
// real cloud: healthy with the ICMP and SSH rules named as evidence, then
// three faults (the ICMP rule deleted through the API; a DROP inserted at
// the top of the port's ingress chain on the node; the port's MAC removed
// from its ebtables anti-spoofing chain), each diagnosed at its firewall
// hop with the rule or address named, undone, and healthy again. Run it
// under `flock /tmp/vifpath-aio.lock`.
func TestAcceptanceFirewall(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := walkthrough(ctx, t, c, 1)
	port := p.server.Ports[0]
	o := &fwObserver{c: c, portID: port.ID, netID: p.network.ID, tap: linuxbridge.PortTapName(port.ID), mac: hwaddr.MAC(port.MAC)}
	for _, ip := range port.FixedIPs {
		o.ips = append(o.ips, ip.Address)
	}
	ingress := firewall.PortChain(o.tap, firewall.Ingress)
	// The DHCP port's tap is the host end of the qdhcp namespace's ns- veth.
	if ns, err := dhcpns.OpenNetwork(ctx, nil, p.network.ID); err == nil {
		if s, err := ns.Inspect(ctx); err == nil {
			for _, l := range s.Links {
				if rest, ok := strings.CutPrefix(l.Name, "ns-"); ok {
					o.srcTap = "tap" + rest
				}
			}
		}
		ns.Close()
	}
	waitRenewed(ctx, t, "a renewed lease for "+port.MAC.String(), p.network.ID, hwaddr.MAC(port.MAC))
	// healthy waits until the three hops are OK (the agent may still be
	// applying a change) and checks the evidence names the rules.
	healthy := func(label string) trace.FirewallFacts {
		var f trace.FirewallFacts
		waitFor(ctx, t, label+": security-group, anti-spoofing and reachability OK", func() (bool, string) {
			f = o.observe(ctx, t)
			hs := judgeAll(f)
			for _, h := range hs {
				if h.Verdict != trace.OK {
					return false, hopsText(hs)
				}
			}
			return true, ""
		})
		sg := trace.JudgeSecurityGroup(f)
		icmp, _ := sg.Get("icmp")
		ssh, _ := sg.Get("ssh")
		if !strings.Contains(icmp, ingress) || !strings.Contains(icmp, "-p icmp") || !strings.Contains(ssh, "--dport 22") {
			t.Errorf("%s: security-group evidence icmp=%q ssh=%q; want the rules of %s named", label, icmp, ssh, ingress)
		}
		t.Logf("%s:\n%s", label, hopsText(judgeAll(f)))
		return f
	}
	record(t, "healthy", healthy("healthy"))

	// Fault 1, through the API: the default group's ICMP rule deleted.
	rules, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules())
	if err != nil {
		t.Fatal(err)
	}
	var icmpID string
	for _, r := range rules {
		if r.Protocol == "icmp" {
			icmpID = r.ID
		}
	}
	if out, err := exec.CommandContext(ctx, "openstack", "security", "group", "rule", "delete", icmpID).CombinedOutput(); err != nil {
		t.Fatalf("delete the ICMP rule %s: %v: %s", icmpID, err, out)
	}
	t.Cleanup(func() {
		if _, err := c.EnsureSecurityGroupRules(context.Background(), "default", launch.WalkthroughRules()); err != nil {
			t.Errorf("undo: re-add the ICMP rule: %v", err)
		}
	})
	var f trace.FirewallFacts
	waitFor(ctx, t, "the agent to drop the ICMP rule from "+ingress, func() (bool, string) {
		f = o.observe(ctx, t)
		h := trace.JudgeSecurityGroup(f)
		return h.Verdict == trace.Fail, hopsText([]trace.Hop{h})
	})
	// Observe again: the agent may have changed the chain between the
	// reads around the probe of the observation that saw the change.
	f = o.observe(ctx, t)
	hs := judgeAll(f)
	if h := hs[0]; !strings.Contains(h.Summary, "ICMP to") || !strings.Contains(h.Summary, firewall.FallbackChain) || !strings.Contains(h.Summary, "no ingress rule") {
		t.Errorf("ICMP rule deleted: security-group hop %q; want ICMP dropped by %s and no ingress rule admitting ICMP", h.Summary, firewall.FallbackChain)
	}
	// Only the remote-group rule admits ICMP now, from the group's members:
	// the DHCP port is not one, so the silent ping is a warn naming the drop.
	if h := hs[2]; h.Verdict != trace.Warn || !strings.Contains(h.Summary, "ping") || !strings.Contains(h.Summary, firewall.FallbackChain) || !strings.Contains(h.Summary, "group members") {
		t.Errorf("ICMP rule deleted: reachability %s %q; want a warn: the ping silent, dropped by %s, its source admitted only as a group member", h.Verdict, h.Summary, firewall.FallbackChain)
	}
	record(t, "icmp-rule-deleted", f)
	t.Logf("ICMP rule deleted:\n%s", hopsText(hs))
	if _, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules()); err != nil {
		t.Fatal(err)
	}
	healthy("after re-adding the ICMP rule")

	// Fault 2, on the node: a DROP for ssh at the top of the port's ingress chain.
	ipt := "/usr/sbin/iptables-" + string(f.Snapshot.Backends().Neutron[0])
	drop := []string{ingress, "-p", "tcp", "--dport", "22", "-j", "DROP"}
	if out, err := exec.Command(ipt, append([]string{"-I"}, drop...)...).CombinedOutput(); err != nil {
		t.Fatalf("insert DROP: %v: %s", err, out)
	}
	undoDrop := func() { exec.Command(ipt, append([]string{"-D"}, drop...)...).Run() }
	t.Cleanup(undoDrop)
	f = o.observe(ctx, t)
	hs = judgeAll(f)
	if h := hs[0]; h.Verdict != trace.Fail || !strings.Contains(h.Summary, ingress+"#1") || !strings.Contains(h.Summary, "does not write") {
		t.Errorf("DROP inserted: security-group %s %q; want SSH dropped by %s#1, a rule the agent does not write", h.Verdict, h.Summary, ingress)
	}
	if h := hs[2]; h.Verdict != trace.Fail || !strings.Contains(h.Summary, "tcp/22") || !strings.Contains(h.Summary, ingress+"#1") {
		t.Errorf("DROP inserted: reachability %s %q; want tcp/22 silent, dropped by %s#1", h.Verdict, h.Summary, ingress)
	}
	record(t, "ssh-drop-inserted", f)
	t.Logf("DROP inserted:\n%s", hopsText(hs))
	undoDrop()
	healthy("after deleting the DROP")

	// Fault 3, on the node: the port's MAC removed from its anti-spoofing
	// chain. ebtables-nft cannot delete an --among-src rule (RULE_DELETE,
	// Invalid argument), so the chain is flushed and its final DROP put back.
	macChain := firewall.EbMACChain(o.tap)
	eb := func(args ...string) {
		if out, err := exec.Command("/usr/sbin/ebtables", append([]string{"-t", "nat"}, args...)...).CombinedOutput(); err != nil {
			t.Errorf("ebtables %v: %v: %s", args, err, out)
		}
	}
	eb("-F", macChain)
	eb("-A", macChain, "-j", "DROP")
	undoMAC := func() {
		eb("-F", macChain)
		eb("-A", macChain, "-j", "DROP")
		eb("-I", macChain, "-i", o.tap, "--among-src", o.mac.String(), "-j", "RETURN")
	}
	undone := false
	t.Cleanup(func() {
		if !undone {
			undoMAC()
		}
	})
	f = o.observe(ctx, t)
	hs = judgeAll(f)
	if h := hs[1]; h.Verdict != trace.Fail || !strings.Contains(h.Summary, o.mac.String()) || !strings.Contains(h.Summary, macChain+"#1") {
		t.Errorf("MAC removed: anti-spoofing %s %q; want frames from %s dropped by %s#1", h.Verdict, h.Summary, o.mac, macChain)
	}
	if h := hs[2]; h.Verdict != trace.Fail || !strings.Contains(h.Summary, macChain+"#1") {
		t.Errorf("MAC removed: reachability %s %q; want fail, the VM's frames dropped by %s#1", h.Verdict, h.Summary, macChain)
	}
	record(t, "mac-removed", f)
	t.Logf("MAC removed:\n%s", hopsText(hs))
	undoMAC()
	undone = true
	healthy("after restoring the MAC")
}
