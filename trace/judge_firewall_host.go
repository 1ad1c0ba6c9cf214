package trace

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/firewall"
)

// JudgeFirewallHost returns the firewall's host checks: which iptables
// backend holds Neutron's chains and whether the other one filters too
// (rules or a DROP policy Neutron cannot see but the kernel applies),
// whether ebtables and ipset could be read, bridge-nf-call-ip6tables,
// and the chains left for taps that are gone (presentTaps: the taps on
// the node; nil skips that check). A snapshot read for some taps only
// (firewall.Snapshot.Scoped) cannot tell stale chains: that check is then
// Unknown, saying node-wide checks need a node trace.
func JudgeFirewallHost(s *firewall.Snapshot, presentTaps []string) []Hop {
	if s == nil {
		return nil
	}
	var hops []Hop

	h := Hop{Kind: KindHostCheck, Name: "iptables-backends"}
	bs := s.Backends()
	h.put("read", backendNames(bs.Read))
	h.put("neutron", backendNames(bs.Neutron))
	for _, o := range bs.Others {
		h.add("other", "iptables-%s %s: %d rules, DROP policy on %s", o.Backend, o.Family, o.Rules, strings.Join(o.DropPolicies, ","))
	}
	switch {
	case len(bs.Neutron) == 0:
		h.Verdict = Warn
		h.Summary = "neither iptables backend holds Neutron's chains"
		h.Cause = "the linuxbridge agent is not running here or uses the noop firewall driver"
		h.Next = "check the agent and [securitygroup] firewall_driver"
	case len(bs.Neutron) > 1:
		h.Verdict = Warn
		h.Summary = "both iptables backends hold Neutron's chains (a half-migrated node): the kernel applies both"
		h.Cause = "the agent ran once with iptables-legacy and once with iptables-nft; the old copy is stale but still filters"
		h.Next = "flush the stale backend's neutron chains (iptables-legacy-save | grep neutron) and keep one alternative"
	case len(bs.Others) > 0:
		var parts []string
		fwd := false
		for _, o := range bs.Others {
			parts = append(parts, fmt.Sprintf("iptables-%s (%s) has %d rules", o.Backend, o.Family, o.Rules))
			if slices.Contains(o.DropPolicies, "FORWARD") {
				fwd = true
				parts[len(parts)-1] += " and a DROP FORWARD policy"
			}
		}
		h.Verdict = Warn
		if fwd {
			h.Verdict = Fail
		}
		h.Summary = fmt.Sprintf("Neutron's chains are in iptables-%s, but %s: rules Neutron cannot see, which the kernel applies too", bs.Neutron[0], strings.Join(parts, "; "))
		h.Cause = "another tool (docker, firewalld, a host firewall) writes to the other iptables backend"
		h.Next = "iptables-legacy-save / iptables-nft-save: remove or align the other backend's rules"
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("Neutron's chains are in iptables-%s; the other backend does not filter", bs.Neutron[0])
	}
	hops = append(hops, h)

	h = Hop{Kind: KindHostCheck, Name: "ebtables-ipset"}
	var miss []string
	for _, m := range s.Missing {
		if strings.Contains(m, "ebtables") || strings.Contains(m, "ipset") {
			miss = append(miss, m)
		}
	}
	if s.Ebtables != nil {
		h.add("ebtables", "%s, %d chains in nat", s.Ebtables.Backend, len(s.Ebtables.Chains))
	}
	h.add("ipsets", "%d", len(s.Sets))
	if s.Ebtables == nil && len(miss) == 0 {
		miss = append(miss, "ebtables: not read")
	}
	if len(miss) > 0 {
		h.Verdict = Warn
		h.Summary = "cannot read " + strings.Join(miss, "; ")
		h.Cause = "the agent needs ebtables (ARP anti-spoofing) and ipset (remote-group rules)"
		h.Next = "apt-get install ebtables ipset"
	} else {
		h.Verdict = OK
		h.Summary = fmt.Sprintf("ebtables (%s) and ipset readable", s.Ebtables.Backend)
	}
	hops = append(hops, h)

	if hh, ok := judgeAmongDelete(s); ok {
		hops = append(hops, hh)
	}

	h = Hop{Kind: KindHostCheck, Name: "bridge-nf-call-ip6tables"}
	h.put("value", s.BridgeNFCallIP6tables)
	switch s.BridgeNFCallIP6tables {
	case "1":
		h.Verdict = OK
		h.Summary = "1: bridged IPv6 crosses ip6tables (IPv6 security-group rules apply)"
	case "0":
		h.Verdict = Warn
		h.Summary = "0: bridged IPv6 bypasses ip6tables: IPv6 security-group rules are not enforced"
		h.Cause = "the agent sets it to 1 when it starts; something reset it"
		h.Next = "sysctl -w net.bridge.bridge-nf-call-ip6tables=1"
	default:
		h.Summary = "not readable (br_netfilter absent?)"
	}
	hops = append(hops, h)

	if presentTaps != nil {
		h = Hop{Kind: KindHostCheck, Name: "firewall-stale"}
		stale := s.StaleTaps(presentTaps)
		if s.Scoped() {
			// Other ports' iptables chains were not read: a stale tap's
			// chains may be among them, so neither OK nor a list.
			h.add("scope", "%s", strings.Join(s.Scope, ", "))
			h.Verdict = Unknown
			h.Summary = "the firewall was read for " + strings.Join(s.Scope, ", ") + " only: node-wide checks (chains left for taps that are gone) need -all or the exporter"
			h.Next = "vmtrace -all (trace.Node) on this node, or the exporter's /traces.json"
			hops = append(hops, h)
			return hops
		}
		if len(stale) == 0 {
			h.Verdict = OK
			h.Summary = "no firewall chains for taps that are gone"
		} else {
			h.add("taps", "%s", strings.Join(stale, ", "))
			h.Verdict = Warn
			h.Summary = fmt.Sprintf("%d tap(s) gone with chains left: %s", len(stale), strings.Join(stale, ", "))
			h.Cause = "the agent did not clean up deleted ports; on ebtables-nft the Zed agent's `ebtables -D … --among-src` fails (RULE_DELETE, Invalid argument) after a restart and it loops on it, leaving new ports in BUILD"
			h.Next = "ebtables -t nat -X the stale neutronMAC/neutronARP chains (after -D their PREROUTING jumps); check the agent's log"
		}
		hops = append(hops, h)
	}
	return hops
}

// judgeAmongDelete is the host check for anti-spoofing rules the agent
// cannot remove: the ebtables it runs (wrapper, version) against the
// among rules in its chains. ebtables-nft 1.8.9 fails to delete an
// --among-src rule by its spec (RULE_DELETE, Invalid argument, exit 4);
// the Zed agent deletes each protected port's rules that way after a
// restart and retries forever, so it wires no new port. ok is false when
// the tool was not looked at (an older recording).
func judgeAmongDelete(s *firewall.Snapshot) (Hop, bool) {
	t := s.EbtablesTool
	if t == nil {
		return Hop{}, false
	}
	h := Hop{Kind: KindHostCheck, Name: "ebtables-among-delete"}
	path := t.Path
	if path == "" {
		path = "(no ebtables in the agent's path)"
	}
	h.put("agent_runs", path)
	if t.Wrapper != "" {
		h.put("wrapper", t.Wrapper)
	}
	h.add("version", "%s (%s)", t.Version, t.Real)
	among := s.AmongRules()
	h.add("among_rules", "%d", len(among))
	if len(among) > 0 {
		h.put("first", ebRuleText(&among[0]))
	}
	switch {
	case t.Version == "":
		h.Summary = "the ebtables version could not be read"
	case len(among) == 0:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("no anti-spoofing rule uses an among match: nothing %s would fail to delete", t.Version)
	case t.AmongDeleteFails():
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("the linuxbridge agent will loop on RULE_DELETE after a restart (new ports stay BUILD): %s cannot delete the %d --among-src rule(s) in its neutronMAC chains by spec (%s)", t.Version, len(among), ebRuleText(&among[0]))
		h.Cause = "ebtables-nft 1.8.9 fails `ebtables -t nat -D neutronMAC-tap… -i tap… --among-src MAC -j RETURN` with \"RULE_DELETE failed (Invalid argument)\" (exit 4); the agent's arp_protect retries that delete forever"
		h.Next = "put a wrapper that deletes among rules by number in front of it (the aio's: install -m 0755 aio/ebtables-among.sh /usr/local/sbin/ebtables), or upgrade ebtables"
		if t.Wrapper == firewall.WrapperOther {
			h.Summary += "; " + t.Path + " is a script in front of it: check that it deletes among rules by number"
		}
		if s.NetNS != "" {
			// A namespace standing in for a node (the demo, a test): the
			// tool is this machine's, but no agent runs there to loop.
			h.Verdict = Unknown
			h.Summary = "read in namespace " + s.NetNS + ", not the host's where the agent runs; if an agent ran here: " + h.Summary
		}
	case t.Wrapper == firewall.WrapperAIO:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s is aio/ebtables-among.sh: the agent's among deletes become deletes by number, which %s can do", t.Path, t.Version)
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s is not known to fail deleting among rules by spec", t.Version)
	}
	return h, true
}
