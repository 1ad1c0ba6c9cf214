package trace

import (
	"cmp"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// guestHop is the NIC's guest hop (compute side, after the interface
// hop): the guest's own account of its DHCP exchange, from the console
// log of the domain holding the NIC.
func (v *view) guestHop() Hop {
	h := Hop{Kind: KindGuest, Name: v.id.Tap}
	s := &v.obs.Settings
	switch {
	case s.NoConsole:
		h.Summary = "not read (Config.NoConsole)"
		h.add("console", "not read")
		return h
	case !s.Libvirt:
		h.Summary = "not read: no libvirt client (the console log's path is in the domain XML)"
		h.add("libvirt", "no client")
		return h
	case v.dom == nil:
		h.Summary = "not reached: no domain holds the NIC"
		h.add("domain", "none")
		return h
	case v.dom.Console == nil:
		h.Name = v.dom.Name
		h.Summary = "the domain's console was not read"
		h.add("console", "not observed")
		return h
	}
	c := v.dom.Console
	f := GuestFacts{Domain: v.dom.Name, ConsolePath: c.Path, Missing: c.Missing, ConsoleError: c.Error,
		ConsoleBytes: c.Bytes, ConsoleModTime: c.ModTime, Events: c.Events,
		DomainRunning: v.dom.State == libvirtinspect.StateRunning, ReadAt: v.obs.Started}
	// The console mixes every NIC's DHCP client: the port's address is
	// compared only when the domain has this one NIC.
	ips := v.fixedIPv4()
	if len(ips) == 1 && len(v.dom.Interfaces) == 1 {
		f.PortIP = ips[0]
		f.DHCPServer = v.dhcpServer(ips[0])
	}
	if len(v.dom.Interfaces) > 1 {
		f.NICIPs = ips
	}
	return JudgeGuest(f)
}

// dhcpServer is the address the network's dnsmasq serves with in ip's
// subnet (the server identifier of its leases), read on the DHCP side;
// zero when not observed.
func (v *view) dhcpServer(ip netip.Addr) netip.Addr {
	if v.netw == nil || !v.role.dhcp() {
		return netip.Addr{}
	}
	for _, p := range v.netw.ServingAddrs {
		if p.Addr().Is4() && p.Masked().Contains(ip) {
			return p.Addr()
		}
	}
	return netip.Addr{}
}

// portAgents are the agents of the NIC's port derived from the
// observation's agent list (nil: no API, no port, or the agents not read).
func (v *view) portAgents() *launch.PortAgents {
	api := v.obs.API
	if api == nil || api.Agents == nil {
		return nil
	}
	srv, p := api.port(v.id.PortID)
	if p == nil {
		return nil
	}
	return api.Agents.Port(*p, srv.Host, launch.Status(srv.Status))
}

// subnetGateway says whether the opts give the subnet a router (option 3
// with an address; Neutron writes it without one for a subnet without a
// gateway), nil when they have no option 3.
func subnetGateway(opts []dhcpns.DHCPOption) *bool {
	for _, o := range opts {
		if o.Code != dhcpns.OptionRouter {
			continue
		}
		gw := false
		for _, v := range o.Values {
			if a, err := netip.ParseAddr(v); err == nil && a.IsValid() {
				gw = true
			}
		}
		return &gw
	}
	return nil
}

// metadataAgent says whether one of the metadata agents is up and names
// their hosts (nil when there are none).
func metadataAgent(as []launch.NetworkAgent) (*bool, string) {
	if len(as) == 0 {
		return nil, ""
	}
	up := false
	var hosts []string
	for _, a := range as {
		up = up || a.Up()
		hosts = append(hosts, a.Host)
	}
	return &up, strings.Join(hosts, ",")
}

// isolatedMetadata is enable_isolated_metadata as the DHCP agents report
// it (on when any does), nil when none reports it (upstream agents do
// not).
func isolatedMetadata(as []launch.NetworkAgent) *bool {
	var out *bool
	for _, a := range as {
		if v := a.Config.IsolatedMetadata; v != nil {
			on := *v || (out != nil && *out)
			out = &on
		}
	}
	return out
}

// metadataHop is the network's metadata hop (DHCP side, after the lease
// hop): the proxy in the qdhcp namespace, 169.254.169.254 on it, and the
// probe's answer.
func (v *view) metadataHop() Hop {
	if !v.role.dhcp() {
		return offNode(KindMetadata, notDHCPSide)
	}
	n := v.netw
	if n == nil {
		h := Hop{Kind: KindMetadata, Summary: "not reached: no qdhcp namespace for the network"}
		h.add("namespace", "none observed")
		return h
	}
	h := Hop{Kind: KindMetadata, Name: dhcpns.NamespaceName(n.NetworkID)}
	m := n.Metadata
	switch {
	case m == nil:
		h.Summary = "the metadata proxy was not observed"
		h.add("proxy", "not observed")
		return h
	case m.ProxyError != "":
		h.Summary = "cannot read the metadata proxy"
		h.put("error", m.ProxyError)
		return h
	}
	f := MetadataFacts{NetworkID: n.NetworkID, Proxy: m.Proxy, AddrKnown: m.AddrKnown, AddrLink: m.AddrLink, Probe: m.Probe}
	f.RouteVia, _ = dhcpns.MetadataRoute(n.Opts)
	if n.OptsPath != "" && n.OptsError == "" {
		f.SubnetHasGateway = subnetGateway(n.Opts)
	}
	if pa := v.portAgents(); pa != nil {
		f.AgentAlive, f.AgentHost = metadataAgent(pa.Metadata)
		f.IsolatedMetadata = isolatedMetadata(pa.DHCP)
	}
	h = JudgeMetadata(f)
	switch {
	case m.ProbeError != "":
		h.put("probe_error", m.ProbeError)
	case m.Probe == nil && v.obs.Settings.NoMetadataProbe:
		h.add("probe", "not sent (Config.NoMetadataProbe)")
	}
	v.nsFirewallBlames(&h, n)
	return h
}

// mtuHop is the NIC's mtu hop (compute side, after the physical-port
// hop): what the guest is told against the libvirt interface, the tap,
// the bridge and its physical ports. What the guest is told is DHCP's
// option 26, read on the DHCP side, or the libvirt interface's <mtu>:
// without either the hop is Unknown.
func (v *view) mtuHop(up *uplink) Hop {
	h := Hop{Kind: KindMTU, Name: cmp.Or(v.id.NetworkID, v.id.WantNetwork)}
	if v.bridge == nil || v.tap == nil {
		h.Summary = "not reached: the tap is on no bridge"
		h.add("tap", "on no bridge")
		return h
	}
	// On a compute-only node no qdhcp namespace names the network: the
	// port's (API) does.
	netID := v.id.NetworkID
	if netID == "" {
		netID = v.id.WantNetwork
	}
	f := MTUFacts{NetworkID: netID}
	if api := v.obs.API; api != nil && netID != "" {
		if info := api.Networks[netID]; info != nil {
			f.NetworkType, f.NetworkMTU = info.Type, info.MTU
		}
	}
	told := false
	if n := v.netw; n != nil && v.role.dhcp() && n.OptsPath != "" {
		f.DHCPCmdlineMTU, _ = dhcpns.OptionMTUValue(n.CmdlineOpts)
		f.DHCPOptsMTU, _ = dhcpns.OptionMTUValue(n.Opts)
		told = true
	}
	if f.NetworkMTU > 0 {
		told = true // Neutron's DHCP advertises the network's MTU
	}
	if i := v.iface; i != nil && i.MTU > 0 {
		name := i.Target
		if v.dom != nil {
			name = v.dom.Name + "/" + i.Target
		}
		f.Elements = append(f.Elements, MTUElement{Role: MTULibvirt, Name: name, MTU: i.MTU})
		told = true
	}
	f.Elements = append(f.Elements, MTUElement{Role: MTUTap, Name: v.tap.Name, MTU: v.tap.MTU},
		MTUElement{Role: MTUBridge, Name: v.bridge.Name, MTU: v.bridge.MTU})
	if up != nil {
		for _, p := range up.phys {
			// A VXLAN or VLAN device on the bridge carries the guest's
			// frames as they are: its MTU is the guest's budget.
			f.Elements = append(f.Elements, MTUElement{Role: MTUPhysical, Name: p.Name, MTU: p.MTU})
		}
	}
	if !told {
		h.Summary = "what the guest is told was not observed: DHCP's option 26 is read on the DHCP side, the libvirt interface sets no <mtu>, and the network's MTU is not known (run with -cloud)"
		for _, e := range f.Elements {
			h.add(string(e.Role)+" "+e.Name, "%d", e.MTU)
		}
		return h
	}
	h = JudgeMTU(f)
	if n := v.netw; n != nil && n.OptsError != "" && v.role.dhcp() {
		h.put("opts_error", n.OptsError)
	}
	return h
}
