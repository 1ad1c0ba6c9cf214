package dhcpns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"os"
	"slices"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/mdlayher/packet"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// ProbeDHCP sends DHCP DISCOVERs for clientMAC onto the network's bridge
// and returns the first OFFER (this creates a probe endpoint and sends
// packets). It never sends a REQUEST, so no lease is taken.
//
// Frames sent from inside qdhcp-<network> never reach that namespace's own
// dnsmasq, so the probe uses its own endpoint: a new anonymous namespace
// with a veth whose other end ("dhp-…") is attached to the bridge in
// opts.BridgeNetNSPath. The endpoint is removed before ProbeDHCP returns, on
// error and cancellation too; should the process die meanwhile, the kernel
// removes it with the namespace. The DISCOVER sets the broadcast flag and
// comes from the veth's own MAC, so the bridge never learns clientMAC on
// the probe's port. Neutron's dnsmasq answers only MACs in its hosts file:
// a MAC that is not there gets no OFFER (ErrNoReply). Needs CAP_NET_ADMIN,
// CAP_NET_RAW and CAP_SYS_ADMIN.
func ProbeDHCP(ctx context.Context, cfg *Config, networkID string, clientMAC hwaddr.MAC, opts *DHCPProbeOptions) (*DHCPOffer, error) {
	if len(clientMAC) != 6 {
		return nil, fmt.Errorf("dhcpns: DHCP probe: client MAC %q is not an Ethernet address", clientMAC)
	}
	var first *DHCPOffer
	sends, err := probeDHCP(ctx, cfg, networkID, clientMAC, opts, func(o *DHCPOffer) bool { first = o; return true })
	switch {
	case first != nil:
		return first, nil
	case errors.Is(err, context.DeadlineExceeded):
		return nil, fmt.Errorf("dhcpns: DHCP probe for %s on bridge %s: no OFFER after %d DISCOVERs (is the MAC in the hosts file? is dnsmasq alive with an address on its interface?): %w", clientMAC, probeBridge(networkID, opts), sends, ErrNoReply)
	}
	return nil, err
}

// ProbeDHCPServers looks for DHCP servers other than Neutron's on the
// network (this creates a probe endpoint and sends packets, as ProbeDHCP).
// It sends DISCOVERs for a MAC no port has (a random locally administered
// one) onto the network's bridge every opts.Retransmit and returns every
// OFFER that came within opts.Timeout, one per server, offered address
// and server MAC, in the order they came. Neutron's dnsmasq answers only
// the MACs of its hosts file, so on a healthy Neutron network nothing
// answers: each OFFER comes from another DHCP server on the network (a
// rogue one, or a router's), which guests may take their addresses,
// gateways and DNS from. No OFFER is a nil slice and a nil error; the
// error is ProbeDHCP's (a missing bridge, no privileges, ctx).
func ProbeDHCPServers(ctx context.Context, cfg *Config, networkID string, opts *DHCPProbeOptions) ([]DHCPOffer, error) {
	mac := make(hwaddr.MAC, 6)
	if _, err := randRead(mac); err != nil {
		return nil, fmt.Errorf("dhcpns: DHCP servers probe: random MAC: %w", err)
	}
	mac[0] = mac[0]&^1 | 2 // unicast, locally administered
	var offers []DHCPOffer
	_, err := probeDHCP(ctx, cfg, networkID, mac, opts, func(o *DHCPOffer) bool {
		if !slices.ContainsFunc(offers, func(p DHCPOffer) bool {
			return p.Server == o.Server && p.IP == o.IP && p.ServerMAC.Equal(o.ServerMAC)
		}) {
			offers = append(offers, *o)
		}
		return false
	})
	if err != nil && !errors.Is(err, context.DeadlineExceeded) {
		return offers, err
	}
	return offers, nil
}

// probeBridge is the bridge a probe of the network uses.
func probeBridge(networkID string, opts *DHCPProbeOptions) string {
	if opts != nil && opts.Bridge != "" {
		return opts.Bridge
	}
	return bridgeName(networkID)
}

// probeDHCP sends DISCOVERs for clientMAC from a probe endpoint on the
// network's bridge (see ProbeDHCP) every opts.Retransmit and hands each
// OFFER to each until each returns true or opts.Timeout passes. It returns
// the number of DISCOVERs sent and why it stopped: nil when each said so,
// context.DeadlineExceeded (wrapped) when the timeout or ctx's deadline
// came first, ctx's error when it was canceled, or the setup's error.
func probeDHCP(ctx context.Context, cfg *Config, networkID string, clientMAC hwaddr.MAC, opts *DHCPProbeOptions, each func(*DHCPOffer) bool) (int, error) {
	sends := 0
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	bridge := probeBridge(networkID, opts)
	brNS := opts.orDefault().BridgeNetNSPath
	fail := func(f string, a ...any) error {
		return fmt.Errorf("dhcpns: DHCP probe for %s on bridge %s: "+f, append([]any{clientMAC, bridge}, a...)...)
	}

	var h *netlink.Handle
	if err := doInNetNS(brNS, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}); err != nil {
		return sends, fail("netlink in %s: %w", brNS, err)
	}
	defer h.Close()
	br, err := h.LinkByName(bridge)
	if err != nil {
		return sends, fail("%w: no bridge %s in %s (is the network's DHCP agent or a VM on this node? set DHCPProbeOptions.Bridge)", ErrNotFound, bridge, brNS)
	}
	if _, ok := br.(*netlink.Bridge); !ok {
		return sends, fail("%s is a %s, not a bridge", bridge, br.Type())
	}

	probeNS, err := newNetNS()
	if err != nil {
		return sends, fail("create probe namespace: %w", err)
	}
	defer probeNS.Close()

	suffix := randHex(6)
	hostEnd, probeEnd := "dhp-"+suffix, "dhq-"+suffix
	veth := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: hostEnd, MasterIndex: br.Attrs().Index}, PeerName: probeEnd, PeerNamespace: netlink.NsFd(int(probeNS.Fd()))}
	if err := h.LinkAdd(veth); err != nil {
		return sends, fail("add probe veth %s: %w", hostEnd, err)
	}
	log := cfg.logger()
	log.Debug("dhcpns: DHCP probe endpoint created", "bridge", bridge, "veth", hostEnd, "client_mac", clientMAC.String())
	defer func() {
		if l, err := h.LinkByName(hostEnd); err == nil {
			err = h.LinkDel(l)
			log.Debug("dhcpns: DHCP probe endpoint removed", "veth", hostEnd, "err", err)
		}
	}()
	hl, err := h.LinkByName(hostEnd)
	if err != nil {
		return sends, fail("probe veth %s vanished: %w", hostEnd, err)
	}
	if err := h.LinkSetUp(hl); err != nil {
		return sends, fail("set %s up: %w", hostEnd, err)
	}

	var conn *packet.Conn
	var srcMAC hwaddr.MAC
	err = doInNetNSFile(probeNS, "probe namespace", func() error {
		l, err := netlink.LinkByName(probeEnd)
		if err != nil {
			return err
		}
		if err := netlink.LinkSetUp(l); err != nil {
			return err
		}
		ifi, err := net.InterfaceByName(probeEnd)
		if err != nil {
			return err
		}
		srcMAC = hwaddr.MAC(ifi.HardwareAddr)
		conn, err = packet.Listen(ifi, packet.Raw, etherTypeIPv4, nil)
		return err
	})
	if err != nil {
		return sends, fail("probe endpoint %s: %w", probeEnd, err)
	}
	defer conn.Close()
	// The first DISCOVER is lost if sent before the bridge port forwards:
	// wait for the host end to be operationally up.
	for {
		l, err := h.LinkByName(hostEnd)
		if err == nil && l.Attrs().OperState == netlink.OperUp {
			break
		}
		if ctx.Err() != nil {
			return sends, fail("probe veth %s never came up: %w", hostEnd, ctx.Err())
		}
		time.Sleep(time.Millisecond)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	xid, err := dhcpv4.GenerateTransactionID()
	if err != nil {
		return sends, fail("transaction id: %w", err)
	}
	frame, err := discoverFrame(srcMAC, clientMAC, xid)
	if err != nil {
		return sends, fail("build DISCOVER: %w", err)
	}
	bcast := &packet.Addr{HardwareAddr: net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}}
	buf := make([]byte, 1514)
	var sentAt time.Time
	next := time.Now()
	for {
		if now := time.Now(); !now.Before(next) {
			if _, err := conn.WriteTo(frame, bcast); err != nil {
				return sends, fail("send DISCOVER: %w", err)
			}
			sends++
			sentAt = time.Now()
			next = sentAt.Add(opts.retransmit())
		}
		conn.SetReadDeadline(next)
		if ctx.Err() != nil {
			conn.SetReadDeadline(time.Unix(1, 0))
		}
		n, _, err := conn.ReadFrom(buf)
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return sends, cerr
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				continue
			}
			return sends, fail("read: %w", err)
		}
		if o, ok := parseOfferFrame(buf[:n], xid); ok {
			o.RTT = time.Since(sentAt)
			if each(o) {
				return sends, nil
			}
		}
	}
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	if _, err := randRead(b); err != nil {
		// Fall back on the clock; names only need to be unlikely to clash.
		t := time.Now().UnixNano()
		for i := range b {
			b[i] = byte(t >> (8 * i))
		}
	}
	return fmt.Sprintf("%x", b)[:n]
}
