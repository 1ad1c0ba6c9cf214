package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
)

// linkInput is what the provider-link hop is judged on: both halves'
// node names and their traces of the NIC (with their LinkEnd facts).
type linkInput struct {
	comp, net string
	ct, nt    *Trace
}

// linkEnd is one node's end of the provider link.
type linkEnd struct {
	node   string
	bridge string
	uplink string
	how    string
	port   *linuxbridge.Port
	snap   *linuxbridge.Snapshot
	loose  []LinkFacts
}

// learnedOn returns the ports of the end's bridge where mac was learned.
func (e *linkEnd) learnedOn(mac hwaddr.MAC) []string {
	var ports []string
	if e.snap == nil || mac == nil {
		return nil
	}
	for _, f := range e.snap.FDB {
		if f.Bridge == e.bridge && !f.Local() && f.MAC.Equal(mac) && !slices.Contains(ports, f.Port) {
			ports = append(ports, f.Port)
		}
	}
	return ports
}

// judgeLink judges the provider link between the compute node's and the
// network node's ends for one NIC. It is pure.
func judgeLink(in linkInput) Hop {
	c, n := &LinkEnd{Node: in.comp}, &LinkEnd{Node: in.net}
	if in.ct.Link != nil {
		c = in.ct.Link
	}
	if in.nt.Link != nil {
		n = in.nt.Link
	}
	h := Hop{Kind: KindProviderLink, Name: c.Node + " <-> " + n.Node}
	netID := cmpOr(in.nt.NetworkID, in.ct.NetworkID)
	vmMAC := in.ct.PortMAC
	if vmMAC == nil {
		vmMAC = in.nt.PortMAC
	}
	h.add("network", "%s", orUnknown(netID, "?"))
	h.put("vm_mac", vmMAC.String())

	// The compute end: the bridge and physical port its hops judged.
	ce := &linkEnd{node: c.Node}
	if b, ok := in.ct.Hop(KindBridge, ""); ok {
		ce.bridge = b.Name
	}
	pp, _ := in.ct.Hop(KindPhysicalPort, "")
	ce.uplink = pp.Name
	ce.snap, ce.loose = c.Bridges, c.Loose
	if ce.snap != nil && ce.bridge != "" {
		if br := snapBridge(ce.snap, ce.bridge); br != nil {
			if p, ok := br.Port(ce.uplink); ok {
				ce.port = &p
			}
		}
	}
	if ce.port == nil {
		h.Summary = fmt.Sprintf("not judged: %s's physical port is not on the VM's bridge (its physical-port hop: %s)", c.Node, orUnknown(pp.Summary, "not reached"))
		return h
	}

	// The network end: the network's bridge and its mapped uplink.
	if in.nt.Link == nil {
		h.Summary = fmt.Sprintf("not judged: %s's half has no provider facts (traced with -role network by this vmtrace?)", n.Node)
		return h
	}
	if n.Bridges == nil {
		h.Summary = fmt.Sprintf("not judged: %s's bridges could not be read: %s", n.Node, n.Error)
		return h
	}
	ne := &linkEnd{node: n.Node, snap: n.Bridges, loose: n.Loose, bridge: linuxbridge.NetworkBridgeName(netID)}
	br := snapBridge(n.Bridges, ne.bridge)
	if netID == "" || br == nil {
		h.Verdict = Fail
		h.Name = c.Node + " <-> " + n.Node + ":" + ne.bridge
		h.Summary = fmt.Sprintf("%s has no bridge %s for the network: its qdhcp namespace is on no provider segment", n.Node, orUnknown(ne.bridge, "(unknown network)"))
		h.Cause = "the linuxbridge agent on the network node has not wired the network (its DHCP port is plugged into nothing)"
		h.Next = "on " + n.Node + ": brctl show; the linuxbridge agent's log; openstack network agent list --host " + n.Node
		return h
	}
	ne.uplink, ne.how = networkUplink(c.Network, n.Network, n.Agent, br)
	if ne.uplink == "" {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s's %s has no physical port (%s)", n.Node, ne.bridge, ne.how)
		h.Cause = "the network node's bridge has no uplink: its DHCP port reaches no other node"
		h.Next = "on " + n.Node + ": physical_interface_mappings in the agent's config; brctl show " + ne.bridge
		return h
	}
	if p, ok := br.Port(ne.uplink); ok {
		ne.port = &p
	}
	h.Name = fmt.Sprintf("%s:%s <-> %s:%s", c.Node, ce.uplink, n.Node, ne.uplink)
	for _, e := range []*linkEnd{ce, ne} {
		if e.port == nil {
			h.add(e.node, "%s not on %s", e.uplink, e.bridge)
			continue
		}
		h.add(e.node, "%s on %s: up %t lower_up %t oper %s", e.uplink, e.bridge, e.port.Up, e.port.LowerUp, e.port.OperState)
	}
	if ne.port == nil {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s's mapped interface %s is not on %s (%s)", n.Node, ne.uplink, ne.bridge, ne.how)
		h.Cause = "the network node's bridge lacks its provider NIC: the DHCP port reaches no other node"
		h.Next = "on " + n.Node + ": ip link show " + ne.uplink + "; ip link set " + ne.uplink + " master " + ne.bridge
		return h
	}
	if !ce.port.Up {
		h.Summary = fmt.Sprintf("not judged: %s's %s is administratively down (its physical-port hop)", c.Node, ce.uplink)
		return h
	}
	if !ne.port.Up {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s's %s is administratively down", n.Node, ne.uplink)
		h.Cause = "the network node's provider NIC was set down: its DHCP port reaches no compute node"
		h.Next = "on " + n.Node + ": ip link set " + ne.uplink + " up; who set it down (NetworkManager, ifdown)?"
		h.add("explains", "%s", symptoms(n.Node, KindARP, KindLease, KindReachability)+","+symptoms(c.Node, KindCounters))
		return h
	}

	// The wire: both ends set up, one without carrier.
	var dark []string
	for _, e := range []*linkEnd{ce, ne} {
		if !e.port.LowerUp {
			dark = append(dark, e.node+"'s "+e.uplink)
		}
	}
	if len(dark) > 0 {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("provider wire down: %s up but without carrier", strings.Join(dark, " and "))
		h.Cause = "the cable or switch port between the node and the provider network is down: the NIC is set up, the link is not (neither node's configuration is at fault)"
		h.Next = "ethtool " + ce.uplink + " on " + c.Node + " and " + ne.uplink + " on " + n.Node + "; the provider switch's ports"
		h.add("explains", "%s", symptoms(c.Node, KindPhysicalPort, KindCounters)+","+symptoms(n.Node, KindARP, KindLease, KindReachability))
		return h
	}

	// Frames across: the FDBs, then the network node's probes.
	dhcpMAC := hwaddr.MAC(nil)
	if n.DHCPPort != nil {
		dhcpMAC = n.DHCPPort.MAC
	}
	vmOnN := ne.learnedOn(vmMAC)
	dhcpOnC := ce.learnedOn(dhcpMAC)
	vmOnC := ce.learnedOn(vmMAC)
	toN := slices.Contains(vmOnN, ne.uplink)
	toC := slices.Contains(dhcpOnC, ce.uplink)
	vmSends := slices.Contains(vmOnC, in.ct.Tap)
	h.add("fdb_"+n.Node, "%s learned on %s", vmMAC, orUnknown(strings.Join(vmOnN, ","), "no port"))
	if dhcpMAC != nil {
		h.add("fdb_"+c.Node, "DHCP port %s learned on %s", dhcpMAC, orUnknown(strings.Join(dhcpOnC, ","), "no port"))
	} else {
		h.add("fdb_"+c.Node, "the DHCP port's MAC is unknown (%s read no serving interface)", n.Node)
	}
	ip := in.nt.IP
	if !ip.IsValid() {
		ip = in.ct.IP
	}
	bcast, bOK := broadcastARP(n.ARP, ip, vmMAC)
	h.put("arp_broadcast", bcast)
	uni, uKnown, uOK := unicastProbe(n.Unicast, ip, vmMAC)
	h.put("arp_unicast", uni)

	switch {
	case bOK && uKnown && !uOK:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("unicast to the VM's MAC is dropped on the link: %s's broadcast ARP probe was answered across it, the same request sent to %s was not", n.Node, vmMAC)
		h.Cause = "the provider switch does not flood unknown unicast toward " + c.Node + " and has not learned the VM's MAC there (or " + c.Node + "'s NIC is a hypervisor's vNIC without promiscuous mode): broadcasts pass, DHCP replies and any unicast to the VM do not"
		h.Next = "the provider switch: is " + vmMAC.String() + " learned on " + c.Node + "'s port, is unknown-unicast flooding on? A virtual compute node: allow promiscuous mode (and MAC changes) on its provider vNIC"
		h.add("explains", "%s", symptoms(n.Node, KindLease, KindReachability))
	case bOK:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("frames cross both ways: %s's ARP probe answered by the VM over %s <-> %s", n.Node, ne.uplink, ce.uplink)
		if !toC && dhcpMAC != nil {
			h.add("note", "%s has not (or no longer) learned the DHCP port's MAC on %s: record the network node's half first", c.Node, ce.uplink)
		}
	case bcast == "not probed" || strings.HasPrefix(bcast, "error"):
		h.Summary = "not judged: " + n.Node + "'s ARP probe did not run (" + bcast + ")"
	case !vmSends && toC:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("frames from %s reach %s (the DHCP port's MAC learned on %s); the VM sends nothing: see %s's hops", n.Node, c.Node, ce.uplink, c.Node)
	case !vmSends:
		h.Summary = fmt.Sprintf("not judged: the VM sends nothing (%s has not learned it on %s) and %s has not learned the DHCP port's MAC on %s", c.Node, orUnknown(in.ct.Tap, "its tap"), c.Node, ce.uplink)
	case toN && toC:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("frames cross both ways (each bridge learned the other node's MAC on its physical port); the VM did not answer ARP: see %s's hops", c.Node)
	case toC:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("frames from %s do not reach %s: %s learned the DHCP port's MAC on %s, but %s has not learned the VM's on %s", c.Node, n.Node, c.Node, ce.uplink, n.Node, ne.uplink)
		h.Cause = "the provider network passes frames one way only (a switch filter, or a port in another VLAN one way)"
		h.Next = "the provider switch between " + c.Node + " and " + n.Node + "; tcpdump -ni " + ne.uplink + " ether host " + vmMAC.String() + " on " + n.Node
		h.add("explains", "%s", symptoms(n.Node, KindARP, KindLease, KindReachability)+","+symptoms(c.Node, KindCounters))
	case toN:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("frames from %s do not reach %s: %s learned the VM's MAC on %s, but %s has not learned the DHCP port's on %s", n.Node, c.Node, n.Node, ne.uplink, c.Node, ce.uplink)
		h.Cause = "the provider network passes frames one way only (a switch filter, or a port in another VLAN one way)"
		h.Next = "the provider switch between " + c.Node + " and " + n.Node + "; tcpdump -ni " + ce.uplink + " on " + c.Node
		h.add("explains", "%s", symptoms(n.Node, KindARP, KindLease, KindReachability)+","+symptoms(c.Node, KindCounters))
	default:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("no frame crosses although both ports have carrier: %s never saw the VM's MAC on %s, %s never saw the DHCP port's on %s", n.Node, ne.uplink, c.Node, ce.uplink)
		h.Cause = "the two physical ports are not on one provider segment: a physical_interface_mappings entry names the wrong interface on one node, or the switch puts the ports in different VLANs"
		h.Next = "compare physical_interface_mappings on both nodes with the cabling (lldpctl, ethtool -P); the switch ports' VLANs"
		h.add("explains", "%s", symptoms(n.Node, KindARP, KindLease, KindReachability)+","+symptoms(c.Node, KindCounters))
	}
	if h.Verdict == Fail && !bOK {
		// Frames do not cross: a wired NIC on no bridge, on one node,
		// names the likely culprit (its mapping names another).
		var suspects []string
		for _, e := range []*linkEnd{ce, ne} {
			for _, l := range e.loose {
				h.add("loose_"+e.node, "%s up with carrier, on no bridge, no IPv4 address", l.Name)
				suspects = append(suspects, fmt.Sprintf("%s's %s", e.node, l.Name))
			}
		}
		if len(suspects) == 1 {
			e := ce
			if !strings.HasPrefix(suspects[0], c.Node+"'s") {
				e = ne
			}
			wired := strings.TrimPrefix(suspects[0], e.node+"'s ")
			h.Summary += fmt.Sprintf("; %s is wired and unused", suspects[0])
			h.Cause = fmt.Sprintf("%s maps the provider network to %s, but its wired, unused %s looks like the provider NIC: the mapping names the wrong interface on %s", e.node, e.uplink, wired, e.node)
			h.Next = fmt.Sprintf("on %s: physical_interface_mappings = <physnet>:%s in the agent's config (it names %s), restart the linuxbridge agent; check the cabling (lldpctl)", e.node, wired, e.uplink)
		}
	}
	return h
}

// networkUplink is the network node's expected uplink on its bridge: the
// mapping of the network's physical network (from either half's API
// answers), else the only mapping, else the bridge's ports Neutron did
// not name.
func networkUplink(compInfo, netInfo *NetworkInfo, agent *linuxbridge.AgentMappings, br *linuxbridge.Bridge) (name, how string) {
	info := compInfo
	if info == nil {
		info = netInfo
	}
	if agent != nil {
		nic := ""
		switch {
		case info != nil && info.PhysicalNetwork != "":
			nic = agent.Interfaces[info.PhysicalNetwork]
			how = fmt.Sprintf("physical_interface_mappings %s:%s", info.PhysicalNetwork, nic)
		case len(agent.Interfaces) == 1:
			for k, v := range agent.Interfaces {
				nic, how = v, fmt.Sprintf("physical_interface_mappings %s:%s, the only mapping", k, v)
			}
		}
		if nic != "" {
			if info != nil && info.Type == "vlan" && info.SegmentationID > 0 {
				nic = fmt.Sprintf("%s.%d", nic, info.SegmentationID)
			}
			return nic, how
		}
	}
	var guess []string
	for _, p := range br.Ports {
		if p.Neutron.Kind == linuxbridge.DeviceOther && p.Kind != linuxbridge.PortTap && !strings.HasPrefix(p.Name, "tap") {
			guess = append(guess, p.Name)
		}
	}
	if len(guess) == 0 {
		return "", "no mapping, and no port Neutron did not name"
	}
	return guess[0], "guessed: a port of the bridge Neutron did not name (no agent mapping)"
}

// broadcastARP describes the network node's broadcast probe a of ip and
// whether vm answered it.
func broadcastARP(a *ARPFacts, ip netip.Addr, vm hwaddr.MAC) (string, bool) {
	if a == nil || !ip.IsValid() || a.IP != ip {
		return "not probed", false
	}
	if a.Error != "" {
		return "error: " + a.Error, false
	}
	var from []string
	ok := false
	for _, r := range a.Replies {
		from = append(from, r.MAC.String())
		ok = ok || r.MAC.Equal(vm)
	}
	if len(from) == 0 {
		return fmt.Sprintf("%s from %s: no answer", ip, a.From), false
	}
	return fmt.Sprintf("%s from %s: answered by %s", ip, a.From, strings.Join(from, ", ")), ok
}

// unicastProbe describes the unicast probe of ip to vm; known is false
// when there was none.
func unicastProbe(probes []UnicastARPFacts, ip netip.Addr, vm hwaddr.MAC) (desc string, known, ok bool) {
	for _, u := range probes {
		if u.IP != ip || !u.MAC.Equal(vm) {
			continue
		}
		switch {
		case u.Error != "":
			return "error: " + u.Error, false, false
		case u.Answered:
			return fmt.Sprintf("%s to %s from %s: answered in %s", ip, vm, u.From, u.RTT), true, true
		}
		return fmt.Sprintf("%s to %s from %s: no answer to %d requests", ip, vm, u.From, u.Attempts), true, false
	}
	return "not probed", false, false
}

// symptoms names the node hops a link fault explains, as node/kind.
func symptoms(node string, kinds ...Kind) string {
	var s []string
	for _, k := range kinds {
		s = append(s, node+"/"+string(k))
	}
	return strings.Join(s, ",")
}

func cmpOr(a, b string) string {
	if a != "" {
		return a
	}
	return b
}
