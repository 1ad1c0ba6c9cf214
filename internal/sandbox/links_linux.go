package sandbox

import (
	"context"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/tuntap"
)

// The functions on a *netlink.Handle serve callers that keep one handle per
// namespace for a batch of changes; NetNS's methods of the same names use
// the namespace's shared handle.

// AddBridge creates a Linux bridge named name through h, and sets it up.
func AddBridge(h *netlink.Handle, name string) error {
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("sandbox: add bridge %s: %w", name, err)
	}
	return SetLink(h, name, LinkSettings{Up: true})
}

// AddVeth creates a veth pair through h: name on h's side, peerName in the
// namespace bind-mounted at peerNS (which may be h's own). Both ends are
// left down. Removing either namespace deletes the pair.
func AddVeth(h *netlink.Handle, name, peerNS, peerName string) error {
	f, err := os.Open(peerNS)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
	}
	defer f.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName, PeerNamespace: netlink.NsFd(int(f.Fd()))}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("sandbox: add veth %s / %s (in %s): %w", name, peerName, peerNS, err)
	}
	return nil
}

// LinkSettings are what SetLink changes; a zero field changes nothing.
type LinkSettings struct {
	// MAC is the link's new hardware address (a net.HardwareAddr or an
	// hwaddr.MAC); nil leaves it.
	MAC []byte
	// Master is the bridge to attach the link to; "" leaves it.
	Master string
	// Up sets the link up; false leaves its state.
	Up bool
}

// SetLink applies s to the link named name, through h: first the MAC,
// then the master, then up.
func SetLink(h *netlink.Handle, name string, s LinkSettings) error {
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("sandbox: link %s: %w", name, err)
	}
	if s.MAC != nil {
		if err := h.LinkSetHardwareAddr(l, s.MAC); err != nil {
			return fmt.Errorf("sandbox: set %s mac %s: %w", name, net.HardwareAddr(s.MAC), err)
		}
	}
	if s.Master != "" {
		m, err := h.LinkByName(s.Master)
		if err != nil {
			return fmt.Errorf("sandbox: bridge %s: %w", s.Master, err)
		}
		if err := h.LinkSetMasterByIndex(l, m.Attrs().Index); err != nil {
			return fmt.Errorf("sandbox: enslave %s to %s: %w", name, s.Master, err)
		}
	}
	if s.Up {
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("sandbox: set %s up: %w", name, err)
		}
	}
	return nil
}

// AddAddr adds the address p (address and prefix length,
// "192.168.31.70/27") to the link named dev, through h.
func AddAddr(h *netlink.Handle, dev string, p netip.Prefix) error {
	l, err := h.LinkByName(dev)
	if err != nil {
		return fmt.Errorf("sandbox: link %s: %w", dev, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("sandbox: add %s to %s: %w", p, dev, err)
	}
	return nil
}

// DefaultOperUpTimeout is how long WaitOperUp waits when given no
// deadline: the kernel's link watcher reports carrier up to a second late.
const DefaultOperUpTimeout = 3 * time.Second

// WaitOperUp waits until every named link is operationally up, for at
// most timeout (zero means DefaultOperUpTimeout) or until ctx ends. A
// bridge port forwards only from then on: frames sent before are dropped.
// A tap that a process holds reports operstate "unknown" with carrier
// (LOWER_UP): that counts as up too.
func WaitOperUp(ctx context.Context, h *netlink.Handle, timeout time.Duration, names ...string) error {
	if timeout <= 0 {
		timeout = DefaultOperUpTimeout
	}
	deadline := time.Now().Add(timeout)
	for _, name := range names {
		for {
			l, err := h.LinkByName(name)
			if err == nil && (l.Attrs().OperState == netlink.OperUp ||
				l.Attrs().OperState == netlink.OperUnknown && l.Attrs().RawFlags&unix.IFF_LOWER_UP != 0) {
				break
			}
			if time.Now().After(deadline) {
				state := "absent"
				if err == nil {
					state = l.Attrs().OperState.String()
				}
				return fmt.Errorf("sandbox: %s not operationally up after %v (%s)", name, timeout, state)
			}
			select {
			case <-ctx.Done():
				return ctx.Err()
			case <-time.After(2 * time.Millisecond):
			}
		}
	}
	return nil
}

// withHandle runs fn with the namespace's shared handle.
func (n *NetNS) withHandle(fn func(h *netlink.Handle) error) error {
	h, err := n.Handle()
	if err != nil {
		return err
	}
	if err := fn(h); err != nil {
		return fmt.Errorf("%w (in %s)", err, n.Name)
	}
	return nil
}

// Link looks up a link by name in the namespace.
func (n *NetNS) Link(name string) (netlink.Link, error) {
	var l netlink.Link
	err := n.withHandle(func(h *netlink.Handle) error {
		var err error
		if l, err = h.LinkByName(name); err != nil {
			return fmt.Errorf("sandbox: link %s: %w", name, err)
		}
		return nil
	})
	return l, err
}

// AddBridge creates a Linux bridge, up, in the namespace.
func (n *NetNS) AddBridge(name string) error {
	return n.withHandle(func(h *netlink.Handle) error { return AddBridge(h, name) })
}

// AddVeth creates a veth pair: name in n and peerName in peer (which may
// be n). Both ends are left down.
func (n *NetNS) AddVeth(name string, peer *NetNS, peerName string) error {
	return n.withHandle(func(h *netlink.Handle) error { return AddVeth(h, name, peer.Path, peerName) })
}

// SetLink applies s to the named link (see the function SetLink).
func (n *NetNS) SetLink(name string, s LinkSettings) error {
	return n.withHandle(func(h *netlink.Handle) error { return SetLink(h, name, s) })
}

// SetDown sets the named link down.
func (n *NetNS) SetDown(name string) error {
	return n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(name)
		if err == nil {
			err = h.LinkSetDown(l)
		}
		if err != nil {
			return fmt.Errorf("sandbox: set %s down: %w", name, err)
		}
		return nil
	})
}

// Release detaches the named port from its bridge.
func (n *NetNS) Release(port string) error {
	return n.withHandle(func(h *netlink.Handle) error {
		l, err := h.LinkByName(port)
		if err == nil {
			err = h.LinkSetNoMaster(l)
		}
		if err != nil {
			return fmt.Errorf("sandbox: release %s: %w", port, err)
		}
		return nil
	})
}

// AddAddr adds an address to the named link (see the function AddAddr).
func (n *NetNS) AddAddr(dev string, p netip.Prefix) error {
	return n.withHandle(func(h *netlink.Handle) error { return AddAddr(h, dev, p) })
}

// WaitOperUp waits until the named links are operationally up (see the
// function WaitOperUp).
func (n *NetNS) WaitOperUp(ctx context.Context, timeout time.Duration, names ...string) error {
	return n.withHandle(func(h *netlink.Handle) error { return WaitOperUp(ctx, h, timeout, names...) })
}

// AddTap creates a persistent tap device in the namespace, as libvirt
// makes them (tuntap.Flags: IFF_TAP|IFF_NO_PI|IFF_VNET_HDR). With no
// process attached its carrier is down, like the tap of a stopped guest;
// OpenTap gives one with carrier.
func (n *NetNS) AddTap(name string) error {
	err := n.Do(func() error {
		f, err := tuntap.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		return tuntap.Persist(f)
	})
	if err != nil {
		return fmt.Errorf("sandbox: add tap %s in %s: %w", name, n.Name, err)
	}
	return nil
}

// OpenTap opens the tap device (creating it if needed) as qemu does for a
// running guest: while the returned file is open the tap has carrier once
// up. Frames written to it leave the tap towards its bridge, each after
// tuntap.VnetHdrLen bytes of virtio-net header. The caller closes it.
func (n *NetNS) OpenTap(name string) (*os.File, error) {
	var f *os.File
	err := n.Do(func() error {
		var err error
		f, err = tuntap.Open(name)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: open tap %s in %s: %w", name, n.Name, err)
	}
	return f, nil
}

// Command returns an exec.Cmd that runs name inside the namespace through
// nsenter (util-linux), for commands the caller only runs and waits for.
// Start long-lived daemons with Start instead.
func (n *NetNS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
}

// Start starts cmd from a thread inside the namespace, so the process is
// born there (without nsenter in between: its pid is the program's).
func (n *NetNS) Start(cmd *exec.Cmd) error {
	return n.Do(cmd.Start)
}

// WithLink runs fn with a netlink handle bound to the namespace and the
// named link, for a change the methods above do not make (MTU, learning,
// deletion, FDB entries). The handle is made for the call and closed after
// it, so it suits a NetNSAt too.
func (n *NetNS) WithLink(name string, fn func(h *netlink.Handle, l netlink.Link) error) error {
	h, err := n.NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	l, err := h.LinkByName(name)
	if err != nil {
		return fmt.Errorf("sandbox: link %s in %s: %w", name, n.Name, err)
	}
	if err := fn(h, l); err != nil {
		return fmt.Errorf("sandbox: %s in %s: %w", name, n.Name, err)
	}
	return nil
}
