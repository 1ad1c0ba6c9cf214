package testutil

import (
	"net"
	"net/netip"
	"os"
	"os/exec"
	"testing"

	"github.com/vifpath/vifpath/internal/tuntap"
	"github.com/vishvananda/netlink"
)

// Link looks up a link by name in the namespace, failing the test if absent.
func (n *NetNS) Link(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	l, err := n.Handle(tb).LinkByName(name)
	if err != nil {
		tb.Fatalf("testutil: link %s in %s: %v", name, n.Name, err)
	}
	return l
}

// Bridge creates a Linux bridge, up, in the namespace.
func (n *NetNS) Bridge(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	h := n.Handle(tb)
	if err := h.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		tb.Fatalf("testutil: add bridge %s in %s: %v", name, n.Name, err)
	}
	n.SetUp(tb, name)
	return n.Link(tb, name)
}

// Veth creates a veth pair: name in n and peerName in peer (which may be n).
// Both ends are left down. Deleting either namespace deletes the pair.
func (n *NetNS) Veth(tb testing.TB, name string, peer *NetNS, peerName string) (netlink.Link, netlink.Link) {
	tb.Helper()
	pf := peer.Open(tb)
	defer pf.Close()
	v := &netlink.Veth{
		LinkAttrs:     netlink.LinkAttrs{Name: name},
		PeerName:      peerName,
		PeerNamespace: netlink.NsFd(int(pf.Fd())),
	}
	if err := n.Handle(tb).LinkAdd(v); err != nil {
		tb.Fatalf("testutil: add veth %s (%s) / %s (%s): %v", name, n.Name, peerName, peer.Name, err)
	}
	return n.Link(tb, name), peer.Link(tb, peerName)
}

// TapFlags are the flags libvirt opens tap devices with.
const TapFlags = tuntap.Flags

// Tap creates a persistent tap device in the namespace, as libvirt makes
// them (IFF_TAP|IFF_NO_PI|IFF_VNET_HDR). With no process attached its
// carrier is down, like the tap of a stopped guest; use AttachTap for one
// with carrier.
func (n *NetNS) Tap(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	err := n.Do(func() error {
		f, err := tuntap.Open(name)
		if err != nil {
			return err
		}
		defer f.Close()
		return tuntap.Persist(f)
	})
	if err != nil {
		tb.Fatalf("testutil: add tap %s in %s: %v", name, n.Name, err)
	}
	return n.Link(tb, name)
}

// AttachTap opens the tap device (creating it if needed) and keeps the file
// open until the test ends, as qemu does for a running guest, so the tap has
// carrier once it is up. Frames written to the returned file leave the tap
// towards its bridge (with a virtio-net header, since libvirt's flags
// include IFF_VNET_HDR: prefix each frame with VnetHdrLen zero bytes).
func (n *NetNS) AttachTap(tb testing.TB, name string) *os.File {
	tb.Helper()
	var f *os.File
	err := n.Do(func() error {
		var err error
		f, err = tuntap.Open(name)
		return err
	})
	if err != nil {
		tb.Fatalf("testutil: attach tap %s in %s: %v", name, n.Name, err)
	}
	tb.Cleanup(func() { f.Close() })
	return f
}

// VnetHdrLen is the size of the virtio-net header on a tap opened with
// IFF_VNET_HDR.
const VnetHdrLen = tuntap.VnetHdrLen

// SetUp brings a link up.
func (n *NetNS) SetUp(tb testing.TB, name string) {
	tb.Helper()
	if err := n.Handle(tb).LinkSetUp(n.Link(tb, name)); err != nil {
		tb.Fatalf("testutil: set %s up in %s: %v", name, n.Name, err)
	}
}

// SetDown brings a link down.
func (n *NetNS) SetDown(tb testing.TB, name string) {
	tb.Helper()
	if err := n.Handle(tb).LinkSetDown(n.Link(tb, name)); err != nil {
		tb.Fatalf("testutil: set %s down in %s: %v", name, n.Name, err)
	}
}

// SetMAC sets a link's hardware address.
// mac is a net.HardwareAddr or an hwaddr.MAC.
func (n *NetNS) SetMAC(tb testing.TB, name string, mac []byte) {
	tb.Helper()
	if err := n.Handle(tb).LinkSetHardwareAddr(n.Link(tb, name), mac); err != nil {
		tb.Fatalf("testutil: set %s mac %s in %s: %v", name, net.HardwareAddr(mac), n.Name, err)
	}
}

// Enslave attaches port to bridge (both in n).
func (n *NetNS) Enslave(tb testing.TB, port, bridge string) {
	tb.Helper()
	br := n.Link(tb, bridge)
	if err := n.Handle(tb).LinkSetMasterByIndex(n.Link(tb, port), br.Attrs().Index); err != nil {
		tb.Fatalf("testutil: enslave %s to %s in %s: %v", port, bridge, n.Name, err)
	}
}

// Release detaches port from its bridge.
func (n *NetNS) Release(tb testing.TB, port string) {
	tb.Helper()
	if err := n.Handle(tb).LinkSetNoMaster(n.Link(tb, port)); err != nil {
		tb.Fatalf("testutil: release %s in %s: %v", port, n.Name, err)
	}
}

// AddAddr adds an address in CIDR form ("192.168.31.70/27") to a link.
func (n *NetNS) AddAddr(tb testing.TB, name, cidr string) {
	tb.Helper()
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		tb.Fatalf("testutil: bad address %q: %v", cidr, err)
	}
	a := &netlink.Addr{IPNet: &net.IPNet{IP: p.Addr().AsSlice(), Mask: net.CIDRMask(p.Bits(), p.Addr().BitLen())}}
	if err := n.Handle(tb).AddrAdd(n.Link(tb, name), a); err != nil {
		tb.Fatalf("testutil: add %s to %s in %s: %v", cidr, name, n.Name, err)
	}
}

// Run runs a command with its network namespace set to n (through nsenter,
// so it works for namespaces outside /run/netns too) and returns its
// combined output, failing the test if it fails.
func (n *NetNS) Run(tb testing.TB, name string, args ...string) []byte {
	tb.Helper()
	out, err := n.Command(name, args...).CombinedOutput()
	if err != nil {
		tb.Fatalf("testutil: in %s: %s %v: %v\n%s", n.Name, name, args, err, out)
	}
	return out
}

// Command returns an exec.Cmd that runs name inside n (through nsenter from
// util-linux). The caller starts and waits for it.
func (n *NetNS) Command(name string, args ...string) *exec.Cmd {
	return exec.Command("nsenter", append([]string{"--net=" + n.Path, "--", name}, args...)...)
}
