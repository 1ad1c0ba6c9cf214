package trace

import (
	"fmt"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/linuxbridge"
)

var dhcpKinds = map[string]Kind{
	dhcpns.CheckNamespace: KindDHCPNS,
	dhcpns.CheckDnsmasq:   KindDnsmasq,
	dhcpns.CheckInterface: KindDHCPIf,
	dhcpns.CheckHost:      KindHostsEntry,
	dhcpns.CheckLease:     KindLease,
}

var dhcpNext = map[Kind]string{
	KindDHCPNS:     "the DHCP agent's log; openstack network agent list (is a DHCP agent hosting the network here?)",
	KindDnsmasq:    "the DHCP agent's log (it restarts dnsmasq); ps -ef | grep dnsmasq; the pid file under the state directory",
	KindDHCPIf:     "ip -n qdhcp-<network> addr; the DHCP port's fixed IP in Neutron",
	KindHostsEntry: "openstack port show <port> (is it bound, with a fixed IP?); the DHCP agent's log (port update not applied)",
	KindLease:      "the guest's console: did it send DHCP? the tap and FDB hops; tcpdump -ni <tap> port 67",
}

var dhcpOrder = []Kind{KindDHCPNS, KindDnsmasq, KindDHCPIf, KindHostsEntry, KindLease}

func unknownDHCP(summary string) []Hop {
	var hs []Hop
	for _, k := range dhcpOrder[1:] {
		hs = append(hs, Hop{Kind: k, Summary: summary})
	}
	return hs
}

// dhcpHops judges the DHCP side of the NIC's network: the qdhcp
// namespace, dnsmasq, its serving interface, the hosts entry and the
// lease of the port MAC.
func (v *view) dhcpHops() []Hop {
	if !v.role.dhcp() {
		var hs []Hop
		for _, k := range dhcpOrder {
			hs = append(hs, offNode(k, notDHCPSide))
		}
		return hs
	}
	d := v.obs.DHCP
	id := &v.id
	if v.searched && len(v.hits) == 0 {
		return v.notInHosts()
	}
	if v.prefix == "" {
		return append([]Hop{{Kind: KindDHCPNS, Summary: "not reached: no Neutron bridge, so no network ID"}}, unknownDHCP("not reached")...)
	}
	if d.ListError != "" {
		return append([]Hop{{Kind: KindDHCPNS, Summary: "cannot list namespaces: " + d.ListError}}, unknownDHCP("not reached")...)
	}
	if id.NetworkID == "" {
		ell := "…"
		if id.WantNetwork != "" {
			ell = ""
		}
		h := Hop{Kind: KindDHCPNS, Name: "qdhcp-" + v.prefix + ell, Verdict: Fail,
			Summary: fmt.Sprintf("no qdhcp namespace for network %s%s under %s", v.prefix, ell, v.obs.Settings.NetNSDir),
			Cause:   "no DHCP agent serves the network on this node (it may run on a network node: trace there), or the agent failed to set it up",
			Next:    dhcpNext[KindDHCPNS]}
		h.add("namespaces", "%d qdhcp namespaces", len(d.Namespaces))
		if v.role == RoleNetwork {
			h.Cause = "no DHCP agent on this node hosts the network: another node's agent does, or this agent failed to set it up"
			h.Next = "openstack network agent list --agent-type dhcp --network " + orUnknown(id.WantNetwork, "<network>") + "; trace on the node listed there; " + dhcpNext[KindDHCPNS]
		}
		v.noteSearch(&h)
		if nw := v.obs.API.network(id.WantNetwork); nw != nil && nw.AdminDown {
			// Seen on the aio cloud: `openstack network set --disable`
			// made the DHCP agent remove the namespace (the port stayed
			// ACTIVE, its tap up).
			h.add("network_admin_state_up", "false")
			h.Summary += ": the network is administratively down"
			h.Cause = "the network is disabled (admin_state_up false): the DHCP agent removed its qdhcp namespace, so no DHCP, metadata or probes for it on this node"
			h.Next = "openstack network set --enable " + id.WantNetwork + "; who disabled it? (openstack network show " + id.WantNetwork + ")"
		} else if off := v.dhcpOff(); off != nil {
			// No DHCP-on subnet on the network means no namespace, by
			// design; the port needs none either way.
			h.Verdict = Warn
			h.Summary += ": " + dhcpOffWhy(off) + ", so the port needs none"
			h.Cause = dhcpOffWhy(off) + " by design: no DHCP agent serves the port's address, so the guest has none unless it is configured statically or by a config drive (and no ARP probe can be sent from a qdhcp namespace)"
			h.Next = dhcpOffNext(off)
		}
		return append([]Hop{h}, unknownDHCP("not reached: no qdhcp namespace")...)
	}
	n := v.netw
	if n == nil || n.HealthError != "" {
		why := "not observed"
		if n != nil {
			why = n.HealthError
		}
		return append([]Hop{{Kind: KindDHCPNS, Name: dhcpns.NamespaceName(id.NetworkID), Summary: "health check failed: " + why}}, unknownDHCP("not reached")...)
	}
	checks := append([]dhcpns.Check(nil), n.Checks...)
	if id.MAC == nil {
		checks = append(checks, dhcpns.Check{Name: dhcpns.CheckHost, Status: dhcpns.StatusSkipped, Summary: "no MAC given"},
			dhcpns.Check{Name: dhcpns.CheckLease, Status: dhcpns.StatusSkipped, Summary: "no MAC given"})
	} else {
		checks = append(checks, hostCheck(n, id.MAC), leaseCheck(n, id.MAC))
	}
	byKind := map[Kind]Hop{}
	var dnsmasqReason dhcpns.Reason
	for _, ch := range checks {
		if ch.Name == dhcpns.CheckDnsmasq {
			dnsmasqReason = ch.Reason
		}
		k, ok := dhcpKinds[ch.Name]
		if !ok {
			continue
		}
		h := Hop{Kind: k, Summary: ch.Summary}
		switch ch.Status {
		case dhcpns.StatusOK:
			h.Verdict = OK
		case dhcpns.StatusWarn:
			h.Verdict = Warn
		case dhcpns.StatusFail:
			h.Verdict = Fail
		}
		if h.Verdict == Warn || h.Verdict == Fail {
			h.Cause = dhcpCause(k, h.Verdict, ch.Reason)
			h.Next = dhcpNext[k]
			if ch.Reason == dhcpns.ReasonSubnetUnknown {
				h.Next = "the dnsmasq hop first; then " + dhcpNext[k]
			}
		}
		for _, e := range ch.Evidence {
			h.add(ch.Name, "%s", e)
		}
		byKind[k] = h
	}
	names := map[Kind]string{
		KindDHCPNS:     dhcpns.NamespaceName(id.NetworkID),
		KindDnsmasq:    "dnsmasq",
		KindDHCPIf:     n.ServingInterface,
		KindHostsEntry: filepath.Join(v.obs.Settings.StateDir, id.NetworkID, "host"),
		KindLease:      filepath.Join(v.obs.Settings.StateDir, id.NetworkID, "leases"),
	}
	switch {
	case n.DnsmasqPID != 0 && dnsmasqReason == dhcpns.ReasonPIDFileMismatch:
		// The pid file names a dead or foreign process while dnsmasq
		// runs under another pid (seen on the aio cloud): do not name the
		// hop by a pid that is not dnsmasq's.
		names[KindDnsmasq] = fmt.Sprintf("dnsmasq (pid file: %d)", n.DnsmasqPID)
	case n.DnsmasqPID != 0:
		names[KindDnsmasq] = fmt.Sprintf("dnsmasq[%d]", n.DnsmasqPID)
	}
	off := v.dhcpOff()
	var hops []Hop
	for _, k := range dhcpOrder {
		h, ok := byKind[k]
		if !ok {
			h = Hop{Kind: k, Summary: "not checked"}
			if id.MAC == nil && (k == KindHostsEntry || k == KindLease) {
				h.Summary = "not checked: the port's MAC is unknown (give the MAC as the target)"
			}
		}
		h.Name = names[k]
		if k == KindHostsEntry || k == KindLease {
			// The state dir's full path would make the table unreadably
			// wide: the hop is named by the file, the path is evidence.
			h.put("file", h.Name)
			h.Name = filepath.Base(h.Name)
		}
		if k == KindDHCPNS {
			v.noteSearch(&h)
		}
		if k == KindDHCPIf && h.Verdict == OK {
			v.dhcpPortOnBridge(&h, n)
		}
		if k == KindDnsmasq {
			otherDHCPServers(&h, n)
			v.dhcpFirewall(&h, n)
		}
		if k == KindDHCPNS && len(v.seen) > 1 {
			h.add("ambiguous", "%d namespaces match %s…: %s; traced the first", len(v.seen), v.prefix, strings.Join(v.seen, ", "))
			if h.Verdict == OK {
				h.Verdict = Warn
				h.Cause = "two networks share the 11-character prefix the bridge name keeps"
				h.Next = "give the network ID (API mode) or check which namespace serves the port"
			}
		}
		if k == KindHostsEntry && id.MAC != nil {
			h.add("port_mac", "%s (from %s)", id.MAC, id.MACFrom)
		}
		if k == KindLease && h.Verdict == Warn {
			seededButHeld(&h, n, id.MAC)
		}
		if k == KindLease && h.Verdict == Fail && byKind[KindHostsEntry].Verdict == OK {
			releasedButHeld(&h, n, id)
		}
		if (k == KindHostsEntry || k == KindLease) && off != nil {
			v.judgeDHCPOff(&h, off)
		}
		hops = append(hops, h)
	}
	return hops
}

// otherDHCPServers judges, on the dnsmasq hop, what the probe for other
// DHCP servers saw on the network (NetworkFacts.DHCPServers; nothing when
// it did not run). Neutron's dnsmasq answers no MAC outside its hosts
// file, so an OFFER from any server but the network's DHCP port is
// another DHCP server on the provider network: the hop warns (an OK hop
// only; the path of this NIC may still work), naming each server, its MAC
// and what it offered. Without an OFFER the hop keeps its verdict, with
// the probe as evidence; a probe that could not run is evidence only.
func otherDHCPServers(h *Hop, n *NetworkFacts) {
	ds := n.DHCPServers
	if ds == nil {
		return
	}
	if ds.Error != "" {
		h.put("dhcp_servers", "not probed: "+ds.Error)
		return
	}
	neutron := func(a netip.Addr) bool {
		return slices.ContainsFunc(n.ServingAddrs, func(p netip.Prefix) bool { return p.Addr() == a })
	}
	var others []string
	var macs []string
	for _, o := range ds.Offers {
		if neutron(o.Server) {
			continue
		}
		txt := fmt.Sprintf("%s (%s) offered %s", o.Server, o.ServerMAC, o.IP)
		if len(o.Routers) > 0 {
			txt += fmt.Sprintf(", router %s", o.Routers[0])
		}
		others = append(others, txt)
		if m := o.ServerMAC.String(); !slices.Contains(macs, m) {
			macs = append(macs, m)
		}
	}
	if len(others) == 0 {
		h.put("dhcp_servers", fmt.Sprintf("no other DHCP server offered an address to an unknown MAC within %s", ds.Timeout))
		return
	}
	for _, o := range others {
		h.put("other_dhcp_server", o)
	}
	if h.Verdict != OK {
		return
	}
	h.Verdict = Warn
	h.Summary = fmt.Sprintf("another DHCP server answers on the network: %s", strings.Join(others, "; "))
	h.Cause = "a DHCP server that is not Neutron's (a rogue one, or a router's) is on the provider network: guests may take its address, gateway or DNS instead of their port's, or be refused their renewals"
	h.Next = fmt.Sprintf("find its port by its MAC (bridge fdb show | grep -iE '%s') and stop that server; a VM's port with port security drops its DHCP replies, a device on the provider network needs its DHCP server off", strings.Join(macs, "|"))
}

// dhcpTap is the host end of the DHCP port's veth whose namespace end is
// the network's serving interface: "tap" + the port ID prefix of its
// "ns-" name; "" when the serving interface is not so named.
func dhcpTap(n *NetworkFacts) string {
	if dn := linuxbridge.ParseDeviceName(n.ServingInterface); dn.Kind == linuxbridge.DeviceNS {
		return linuxbridge.PortTapName(dn.IDPrefix)
	}
	return ""
}

// dhcpPortOnBridge fails the DHCP interface hop when this node's bridges
// were read and the host end of the serving interface's veth (Neutron's
// "tap" + the DHCP port's ID prefix, the serving interface being "ns-" +
// the same) is not a working port of the network's bridge: the namespace,
// dnsmasq and the metadata proxy are then cut off from the network
// although the interface inside is up with its address (seen on the aio
// cloud: `ip link set tap<dhcp port> nomaster` left every hop OK but ARP
// and ping silent). The network's bridge is the NIC's on a node that
// holds it (all-in-one); on a network node it is the bridge Neutron names
// for the network (brq + its ID's prefix) in the provider facts' bridges,
// judged only when that bridge exists there (a node whose agent maps the
// network to another bridge, or no linuxbridge node at all, is not
// failed), or else the bridge the tap is on.
func (v *view) dhcpPortOnBridge(h *Hop, n *NetworkFacts) {
	tap := dhcpTap(n)
	if tap == "" {
		return // not a Neutron veth
	}
	var br *linuxbridge.Bridge
	var all []linuxbridge.Bridge
	switch pf := v.obs.Provider; {
	case v.role.compute() && v.bridge != nil:
		br, all = v.bridge, v.obs.Bridges.Before.Bridges
	case v.role == RoleNetwork && pf != nil && pf.Bridges != nil:
		all = pf.Bridges.Bridges
		want := linuxbridge.NetworkBridgeName(n.NetworkID)
		for i := range all {
			if _, on := all[i].Port(tap); all[i].Name == want || (on && br == nil) {
				br = &all[i]
			}
			if all[i].Name == want {
				break
			}
		}
		if br == nil {
			return // neither the network's bridge nor the tap on one
		}
	default:
		return // the bridges were not read here
	}
	p, ok := br.Port(tap)
	if ok && p.Up && p.STPState == linuxbridge.STPForwarding {
		return // (no evidence added: recorded traces stay as they were)
	}
	h.Verdict = Fail
	h.Next = fmt.Sprintf("bridge link show dev %s; restart the linuxbridge agent to plug the DHCP port again, or `ip link set %s master %s up`", tap, tap, br.Name)
	switch {
	case ok && !p.Up:
		h.Summary = fmt.Sprintf("%s, the DHCP port's end of %s, is down on %s", tap, n.ServingInterface, br.Name)
		h.Cause = "the DHCP port's tap is down: the namespace, its dnsmasq and metadata proxy are cut off from the network"
	case ok:
		h.Summary = fmt.Sprintf("%s, the DHCP port's end of %s, is %s on %s, not forwarding", tap, n.ServingInterface, p.STPState, br.Name)
		h.Cause = "the DHCP port's bridge port does not forward: the namespace, its dnsmasq and metadata proxy are cut off from the network"
	default:
		where := "on no bridge"
		for _, b := range all {
			if _, on := b.Port(tap); on {
				where = "on " + b.Name
			}
		}
		h.Summary = fmt.Sprintf("%s, the DHCP port's end of %s, is not a port of %s (%s)", tap, n.ServingInterface, br.Name, where)
		h.Cause = "the DHCP port's tap is not on the network's bridge: the namespace, its dnsmasq and metadata proxy are cut off from the network"
	}
	h.add("bridge_port", "%s: %s", tap, h.Summary)
}

// hostCheck is dhcpns's hosts check of mac on the observed hosts file.
func hostCheck(n *NetworkFacts, mac []byte) dhcpns.Check {
	c := dhcpns.Check{Name: dhcpns.CheckHost}
	if n.HostsError != "" {
		c.Status = dhcpns.StatusFail
		c.Summary = "cannot read the hosts file: " + n.HostsError
		return c
	}
	if n.HostsNote != "" {
		c.Evidence = append(c.Evidence, n.HostsNote)
	}
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s: %d entries", n.HostsPath, len(n.Hosts)))
	m := fmtMAC(mac)
	for _, h := range n.Hosts {
		if h.MAC != nil && h.MAC.String() == m {
			c.Status = dhcpns.StatusOK
			c.Summary = fmt.Sprintf("MAC %s has %s (%s) in the hosts file", m, h.IP, h.Hostname)
			c.Evidence = append(c.Evidence, fmt.Sprintf("%s line %d", n.HostsPath, h.Line))
			return c
		}
	}
	c.Status = dhcpns.StatusFail
	c.Summary = fmt.Sprintf("MAC %s is not in the hosts file: dnsmasq (static ranges) will not answer it; check the Neutron port's MAC and the DHCP agent's sync", m)
	return c
}

// leaseCheck is dhcpns's lease check of mac on the observed lease file.
func leaseCheck(n *NetworkFacts, mac []byte) dhcpns.Check {
	c := dhcpns.Check{Name: dhcpns.CheckLease}
	switch {
	case n.LeasesMissing:
		c.Status = dhcpns.StatusFail
		c.Summary = "no lease file"
		return c
	case n.LeasesError != "":
		c.Status = dhcpns.StatusFail
		c.Summary = "cannot read the lease file: " + n.LeasesError
		return c
	}
	if n.LeasesNote != "" {
		c.Evidence = append(c.Evidence, n.LeasesNote)
	}
	m := fmtMAC(mac)
	for _, l := range n.Leases {
		if l.MAC == nil || l.MAC.String() != m {
			continue
		}
		c.Evidence = append(c.Evidence, fmt.Sprintf("%s line %d: expiry %s mac %s ip %s hostname %q client-id %q (%s)", n.LeasesPath, l.Line, l.Expiry.Format("2006-01-02T15:04:05Z"), l.MAC, l.IP, l.Hostname, l.ClientID, l.Origin))
		if l.Renewed() {
			c.Status = dhcpns.StatusOK
			c.Summary = fmt.Sprintf("the guest renewed its lease of %s (client id %s)", l.IP, l.ClientID)
		} else {
			c.Status = dhcpns.StatusWarn
			c.Summary = fmt.Sprintf("lease row for %s is only Neutron's seed (%s, no client id): the guest has not completed DHCP; check its console and probe it", l.IP, l.Origin)
		}
		return c
	}
	c.Status = dhcpns.StatusFail
	c.Summary = fmt.Sprintf("no lease row for %s: Neutron did not seed it and the guest never got a lease", m)
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s: %d rows", n.LeasesPath, len(n.Leases)))
	return c
}

func fmtMAC(b []byte) string {
	const hex = "0123456789abcdef"
	var s strings.Builder
	for i, c := range b {
		if i > 0 {
			s.WriteByte(':')
		}
		s.WriteByte(hex[c>>4])
		s.WriteByte(hex[c&15])
	}
	return s.String()
}

// notInHosts is the DHCP side when no hosts file lists the MAC.
func (v *view) notInHosts() []Hop {
	id := &v.id
	s := v.obs.DHCP.HostsSearch
	ns := Hop{Kind: KindDHCPNS, Summary: fmt.Sprintf("not reached: no network's hosts file lists %s", id.MAC)}
	h := Hop{Kind: KindHostsEntry, Name: "(none)", Verdict: Fail}
	h.add("searched", "%d hosts files under %s", s.Files, v.obs.Settings.StateDir)
	h.add("port_mac", "%s (from %s)", id.MAC, id.MACFrom)
	h.Summary = fmt.Sprintf("%s is in none of the %d hosts files under %s", id.MAC, s.Files, v.obs.Settings.StateDir)
	h.Cause = "no DHCP agent on this node serves the port: its network is hosted by another DHCP agent, the agent has not applied the port, or the MAC is not the port's"
	h.Next = "openstack network agent list --agent-type dhcp --network <network>; openstack port show <port> -c mac_address; the DHCP agent's log"
	return []Hop{ns,
		{Kind: KindDnsmasq, Summary: "not reached: no network"},
		{Kind: KindDHCPIf, Summary: "not reached: no network"},
		h,
		{Kind: KindLease, Summary: "not reached: no network"}}
}

// noteSearch adds how the network was found to the namespace hop, and
// warns when the MAC is in several networks' hosts files.
func (v *view) noteSearch(h *Hop) {
	if len(v.hits) == 0 {
		return
	}
	hit := func(x HostsHit) string { return fmt.Sprintf("%s (%s line %d)", x.NetworkID, x.Path, x.Line) }
	h.add("network_from", "MAC %s in %s", v.id.MAC, hit(v.hits[0]))
	if len(v.hits) > 1 {
		var rest []string
		for _, x := range v.hits[1:] {
			rest = append(rest, hit(x))
		}
		h.add("also_in", "%s", strings.Join(rest, "; "))
		if h.Verdict == OK {
			h.Verdict = Warn
			h.Summary += fmt.Sprintf("; the MAC is in %d networks' hosts files, traced the first", len(v.hits))
			h.Cause = "the same MAC is on ports of several networks (Neutron allows it per network)"
			h.Next = "trace with the API (-server) or check which network the VM is on"
		}
	}
}

// dhcpCause is the one-line cause of a DHCP hop's warn or fail (the
// check's summary says what was found, this what it means), from
// dhcpns's typed reason.
func dhcpCause(k Kind, v Verdict, reason dhcpns.Reason) string {
	switch k {
	case KindDHCPNS:
		return "the DHCP agent has not set up (or has torn down) the network's namespace on this node"
	case KindDnsmasq:
		switch reason {
		case dhcpns.ReasonDnsmasqZombie:
			return "dnsmasq exited and was not reaped: nothing serves DHCP on the network"
		case dhcpns.ReasonDnsmasqStopped:
			return "dnsmasq is stopped (SIGSTOP): the DHCP agent counts it alive, but it answers nothing"
		case dhcpns.ReasonNamespaceGone:
			return "the qdhcp namespace was deleted under a running dnsmasq: it listens where no frame arrives"
		case dhcpns.ReasonOtherNamespace:
			return "dnsmasq runs outside the network's qdhcp namespace (started by hand, or the namespace was recreated): it does not listen on the network"
		case dhcpns.ReasonStalePIDFile:
			return "the pid file is stale: the network's dnsmasq died and its pid now belongs to another process"
		case dhcpns.ReasonPIDFileMismatch:
			return "the pid file does not name the running dnsmasq: the DHCP agent will think it dead and start another"
		}
		return "no live dnsmasq serves the network (it died or was killed, and the DHCP agent has not restarted it): guests get no lease or renewal"
	case KindDHCPIf:
		if reason == dhcpns.ReasonSubnetUnknown {
			return "no running dnsmasq, so the subnet it serves (read from its command line) is unknown: the interface itself is up with an address"
		}
		return "dnsmasq's interface in the namespace is down or lacks the DHCP port's address: it cannot answer on the network"
	case KindHostsEntry:
		return "dnsmasq has no row for the port's MAC: it ignores the guest's DHCP requests (the agent has not applied the port, or the port has no fixed IP)"
	case KindLease:
		if v == Warn {
			return "the guest has not completed DHCP with dnsmasq since the agent seeded the lease (it sent nothing, or the replies do not reach it)"
		}
		return "the guest holds no valid lease from dnsmasq"
	}
	return ""
}

// arpHop judges the ARP probe of the port's IP from the qdhcp namespace.
func (v *view) arpHop() Hop {
	h := Hop{Kind: KindARP}
	id := &v.id
	var n *NetworkFacts
	if v.netw != nil && v.netw.HealthError == "" {
		n = v.netw
	}
	switch {
	case !v.role.dhcp():
		return offNode(KindARP, notDHCPSide+": the probe is sent from the qdhcp namespace")
	case v.obs.Settings.NoARP:
		h.Summary = "skipped (Config.NoARP)"
		return h
	case n == nil || !id.IP.IsValid():
		h.Summary = "not reached: no IP for the port from the hosts file"
		return h
	case n.ServingInterface == "":
		h.Summary = "not reached: no serving interface in the qdhcp namespace"
		return h
	case !id.IP.Is4():
		h.Summary = "not probed: " + id.IP.String() + " is not IPv4"
		return h
	}
	h.Name = id.IP.String()
	h.add("from", "%s in %s", n.ServingInterface, dhcpns.NamespaceName(id.NetworkID))
	a := n.arp(id.IP)
	if a == nil {
		h.Summary = "not probed"
		return h
	}
	if a.Error != "" {
		h.Summary = a.Error
		return h
	}
	var ours, others []string
	for _, rep := range a.Replies {
		h.add("reply", "%s in %s", rep.MAC, rep.RTT.Round(time.Microsecond))
		if id.MAC != nil && rep.MAC.Equal(id.MAC) {
			ours = append(ours, rep.MAC.String())
		} else {
			others = append(others, rep.MAC.String())
		}
	}
	switch {
	case len(a.Replies) == 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("no answer for %s within %s", id.IP, v.obs.Settings.ARPTimeout)
		h.Cause = "the guest does not hold " + id.IP.String() + " (no lease applied, guest down) or frames stop between the qdhcp port and the tap"
		h.Next = "the tap, FDB and lease hops; the guest's console (ip addr)"
		v.bridgeHooksBlame(&h)
		v.qdiscBlame(&h)
		if off := v.dhcpOff(); off != nil && v.role.compute() && v.guestSilent() {
			// The guest sent nothing the bridge learned: with DHCP off it
			// has no address unless configured. Nothing answers at the
			// port's address, so the hop still fails, with that cause
			// instead of blaming the path or the DHCP agent.
			h.Summary += "; " + dhcpOffWhy(off) + " and the guest sent no frame: it holds no address"
			h.Cause = dhcpOffWhy(off) + ": the guest got no address from DHCP and sent nothing, so it has none (not configured statically or by a config drive)"
			h.Next = dhcpOffNext(off)
		}
	case len(others) > 0 && id.MAC == nil:
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("%s answered by %s; the port's MAC is unknown, so not compared", id.IP, strings.Join(others, ", "))
	case len(others) > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s answered by %s, not (only) by the port's %s", id.IP, strings.Join(others, ", "), id.MAC)
		h.Cause = "another host holds the port's IP (duplicate address)"
		h.Next = "find the MAC " + others[0] + ": bridge fdb show | grep " + others[0]
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s answered by %s", id.IP, ours[0])
	}
	return h
}

// probeTarget returns the address the NIC's ARP hop needs probed and the
// network it is probed in (ok false: none).
func (v *view) probeTarget() (netID string, ip netip.Addr, ok bool) {
	n := v.netw
	if !v.role.dhcp() || v.obs.Settings.NoARP || n == nil || n.HealthError != "" || n.ServingInterface == "" || !v.id.IP.Is4() {
		return "", netip.Addr{}, false
	}
	return v.id.NetworkID, v.id.IP, true
}

// seededButHeld amends a lease hop that warns about a seed-only row when
// the guest answered the ARP probe of that address from the port's MAC:
// the guest holds the address from an earlier lease, and dnsmasq was
// restarted with the lease file Neutron seeds (every DHCP agent restart
// does it: seen on the aio cloud, all of a network's rows seeded after
// `restart-agent.sh neutron-dhcp-agent`). The guest renews at half its
// lease time (12 h with Neutron's default 86400 s), so the cause and next
// step say so instead of sending the operator to the guest's console.
func seededButHeld(h *Hop, n *NetworkFacts, mac []byte) {
	m := fmtMAC(mac)
	for _, l := range n.Leases {
		if l.MAC == nil || l.MAC.String() != m || l.Renewed() {
			continue
		}
		if !answeredARP(n, l.IP, m) {
			continue
		}
		h.add("held", "%s answered ARP for %s: the guest holds the address", m, l.IP)
		h.Summary = fmt.Sprintf("lease row for %s is only Neutron's seed (%s, no client id): the guest has not completed DHCP since dnsmasq restarted, but holds the address (answered ARP)", l.IP, l.Origin)
		h.Cause += "; but the guest holds " + l.IP.String() + " (it answered ARP): dnsmasq was restarted with Neutron's seeded lease file (a DHCP agent restart does this) and the guest renews at half its lease time, so it is expected for hours after a restart"
		h.Next = "nothing urgent if the guest answers: wait for its renewal, or renew from its console (udhcpc/dhclient); the dnsmasq process's start time dates the restart"
		return
	}
}

// answeredARP reports whether mac answered the ARP probe of ip.
func answeredARP(n *NetworkFacts, ip netip.Addr, mac string) bool {
	for _, a := range n.ARP {
		if a.IP != ip {
			continue
		}
		for _, r := range a.Replies {
			if r.MAC.String() == mac {
				return true
			}
		}
	}
	return false
}

// releasedButHeld turns a lease hop that fails for want of any lease row
// into a warning when the hosts file has the port's row and the guest
// answered the ARP probe of the port's address from its MAC: the guest
// holds the address, and dnsmasq lost only the row (the DHCP agent runs
// dhcp_release when a port's address changes: seen on the aio cloud after
// setting a port's fixed IP away and back). dnsmasq grants the renewal
// from its hosts file.
func releasedButHeld(h *Hop, n *NetworkFacts, id *Identity) {
	m := fmtMAC(id.MAC)
	if !id.IP.IsValid() || !answeredARP(n, id.IP, m) {
		return
	}
	h.Verdict = Warn
	h.add("held", "%s answered ARP for %s: the guest holds the address", m, id.IP)
	h.Summary = fmt.Sprintf("no lease row for %s, but the guest holds %s (answered ARP) and the hosts file has it", m, id.IP)
	h.Cause = "dnsmasq has no lease for an address the guest still uses: the DHCP agent released it (it does when the port's address changes) or dnsmasq restarted without it; the guest renews at half its lease time and dnsmasq grants it from the hosts file"
	h.Next = "nothing urgent if the guest answers: wait for its renewal, or renew from its console (udhcpc/dhclient)"
}

// network is the API's network of that ID (nil: none read, or no API).
func (a *APIFacts) network(id string) *NetworkInfo {
	if a == nil || id == "" {
		return nil
	}
	return a.Networks[id]
}
