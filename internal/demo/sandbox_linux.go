package demo

import (
	"context"
	"net/netip"
	"path/filepath"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// The demo's namespaces are named by their paths under Path.Dir; these
// helpers reach internal/sandbox, the one place that makes and enters
// them, by path.

// newNetNS creates a network namespace bind-mounted at path.
func newNetNS(path string) error {
	_, err := sandbox.NewNetNS(filepath.Dir(path), filepath.Base(path))
	return err
}

// inNetNS runs fn inside the namespace at path (sandbox.NetNS.Do).
func inNetNS(path string, fn func() error) error { return sandbox.NetNSAt(path).Do(fn) }

// handleIn returns a new netlink handle bound to the namespace at path;
// the caller closes it.
func handleIn(path string) (*netlink.Handle, error) { return sandbox.NetNSAt(path).NewHandle() }

// vethTo creates a veth pair through h: name on h's side, peerName in the
// namespace at peerNS.
func vethTo(h *netlink.Handle, name, peerNS, peerName string) error {
	return sandbox.AddVeth(h, name, peerNS, peerName)
}

// addAddr adds cidr ("192.168.31.70/27") to dev.
func addAddr(h *netlink.Handle, dev, cidr string) error {
	p, err := netip.ParsePrefix(cidr)
	if err != nil {
		return err
	}
	return sandbox.AddAddr(h, dev, p)
}

// waitOperUp waits up to 3 s for the links to be operationally up (a
// bridge port forwards only from then on).
func waitOperUp(h *netlink.Handle, names ...string) error {
	return sandbox.WaitOperUp(context.Background(), h, 0, names...)
}

func randUUID() string { return sandbox.RandUUID() }

// txCsumOff turns off TX checksum offload on dev in the calling thread's
// namespace (what Neutron's CHECKSUM rule achieves for dnsmasq's replies;
// sandbox.StartDnsmasq does it too).
func txCsumOff(dev string) error { return sandbox.TxChecksumOff(dev) }

var randNeutronMAC = sandbox.RandNeutronMAC

// lookBin finds a binary (sandbox.LookBin).
func lookBin(given, name, pkg string) (string, error) { return sandbox.LookBin(given, name, pkg) }

// hostLink runs fn on the named link in the node's namespace
// (sandbox.NetNS.WithLink).
func (p *Path) hostLink(name string, fn func(*netlink.Handle, netlink.Link) error) error {
	return sandbox.NetNSAt(p.HostPath).WithLink(name, fn)
}
