package demo

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/internal/tuntap"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/linuxbridge"
)

// Config tunes Build. A nil *Config means defaults.
type Config struct {
	// Dir is where the namespaces are bind-mounted. Empty means a new
	// temporary directory, removed by Close.
	Dir string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
}

// Port is one Neutron port of the demo network.
type Port struct {
	// ID is the (random) Neutron port ID.
	ID string `json:"id"`
	// Device is the port's device on the bridge (tap…).
	Device string `json:"device"`
	// MAC is the Neutron port's MAC (fa:16:3e:…); a guest tap's own MAC is
	// linuxbridge.TapMAC of it.
	MAC net.HardwareAddr `json:"mac"`
	// Role is "compute" (a guest's tap) or "dhcp" (a DHCP port's veth).
	Role string `json:"role"`
	// Running reports whether a guest holds the tap open (carrier).
	Running bool `json:"running"`
}

// Topology is a built demo. Close removes it. It is not safe for
// concurrent use.
type Topology struct {
	// Dir holds the namespaces' bind mounts.
	Dir string
	// Host is the namespace standing in for the compute node (holds the
	// bridge); HostPath is its path under Dir.
	Host, HostPath string
	// Gateway and DHCP are the other namespaces' paths.
	Gateway, DHCP string
	// NetworkID is the (random) Neutron network ID; Bridge is its brq.
	NetworkID, Bridge string
	// Uplink is the bridge's "physical" port (a veth named eth2).
	Uplink string
	// GatewayMAC is the MAC of the gateway behind the uplink.
	GatewayMAC net.HardwareAddr
	// Ports are the network's Neutron ports.
	Ports []Port

	log     *slog.Logger
	ownDir  bool
	mounts  []string
	tapFile *os.File
}

func randUUID() string {
	b := make([]byte, 16)
	rand.Read(b)
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

func randNeutronMAC() net.HardwareAddr {
	m := net.HardwareAddr{0xfa, 0x16, 0x3e, 0, 0, 0}
	rand.Read(m[3:])
	return m
}

// Build creates the demo topology. On error (or ctx cancellation) it
// removes whatever it had created.
func Build(ctx context.Context, cfg *Config) (t *Topology, err error) {
	if cfg == nil {
		cfg = &Config{}
	}
	t = &Topology{Dir: cfg.Dir, log: cfg.Logger}
	if t.log == nil {
		t.log = slog.New(slog.DiscardHandler)
	}
	defer func() {
		if err != nil {
			t.Close()
			t = nil
		}
	}()
	if t.Dir == "" {
		if t.Dir, err = os.MkdirTemp("", "vifpath-demo-"); err != nil {
			return nil, fmt.Errorf("demo: %w", err)
		}
		t.ownDir = true
	}
	t.NetworkID = randUUID()
	t.Bridge = linuxbridge.NetworkBridgeName(t.NetworkID)
	t.Host = "compute1"
	t.HostPath = filepath.Join(t.Dir, t.Host)
	dhcpName := "qdhcp-" + t.NetworkID
	t.Gateway, t.DHCP = filepath.Join(t.Dir, "gateway"), filepath.Join(t.Dir, dhcpName)
	for _, p := range []string{t.HostPath, t.Gateway, t.DHCP} {
		if err := newNetNS(p); err != nil {
			return nil, err
		}
		t.mounts = append(t.mounts, p)
	}
	t.log.Info("demo: namespaces created", "dir", t.Dir)
	if err := ctx.Err(); err != nil {
		return nil, err
	}

	host, err := handleIn(t.HostPath)
	if err != nil {
		return nil, err
	}
	defer host.Close()
	gw, err := handleIn(t.Gateway)
	if err != nil {
		return nil, err
	}
	defer gw.Close()
	dhcp, err := handleIn(t.DHCP)
	if err != nil {
		return nil, err
	}
	defer dhcp.Close()

	// The network's bridge, as the linuxbridge agent makes it.
	if err := host.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: t.Bridge}}); err != nil {
		return nil, fmt.Errorf("demo: add bridge %s: %w", t.Bridge, err)
	}
	br, err := host.LinkByName(t.Bridge)
	if err != nil {
		return nil, err
	}
	// The provider uplink: eth2 on the host, the gateway's leg behind it.
	t.Uplink = "eth2"
	if err := vethTo(host, t.Uplink, t.Gateway, "gw0"); err != nil {
		return nil, err
	}
	// The DHCP port: tap<id> on the bridge, ns-<id> in qdhcp-<network>.
	dhcpPort := Port{ID: randUUID(), MAC: randNeutronMAC(), Role: "dhcp", Running: true}
	dhcpPort.Device = linuxbridge.PortTapName(dhcpPort.ID)
	nsDev := linuxbridge.PortNSName(dhcpPort.ID)
	if err := vethTo(host, dhcpPort.Device, t.DHCP, nsDev); err != nil {
		return nil, err
	}
	// A running guest's tap (held open, as qemu does) and a stopped one's.
	vm1 := Port{ID: randUUID(), MAC: randNeutronMAC(), Role: "compute", Running: true}
	vm1.Device = linuxbridge.PortTapName(vm1.ID)
	vm2 := Port{ID: randUUID(), MAC: randNeutronMAC(), Role: "compute"}
	vm2.Device = linuxbridge.PortTapName(vm2.ID)
	err = inNetNS(t.HostPath, func() error {
		f, err := tuntap.Open(vm1.Device)
		if err != nil {
			return err
		}
		t.tapFile = f
		f2, err := tuntap.Open(vm2.Device)
		if err != nil {
			return err
		}
		defer f2.Close()
		return tuntap.Persist(f2)
	})
	if err != nil {
		return nil, fmt.Errorf("demo: taps: %w", err)
	}
	t.Ports = []Port{dhcpPort, vm1, vm2}

	set := func(h *netlink.Handle, name string, mac net.HardwareAddr, master netlink.Link, up bool) error {
		l, err := h.LinkByName(name)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", name, err)
		}
		if mac != nil {
			if err := h.LinkSetHardwareAddr(l, mac); err != nil {
				return fmt.Errorf("demo: set %s mac: %w", name, err)
			}
		}
		if master != nil {
			if err := h.LinkSetMaster(l, master); err != nil {
				return fmt.Errorf("demo: enslave %s: %w", name, err)
			}
		}
		if up {
			if err := h.LinkSetUp(l); err != nil {
				return fmt.Errorf("demo: set %s up: %w", name, err)
			}
		}
		return nil
	}
	for _, s := range []struct {
		h      *netlink.Handle
		name   string
		mac    net.HardwareAddr
		master netlink.Link
		up     bool
	}{
		{host, t.Bridge, nil, nil, true},
		{host, t.Uplink, nil, br, true},
		{gw, "gw0", nil, nil, true},
		{host, dhcpPort.Device, nil, br, true},
		{dhcp, nsDev, dhcpPort.MAC, nil, true},
		{host, vm1.Device, net.HardwareAddr(linuxbridge.TapMAC(hwaddr.MAC(vm1.MAC))), br, true},
		{host, vm2.Device, net.HardwareAddr(linuxbridge.TapMAC(hwaddr.MAC(vm2.MAC))), br, false},
	} {
		if err := set(s.h, s.name, s.mac, s.master, s.up); err != nil {
			return nil, err
		}
	}
	for _, a := range []struct {
		h    *netlink.Handle
		dev  string
		cidr string
	}{{gw, "gw0", "192.168.31.65/27"}, {dhcp, nsDev, "192.168.31.66/27"}} {
		if err := addAddr(a.h, a.dev, a.cidr); err != nil {
			return nil, err
		}
	}
	gwLink, err := gw.LinkByName("gw0")
	if err != nil {
		return nil, err
	}
	t.GatewayMAC = gwLink.Attrs().HardwareAddr
	t.log.Info("demo: topology built", "bridge", t.Bridge)

	// Frames from the gateway, the DHCP port and the running guest, so the
	// bridge learns their MACs (the veths need a moment for carrier).
	nsLink, err := dhcp.LinkByName(nsDev)
	if err != nil {
		return nil, err
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		if err := sendFrames(t.Gateway, gwLink.Attrs().Index, t.GatewayMAC); err != nil {
			return nil, err
		}
		if err := sendFrames(t.DHCP, nsLink.Attrs().Index, dhcpPort.MAC); err != nil {
			return nil, err
		}
		if _, err := t.tapFile.Write(frame(vm1.MAC, tuntap.VnetHdrLen)); err != nil {
			return nil, fmt.Errorf("demo: write to %s: %w", vm1.Device, err)
		}
		// The kernel sets the bridge's operational state asynchronously
		// (linkwatch); wait for "up" too, so the demo shows a settled node.
		if n, err := learned(host, br.Attrs().Index, t.GatewayMAC, dhcpPort.MAC, vm1.MAC); err == nil && n == 3 && bridgeUp(host, t.Bridge) {
			break
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("demo: the bridge did not come up and learn the demo MACs in 5 s")
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(50 * time.Millisecond):
		}
	}
	t.log.Info("demo: MACs learned")
	return t, nil
}

// bridgeUp reports whether the bridge's operational state is up.
func bridgeUp(h *netlink.Handle, name string) bool {
	l, err := h.LinkByName(name)
	return err == nil && l.Attrs().OperState == netlink.OperUp
}

// learned counts how many of macs the bridge's FDB holds.
func learned(h *netlink.Handle, bridge int, macs ...net.HardwareAddr) (int, error) {
	ns, err := h.NeighList(0, unix.AF_BRIDGE)
	if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
		return 0, err
	}
	n := 0
	for _, m := range macs {
		for _, e := range ns {
			if e.MasterIndex == bridge && e.HardwareAddr.String() == m.String() {
				n++
				break
			}
		}
	}
	return n, nil
}

// Close removes the topology: closes the guest's tap, unmounts the
// namespaces (the kernel then deletes their links) and removes the
// temporary directory. It is idempotent.
func (t *Topology) Close() error {
	if t == nil {
		return nil
	}
	var errs []error
	if t.tapFile != nil {
		errs = append(errs, t.tapFile.Close())
		t.tapFile = nil
	}
	for _, p := range t.mounts {
		if err := unix.Unmount(p, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("demo: unmount %s: %w", p, err))
		}
		if err := os.Remove(p); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
	}
	t.mounts = nil
	if t.ownDir && t.Dir != "" {
		errs = append(errs, os.Remove(t.Dir))
		t.ownDir = false
	}
	return errors.Join(errs...)
}

// newNetNS creates a network namespace bind-mounted at path, as `ip netns
// add` does, on a fresh locked goroutine whose thread is moved back (or
// ended if that fails).
func newNetNS(path string) error {
	if err := netns.Add(path); err != nil {
		return fmt.Errorf("demo: %w: run as root", err)
	}
	return nil
}

// inNetNS runs fn on a fresh goroutine locked to its thread, inside the
// namespace at path; the thread is returned to the pool only if it could be
// moved back. The package's only way into a namespace.
func inNetNS(path string, fn func() error) error {
	err := netns.Do(path, fn)
	if errors.As(err, new(*netns.Error)) {
		return fmt.Errorf("demo: %w", err)
	}
	return err
}

func handleIn(path string) (*netlink.Handle, error) {
	var h *netlink.Handle
	err := inNetNS(path, func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("demo: netlink handle in %s: %w", path, err)
	}
	return h, nil
}

func vethTo(h *netlink.Handle, name, peerNS, peerName string) error {
	f, err := os.Open(peerNS)
	if err != nil {
		return err
	}
	defer f.Close()
	v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name}, PeerName: peerName, PeerNamespace: netlink.NsFd(int(f.Fd()))}
	if err := h.LinkAdd(v); err != nil {
		return fmt.Errorf("demo: add veth %s/%s: %w", name, peerName, err)
	}
	return nil
}

func addAddr(h *netlink.Handle, dev, cidr string) error {
	l, err := h.LinkByName(dev)
	if err != nil {
		return err
	}
	p := netip.MustParsePrefix(cidr)
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), 32)}}
	if err := h.AddrAdd(l, a); err != nil {
		return fmt.Errorf("demo: add %s to %s: %w", cidr, dev, err)
	}
	return nil
}

// frame is a broadcast frame from src with an experimental EtherType,
// after pad bytes of (zero) virtio-net header.
func frame(src net.HardwareAddr, pad int) []byte {
	b := make([]byte, pad+60)
	e := b[pad:]
	copy(e[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(e[6:12], src)
	binary.BigEndian.PutUint16(e[12:], 0x88b5)
	copy(e[14:], "vifpath demo")
	return b
}

func sendFrames(nsPath string, ifindex int, src net.HardwareAddr) error {
	return inNetNS(nsPath, func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("demo: AF_PACKET socket: %w: needs CAP_NET_RAW", err)
		}
		defer unix.Close(fd)
		sa := &unix.SockaddrLinklayer{Ifindex: ifindex, Halen: 6}
		copy(sa.Addr[:], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		return unix.Sendto(fd, frame(src, 0), 0, sa)
	})
}
