package trace

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"time"

	"github.com/mdlayher/packet"
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
		ns := filepath.Join(o.c.NetNSDir, dhcpns.NamespaceName(n.NetworkID))
		mac, err := unicastARP(ctx, ns, n.ServingInterface, targets, o.c.ARPTimeout)
		if err != nil {
			dp.Error = err.Error()
		}
		dp.MAC = mac
		pf.DHCPPorts = append(pf.DHCPPorts, dp)
		pf.Unicast = append(pf.Unicast, targets...)
	}
}

// unicastARP opens an AF_PACKET socket on ifname inside the namespace at
// ns, returns the interface's MAC, and sends each target up to three ARP
// requests addressed to its MAC (not broadcast), filling in whether it
// answered. timeout bounds each target's wait.
func unicastARP(ctx context.Context, ns, ifname string, targets []UnicastARPFacts, timeout time.Duration) (hwaddr.MAC, error) {
	var conn *packet.Conn
	var mac net.HardwareAddr
	var srcs []netip.Prefix
	err := netns.Do(ns, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return err
		}
		mac = ifi.HardwareAddr
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() && !ip.Unmap().IsLinkLocalUnicast() {
						ones, _ := n.Mask.Size()
						srcs = append(srcs, netip.PrefixFrom(ip.Unmap(), ones))
					}
				}
			}
		}
		if len(targets) == 0 {
			return nil
		}
		// The ifindex is only meaningful here, inside the namespace.
		conn, err = packet.Listen(ifi, packet.Raw, 0x0806, nil)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket on %s: %w (needs CAP_NET_RAW)", ifname, err)
		}
		return nil
	})
	if err != nil {
		for i := range targets {
			targets[i].Error = err.Error()
		}
		return hwaddr.MAC(mac), fmt.Errorf("trace: %s in %s: %w", ifname, ns, err)
	}
	if conn == nil {
		return hwaddr.MAC(mac), nil
	}
	defer conn.Close()
	if timeout <= 0 {
		timeout = time.Second
	}
	buf := make([]byte, 1514)
	for i := range targets {
		t := &targets[i]
		src := netip.IPv4Unspecified()
		for _, p := range srcs {
			if p.Contains(t.IP) || src.IsUnspecified() {
				src = p.Addr()
			}
		}
		frame := make([]byte, 42)
		copy(frame[0:6], t.MAC)
		copy(frame[6:12], mac)
		binary.BigEndian.PutUint16(frame[12:14], 0x0806)
		a := frame[14:]
		binary.BigEndian.PutUint16(a[0:2], 1)
		binary.BigEndian.PutUint16(a[2:4], 0x0800)
		a[4], a[5] = 6, 4
		binary.BigEndian.PutUint16(a[6:8], 1) // request
		copy(a[8:14], mac)
		s4, t4 := src.As4(), t.IP.As4()
		copy(a[14:18], s4[:])
		copy(a[24:28], t4[:])
		deadline := time.Now().Add(timeout)
		if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
			deadline = d
		}
		for attempt := 0; attempt < 3 && !t.Answered && ctx.Err() == nil && time.Now().Before(deadline); attempt++ {
			sent := time.Now()
			if _, err := conn.WriteTo(frame, &packet.Addr{HardwareAddr: net.HardwareAddr(t.MAC)}); err != nil {
				t.Error = fmt.Sprintf("send on %s: %v", ifname, err)
				break
			}
			t.Attempts++
			wait := sent.Add(timeout / 3)
			if deadline.Before(wait) {
				wait = deadline
			}
			for !t.Answered {
				conn.SetReadDeadline(wait)
				n, _, err := conn.ReadFrom(buf)
				if err != nil {
					break // the attempt's wait is over
				}
				if arpReplyFrom(buf[:n], t.MAC, t.IP, mac) {
					t.Answered, t.RTT = true, time.Since(sent)
				}
			}
		}
	}
	return hwaddr.MAC(mac), nil
}

// arpReplyFrom reports whether b is an ARP reply from (mac, ip) to us.
func arpReplyFrom(b []byte, mac hwaddr.MAC, ip netip.Addr, us net.HardwareAddr) bool {
	if len(b) < 42 || binary.BigEndian.Uint16(b[12:14]) != 0x0806 {
		return false
	}
	a := b[14:]
	return binary.BigEndian.Uint16(a[6:8]) == 2 && string(a[8:14]) == string(mac) &&
		netip.AddrFrom4([4]byte(a[14:18])) == ip && string(a[18:24]) == string(us)
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
			out = append(out, LinkFacts{Name: a.Name, Index: a.Index, Up: true, LowerUp: true, OperState: strings.ToLower(a.OperState.String())})
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
