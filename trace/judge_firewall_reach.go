package trace

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
)

// JudgeReachability judges the walkthrough's ping and ssh sent from the
// qdhcp namespace to each fixed IP: answered, refused (reachable, no
// sshd), silent or unreachable. For a silent probe it names the DROP
// whose counter moved across the probe, and when the rules do not admit
// the probe's own source (a remote-group rule admits the group's
// members, not the DHCP port) it says so instead of blaming the path.
func JudgeReachability(f FirewallFacts) Hop {
	h := Hop{Kind: KindReachability, Name: f.Tap}
	if f.ProbeErr != "" {
		h.put("probe", f.ProbeErr)
		h.Summary = "the probe could not run: " + f.ProbeErr
		return h
	}
	if f.Probes == nil {
		if f.Role == RoleCompute {
			h.Summary = "the probe runs from the qdhcp namespace: run with -role network on the network node"
		} else {
			h.Summary = "no probe was sent (no qdhcp namespace for the network on this node)"
		}
		return h
	}
	if len(f.Probes) == 0 {
		h.Summary = "the port has no IPv4 address to probe"
		return h
	}
	// Do the rules admit the probe's own source? A probe that nothing
	// admits, while a rule admits the protocol from a group's members or
	// a prefix, is not a broken path: the DHCP port is not one of them.
	notAdmitted := map[string]bool{}
	// Is the protocol left out of the port's groups (no rule for it from
	// any source), dropped by the agent's fallback rule as they ask?
	byPolicy := map[string]bool{}
	if f.Snapshot != nil && f.ProbeSource.IsValid() {
		if b, ok := f.Snapshot.NeutronBackend(); ok {
			in := f.Snapshot.Port(f.Tap, firewall.IPv4).Ingress
			for _, proto := range []string{"icmp", "tcp"} {
				r, err := f.Snapshot.Evaluate(b, "FORWARD", walkthroughPacket(proto, f.ProbeSource, f.Probes[0].Target, f.ProbeSourceTap, f.Tap))
				if err == nil && r.Verdict != "ACCEPT" && (r.Rule == nil || r.Rule.Chain == firewall.FallbackChain) && sourceRestricted(in, proto) {
					notAdmitted[proto] = true
				}
				if err == nil && r.Verdict != "ACCEPT" && r.Rule != nil && r.Rule.Chain == firewall.FallbackChain && groupsOmit(f.Policy, proto) {
					byPolicy[proto] = true
				}
			}
		}
	}
	// Frames from the VM dropped by its anti-spoofing chains (ebtables
	// counters are not in Moved): the replies never reach the bridge.
	ebDrop := ""
	if f.Snapshot != nil && f.Snapshot.Ebtables != nil && f.MAC != nil {
		if r, err := f.Snapshot.EvaluateEbtables(firewall.Frame{InIface: f.Tap, SrcMAC: f.MAC}); err == nil && r.Verdict == "DROP" {
			ebDrop = ebDecider(r)
		} else if r, err := f.Snapshot.EvaluateEbtables(firewall.Frame{InIface: f.Tap, SrcMAC: f.MAC, ARP: true, ARPSrcIP: f.Probes[0].Target}); err == nil && r.Verdict == "DROP" {
			ebDrop = ebDecider(r) + " (the VM's ARP)"
		}
	}
	// An address of the port that answered shows the guest up and the
	// path open: another one silent without a moved DROP counter is an
	// address the guest does not hold (DHCP gives a client one IPv4
	// address; seen on the aio cloud after a fixed IP was added to a
	// running port).
	var answering []string
	for _, p := range f.Probes {
		if p.Reached() {
			answering = append(answering, p.Target.String())
		}
	}
	var fail, warn, ok []string
	unheld, policy := false, false
	for _, p := range f.Probes {
		h.add("ping "+p.Target.String(), "%s%s", p.ICMP, rtt(p))
		tcp := string(p.TCP)
		if p.Errno != "" {
			tcp += " (" + p.Errno + ")"
		}
		h.add(fmt.Sprintf("tcp/%d %s", p.TCPPort, p.Target), "%s", tcp)
		for _, probe := range []struct {
			name, proto string
			out         dhcpns.ReachOutcome
		}{{"ping", "icmp", p.ICMP}, {fmt.Sprintf("tcp/%d", p.TCPPort), "tcp", p.TCP}} {
			switch probe.out {
			case dhcpns.ReachAnswered:
				ok = append(ok, probe.name+" "+p.Target.String()+" answered")
			case dhcpns.ReachRefused:
				ok = append(ok, probe.name+" "+p.Target.String()+" refused (reachable, nothing listens)")
			case dhcpns.ReachUnreachable:
				fail = append(fail, fmt.Sprintf("%s %s unreachable from %s (no ARP answer or no route)", probe.name, p.Target, srcText(f)))
			case dhcpns.ReachSilent:
				msg := fmt.Sprintf("%s %s silent", probe.name, p.Target)
				switch d := dropMoved(f.Moved, f.Tap); {
				case d != "":
					msg += ": dropped by " + d
				case ebDrop != "":
					msg += ": the VM's frames are dropped by " + ebDrop
				case f.Moved != nil:
					msg += ": no DROP counter moved on this node (dropped elsewhere, or the guest does not answer)"
				}
				if notAdmitted[probe.proto] && ebDrop == "" {
					warn = append(warn, msg+fmt.Sprintf("; the rules admit %s only from group members or prefixes, not the probe's source %s (the DHCP port): this alone does not show the VM unreachable for its clients", probe.proto, f.ProbeSource))
					continue
				}
				if other := reachedBy(p, otherProto(probe.proto)); byPolicy[probe.proto] && other != "" && ebDrop == "" {
					warn = append(warn, msg+fmt.Sprintf("; the port's security groups admit no %s (the agent's fallback rule drops it, as they ask), and %s reached the VM", walkName(probe.proto), other))
					policy = true
					continue
				}
				if len(answering) > 0 && !slices.Contains(answering, p.Target.String()) && ebDrop == "" && dropMoved(f.Moved, f.Tap) == "" {
					warn = append(warn, msg+"; the guest answers at "+strings.Join(answering, ", ")+", so it does not hold "+p.Target.String())
					unheld = true
					continue
				}
				fail = append(fail, msg)
			}
		}
	}
	switch {
	case len(fail) > 0:
		h.Verdict = Fail
		h.Summary = strings.Join(fail, "; ")
		h.Cause = "the walkthrough's ping/ssh from the DHCP namespace does not reach the VM"
		if strings.Contains(h.Summary, "dropped by") {
			h.Next = "see the security-group hop: the named rule drops it"
		} else {
			h.Next = "check the ARP and security-group hops, then the guest's console (is its interface up, does it answer ping?)"
		}
	case len(warn) > 0 && policy:
		h.Verdict = Warn
		h.Summary = strings.Join(append(warn, ok...), "; ")
		h.Cause = "the port's security groups leave one of the walkthrough's probes out: it is dropped as they ask, and the VM answers the other, so it is reachable"
		h.Next = "nothing, if that is the intent; otherwise see the security-group hop for the missing rule"
	case len(warn) > 0 && unheld:
		h.Verdict = Warn
		h.Summary = strings.Join(warn, "; ")
		h.Cause = "the port has more than one IPv4 address and the guest holds only some of them: DHCP gives a client one address, so the others work only once configured in the guest"
		h.Next = "openstack port show <port> -c fixed_ips; configure the other addresses in the guest (its console: ip addr add), or remove them from the port"
	case len(warn) > 0:
		h.Verdict = Warn
		h.Summary = strings.Join(warn, "; ")
		h.Cause = "the probe's source is not one the rules admit"
		h.Next = "probe from a member of the group, or add a rule for the DHCP port's address to test"
	default:
		h.Verdict = OK
		h.Summary = strings.Join(ok, "; ")
	}
	return h
}

// reachedBy names p's probe of proto ("icmp" or "tcp") when it reached
// the guest (answered, or refused by it), "" otherwise.
func reachedBy(p dhcpns.ReachResult, proto string) string {
	if proto == "icmp" && p.ICMP == dhcpns.ReachAnswered {
		return "ping"
	}
	if proto == "tcp" && (p.TCP == dhcpns.ReachAnswered || p.TCP == dhcpns.ReachRefused) {
		return fmt.Sprintf("tcp/%d (%s)", p.TCPPort, p.TCP)
	}
	return ""
}

// sourceRestricted reports whether a RETURN rule of the chain admits the
// protocol only from a set or a prefix.
func sourceRestricted(c *firewall.Chain, proto string) bool {
	if c == nil {
		return false
	}
	for _, r := range c.Rules {
		m := r.Match
		if r.Target == "RETURN" && len(m.States) == 0 && (m.Protocol == "" || m.Protocol == proto) && (m.Set != "" || m.Source.IsValid()) {
			return true
		}
	}
	return false
}

func rtt(p dhcpns.ReachResult) string {
	if p.ICMP == dhcpns.ReachAnswered && p.ICMPRTT > 0 {
		return " in " + p.ICMPRTT.String()
	}
	return ""
}

func srcText(f FirewallFacts) string {
	if f.ProbeSource.IsValid() {
		return f.ProbeSource.String()
	}
	return "the qdhcp namespace"
}

// dropMoved names the DROP/REJECT rules (or DROP policies) whose counter
// grew across the probe, the port's own chains and the fallback first.
func dropMoved(moved []firewall.RuleDelta, tap string) string {
	var first, rest []string
	for _, d := range moved {
		r := d.Rule
		if r.Target != "DROP" && r.Target != "REJECT" {
			continue
		}
		txt := fmt.Sprintf("%s#%d (%s, +%d packets)", r.Chain, r.Num, r.Spec, d.Packets)
		if r.Num == 0 {
			txt = fmt.Sprintf("the %s policy (+%d packets)", r.Chain, d.Packets)
		}
		if r.Chain == firewall.PortChain(tap, firewall.Ingress) || r.Chain == firewall.FallbackChain {
			first = append(first, txt)
		} else {
			rest = append(rest, txt)
		}
	}
	return strings.Join(append(first, rest...), ", ")
}
