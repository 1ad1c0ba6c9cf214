package demo

import (
	"bytes"
	"cmp"
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
)

// The walkthrough's addresses: subnet 192.168.31.64/27, gateway
// 192.168.31.1 (outside the subnet, as the walkthrough created it), the
// DHCP port at .70, the VM at .74.
var (
	pathSubnet  = netip.MustParsePrefix("192.168.31.64/27")
	pathGateway = netip.MustParseAddr("192.168.31.1")
	pathDHCPIP  = netip.MustParseAddr("192.168.31.70")
	pathVMIP    = netip.MustParseAddr("192.168.31.74")
	pathOtherIP = netip.MustParseAddr("192.168.31.79")
	pathDNS     = netip.MustParseAddr("8.8.4.4")
)

// pathState is what a Path holds besides its exported fields.
type pathState struct {
	md         metadataState
	ownDir     bool
	madeDir    bool // Close removed the Dir BuildPath made
	mounts     []string
	allMounts  []string
	dnsmasq    *sandbox.Dnsmasq
	dnsmasqPID int
	cloud      *Cloud // StartCloud's fake Nova/Neutron, closed by Close
	lv         *libvirtGuest
}

// BuildPath creates the path, starts dnsmasq, and runs the guest's DHCP
// client until it has a lease (so dnsmasq's lease row is renewed, not only
// seeded), then gives eth0 the leased address. On error (or ctx
// cancellation) it removes whatever it had created.
func BuildPath(ctx context.Context, cfg *PathConfig) (_ *Path, err error) {
	cfg = cmp.Or(cfg, &PathConfig{}) // nil means all defaults
	p, bins, err := newPath(cfg)
	if err != nil {
		return nil, err
	}
	guest := p.GuestKind
	defer func() {
		if err != nil {
			// Every return below returns a nil *Path: clean up the local one.
			p.Close()
		}
	}()
	if err := p.layout("vifpath-demo-"); err != nil {
		return nil, err
	}
	p.AgentConfig = filepath.Join(p.Dir, "linuxbridge_agent.ini")
	if err := writeAgentConfig(p.AgentConfig, p.Uplink); err != nil {
		return nil, err
	}
	p.HostPath = filepath.Join(p.Dir, "compute1")
	p.Gateway = filepath.Join(p.Dir, "gateway")
	p.DHCP = filepath.Join(p.Dir, "qdhcp-"+p.NetworkID)
	nss := []string{p.HostPath, p.Gateway, p.DHCP}
	if guest == GuestNetNS {
		p.Guest = filepath.Join(p.Dir, "guest")
		nss = append(nss, p.Guest)
	}
	if err := p.createNetNS(nss...); err != nil {
		return nil, err
	}
	p.log.Info("demo: namespaces created", "dir", p.Dir)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.wire(); err != nil {
		return nil, err
	}
	p.log.Info("demo: links wired", "bridge", p.Bridge, "tap", p.Tap)
	// The gateway announces itself, as a router's traffic does, so the
	// bridge has learned its MAC on the uplink.
	gw := sandbox.NetNSAt(p.Gateway)
	err = gw.SendFrames("gw0", 3)
	gw.CloseHandle()
	if err != nil {
		return nil, err
	}
	if cfg.StoppedGuest {
		if err := p.addStoppedGuest(); err != nil {
			return nil, err
		}
	}
	if err := p.installFirewall(ctx); err != nil {
		return nil, err
	}
	if err := p.startDnsmasq(ctx, bins.dnsmasq); err != nil {
		return nil, err
	}
	p.log.Info("demo: dnsmasq started", "pid", p.DnsmasqPID)
	if err := p.startMetadataProxy(ctx); err != nil {
		return nil, err
	}
	if guest == GuestLibvirt {
		if err := p.startLibvirtGuest(ctx, cfg, bins.libvirt); err != nil {
			return nil, err
		}
		return p, nil
	}
	if err := p.guestDHCP(ctx, bins.busybox); err != nil {
		return nil, err
	}
	p.log.Info("demo: guest leased its address", "ip", p.IP)
	return p, nil
}

// buildBins are the programs a build runs.
type buildBins struct {
	dnsmasq, busybox string
	libvirt          libvirtBins
}

// newPath starts a Path for BuildPath or BuildTwoNode: its logger, the
// guest cfg chooses (said in the log when it falls back to a namespace)
// and the programs that takes, before anything is created.
func newPath(cfg *PathConfig) (*Path, buildBins, error) {
	var b buildBins
	p := &Path{Dir: cfg.Dir, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	var err error
	if b.dnsmasq, err = sandbox.LookBin(cfg.Dnsmasq, "dnsmasq", "dnsmasq-base"); err != nil {
		return nil, b, err
	}
	if p.GuestKind, p.GuestWhy, b.libvirt, err = resolveGuest(cfg); err != nil {
		return nil, b, err
	}
	if p.GuestWhy != "" {
		p.log.Info("demo: the guest is a namespace, not a libvirt domain", "why", p.GuestWhy)
	}
	if p.GuestKind == GuestNetNS {
		if b.busybox, err = sandbox.LookBin(cfg.Busybox, "busybox", "busybox"); err != nil {
			return nil, b, err
		}
	}
	return p, b, nil
}

// createNetNS creates a namespace at each path (sandbox.NewNetNS); Close
// removes them.
func (p *Path) createNetNS(paths ...string) error {
	for _, ns := range paths {
		if _, err := sandbox.NewNetNS(filepath.Dir(ns), filepath.Base(ns)); err != nil {
			return err
		}
		p.mounts = append(p.mounts, ns)
		p.allMounts = append(p.allMounts, ns)
	}
	return nil
}

// handles opens a netlink handle in the namespace at each path ("" is
// skipped: the libvirt guest has no namespace of its own); closeAll
// closes them.
func handles(paths ...string) (hs map[string]*netlink.Handle, closeAll func(), err error) {
	hs = map[string]*netlink.Handle{}
	closeAll = func() {
		for _, h := range hs {
			h.Close()
		}
	}
	for _, ns := range paths {
		if ns == "" {
			continue
		}
		h, err := sandbox.NetNSAt(ns).NewHandle()
		if err != nil {
			closeAll()
			return nil, nil, err
		}
		hs[ns] = h
	}
	return hs, closeAll, nil
}

// wire creates and configures the links.
func (p *Path) wire() error {
	hs, closeAll, err := handles(p.HostPath, p.Gateway, p.DHCP, p.Guest)
	if err != nil {
		return err
	}
	defer closeAll()
	host := hs[p.HostPath]
	if err := sandbox.AddBridge(host, p.Bridge); err != nil {
		return err
	}
	dhcpTap := linuxbridge.PortTapName(p.DHCPPortID)
	for _, v := range []struct{ name, peerNS, peer string }{
		{p.Uplink, p.Gateway, "gw0"},
		{dhcpTap, p.DHCP, p.DHCPIf},
		{p.Tap, p.Guest, "eth0"},
	} {
		if v.peerNS == "" {
			continue
		}
		if err := sandbox.AddVeth(host, v.name, v.peerNS, v.peer); err != nil {
			return err
		}
	}
	for _, s := range []struct {
		ns, name string
		mac      net.HardwareAddr
		master   bool
	}{
		{p.HostPath, p.Bridge, nil, false},
		{p.HostPath, p.Uplink, nil, true},
		{p.HostPath, dhcpTap, nil, true},
		{p.HostPath, p.Tap, net.HardwareAddr(linuxbridge.TapMAC(hwaddr.MAC(p.MAC))), true},
		{p.Gateway, "lo", nil, false},
		{p.Gateway, "gw0", nil, false},
		{p.DHCP, "lo", nil, false},
		{p.DHCP, p.DHCPIf, sandbox.RandNeutronMAC(), false},
		{p.Guest, "lo", nil, false},
		{p.Guest, "eth0", p.MAC, false},
	} {
		h := hs[s.ns]
		if h == nil || (s.name == p.Tap && p.Guest == "") {
			continue
		}
		master := ""
		if s.master {
			master = p.Bridge
		}
		if err := sandbox.SetLink(h, s.name, sandbox.LinkSettings{MAC: s.mac, Master: master, Up: true}); err != nil {
			return err
		}
	}
	if err := sandbox.AddAddr(hs[p.Gateway], "gw0", netip.MustParsePrefix("192.168.31.1/24")); err != nil {
		return err
	}
	if err := sandbox.AddAddr(hs[p.DHCP], p.DHCPIf, netip.PrefixFrom(pathDHCPIP, pathSubnet.Bits())); err != nil {
		return err
	}
	// Wait for carrier: a bridge port forwards only once operationally up.
	links := []string{p.Bridge, p.Uplink, dhcpTap}
	if p.Guest != "" {
		// The namespace guest's veth end; libvirt makes the domain's tap.
		links = append(links, p.Tap)
	}
	return sandbox.WaitOperUp(context.Background(), host, 0, links...)
}

// addStoppedGuest adds the stopped guest's port (PathConfig.StoppedGuest):
// a persistent tap with libvirt's rewrite of the port's MAC, on the bridge,
// left down.
func (p *Path) addStoppedGuest() error {
	p.StoppedPortID = sandbox.RandUUID()
	p.StoppedTap = linuxbridge.PortTapName(p.StoppedPortID)
	p.StoppedMAC = sandbox.RandNeutronMAC()
	host := sandbox.NetNSAt(p.HostPath)
	defer host.CloseHandle()
	if err := host.AddTap(p.StoppedTap); err != nil {
		return err
	}
	return host.SetLink(p.StoppedTap, sandbox.LinkSettings{MAC: linuxbridge.TapMAC(hwaddr.MAC(p.StoppedMAC)), Master: p.Bridge})
}

// startDnsmasq writes Neutron's files and starts dnsmasq in the qdhcp
// namespace with the Pike DHCP agent's command line (plus
// --keep-in-foreground, so the demo is its parent and reaps it).
func (p *Path) startDnsmasq(ctx context.Context, bin string) error {
	d, err := sandbox.StartDnsmasq(ctx, sandbox.NetNSAt(p.DHCP), &sandbox.DnsmasqConfig{
		Binary:     bin,
		NetworkID:  p.NetworkID,
		Interface:  p.DHCPIf,
		Pike:       true,
		Subnet:     pathSubnet,
		Router:     pathGateway,
		DNS:        pathDNS,
		Hosts:      []sandbox.DnsmasqHost{{MAC: p.MAC, IP: p.IP}, {MAC: sandbox.RandNeutronMAC(), IP: pathOtherIP}},
		SeedLeases: true,
		StateDir:   p.StateDir,
	})
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p.dnsmasq, p.DnsmasqArgs, p.DnsmasqPID, p.dnsmasqPID = d, d.Args, d.PID, d.PID
	return nil
}

// guestDHCP runs busybox udhcpc on the guest's eth0 until it has a lease
// from dnsmasq, then puts the leased address on eth0.
func (p *Path) guestDHCP(ctx context.Context, busybox string) error {
	l, err := sandbox.RunDHCPClient(ctx, sandbox.NetNSAt(p.Guest), &sandbox.DHCPClientConfig{Busybox: busybox, Interface: "eth0", Hostname: "vm1", Tries: 4})
	p.DHCPClientOutput = l.Output
	if err != nil {
		return fmt.Errorf("demo: the guest's DHCP client: %w", err)
	}
	if l.IP != p.IP {
		return fmt.Errorf("demo: the guest leased %s, want %s", l.IP, p.IP)
	}
	if err := p.waitLease(ctx, 3*time.Second); err != nil {
		return err
	}
	h, err := sandbox.NetNSAt(p.Guest).NewHandle()
	if err != nil {
		return err
	}
	defer h.Close()
	return sandbox.AddAddr(h, "eth0", netip.PrefixFrom(p.IP, pathSubnet.Bits()))
}

// waitLease waits until dnsmasq's lease file holds the guest's renewed
// row. dnsmasq rewrites the file after it has sent the ACK.
func (p *Path) waitLease(ctx context.Context, timeout time.Duration) error {
	// dnsmasq rewrites the lease file after it has sent the ACK: wait for
	// the renewed row (hostname and client id filled in).
	leases := filepath.Join(p.StateDir, p.NetworkID, "leases")
	// (dnsmasq names the row after the hosts file, not the client's
	// hostname option.)
	row := []byte(fmt.Sprintf(" %s %s %s 01:%s\n", p.MAC, p.IP, sandbox.NeutronHostname(p.IP), p.MAC))
	for deadline := time.Now().Add(timeout); ; {
		if b, err := os.ReadFile(leases); err == nil && bytes.Contains(b, row) {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(leases)
			return fmt.Errorf("demo: dnsmasq did not write the guest's renewed lease into %s within %v; it holds:\n%s", leases, timeout, b)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
	return nil
}

// Break injects a fault into the path.
func (p *Path) Break(b Breakage) error {
	switch b {
	case BreakDnsmasq:
		if p.dnsmasq == nil {
			return errors.New("demo: dnsmasq is not running")
		}
		return p.stopDnsmasq(syscall.SIGKILL)
	case BreakTapDown:
		return sandbox.NetNSAt(p.HostPath).WithLink(p.Tap, func(h *netlink.Handle, l netlink.Link) error { return h.LinkSetDown(l) })
	case BreakUplink:
		return sandbox.NetNSAt(p.HostPath).WithLink(p.Uplink, func(h *netlink.Handle, l netlink.Link) error { return h.LinkDel(l) })
	case BreakHostsEntry:
		if p.dnsmasq == nil {
			return errors.New("demo: dnsmasq is not running")
		}
		hosts := filepath.Join(p.StateDir, p.NetworkID, "host")
		b, err := os.ReadFile(hosts)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		var keep []string
		for _, line := range strings.SplitAfter(string(b), "\n") {
			if line != "" && !strings.HasPrefix(line, p.MAC.String()+",") {
				keep = append(keep, line)
			}
		}
		if err := os.WriteFile(hosts, []byte(strings.Join(keep, "")), 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		return p.dnsmasq.Reload()
	case BreakWrongBridge:
		return p.breakWrongBridge()
	case BreakLeaseSeeded:
		return p.breakLeaseSeeded()
	case BreakDupIP:
		return p.breakDupIP()
	case BreakFDBNeverLearned:
		return p.breakFDBNeverLearned()
	case BreakICMPRule, BreakSSHRule, BreakARPSpoof:
		return p.breakFirewall(b)
	case BreakMetadata:
		return p.breakMetadata()
	case BreakMTU:
		return p.breakMTU()
	case BreakAgentDown:
		if p.cloud == nil {
			return fmt.Errorf("demo: break %s marks the Linux bridge agent dead in the fake cloud: start it first (StartCloud)", b)
		}
		p.cloud.srv.Cloud().SetAgent(launch.AgentLinuxBridge, p.cloud.NodeName, false)
		return nil
	}
	return fmt.Errorf("demo: unknown breakage %q: want one of %v", b, Breakages())
}

// stopDnsmasq signals dnsmasq and reaps it (SIGKILL after 3 s).
func (p *Path) stopDnsmasq(sig syscall.Signal) error {
	if p.dnsmasq == nil {
		return nil
	}
	d := p.dnsmasq
	p.dnsmasq, p.DnsmasqPID = nil, 0
	return d.Stop(sig)
}

// Close stops dnsmasq, unmounts the namespaces (the kernel then deletes
// their links) and removes the files it wrote, and the directory if
// BuildPath made it. It is idempotent.
func (p *Path) Close() error {
	if p == nil {
		return nil
	}
	var errs []error
	// The demo's libvirtd holds a copy of the namespace mounts: stop it first.
	errs = append(errs, p.cloud.Close(), p.stopLibvirtGuest(), p.stopDnsmasq(syscall.SIGTERM), p.stopMetadataProxy())
	for _, m := range p.mounts {
		errs = append(errs, sandbox.NetNSAt(m).Remove())
	}
	p.mounts = nil
	if p.Dir != "" {
		for _, d := range []string{p.StateDir, p.NMRunDir, p.AgentConfig} {
			if d != "" {
				errs = append(errs, os.RemoveAll(d))
			}
		}
	}
	if p.ownDir && p.Dir != "" {
		if err := os.Remove(filepath.Join(p.Dir, ownerFile)); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
		errs = append(errs, os.Remove(p.Dir))
		p.ownDir = false
		p.madeDir = true
	}
	return errors.Join(errs...)
}

// Leftovers says what of the path still exists: a namespace mount point,
// the dnsmasq process, the state or NetworkManager directory, or the
// directory BuildPath made. After Close it should be empty.
func (p *Path) Leftovers() []string {
	var left []string
	for _, m := range p.allMounts {
		if _, err := os.Lstat(m); err == nil {
			left = append(left, "namespace "+m)
		}
	}
	if p.dnsmasqPID != 0 {
		if _, err := os.Stat(fmt.Sprintf("/proc/%d", p.dnsmasqPID)); err == nil {
			left = append(left, fmt.Sprintf("dnsmasq process %d", p.dnsmasqPID))
		}
	}
	left = append(left, p.libvirtLeftovers()...)
	if (p.ownDir || p.madeDir) && p.Dir != "" {
		left = append(left, Residue(p.Dir, false)...)
	}
	for _, d := range []string{p.StateDir, p.NMRunDir, p.AgentConfig} {
		if d == "" {
			continue
		}
		if _, err := os.Lstat(d); err == nil {
			left = append(left, "file or directory "+d)
		}
	}
	return left
}

// Residue lists what still refers to dir, a directory a demo used: the
// directory itself (or its entries, if keep is true: a directory the
// caller made and removes), mounts under it (/proc/self/mountinfo), and
// processes whose command line names it (a dnsmasq whose files were
// there). It is how the demo and its tests prove that nothing was left.
func Residue(dir string, keep bool) []string {
	var left []string
	if keep {
		es, _ := os.ReadDir(dir)
		for _, e := range es {
			left = append(left, "file "+filepath.Join(dir, e.Name()))
		}
	} else if _, err := os.Lstat(dir); err == nil {
		left = append(left, "directory "+dir)
	}
	if b, err := os.ReadFile("/proc/self/mountinfo"); err == nil {
		for _, line := range strings.Split(string(b), "\n") {
			if f := strings.Fields(line); len(f) > 4 && (f[4] == dir || strings.HasPrefix(f[4], dir+"/")) {
				left = append(left, "mount "+f[4])
			}
		}
	}
	procs, _ := os.ReadDir("/proc")
	for _, e := range procs {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		cl, err := os.ReadFile(filepath.Join("/proc", e.Name(), "cmdline"))
		if err == nil && bytes.Contains(cl, []byte(dir+"/")) {
			left = append(left, fmt.Sprintf("process %d (%s)", pid, bytes.ReplaceAll(bytes.TrimRight(cl, "\x00"), []byte{0}, []byte{' '})))
		}
	}
	return left
}

// layout makes the demo's directory (a new one named prefix… under TMPDIR
// unless Dir is set, marked with its owner for ReclaimStale), checks that
// dnsmasq, running as nobody, can reach it, and names the path's
// directories and Neutron identities (network, DHCP port, VM port, MAC,
// IP) for BuildPath and BuildTwoNode alike.
func (p *Path) layout(prefix string) (err error) {
	if p.Dir == "" {
		if p.Dir, err = os.MkdirTemp("", prefix); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		p.ownDir = true
		if err := writeOwner(p.Dir); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	// dnsmasq reads its files as nobody: Dir and its parents must be
	// searchable by others.
	if err := os.Chmod(p.Dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	for d := filepath.Dir(p.Dir); ; d = filepath.Dir(d) {
		if fi, err := os.Stat(d); err == nil && fi.Mode().Perm()&0o001 == 0 {
			return fmt.Errorf("demo: dnsmasq reads its files as nobody, but %s (a parent of %s) is not searchable by others: chmod o+x it or use another directory", d, p.Dir)
		}
		if d == "/" || d == "." {
			break
		}
	}
	p.NetNSDir = p.Dir
	p.StateDir = filepath.Join(p.Dir, "neutron-dhcp")
	p.NMRunDir = filepath.Join(p.Dir, "NetworkManager")
	p.NetworkID = sandbox.RandUUID()
	p.Bridge = linuxbridge.NetworkBridgeName(p.NetworkID)
	p.Uplink = "eth2"
	p.DHCPPortID = sandbox.RandUUID()
	p.DHCPIf = linuxbridge.PortNSName(p.DHCPPortID)
	p.PortID = sandbox.RandUUID()
	p.Tap = linuxbridge.PortTapName(p.PortID)
	p.MAC = sandbox.RandNeutronMAC()
	p.IP = pathVMIP
	for _, d := range []string{p.StateDir, filepath.Join(p.StateDir, p.NetworkID), p.NMRunDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}
