package demo

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// DefaultGuestTimeout bounds the libvirt guest's boot, from starting the
// domain to dnsmasq's renewed lease row, when PathConfig.GuestTimeout is
// zero. Under TCG on two cores it takes about 10 s.
const DefaultGuestTimeout = 3 * time.Minute

// libvirtGuest is what the libvirt guest made: the demo's own libvirtd
// (a child of this process, in the compute1 network namespace and its own
// mount namespace), the connection to it and the domain.
type libvirtGuest struct {
	dir       string // Path.Dir/libvirt: configs, sockets, logs, console
	daemon    *sandbox.Libvirtd
	daemonPID int
	conn      *libvirt.Libvirt
	dom       libvirt.Domain
	running   bool
	qemuPID   int
	qemuMark  string // in qemu's command line: "guest=<domain>,"
}

// libvirtBins are the binaries and image the libvirt guest needs.
type libvirtBins struct {
	libvirtd, unshare, qemu string
	kernel, initrd          string
	// capsCache keeps libvirt's probe of qemu's capabilities across
	// runs (GuestImageDir/libvirt-qemu-cache): it saves ~4 s a run.
	capsCache string
}

// resolveGuest decides which guest BuildPath runs. For GuestAuto it
// returns the reason the libvirt guest is not possible (why), with
// GuestNetNS; for GuestLibvirt that reason is an error.
func resolveGuest(cfg *PathConfig) (kind GuestKind, why string, bins libvirtBins, err error) {
	kind = cfg.Guest
	if kind == "" {
		kind = GuestNetNS
	}
	if _, err := ParseGuestKind(string(kind)); err != nil {
		return "", "", bins, err
	}
	if kind == GuestNetNS {
		return GuestNetNS, "", bins, nil
	}
	bins, err = libvirtPrereqs(cfg)
	switch {
	case err == nil:
		return GuestLibvirt, "", bins, nil
	case kind == GuestLibvirt:
		return "", "", bins, err
	}
	return GuestNetNS, err.Error(), bins, nil
}

// libvirtPrereqs finds libvirtd, unshare, qemu and the guest image.
func libvirtPrereqs(cfg *PathConfig) (libvirtBins, error) {
	var b libvirtBins
	var err error
	if b.libvirtd, err = sandbox.LookBin(cfg.Libvirtd, "libvirtd", "libvirt-daemon-system"); err != nil {
		return b, err
	}
	if b.unshare, err = sandbox.LookBin("", "unshare", "util-linux"); err != nil {
		return b, err
	}
	if _, err = sandbox.LookBin("", "taskset", "util-linux"); err != nil {
		return b, err
	}
	if b.qemu, err = sandbox.LookBin(cfg.Qemu, "qemu-system-x86_64", "qemu-system-x86"); err != nil {
		return b, err
	}
	if _, err := os.Stat("/dev/net/tun"); err != nil {
		return b, fmt.Errorf("demo: libvirt makes the guest's tap with /dev/net/tun: %w", err)
	}
	dir := cfg.GuestImageDir
	if dir == "" {
		dir = DefaultGuestImageDir
	}
	b.kernel, b.initrd = filepath.Join(dir, "vmlinuz"), filepath.Join(dir, "initrd.img")
	b.capsCache = filepath.Join(dir, "libvirt-qemu-cache")
	for _, f := range []string{b.kernel, b.initrd} {
		fi, err := os.Stat(f)
		if err == nil && fi.Size() == 0 {
			err = fmt.Errorf("%s is empty: %w", f, os.ErrNotExist)
		}
		if err != nil {
			return b, fmt.Errorf("demo: no guest image in %s (build it with `bash scripts/guest-image.sh %s`): %w", dir, dir, err)
		}
	}
	return b, nil
}

// startLibvirtGuest starts the demo's libvirtd in the compute1 namespace,
// creates the transient domain and waits until dnsmasq has written the
// guest's renewed lease and the tap has carrier.
func (p *Path) startLibvirtGuest(ctx context.Context, cfg *PathConfig, b libvirtBins) error {
	g := &libvirtGuest{dir: filepath.Join(p.Dir, "libvirt")}
	p.lv = g
	if err := os.Mkdir(g.dir, 0o755); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	p.Console = filepath.Join(g.dir, "console.log")
	// qemu runs as root, without a mount namespace, cgroups or a security
	// driver: the demo's daemon must not relabel or chown the cached
	// guest image, nor collide with a system libvirtd's machine cgroups.
	qconf := `stdio_handler = "file"
user = "root"
group = "root"
dynamic_ownership = 0
remember_owner = 0
security_driver = "none"
namespaces = [ ]
cgroup_controllers = [ ]
`
	// In the compute1 namespace, so libvirt makes the tap there; qemu is
	// libvirtd's daemonized child: only Close (virDomainDestroy) stops it.
	d, err := sandbox.NewLibvirtd(ctx, &sandbox.LibvirtdConfig{
		Dir:         g.dir,
		Binary:      b.libvirtd,
		NetNS:       sandbox.NetNSAt(p.HostPath),
		QemuConf:    qconf,
		CapsCache:   b.capsCache,
		StopTimeout: 10 * time.Second,
	})
	if err != nil {
		return fmt.Errorf("demo: the demo's libvirtd: %w", err)
	}
	g.daemon, g.daemonPID = d, d.PID()
	p.LibvirtSocket, p.LibvirtSocketRO = d.Socket, d.ReadOnlySocket
	p.LibvirtURI = "qemu+unix:///system?socket=" + p.LibvirtSocket
	p.log.Info("demo: libvirtd started in the compute1 namespace", "pid", g.daemonPID, "socket", p.LibvirtSocket)
	g.conn = libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(p.LibvirtSocket), dialers.WithLocalTimeout(5*time.Second)))
	if err := g.conn.ConnectToURI(libvirt.QEMUSystem); err != nil {
		g.conn = nil
		return fmt.Errorf("demo: connect to the demo's libvirtd at %s: %w", p.LibvirtSocket, err)
	}

	p.DomainUUID = sandbox.RandUUID()
	var n [4]byte
	copy(n[:], sandbox.RandNeutronMAC()[2:]) // 3e + 3 random bytes: an id no small cloud has
	p.Domain = fmt.Sprintf("instance-%02x%02x%02x%02x", n[0]&0x7f, n[1], n[2], n[3])
	g.qemuMark = "guest=" + p.Domain + ","
	if err := ctx.Err(); err != nil {
		return err
	}
	xml := p.domainXML(b)
	created := time.Now()
	dom, err := g.conn.DomainCreateXML(xml, 0)
	if err != nil {
		return fmt.Errorf("demo: libvirt could not start the guest domain %s: %w; libvirtd's log: %s", p.Domain, err, sandbox.Tail(filepath.Join(g.dir, "libvirtd.log"), 1500))
	}
	g.dom, g.running = dom, true
	start := time.Now()
	p.log.Info("demo: libvirt created the domain", "took", start.Sub(created).Round(time.Millisecond))
	g.qemuPID = findProcess(g.qemuMark)
	p.QemuPID = g.qemuPID
	p.log.Info("demo: guest domain started", "domain", p.Domain, "uuid", p.DomainUUID, "qemu_pid", g.qemuPID, "console", p.Console)

	timeout := cfg.GuestTimeout
	if timeout <= 0 {
		timeout = DefaultGuestTimeout
	}
	if err := p.waitLease(ctx, timeout-time.Since(start)); err != nil {
		if ctx.Err() != nil {
			return err
		}
		return fmt.Errorf("%w; the guest's console:\n%s", err, sandbox.Tail(p.Console, 1500))
	}
	// The lease row is written as the ACK leaves: the guest answers ARP
	// once its udhcpc script has put the address on eth0 and said so.
	bound := []byte("vifpath-guest: DHCP bound ip=" + p.IP.String() + " ")
	for {
		if b, err := os.ReadFile(p.Console); err == nil && bytes.Contains(b, bound) {
			break
		}
		if time.Since(start) > timeout {
			return fmt.Errorf("demo: dnsmasq leased %s to the guest but its console does not say it bound it within %v:\n%s", p.IP, timeout, sandbox.Tail(p.Console, 1500))
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(10 * time.Millisecond):
		}
	}
	p.GuestBoot = time.Since(start)
	p.DHCPClientOutput = consoleLines(p.Console)
	// The tap libvirt made is on the bridge with carrier (qemu holds it).
	host, err := sandbox.NetNSAt(p.HostPath).NewHandle()
	if err != nil {
		return err
	}
	defer host.Close()
	l, err := host.LinkByName(p.Tap)
	if err != nil {
		return fmt.Errorf("demo: libvirt made no tap %s in the compute1 namespace: %w", p.Tap, err)
	}
	// A tap's operstate stays "unknown"; its carrier (LOWER_UP) is qemu
	// holding it open.
	if l.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 || l.Attrs().MasterIndex == 0 {
		return fmt.Errorf("demo: the guest's tap %s has no carrier or is on no bridge (flags %v, master %d): qemu does not hold it", p.Tap, l.Attrs().Flags, l.Attrs().MasterIndex)
	}
	p.log.Info("demo: guest booted and leased its address", "ip", p.IP, "boot", p.GuestBoot.Round(time.Millisecond))
	return nil
}

// domainXML is the guest's domain, shaped like the one Nova's libvirt
// driver writes for a Linux bridge port: name instance-<hex id>, the
// server's UUID, Nova's metadata, smbios sysinfo, and <interface
// type='bridge'> on brq<network> with target tap<port> and the port's MAC.
// It boots the cached kernel and initramfs directly (no disk), under TCG.
func (p *Path) domainXML(b libvirtBins) string {
	now := time.Now().UTC().Format("2006-01-02 15:04:05")
	// libvirt hands qemu the console as a file descriptor: a parameter the
	// guest kernel ignores puts Dir into qemu's command line, so Residue
	// finds a qemu that outlived its demo.
	mark := ""
	if !strings.ContainsAny(p.Dir, " \t\n'\"<>&") {
		mark = " vifpath.demo=" + p.Dir + "/"
	}
	return fmt.Sprintf(`<domain type='qemu'>
  <name>%[1]s</name>
  <uuid>%[2]s</uuid>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:package version="vifpath-demo"/>
      <nova:name>%[16]s</nova:name>
      <nova:creationTime>%[3]s</nova:creationTime>
      <nova:flavor name="m1.tiny">
        <nova:memory>160</nova:memory>
        <nova:disk>0</nova:disk>
        <nova:swap>0</nova:swap>
        <nova:ephemeral>0</nova:ephemeral>
        <nova:vcpus>1</nova:vcpus>
      </nova:flavor>
      <nova:owner>
        <nova:user uuid="%[4]s">demo</nova:user>
        <nova:project uuid="%[5]s">demo</nova:project>
      </nova:owner>
      <nova:ports>
        <nova:port uuid="%[6]s">
          <nova:ip type="fixed" address="%[7]s" ipVersion="4"/>
        </nova:port>
      </nova:ports>
    </nova:instance>
  </metadata>
  <memory unit='MiB'>160</memory>
  <vcpu>1</vcpu>
  <sysinfo type='smbios'>
    <system>
      <entry name='manufacturer'>OpenStack Foundation</entry>
      <entry name='product'>OpenStack Nova</entry>
      <entry name='serial'>%[2]s</entry>
      <entry name='uuid'>%[2]s</entry>
      <entry name='family'>Virtual Machine</entry>
    </system>
  </sysinfo>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%[8]s</kernel>
    <initrd>%[9]s</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 mitigations=off%[15]s</cmdline>
    <smbios mode='sysinfo'/>
  </os>
  <features><acpi/><apic/></features>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>%[10]s</emulator>
    <interface type='bridge'>
      <mac address='%[11]s'/>
      <source bridge='%[12]s'/>
      <target dev='%[13]s'/>
      <model type='virtio'/>
      <mtu size='1500'/>
    </interface>
    <serial type='file'>
      <source path='%[14]s'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>`, p.Domain, p.DomainUUID, now, sandbox.RandUUID(), sandbox.RandUUID(), p.PortID, p.IP,
		b.kernel, b.initrd, b.qemu, p.MAC, p.Bridge, p.Tap, p.Console, mark, demoServerName)
}

// stopLibvirtGuest destroys the domain, stops the daemon (SIGKILL after
// 10 s) and kills a qemu that survived both. Idempotent.
func (p *Path) stopLibvirtGuest() error {
	g := p.lv
	if g == nil {
		return nil
	}
	var errs []error
	t0 := time.Now()
	if g.conn != nil {
		if g.running {
			// (libvirt waits until qemu, which it daemonized, has been
			// reaped: as long as PID 1 takes to reap orphans, 1-2 s on
			// the test machine.)
			if err := g.conn.DomainDestroy(g.dom); err != nil && !isNotRunning(err) {
				errs = append(errs, fmt.Errorf("demo: destroy domain %s: %w", p.Domain, err))
			}
			g.running = false
		}
		g.conn.Disconnect()
		g.conn = nil
		p.log.Info("demo: guest domain destroyed", "domain", p.Domain, "took", time.Since(t0).Round(time.Millisecond))
	}
	t0 = time.Now()
	if g.daemon != nil {
		g.daemon.Close()
		g.daemon = nil
		p.log.Info("demo: libvirtd stopped", "took", time.Since(t0).Round(time.Millisecond))
	}
	// qemu is not the demo's child: if destroy failed it outlives libvirtd.
	if pid := g.qemuPID; pid != 0 && processHas(pid, g.qemuMark) {
		syscall.Kill(pid, syscall.SIGKILL)
		for deadline := time.Now().Add(5 * time.Second); processHas(pid, g.qemuMark) && time.Now().Before(deadline); {
			time.Sleep(10 * time.Millisecond)
		}
	}
	if err := os.RemoveAll(g.dir); err != nil {
		errs = append(errs, err)
	}
	p.QemuPID = 0
	return errors.Join(errs...)
}

// libvirtLeftovers says whether the demo's libvirtd, qemu or libvirt
// directory survived.
func (p *Path) libvirtLeftovers() []string {
	g := p.lv
	if g == nil {
		return nil
	}
	var left []string
	if g.daemonPID != 0 && processHas(g.daemonPID, g.dir+"/") {
		left = append(left, fmt.Sprintf("libvirtd process %d", g.daemonPID))
	}
	if g.qemuPID != 0 && processHas(g.qemuPID, g.qemuMark) {
		left = append(left, fmt.Sprintf("qemu process %d (%s)", g.qemuPID, p.Domain))
	} else if g.qemuMark != "" {
		if pid := findProcess(g.qemuMark); pid != 0 {
			left = append(left, fmt.Sprintf("qemu process %d (%s)", pid, p.Domain))
		}
	}
	if _, err := os.Lstat(g.dir); err == nil {
		left = append(left, "directory "+g.dir)
	}
	return left
}

// processHas reports whether pid is a live (not zombie) process whose
// command line contains mark.
func processHas(pid int, mark string) bool {
	st, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	if i := bytes.LastIndexByte(st, ')'); i > 0 && len(st) > i+2 && st[i+2] == 'Z' {
		return false
	}
	cl, err := os.ReadFile(fmt.Sprintf("/proc/%d/cmdline", pid))
	return err == nil && bytes.Contains(cl, []byte(mark))
}

// findProcess returns a live process whose command line contains mark, or 0.
func findProcess(mark string) int {
	es, _ := os.ReadDir("/proc")
	for _, e := range es {
		pid, err := strconv.Atoi(e.Name())
		if err != nil || pid == os.Getpid() {
			continue
		}
		if processHas(pid, mark) {
			return pid
		}
	}
	return 0
}

// consoleLines returns the guest's own lines ("vifpath-guest: …") from
// its console log.
func consoleLines(path string) string {
	b, _ := os.ReadFile(path)
	var keep []string
	for _, l := range strings.Split(string(b), "\n") {
		l = strings.TrimRight(l, "\r")
		if strings.Contains(l, "vifpath-guest:") || strings.Contains(l, "udhcpc") {
			keep = append(keep, l)
		}
	}
	return strings.Join(keep, "\n")
}

// isNotRunning reports whether err is libvirt's "domain is not running"
// (the domain ended before virDomainDestroy).
func isNotRunning(err error) bool {
	var le libvirt.Error
	return errors.As(err, &le) && (le.Code == uint32(libvirt.ErrOperationInvalid) || le.Code == uint32(libvirt.ErrNoDomain))
}
