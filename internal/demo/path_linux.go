package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"github.com/vifpath/vifpath/launch"
	"log/slog"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strconv"
	"strings"
	"syscall"
	"time"
	"unsafe"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/hwaddr"
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
)

// PathConfig tunes BuildPath. A nil *PathConfig means defaults.
type PathConfig struct {
	// Dir is the directory everything goes under (namespaces, Neutron's
	// state directory, an empty NetworkManager run directory). Empty
	// means a new temporary directory; either way Close removes what
	// BuildPath put in it, and the directory itself only if it made it.
	Dir string
	// Dnsmasq and Busybox are the binaries to run. Empty means "dnsmasq"
	// and "busybox" looked up in $PATH.
	Dnsmasq, Busybox string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
	// Guest chooses the VM: GuestNetNS (the zero value means it),
	// GuestLibvirt (an error when libvirtd, qemu or the guest image is
	// missing) or GuestAuto (the libvirt guest when possible, else the
	// namespace guest; Path.GuestWhy says why).
	Guest GuestKind
	// GuestImageDir holds the libvirt guest's vmlinuz and initrd.img
	// (scripts/guest-image.sh). Empty means DefaultGuestImageDir.
	GuestImageDir string
	// Libvirtd and Qemu are the libvirt guest's binaries. Empty means
	// "libvirtd" and "qemu-system-x86_64" looked up in $PATH.
	Libvirtd, Qemu string
	// GuestTimeout bounds the libvirt guest's boot to its renewed lease.
	// Zero means DefaultGuestTimeout.
	GuestTimeout time.Duration
}

// Path is the walkthrough's path of one VM NIC, built in throwaway
// namespaces by BuildPath: a "compute1" namespace (the node) holding
// brq<network> with an "eth2" uplink (a veth to a "gateway" namespace
// holding 192.168.31.1), the DHCP port's tap<port> (a veth to ns-<port>
// in qdhcp-<network>, 192.168.31.70/27, where the real dnsmasq runs with
// Neutron's command line and files), and the VM's tap<port> (fe:16:3e:…,
// libvirt's rewrite of the port's MAC), a veth to eth0 in a "guest"
// namespace that got 192.168.31.74 from dnsmasq with busybox udhcpc (or,
// with PathConfig.Guest GuestLibvirt, the tap libvirt made for a qemu TCG
// domain whose own udhcpc got it: see GuestInfo).
//
// Close removes it all. A Path is not safe for concurrent use.
type Path struct {
	// Dir holds everything; NetNSDir (== Dir) the namespaces' bind mounts.
	Dir, NetNSDir string
	// HostPath, Gateway, DHCP and Guest are the namespaces' paths (Guest
	// is empty for the libvirt guest).
	HostPath, Gateway, DHCP, Guest string
	// StateDir is shaped like /var/lib/neutron/dhcp: StateDir/<network>/
	// holds pid, host, addn_hosts, opts, leases and dnsmasq's log.
	StateDir string
	// NMRunDir is an empty directory standing for /run/NetworkManager
	// (nothing manages the demo's devices).
	NMRunDir string
	// AgentConfig is the node's linuxbridge agent configuration, as
	// Neutron's installer writes it: physical_interface_mappings =
	// provider:eth2 (trace.Config.AgentConfig).
	AgentConfig string
	// NetworkID is the (random) Neutron network ID; Bridge its brq;
	// Uplink the bridge's physical port, "eth2".
	NetworkID, Bridge, Uplink string
	// DHCPPortID is the DHCP port's ID; DHCPIf its ns-… device.
	DHCPPortID, DHCPIf string
	// PortID is the VM's Neutron port ID, Tap its tap…, MAC the port's
	// (and the guest's eth0's) MAC, IP its fixed IP.
	PortID, Tap string
	MAC         net.HardwareAddr
	IP          netip.Addr
	// DnsmasqArgs is dnsmasq's command line; DnsmasqPID its pid (0 once
	// stopped).
	DnsmasqArgs []string
	DnsmasqPID  int
	// DHCPClientOutput is what udhcpc printed in the guest (for the
	// libvirt guest, its console's vifpath-guest lines).
	DHCPClientOutput string
	// GuestInfo says which guest ran and, for the libvirt guest, where
	// its libvirtd and domain are.
	GuestInfo
	// MetadataInfo says where the metadata proxy and its files are.
	MetadataInfo

	md         metadataState
	log        *slog.Logger
	ownDir     bool
	madeDir    bool // Close removed the Dir BuildPath made
	mounts     []string
	allMounts  []string
	dnsmasq    *exec.Cmd
	dnsmasqPID int
	cloud      *Cloud // StartCloud's fake Nova/Neutron, closed by Close
	lv         *libvirtGuest
}

// BuildPath creates the path, starts dnsmasq, and runs the guest's DHCP
// client until it has a lease (so dnsmasq's lease row is renewed, not only
// seeded), then gives eth0 the leased address. On error (or ctx
// cancellation) it removes whatever it had created.
func BuildPath(ctx context.Context, cfg *PathConfig) (_ *Path, err error) {
	if cfg == nil {
		cfg = &PathConfig{}
	}
	p := &Path{Dir: cfg.Dir, log: cfg.Logger}
	if p.log == nil {
		p.log = slog.New(slog.DiscardHandler)
	}
	dnsmasqBin, err := lookBin(cfg.Dnsmasq, "dnsmasq", "dnsmasq-base")
	if err != nil {
		return nil, err
	}
	guest, why, lvBins, err := resolveGuest(cfg)
	if err != nil {
		return nil, err
	}
	p.GuestKind, p.GuestWhy = guest, why
	if why != "" {
		p.log.Info("demo: the guest is a namespace, not a libvirt domain", "why", why)
	}
	var busybox string
	if guest == GuestNetNS {
		if busybox, err = lookBin(cfg.Busybox, "busybox", "busybox"); err != nil {
			return nil, err
		}
	}
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
	agent := "[linux_bridge]\nphysical_interface_mappings = provider:" + p.Uplink + "\n\n[vxlan]\nenable_vxlan = false\n"
	if err := os.WriteFile(p.AgentConfig, []byte(agent), 0o644); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	p.HostPath = filepath.Join(p.Dir, "compute1")
	p.Gateway = filepath.Join(p.Dir, "gateway")
	p.DHCP = filepath.Join(p.Dir, "qdhcp-"+p.NetworkID)
	nss := []string{p.HostPath, p.Gateway, p.DHCP}
	if guest == GuestNetNS {
		p.Guest = filepath.Join(p.Dir, "guest")
		nss = append(nss, p.Guest)
	}
	for _, ns := range nss {
		if err := newNetNS(ns); err != nil {
			return nil, err
		}
		p.mounts = append(p.mounts, ns)
		p.allMounts = append(p.allMounts, ns)
	}
	p.log.Info("demo: namespaces created", "dir", p.Dir)
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if err := p.wire(); err != nil {
		return nil, err
	}
	p.log.Info("demo: links wired", "bridge", p.Bridge, "tap", p.Tap)
	if err := p.installFirewall(ctx); err != nil {
		return nil, err
	}
	if err := p.startDnsmasq(ctx, dnsmasqBin); err != nil {
		return nil, err
	}
	p.log.Info("demo: dnsmasq started", "pid", p.DnsmasqPID)
	if err := p.startMetadataProxy(ctx); err != nil {
		return nil, err
	}
	if guest == GuestLibvirt {
		if err := p.startLibvirtGuest(ctx, cfg, lvBins); err != nil {
			return nil, err
		}
		return p, nil
	}
	if err := p.guestDHCP(ctx, busybox); err != nil {
		return nil, err
	}
	p.log.Info("demo: guest leased its address", "ip", p.IP)
	return p, nil
}

func lookBin(given, name, pkg string) (string, error) {
	if given == "" {
		given = name
	}
	bin, err := exec.LookPath(given)
	if err != nil {
		return "", fmt.Errorf("demo: %s not found (%w): apt-get install %s", name, err, pkg)
	}
	return bin, nil
}

// wire creates and configures the links.
func (p *Path) wire() error {
	host, err := handleIn(p.HostPath)
	if err != nil {
		return err
	}
	defer host.Close()
	hs := map[string]*netlink.Handle{p.HostPath: host}
	for _, ns := range []string{p.Gateway, p.DHCP, p.Guest} {
		if ns == "" {
			continue // the libvirt guest: libvirt makes the tap
		}
		h, err := handleIn(ns)
		if err != nil {
			return err
		}
		defer h.Close()
		hs[ns] = h
	}
	if err := host.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: p.Bridge}}); err != nil {
		return fmt.Errorf("demo: add bridge %s: %w", p.Bridge, err)
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
		if err := vethTo(host, v.name, v.peerNS, v.peer); err != nil {
			return err
		}
	}
	br, err := host.LinkByName(p.Bridge)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
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
		{p.DHCP, p.DHCPIf, randNeutronMAC(), false},
		{p.Guest, "lo", nil, false},
		{p.Guest, "eth0", p.MAC, false},
	} {
		h := hs[s.ns]
		if h == nil || (s.name == p.Tap && p.Guest == "") {
			continue
		}
		l, err := h.LinkByName(s.name)
		if err != nil {
			return fmt.Errorf("demo: %s: %w", s.name, err)
		}
		if s.mac != nil {
			if err := h.LinkSetHardwareAddr(l, s.mac); err != nil {
				return fmt.Errorf("demo: set %s mac: %w", s.name, err)
			}
		}
		if s.master {
			if err := h.LinkSetMaster(l, br); err != nil {
				return fmt.Errorf("demo: enslave %s: %w", s.name, err)
			}
		}
		if err := h.LinkSetUp(l); err != nil {
			return fmt.Errorf("demo: set %s up: %w", s.name, err)
		}
	}
	if err := addAddr(hs[p.Gateway], "gw0", "192.168.31.1/24"); err != nil {
		return err
	}
	if err := addAddr(hs[p.DHCP], p.DHCPIf, netip.PrefixFrom(pathDHCPIP, pathSubnet.Bits()).String()); err != nil {
		return err
	}
	// Neutron's CHECKSUM rule fills in the checksums of dnsmasq's replies;
	// turning off TX checksum offload does the same, so udhcpc (a raw
	// socket) accepts them.
	if err := inNetNS(p.DHCP, func() error { return txCsumOff(p.DHCPIf) }); err != nil {
		return err
	}
	// Wait for carrier: a bridge port forwards only once operationally up.
	links := []string{p.Bridge, p.Uplink, dhcpTap}
	if p.Guest != "" {
		// The namespace guest's veth end; libvirt makes the domain's tap.
		links = append(links, p.Tap)
	}
	return waitOperUp(host, links...)
}

// txCsumOff turns off TX checksum offload on dev (ethtool -K dev tx off)
// in the calling thread's namespace.
func txCsumOff(dev string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	defer unix.Close(fd)
	ev := struct{ cmd, data uint32 }{cmd: unix.ETHTOOL_STXCSUM, data: 0}
	var ifr struct {
		name [unix.IFNAMSIZ]byte
		data uintptr
		_    [16]byte
	}
	copy(ifr.name[:], dev)
	ifr.data = uintptr(unsafe.Pointer(&ev))
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, uintptr(fd), unix.SIOCETHTOOL, uintptr(unsafe.Pointer(&ifr))); errno != 0 {
		return fmt.Errorf("demo: ethtool -K %s tx off: %w", dev, errno)
	}
	return nil
}

// startDnsmasq writes Neutron's files and starts dnsmasq in the qdhcp
// namespace with the Pike DHCP agent's command line (plus
// --keep-in-foreground, so the demo is its parent and reaps it).
func (p *Path) startDnsmasq(ctx context.Context, bin string) error {
	dir := filepath.Join(p.StateDir, p.NetworkID)
	f := func(n string) string { return filepath.Join(dir, n) }
	other := randNeutronMAC()
	exp := time.Now().Add(24 * time.Hour).Unix()
	var hosts, addn, leases bytes.Buffer
	for _, h := range []struct {
		mac net.HardwareAddr
		ip  netip.Addr
	}{{p.MAC, p.IP}, {other, pathOtherIP}} {
		name := hostName(h.ip)
		fmt.Fprintf(&hosts, "%s,%s.openstacklocal,%s\n", h.mac, name, h.ip)
		fmt.Fprintf(&addn, "%s\t%s.openstacklocal %s\n", h.ip, name, name)
		fmt.Fprintf(&leases, "%d %s %s * *\n", exp, h.mac, h.ip)
	}
	opts := fmt.Sprintf("tag:tag0,option:dns-server,8.8.4.4\ntag:tag0,option:router,%s\n", pathGateway)
	for n, b := range map[string][]byte{"host": hosts.Bytes(), "addn_hosts": addn.Bytes(), "leases": leases.Bytes(), "opts": []byte(opts)} {
		if err := os.WriteFile(f(n), b, 0o644); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	p.DnsmasqArgs = []string{bin, "--no-hosts", "--no-resolv", "--strict-order", "--except-interface=lo",
		"--pid-file=" + f("pid"),
		"--dhcp-hostsfile=" + f("host"),
		"--addn-hosts=" + f("addn_hosts"),
		"--dhcp-optsfile=" + f("opts"),
		"--dhcp-leasefile=" + f("leases"),
		"--dhcp-match=set:ipxe,175",
		"--bind-interfaces", "--interface=" + p.DHCPIf,
		fmt.Sprintf("--dhcp-range=set:tag0,%s,static,%s,86400s", pathSubnet.Addr(), net.IP(net.CIDRMask(pathSubnet.Bits(), 32))),
		"--dhcp-option-force=option:mtu,1500",
		"--dhcp-lease-max=32",
		"--conf-file=",
		"--domain=openstacklocal",
		"--log-dhcp",
		"--log-facility=" + f("log"),
		"--keep-in-foreground",
	}
	cmd := exec.Command(p.DnsmasqArgs[0], p.DnsmasqArgs[1:]...)
	// Its own process group: a terminal's Ctrl-C reaches only the demo,
	// which stops it. Pdeathsig covers a demo dying during dnsmasq's
	// start-up only: the kernel clears it when dnsmasq drops root for
	// nobody, so a SIGKILLed demo leaves dnsmasq running.
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := inNetNS(p.DHCP, cmd.Start); err != nil {
		return fmt.Errorf("demo: start dnsmasq: %w", err)
	}
	p.dnsmasq, p.DnsmasqPID, p.dnsmasqPID = cmd, cmd.Process.Pid, cmd.Process.Pid
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(f("pid"))
		if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(p.DnsmasqPID) {
			return nil
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(f("log"))
			return fmt.Errorf("demo: dnsmasq (pid %d) wrote no pid file within 5 s; its log:\n%s", p.DnsmasqPID, log)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

var leaseRE = regexp.MustCompile(`lease of ([0-9.]+) obtained`)

// guestDHCP runs busybox udhcpc on the guest's eth0 until it has a lease
// from dnsmasq, then puts the leased address on eth0.
func (p *Path) guestDHCP(ctx context.Context, busybox string) error {
	cmd := exec.CommandContext(ctx, busybox, "udhcpc", "-f", "-q", "-n", "-i", "eth0", "-t", "4", "-T", "1", "-s", "/bin/true", "-x", "hostname:vm1")
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := inNetNS(p.Guest, cmd.Start); err != nil {
		return fmt.Errorf("demo: start udhcpc: %w", err)
	}
	err := cmd.Wait()
	p.DHCPClientOutput = out.String()
	if ctx.Err() != nil {
		return fmt.Errorf("demo: the guest's DHCP client was stopped: %w", ctx.Err())
	}
	m := leaseRE.FindStringSubmatch(p.DHCPClientOutput)
	if err != nil || m == nil {
		return errors.Join(fmt.Errorf("demo: the guest's udhcpc got no lease from dnsmasq: %s", strings.TrimSpace(p.DHCPClientOutput)), err)
	}
	if m[1] != p.IP.String() {
		return fmt.Errorf("demo: the guest leased %s, want %s", m[1], p.IP)
	}
	if err := p.waitLease(ctx, 3*time.Second); err != nil {
		return err
	}
	h, err := handleIn(p.Guest)
	if err != nil {
		return err
	}
	defer h.Close()
	return addAddr(h, "eth0", netip.PrefixFrom(p.IP, pathSubnet.Bits()).String())
}

// waitLease waits until dnsmasq's lease file holds the guest's renewed
// row. dnsmasq rewrites the file after it has sent the ACK.
func (p *Path) waitLease(ctx context.Context, timeout time.Duration) error {
	// dnsmasq rewrites the lease file after it has sent the ACK: wait for
	// the renewed row (hostname and client id filled in).
	leases := filepath.Join(p.StateDir, p.NetworkID, "leases")
	// (dnsmasq names the row after the hosts file, not the client's
	// hostname option.)
	row := []byte(fmt.Sprintf(" %s %s %s 01:%s\n", p.MAC, p.IP, hostName(p.IP), p.MAC))
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
		err := p.stopDnsmasq(syscall.SIGKILL)
		return err
	case BreakTapDown:
		h, err := handleIn(p.HostPath)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(p.Tap)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := h.LinkSetDown(l); err != nil {
			return fmt.Errorf("demo: set %s down: %w", p.Tap, err)
		}
		return nil
	case BreakUplink:
		h, err := handleIn(p.HostPath)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(p.Uplink)
		if err != nil {
			return fmt.Errorf("demo: %w", err)
		}
		if err := h.LinkDel(l); err != nil {
			return fmt.Errorf("demo: delete %s: %w", p.Uplink, err)
		}
		return nil
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
		if err := p.dnsmasq.Process.Signal(syscall.SIGHUP); err != nil {
			return fmt.Errorf("demo: SIGHUP dnsmasq: %w", err)
		}
		return nil
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
	cmd := p.dnsmasq
	p.dnsmasq, p.DnsmasqPID = nil, 0
	if err := cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("demo: signal dnsmasq %d: %w", cmd.Process.Pid, err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		cmd.Process.Kill()
		<-done
	}
	return nil
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
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("demo: unmount %s: %w", m, err))
		}
		if err := os.Remove(m); err != nil && !errors.Is(err, os.ErrNotExist) {
			errs = append(errs, err)
		}
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

// hostName is Neutron's host name for a fixed IP.
func hostName(ip netip.Addr) string {
	return "host-" + strings.ReplaceAll(ip.String(), ".", "-")
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
	p.NetworkID = randUUID()
	p.Bridge = linuxbridge.NetworkBridgeName(p.NetworkID)
	p.Uplink = "eth2"
	p.DHCPPortID = randUUID()
	p.DHCPIf = linuxbridge.PortNSName(p.DHCPPortID)
	p.PortID = randUUID()
	p.Tap = linuxbridge.PortTapName(p.PortID)
	p.MAC = randNeutronMAC()
	p.IP = pathVMIP
	for _, d := range []string{p.StateDir, filepath.Join(p.StateDir, p.NetworkID), p.NMRunDir} {
		if err := os.Mkdir(d, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	return nil
}
