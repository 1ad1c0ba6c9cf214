package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/linuxbridge"
)

// ImpostorNetNS is the path of the namespace BreakDupIP adds: another
// host on the bridge holding the VM's IP on its eth0. It exists only after
// Break(BreakDupIP) and until Close.
func (p *Path) ImpostorNetNS() string {
	return filepath.Join(p.Dir, "impostor")
}

// breakWrongBridge moves the VM's tap from the network's brq bridge to
// WrongBridge (created, up) in the node's namespace.
func (p *Path) breakWrongBridge() error {
	h, err := sandbox.NetNSAt(p.HostPath).NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	if err := sandbox.AddBridge(h, WrongBridge); err != nil {
		if errors.Is(err, unix.EEXIST) {
			return fmt.Errorf("demo: break %s: %s already exists in %s (the fault is already injected): %w", BreakWrongBridge, WrongBridge, p.HostPath, err)
		}
		return fmt.Errorf("demo: %w", err)
	}
	if err := sandbox.SetLink(h, p.Tap, sandbox.LinkSettings{Master: WrongBridge}); err != nil {
		return fmt.Errorf("demo: move the tap to %s: %w", WrongBridge, err)
	}
	return sandbox.WaitOperUp(context.Background(), h, 0, p.Tap, WrongBridge)
}

// breakLeaseSeeded stops dnsmasq and starts it again as the DHCP agent
// does when it restarts it: the hosts, opts and lease files rewritten,
// the lease file with one seeded row per port ("<expiry> <mac> <ip> * *").
// The guest keeps its address and runs no DHCP client (its udhcpc quit
// once it had the lease), so it will not renew before half the lease time
// (12 h): its row stays Neutron's seed.
func (p *Path) breakLeaseSeeded() error {
	if p.dnsmasq == nil || len(p.DnsmasqArgs) == 0 {
		return fmt.Errorf("demo: break %s: dnsmasq is not running (stopped by Break(%s)?): nothing to restart", BreakLeaseSeeded, BreakDnsmasq)
	}
	bin := p.DnsmasqArgs[0]
	if err := p.stopDnsmasq(syscall.SIGTERM); err != nil {
		return err
	}
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	if err := p.startDnsmasq(ctx, bin); err != nil {
		return fmt.Errorf("demo: restart dnsmasq: %w", err)
	}
	// dnsmasq rewrites the lease file in place (truncate, write) soon
	// after it starts, filling the hosts file's names into the seeded
	// rows (2.90): a reader in between sees no row at all. Wait for the
	// rewritten row; a dnsmasq that leaves the file alone leaves the seed.
	leases := filepath.Join(p.StateDir, p.NetworkID, "leases")
	rewritten := []byte(fmt.Sprintf(" %s %s %s ", p.MAC, p.IP, sandbox.NeutronHostname(p.IP)))
	seeded := []byte(fmt.Sprintf(" %s %s * *\n", p.MAC, p.IP))
	for deadline := time.Now().Add(2 * time.Second); ; {
		b, err := os.ReadFile(leases)
		if err == nil && bytes.Contains(b, rewritten) {
			return nil
		}
		if time.Now().After(deadline) {
			if err == nil && bytes.Contains(b, seeded) {
				return nil
			}
			return fmt.Errorf("demo: dnsmasq restarted, but %s has no row for %s after 2 s; it holds:\n%s", leases, p.MAC, b)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// breakDupIP adds another host holding the VM's IP: a namespace
// (ImpostorNetNS) whose eth0, with a random fa:16:3e MAC and the VM's
// address, is a veth to another tap<port> on the network's bridge, as a
// second VM given the same address by hand. Both then answer ARP for the
// address; the trace listens ARPSettle after the first answer and sees
// both.
func (p *Path) breakDupIP() (err error) {
	ns := p.ImpostorNetNS()
	if err := p.createNetNS(ns); err != nil {
		if errors.Is(err, os.ErrExist) {
			return fmt.Errorf("demo: break %s: the impostor's namespace %s already exists (the fault is already injected): %w", BreakDupIP, ns, err)
		}
		return err
	}
	host, err := sandbox.NetNSAt(p.HostPath).NewHandle()
	if err != nil {
		return err
	}
	defer host.Close()
	imp, err := sandbox.NetNSAt(ns).NewHandle()
	if err != nil {
		return err
	}
	defer imp.Close()
	tap := linuxbridge.PortTapName(sandbox.RandUUID())
	if err := sandbox.AddVeth(host, tap, ns, "eth0"); err != nil {
		return err
	}
	if err := sandbox.SetLink(host, tap, sandbox.LinkSettings{Master: p.Bridge, Up: true}); err != nil {
		return fmt.Errorf("demo: the impostor's port: %w", err)
	}
	if err := sandbox.SetLink(imp, "eth0", sandbox.LinkSettings{MAC: sandbox.RandNeutronMAC(), Up: true}); err != nil {
		return fmt.Errorf("demo: the impostor's eth0: %w", err)
	}
	if err := sandbox.AddAddr(imp, "eth0", netip.PrefixFrom(p.IP, pathSubnet.Bits())); err != nil {
		return err
	}
	return sandbox.WaitOperUp(context.Background(), host, 0, tap)
}

// breakFDBNeverLearned turns learning off on the VM's tap (bridge link set
// dev tap… learning off) and deletes what the bridge had learned of the
// VM's MAC there (bridge fdb del), so the bridge never learns it again.
func (p *Path) breakFDBNeverLearned() error {
	return sandbox.NetNSAt(p.HostPath).WithLink(p.Tap, func(h *netlink.Handle, l netlink.Link) error {
		if err := h.LinkSetLearning(l, false); err != nil {
			return fmt.Errorf("learning off: %w", err)
		}
		ns, err := h.NeighList(l.Attrs().Index, unix.AF_BRIDGE)
		if err != nil {
			return fmt.Errorf("list FDB entries: %w", err)
		}
		for i := range ns {
			n := &ns[i]
			if n.HardwareAddr.String() != p.MAC.String() || n.LinkIndex != l.Attrs().Index {
				continue
			}
			if err := h.NeighDel(n); err != nil && !errors.Is(err, unix.ENOENT) {
				return fmt.Errorf("delete FDB entry %s: %w", n.HardwareAddr, err)
			}
		}
		return nil
	})
}
