package testutil

import (
	"context"
	"net/netip"
	"os"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/tuntap"
)

// Link looks up a link by name in the namespace, failing the test if absent.
func (n *NetNS) Link(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	l, err := n.NetNS.Link(name)
	check(tb, err)
	return l
}

// Bridge creates a Linux bridge, up, in the namespace.
func (n *NetNS) Bridge(tb testing.TB, name string) netlink.Link {
	tb.Helper()
	check(tb, n.AddBridge(name))
	return n.Link(tb, name)
}

// Veth creates a veth pair: name in n and peerName in peer (which may be n).
// Both ends are left down. Deleting either namespace deletes the pair.
func (n *NetNS) Veth(tb testing.TB, name string, peer *NetNS, peerName string) (netlink.Link, netlink.Link) {
	tb.Helper()
	check(tb, n.AddVeth(name, peer.NetNS, peerName))
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
	check(tb, n.AddTap(name))
	return n.Link(tb, name)
}

// AttachTap opens the tap device (creating it if needed) and keeps the file
// open until the test ends, as qemu does for a running guest, so the tap has
// carrier once it is up. Frames written to the returned file leave the tap
// towards its bridge (with a virtio-net header, since libvirt's flags
// include IFF_VNET_HDR: prefix each frame with VnetHdrLen zero bytes).
func (n *NetNS) AttachTap(tb testing.TB, name string) *os.File {
	tb.Helper()
	f, err := n.OpenTap(name)
	check(tb, err)
	tb.Cleanup(func() { f.Close() })
	return f
}

// VnetHdrLen is the size of the virtio-net header on a tap opened with
// IFF_VNET_HDR.
const VnetHdrLen = tuntap.VnetHdrLen

// SetUp brings a link up.
func (n *NetNS) SetUp(tb testing.TB, name string) {
	tb.Helper()
	check(tb, n.SetLink(name, sandbox.LinkSettings{Up: true}))
}

// SetDown brings a link down.
func (n *NetNS) SetDown(tb testing.TB, name string) {
	tb.Helper()
	check(tb, n.NetNS.SetDown(name))
}

// SetMAC sets a link's hardware address.
// mac is a net.HardwareAddr or an hwaddr.MAC.
func (n *NetNS) SetMAC(tb testing.TB, name string, mac []byte) {
	tb.Helper()
	check(tb, n.SetLink(name, sandbox.LinkSettings{MAC: mac}))
}

// Enslave attaches port to bridge (both in n).
func (n *NetNS) Enslave(tb testing.TB, port, bridge string) {
	tb.Helper()
	check(tb, n.SetLink(port, sandbox.LinkSettings{Master: bridge}))
}

// Release detaches port from its bridge.
func (n *NetNS) Release(tb testing.TB, port string) {
	tb.Helper()
	check(tb, n.NetNS.Release(port))
}

// AddAddr adds an address in CIDR form ("192.168.31.70/27") to a link.
func (n *NetNS) AddAddr(tb testing.TB, name, cidr string) {
	tb.Helper()
	p, err := netip.ParsePrefix(cidr)
	check(tb, err)
	check(tb, n.NetNS.AddAddr(name, p))
}

// WaitOperUp waits until a link is operationally up (at most
// sandbox.DefaultOperUpTimeout). A bridge port forwards only from then on:
// frames sent before are dropped.
func (n *NetNS) WaitOperUp(tb testing.TB, name string) {
	tb.Helper()
	check(tb, n.NetNS.WaitOperUp(context.Background(), 0, name))
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

// EtherTypeTest is the IEEE local experimental EtherType used for frames the
// tests send so bridges learn MACs.
const EtherTypeTest = sandbox.EtherTypeTest

// SendFrames sends count broadcast Ethernet frames out of the named link in
// n, with the link's own MAC as source, so every bridge on the way learns
// that MAC on the port the frames entered. It needs CAP_NET_RAW.
func (n *NetNS) SendFrames(tb testing.TB, ifname string, count int) {
	tb.Helper()
	check(tb, n.NetNS.SendFrames(ifname, count))
}
