package demo

import (
	"cmp"
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/linuxbridge"
)

// The walkthrough's management network (eth1): the controller is
// 10.64.33.64, compute1 10.64.33.65.
var (
	mgmtController = netip.MustParsePrefix("10.64.33.64/24")
	mgmtCompute    = netip.MustParsePrefix("10.64.33.65/24")
)

// BuildTwoNode builds the two nodes (see TwoNode), starts dnsmasq in the
// controller's qdhcp namespace and starts the guest on compute1 until it
// has a lease across the provider switch: as BuildPath's, cfg.Guest
// chooses it (GuestNetNS, the zero value: a namespace whose udhcpc
// leases; GuestLibvirt: a qemu TCG domain run by a libvirtd started in
// compute1's namespace, whose own udhcpc leases; GuestAuto: the libvirt
// guest when libvirtd, qemu and the image are there, else the namespace
// guest, with Path.GuestWhy saying why). On error (or ctx cancellation)
// it removes whatever it had created.
func BuildTwoNode(ctx context.Context, cfg *PathConfig) (_ *TwoNode, err error) {
	cfg = cmp.Or(cfg, &PathConfig{}) // nil means all defaults
	p, bins, err := newPath(cfg)
	if err != nil {
		return nil, err
	}
	guest := p.GuestKind
	tn := &TwoNode{Path: p, Switch: "provider", SwitchPorts: map[string]string{ControllerName: "sw-" + ControllerName, ComputeName: "sw-" + ComputeName}}
	defer func() {
		if err != nil {
			p.Close()
		}
	}()
	if err := p.layout("vifpath-demo-tn"); err != nil {
		return nil, err
	}
	tn.DHCPMAC = sandbox.RandNeutronMAC()
	p.AgentConfig = filepath.Join(p.Dir, "linuxbridge_agent.ini")
	// Under StateDir, which Path.Close removes with the rest.
	tn.ControllerAgentConfig = filepath.Join(p.StateDir, "controller_linuxbridge_agent.ini")
	for _, f := range []string{p.AgentConfig, tn.ControllerAgentConfig} {
		if err := writeAgentConfig(f, p.Uplink); err != nil {
			return nil, err
		}
	}
	p.HostPath = filepath.Join(p.Dir, ComputeName)
	tn.ControllerNS = filepath.Join(p.Dir, ControllerName)
	tn.SwitchNS = filepath.Join(p.Dir, "switch")
	p.DHCP = filepath.Join(p.Dir, "qdhcp-"+p.NetworkID)
	nss := []string{p.HostPath, tn.ControllerNS, tn.SwitchNS, p.DHCP}
	if guest == GuestNetNS {
		p.Guest = filepath.Join(p.Dir, "guest")
		nss = append(nss, p.Guest)
	}
	if err := p.createNetNS(nss...); err != nil {
		return nil, err
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := tn.wire(); err != nil {
		return nil, err
	}
	p.log.Info("demo: two nodes wired", "bridge", p.Bridge, "tap", p.Tap)
	if err := p.startDnsmasq(ctx, bins.dnsmasq); err != nil {
		return nil, err
	}
	if guest == GuestLibvirt {
		// The libvirt guest of the one-node demo, on compute1: libvirt
		// makes the tap on compute1's brq, the guest's DISCOVER crosses
		// the provider switch to the controller's dnsmasq.
		if err := p.startLibvirtGuest(ctx, cfg, bins.libvirt); err != nil {
			return nil, err
		}
	} else if err := p.guestDHCP(ctx, bins.busybox); err != nil {
		return nil, err
	}
	p.log.Info("demo: guest on compute1 leased its address across the provider switch", "ip", p.IP, "guest", p.GuestKind)
	return tn, nil
}

func writeAgentConfig(path, nic string) error {
	agent := "[linux_bridge]\nphysical_interface_mappings = provider:" + nic + "\n\n[vxlan]\nenable_vxlan = false\n"
	if err := os.WriteFile(path, []byte(agent), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	return nil
}

// wire creates the links of both nodes, the switch and the guest.
func (tn *TwoNode) wire() error {
	p := tn.Path
	hs, closeAll, err := handles(p.HostPath, tn.ControllerNS, tn.SwitchNS, p.DHCP, p.Guest)
	if err != nil {
		return err
	}
	defer closeAll()
	comp, ctl, sw := hs[p.HostPath], hs[tn.ControllerNS], hs[tn.SwitchNS]
	for _, b := range []struct {
		h    *netlink.Handle
		name string
	}{{comp, p.Bridge}, {ctl, p.Bridge}, {sw, tn.Switch}} {
		if err := sandbox.AddBridge(b.h, b.name); err != nil {
			return err
		}
	}
	dhcpTap := linuxbridge.PortTapName(p.DHCPPortID)
	for _, v := range []struct {
		h                  *netlink.Handle
		name, peerNS, peer string
	}{
		{comp, p.Uplink, tn.SwitchNS, tn.SwitchPorts[ComputeName]},
		{ctl, p.Uplink, tn.SwitchNS, tn.SwitchPorts[ControllerName]},
		{comp, "eth1", tn.ControllerNS, "eth1"},
		{ctl, dhcpTap, p.DHCP, p.DHCPIf},
		{comp, p.Tap, p.Guest, "eth0"},
	} {
		if v.peerNS == "" {
			continue // the libvirt guest's tap
		}
		if err := sandbox.AddVeth(v.h, v.name, v.peerNS, v.peer); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		h            *netlink.Handle
		name, master string
		mac          net.HardwareAddr
	}{
		{comp, p.Bridge, "", nil},
		{comp, p.Uplink, p.Bridge, nil},
		{comp, p.Tap, p.Bridge, net.HardwareAddr(linuxbridge.TapMAC(hwaddr.MAC(p.MAC)))},
		{comp, "eth1", "", nil},
		{ctl, p.Bridge, "", nil},
		{ctl, p.Uplink, p.Bridge, nil},
		{ctl, dhcpTap, p.Bridge, nil},
		{ctl, "eth1", "", nil},
		{sw, tn.Switch, "", nil},
		{sw, tn.SwitchPorts[ComputeName], tn.Switch, nil},
		{sw, tn.SwitchPorts[ControllerName], tn.Switch, nil},
		{hs[p.DHCP], "lo", "", nil},
		{hs[p.DHCP], p.DHCPIf, "", tn.DHCPMAC},
		{hs[p.Guest], "lo", "", nil},
		{hs[p.Guest], "eth0", "", p.MAC},
	} {
		if s.h == nil || s.name == p.Tap && p.Guest == "" {
			continue // the libvirt guest: libvirt makes and enslaves the tap
		}
		if err := sandbox.SetLink(s.h, s.name, sandbox.LinkSettings{MAC: s.mac, Master: s.master, Up: true}); err != nil {
			return err
		}
	}
	if err := sandbox.AddAddr(comp, "eth1", mgmtCompute); err != nil {
		return err
	}
	if err := sandbox.AddAddr(ctl, "eth1", mgmtController); err != nil {
		return err
	}
	if err := sandbox.AddAddr(hs[p.DHCP], p.DHCPIf, netip.MustParsePrefix("192.168.31.70/27")); err != nil {
		return err
	}
	if err := sandbox.NetNSAt(p.DHCP).TxChecksumOff(p.DHCPIf); err != nil {
		return err
	}
	up := []string{p.Bridge, p.Uplink, p.Tap}
	if p.Guest == "" {
		up = up[:2]
	}
	if err := sandbox.WaitOperUp(context.Background(), comp, 0, up...); err != nil {
		return err
	}
	if err := sandbox.WaitOperUp(context.Background(), ctl, 0, p.Bridge, p.Uplink, dhcpTap); err != nil {
		return err
	}
	return sandbox.WaitOperUp(context.Background(), sw, 0, tn.Switch)
}

// Break injects one of TwoNodeBreakages.
func (tn *TwoNode) Break(b Breakage) error {
	p := tn.Path
	switch b {
	case BreakTapDown, BreakDnsmasq:
		return p.Break(b)
	case BreakProviderWire:
		err := sandbox.NetNSAt(tn.SwitchNS).WithLink(tn.SwitchPorts[ComputeName], func(sw *netlink.Handle, l netlink.Link) error {
			return sw.LinkSetDown(l)
		})
		if err != nil {
			return fmt.Errorf("demo: set the provider switch's port down: %w", err)
		}
		return waitCarrier(p.HostPath, p.Uplink, false)
	case BreakUnknownUnicast:
		port := tn.SwitchPorts[ComputeName]
		err := sandbox.NetNSAt(tn.SwitchNS).WithLink(port, func(sw *netlink.Handle, l netlink.Link) error {
			if err := sw.LinkSetFlood(l, false); err != nil {
				return fmt.Errorf("flood off: %w", err)
			}
			return sw.LinkSetLearning(l, false)
		})
		if err != nil {
			return fmt.Errorf("demo: flooding and learning off on the provider switch's port: %w", err)
		}
		return flushLearned(tn.SwitchNS, port)
	case BreakWrongMapping:
		if err := writeAgentConfig(p.AgentConfig, "eth1"); err != nil {
			return err
		}
		h, err := sandbox.NetNSAt(p.HostPath).NewHandle()
		if err != nil {
			return err
		}
		defer h.Close()
		eth2, err := h.LinkByName(p.Uplink)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := h.LinkSetNoMaster(eth2); err != nil {
			return fmt.Errorf("demo: release %s: %w", p.Uplink, err)
		}
		if err := sandbox.SetLink(h, "eth1", sandbox.LinkSettings{Master: p.Bridge, Up: true}); err != nil {
			return err
		}
		if err := sandbox.WaitOperUp(context.Background(), h, 0, "eth1"); err != nil {
			return err
		}
		// As if the mapping had been wrong from the start (or the
		// bridges' ageing time had passed): neither bridge keeps what it
		// learned on its provider port while the wire was right.
		for _, ns := range []string{p.HostPath, tn.ControllerNS} {
			if err := flushLearned(ns, p.Uplink); err != nil {
				return err
			}
		}
		return nil
	}
	return fmt.Errorf("demo: unknown two-node breakage %q: want one of %v", b, TwoNodeBreakages())
}

// flushLearned deletes the FDB entries a bridge learned on its port dev
// in the namespace at ns (bridge fdb flush dev DEV dynamic).
func flushLearned(ns, dev string) error {
	h, err := sandbox.NetNSAt(ns).NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	es, err := h.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
	if err != nil {
		return fmt.Errorf("demo: the FDB of %s: %w", dev, err)
	}
	for _, n := range es {
		if n.State&(netlink.NUD_PERMANENT|netlink.NUD_NOARP) != 0 || n.LinkIndex != l.Attrs().Index || n.MasterIndex == 0 {
			continue
		}
		if err := h.NeighDel(&n); err != nil && !errors.Is(err, unix.ENOENT) {
			return fmt.Errorf("demo: forget %s on %s: %w", n.HardwareAddr, dev, err)
		}
	}
	return nil
}

// waitCarrier waits up to 2 s until dev in the namespace at ns has (or
// has lost) carrier.
func waitCarrier(ns, dev string, want bool) error {
	h, err := sandbox.NetNSAt(ns).NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	for deadline := time.Now().Add(2 * time.Second); ; {
		l, err := h.LinkByName(dev)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if (l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0) == want {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: %s: carrier still %t after 2 s", dev, !want)
		}
		time.Sleep(5 * time.Millisecond)
	}
}
