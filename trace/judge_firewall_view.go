package trace

import (
	"net/netip"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/launch"
)

// apiPort is the API's port of the NIC (nil without the API).
func (v *view) apiPort() *launch.Port {
	api := v.obs.API
	if api == nil || v.id.PortID == "" {
		return nil
	}
	for i := range api.Servers {
		for j := range api.Servers[i].Ports {
			if p := &api.Servers[i].Ports[j]; p.ID == v.id.PortID {
				return p
			}
		}
	}
	for i := range api.HostPorts {
		if p := &api.HostPorts[i]; p.ID == v.id.PortID {
			return p
		}
	}
	return nil
}

// fixedIPv4 are the NIC's IPv4 addresses: the API port's fixed IPs, else
// the resolved IP.
func (v *view) fixedIPv4() []netip.Addr {
	var out []netip.Addr
	if p := v.apiPort(); p != nil {
		for _, f := range p.FixedIPs {
			if f.Address.Is4() && !slices.Contains(out, f.Address) {
				out = append(out, f.Address)
			}
		}
	}
	if len(out) == 0 && v.id.IP.Is4() {
		out = append(out, v.id.IP)
	}
	return out
}

// firewallFacts gathers what the firewall judges take for this NIC.
// after selects the snapshot taken after the probes (the reachability
// judge names the rule whose counter moved); the security-group and
// anti-spoofing judges read the one before.
func (v *view) firewallFacts() FirewallFacts {
	f := FirewallFacts{Tap: v.id.Tap, MAC: v.id.MAC, Role: v.role}
	if p := v.apiPort(); p != nil {
		for _, a := range p.FixedIPs {
			f.FixedIPs = append(f.FixedIPs, a.Address)
		}
	}
	if len(f.FixedIPs) == 0 && v.id.IP.IsValid() {
		f.FixedIPs = []netip.Addr{v.id.IP}
	}
	if api := v.obs.API; api != nil && v.id.PortID != "" {
		f.Policy = api.Policies[v.id.PortID]
	}
	before, moved := v.firewallShared()
	if fw := v.obs.Firewall; fw != nil && v.role.compute() {
		f.Snapshot, f.SnapshotErr = before, fw.BeforeError
		if f.Snapshot == nil && f.SnapshotErr == "" {
			f.SnapshotErr = "not read"
		}
	}
	if n := v.netw; n != nil && v.role.dhcp() {
		if n.ReachError != "" {
			f.ProbeErr = n.ReachError
		} else if n.Reach != nil {
			f.Probes = []dhcpns.ReachResult{}
			for _, r := range n.Reach {
				for _, ip := range f.FixedIPs {
					if r.Target == ip {
						f.Probes = append(f.Probes, r)
					}
				}
			}
			if len(f.Probes) > 0 && f.Probes[0].Source.IsValid() {
				f.ProbeSource = f.Probes[0].Source
			}
		}
		if s := n.ServingInterface; strings.HasPrefix(s, "ns-") {
			f.ProbeSourceTap = "tap" + strings.TrimPrefix(s, "ns-")
		}
	}
	if f.Probes != nil {
		f.Moved = moved
	}
	return f
}

// firewallShared returns the node-wide firewall facts every NIC's
// FirewallFacts share: the snapshot before the probes (indexed when the
// NIC is judged among many, on the observation's index) and the counters
// that grew across the probes.
func (v *view) firewallShared() (*firewall.Snapshot, []firewall.RuleDelta) {
	fw := v.obs.Firewall
	if fw == nil || fw.Before == nil {
		return nil, nil
	}
	if v.ix == nil {
		return fw.Before, firewallMoved(fw)
	}
	v.ix.fwOnce.Do(func() { v.ix.fw, v.ix.moved = fw.Before.Indexed(), firewallMoved(fw) })
	return v.ix.fw, v.ix.moved
}

// firewallMoved returns the counters that grew between fw's two
// snapshots (nil without the second): Neutron's backend's in both
// families, then any other backend's, whose FORWARD DROP stops bridged
// packets Neutron's chains admit (the kernel runs both); those rules are
// named with their backend ("iptables-legacy FORWARD").
func firewallMoved(fw *FirewallObs) []firewall.RuleDelta {
	if fw.Before == nil || fw.After == nil {
		return nil
	}
	b, ok := fw.Before.NeutronBackend()
	if !ok {
		return nil
	}
	moved := append(firewall.Moved(fw.Before, fw.After, b, firewall.IPv4), firewall.Moved(fw.Before, fw.After, b, firewall.IPv6)...)
	for _, o := range fw.Before.Backends().Read {
		if o == b {
			continue
		}
		for _, d := range append(firewall.Moved(fw.Before, fw.After, o, firewall.IPv4), firewall.Moved(fw.Before, fw.After, o, firewall.IPv6)...) {
			d.Rule.Chain = "iptables-" + string(o) + " " + d.Rule.Chain
			moved = append(moved, d)
		}
	}
	return moved
}

// firewallHops are the NIC's firewall hops on the compute side: its
// security-group chains and its anti-spoofing.
func (v *view) firewallHops() []Hop {
	if v.obs.Settings.NoFirewall {
		return []Hop{
			{Kind: KindSecurityGroup, Name: v.id.Tap, Summary: "not read (Config.NoFirewall)"},
			{Kind: KindAntiSpoofing, Name: v.id.Tap, Summary: "not read (Config.NoFirewall)"},
		}
	}
	f := v.firewallFacts()
	hs := []Hop{JudgeSecurityGroup(f), JudgeAntiSpoofing(f)}
	if hs[0].Verdict == OK && !f.portSecurityOff() {
		notEnforced(&hs[0], &v.obs.Host)
	}
	if pa := v.portAgents(); pa != nil {
		if at, ok := rewiring(*pa); ok {
			for i := range hs {
				rewiringRules(&hs[i], at)
			}
		}
	}
	return hs
}

// notEnforced turns a security-group hop that is OK into a warning when
// bridged IPv4 bypasses iptables (bridge-nf-call-iptables 0, or
// br_netfilter not loaded): the chains admit the walkthrough, but they
// are not applied, so the port's groups drop nothing (seen on the aio
// cloud with `sysctl net.bridge.bridge-nf-call-iptables=0`: the path
// worked, only the host check warned, and this hop said OK).
func notEnforced(h *Hop, host *HostFacts) {
	b := brNFFacts(host)
	if b.Verdict != Warn {
		return
	}
	h.Verdict = Warn
	h.put("bridge_nf_call_iptables", strings.TrimSpace(orUnknown(host.BrNF, "br_netfilter not loaded")))
	h.Summary = "the chains admit the walkthrough, but are not applied: " + b.Summary + " (" + h.Summary + ")"
	h.Cause = "security groups are not enforced: bridged IPv4 does not cross iptables on this node, so the port's groups filter nothing (the path works; what they should drop passes)"
	h.Next = b.Next
}

// rewiringRules turns a firewall hop's failure into a warning while the
// port is in BUILD just after an update (rewiring): the agent applies the
// update's rules during that window, so chains that lag Neutron's policy
// are expected (seen on the aio cloud: after `openstack port set
// --allowed-address`, iptables had the new pair and ebtables not yet).
func rewiringRules(h *Hop, at string) {
	if h.Verdict != Fail {
		return
	}
	h.Verdict = Warn
	h.add("rewiring", "the port is in BUILD after an update at %s: the agent is applying its rules", at)
	h.Summary += " (the port is being rewired after an update at " + at + ")"
	h.Cause = "the Linux bridge agent is rewiring the port after an update at " + at + " (the port is in BUILD): its rules may lag Neutron's until it reports the port ACTIVE; if they still do then: " + h.Cause
	h.Next = "trace again in a minute; if this persists with the port ACTIVE: " + h.Next
}

// reachHop is the NIC's reachability hop (network side).
func (v *view) reachHop() Hop {
	if v.obs.Settings.NoARP || v.obs.Settings.NoReach {
		return Hop{Kind: KindReachability, Name: v.id.Tap, Summary: "not probed (Config.NoARP or NoReach)"}
	}
	h := JudgeReachability(v.firewallFacts())
	v.nsFirewallBlames(&h, v.netw)
	if !strings.Contains(h.Summary, "dropped by") {
		v.bridgeHooksBlame(&h)
		v.qdiscBlame(&h)
	}
	if h.Verdict == Fail && !strings.Contains(h.Summary, "dropped by") {
		if off := v.dhcpOff(); off != nil && v.role.compute() && v.guestSilent() {
			// No rule dropped the probes and the guest sent nothing: with
			// DHCP off it has no address to answer from (see the ARP hop).
			// The VM is unreachable at the address: still a failure, with
			// that cause.
			h.Summary += "; " + dhcpOffWhy(off) + " and the guest sent no frame: it holds no address"
			h.Cause = dhcpOffWhy(off) + ": the guest got no address from DHCP and sent nothing, so nothing answers the probes (it is not configured statically or by a config drive)"
			h.Next = dhcpOffNext(off)
		}
	}
	return h
}
