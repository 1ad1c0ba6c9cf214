package trace

import (
	"context"
	"errors"
	"net"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/linuxbridge"
)

// observeProvider gathers Observation.Provider, after the ARP probes: on
// a network node its bridges and FDB, the agent's mappings, the DHCP
// ports' MACs and one unicast ARP request per probed NIC; on either role
// the loose interfaces. A failure is recorded, not returned: the node's
// own hops do not need these facts.
func (o *observer) observeProvider(ctx context.Context, views []*view) {
	c, obs := &o.c, o.obs
	pf := &ProviderFacts{}
	obs.Provider = pf
	if obs.Role == RoleNetwork {
		src := o.bridges
		if src == nil {
			in, err := linuxbridge.Open(ctx, &linuxbridge.Config{NetNSPath: c.BridgeNetNSPath, Logger: c.Logger})
			if err != nil {
				pf.Error = err.Error()
			} else {
				defer in.Close()
				src = in
			}
		}
		if src != nil {
			if snap, err := src.Snapshot(ctx); err != nil {
				pf.Error = err.Error()
			} else {
				pf.Bridges, pf.At = snap, time.Now()
			}
		}
		switch {
		case c.InterfaceMappings != nil:
			pf.Agent = &linuxbridge.AgentMappings{Interfaces: c.InterfaceMappings, Bridges: c.BridgeMappings}
		case c.AgentConfig == "-":
			pf.AgentError = "Config.AgentConfig is \"-\" (read none)"
		default:
			m, err := linuxbridge.ReadAgentConfig(c.AgentConfig)
			if err != nil {
				pf.AgentError = err.Error()
			}
			pf.Agent = m
		}
		o.observeDHCPPorts(ctx, views, pf)
	}
	loose, err := o.looseLinks()
	if err != nil {
		pf.LooseError = err.Error()
	}
	pf.Loose = loose
}

// observeDHCPPorts reads each observed network's serving interface MAC
// and sends the unicast ARP requests of the NICs probed there.
func (o *observer) observeDHCPPorts(ctx context.Context, views []*view, pf *ProviderFacts) {
	d := o.obs.DHCP
	if d == nil {
		return
	}
	for i := range d.Networks {
		n := &d.Networks[i]
		if n.ServingInterface == "" || n.HealthError != "" {
			continue
		}
		dp := DHCPPortFacts{NetworkID: n.NetworkID, Interface: n.ServingInterface}
		var targets []UnicastARPFacts
		for _, v := range views {
			id, ip, ok := v.probeTarget()
			if ok && id == n.NetworkID && v.id.exact() && !slices.ContainsFunc(targets, func(u UnicastARPFacts) bool { return u.IP == ip }) {
				targets = append(targets, UnicastARPFacts{NetworkID: id, IP: ip, MAC: v.id.MAC, From: n.ServingInterface})
			}
		}
		mac, err := unicastARP(ctx, dhcpnsConfig(&o.c), n.NetworkID, n.ServingInterface, targets, o.c.ARPTimeout)
		if err != nil {
			dp.Error = err.Error()
		}
		dp.MAC = mac
		pf.DHCPPorts = append(pf.DHCPPorts, dp)
		pf.Unicast = append(pf.Unicast, targets...)
	}
}

// unicastARP opens dhcpns's ARP prober on ifname in the network's qdhcp
// namespace, returns the interface's MAC, and probes each target with
// requests addressed to its MAC, not broadcast (dhcpns.ARPOptions.Unicast:
// up to three within timeout), filling in whether it answered.
func unicastARP(ctx context.Context, cfg *dhcpns.Config, networkID, ifname string, targets []UnicastARPFacts, timeout time.Duration) (hwaddr.MAC, error) {
	p, err := dhcpns.OpenARPProber(ctx, cfg, dhcpns.NamespaceName(networkID), ifname)
	if err != nil {
		for i := range targets {
			targets[i].Error = err.Error()
		}
		return nil, err
	}
	defer p.Close()
	_, mac := p.Source()
	if timeout <= 0 {
		timeout = time.Second
	}
	for i := range targets {
		t := &targets[i]
		opts := &dhcpns.ARPOptions{Timeout: timeout, Attempts: 3, Settle: -1, Unicast: map[netip.Addr]hwaddr.MAC{t.IP: t.MAC}}
		r, err := p.ProbeARP(ctx, t.IP, opts)
		t.Attempts = opts.Attempts // at most: the prober stops resending at the first answer
		switch {
		case r.Answered():
			t.Answered, t.RTT = true, r.Replies[0].RTT
		case err != nil && !errors.Is(err, dhcpns.ErrNoReply):
			t.Error = err.Error()
		}
	}
	return mac, nil
}

// looseLinks lists the bridges' namespace's interfaces that are up with
// carrier, on no bridge and without an IPv4 address.
func (o *observer) looseLinks() ([]LinkFacts, error) {
	var out []LinkFacts
	list := func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		links, err := h.LinkList()
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			return err
		}
		for _, l := range links {
			a := l.Attrs()
			if a.Name == "lo" || a.MasterIndex != 0 || a.EncapType != "ether" || l.Type() == "bridge" || l.Type() == "tuntap" ||
				strings.HasPrefix(a.Name, "tap") || a.Flags&net.FlagUp == 0 || a.RawFlags&unix.IFF_LOWER_UP == 0 {
				continue
			}
			addrs, err := h.AddrList(l, netlink.FAMILY_V4)
			if err != nil || len(addrs) > 0 {
				continue
			}
			lf := LinkFacts{Name: a.Name, Index: a.Index, Up: true, LowerUp: true}
			// netlink's name of the state ("up", "lower-layer-down"), read
			// into the module's one enum (unknown when it has no such name).
			_ = lf.OperState.UnmarshalText([]byte(a.OperState.String()))
			out = append(out, lf)
		}
		return nil
	}
	var err error
	if o.c.BridgeNetNSPath == "" {
		err = list()
	} else {
		err = netns.Do(o.c.BridgeNetNSPath, list)
	}
	slices.SortFunc(out, func(a, b LinkFacts) int { return strings.Compare(a.Name, b.Name) })
	return out, err
}
