package demo

import (
	"bytes"
	"context"
	"encoding/xml"
	"errors"
	"fmt"
	"io/fs"
	"log/slog"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// requireLibvirtGuest checks what the libvirt guest needs and builds (or
// finds up to date) the guest image with scripts/guest-image.sh, as
// `make demo` does; it returns the image directory.
func requireLibvirtGuest(t *testing.T) string {
	t.Helper()
	requirePath(t)
	testutil.RequireBinary(t, "libvirtd", "libvirt-daemon-system")
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	testutil.RequireBinary(t, "virsh", "libvirt-clients")
	testutil.RequireBinary(t, "unshare", "util-linux")
	testutil.RequireBinary(t, "cpio", "cpio")
	dir := os.Getenv("VIFPATH_GUEST_IMAGE_DIR")
	if dir == "" {
		dir = DefaultGuestImageDir
	}
	start := time.Now()
	out, err := exec.Command("bash", "../../scripts/guest-image.sh", dir).CombinedOutput()
	if err != nil {
		testutil.SkipOrFail(t, "scripts/guest-image.sh %s: %v: %s", dir, err, out)
	}
	t.Logf("guest image (%v): %s", time.Since(start).Round(time.Millisecond), bytes.TrimSpace(out))
	return dir
}

// virshIn runs virsh against the demo's libvirtd.
func virshIn(t *testing.T, p *Path, args ...string) string {
	t.Helper()
	return testutil.Virsh(t, p.LibvirtURI, args...)
}

func buildLibvirtPath(t *testing.T, imageDir, dir string) *Path {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 4*time.Minute)
	defer cancel()
	start := time.Now()
	p, err := BuildPath(ctx, &PathConfig{Dir: dir, Guest: GuestLibvirt, GuestImageDir: imageDir,
		Logger: slog.New(slog.NewTextHandler(testWriter{t}, nil))})
	if err != nil {
		t.Fatal(err)
	}
	t.Logf("built with the libvirt guest in %v (guest boot to renewed lease %v)", time.Since(start).Round(time.Millisecond), p.GuestBoot.Round(time.Millisecond))
	return p
}

type testWriter struct{ t *testing.T }

func (w testWriter) Write(b []byte) (int, error) {
	w.t.Log(strings.TrimRight(string(b), "\n"))
	return len(b), nil
}

// runTraceLibvirt traces p with a libvirtinspect.Client on the demo's
// libvirtd's read-only socket, as vmtrace -demo does.
func runTraceLibvirt(t *testing.T, p *Path) *trace.Trace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: p.LibvirtSocketRO, ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect.Dial %s: %v", p.LibvirtSocketRO, err)
	}
	defer lv.Close()
	tr, err := trace.Run(ctx, &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		CounterInterval: 300 * time.Millisecond, ARPTimeout: 500 * time.Millisecond, Libvirt: lv,
	}, trace.Target{PortID: p.PortID})
	if err != nil {
		t.Fatalf("trace.Run: %v", err)
	}
	t.Logf("\n%s", tr)
	return tr
}

// domIface is the interface in `virsh dumpxml`.
type domIface struct {
	Type string `xml:"type,attr"`
	MAC  struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Source struct {
		Bridge string `xml:"bridge,attr"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
	Model struct {
		Type string `xml:"type,attr"`
	} `xml:"model"`
}

type domXML struct {
	Type    string `xml:"type,attr"`
	Name    string `xml:"name"`
	UUID    string `xml:"uuid"`
	Devices struct {
		Interfaces []domIface `xml:"interface"`
	} `xml:"devices"`
	Metadata struct {
		Instance struct {
			Name  string `xml:"name"`
			Ports []struct {
				UUID string `xml:"uuid,attr"`
			} `xml:"ports>port"`
		} `xml:"instance"`
	} `xml:"metadata"`
}

// TestIntegrationLibvirtGuest builds the path with a real qemu TCG domain
// as the guest, in the demo's own libvirtd inside the compute1 namespace,
// and checks: the domain as virsh sees it (Nova's shape: instance name,
// server UUID, Nova metadata with the port, <interface type='bridge'> on
// the brq with the tap and the port's MAC, virtio); the tap libvirt made
// as iproute2 sees it (fe:16:3e MAC, on the bridge, carrier from qemu);
// dnsmasq's renewed lease row; a trace with a libvirtinspect.Client on the
// demo's daemon whose path, domain, interface and counter hops are all ok
// (the domain's own counters moved); and that Close leaves no libvirtd, no
// qemu, no namespace and nothing in the directory.
func TestIntegrationLibvirtGuest(t *testing.T) {
	img := requireLibvirtGuest(t)
	dir := searchableTempDir(t)
	p := buildLibvirtPath(t, img, dir)
	defer p.Close()
	pid, qemu := p.DnsmasqPID, p.QemuPID
	t.Logf("guest console:\n%s", p.DHCPClientOutput)

	if p.GuestKind != GuestLibvirt || p.GuestWhy != "" || p.Guest != "" {
		t.Errorf("GuestKind %q GuestWhy %q Guest %q, want libvirt, no reason, no guest namespace", p.GuestKind, p.GuestWhy, p.Guest)
	}
	if !processHas(qemu, "qemu-system-x86_64") || !processHas(qemu, "guest="+p.Domain+",") || !processHas(qemu, dir+"/") {
		t.Errorf("QemuPID %d is not a qemu for %s", qemu, p.Domain)
	}
	// The demo pins its libvirtd to CPU 0 (for the capabilities cache);
	// libvirt must give qemu every CPU the test may use.
	if got, want := cpusAllowed(t, qemu), cpusAllowed(t, os.Getpid()); got != want {
		t.Errorf("qemu %d may run on CPUs %q, the test on %q", qemu, got, want)
	}
	if !strings.HasPrefix(p.Domain, "instance-") || len(p.Domain) != len("instance-0000000a") {
		t.Errorf("domain name %q is not Nova's instance-%%08x", p.Domain)
	}
	// The domain as virsh sees it.
	var x domXML
	if err := xml.Unmarshal([]byte(virshIn(t, p, "dumpxml", p.Domain)), &x); err != nil {
		t.Fatal(err)
	}
	if x.Type != "qemu" || x.Name != p.Domain || x.UUID != p.DomainUUID {
		t.Errorf("virsh dumpxml: type %q name %q uuid %q, want qemu %s %s", x.Type, x.Name, x.UUID, p.Domain, p.DomainUUID)
	}
	if len(x.Devices.Interfaces) != 1 {
		t.Fatalf("virsh dumpxml: %d interfaces, want 1", len(x.Devices.Interfaces))
	}
	i := x.Devices.Interfaces[0]
	if i.Type != "bridge" || i.Source.Bridge != p.Bridge || i.Target.Dev != p.Tap || i.MAC.Address != p.MAC.String() || i.Model.Type != "virtio" {
		t.Errorf("virsh dumpxml interface %+v, want bridge %s target %s mac %s virtio", i, p.Bridge, p.Tap, p.MAC)
	}
	if m := x.Metadata.Instance; m.Name != demoServerName || len(m.Ports) != 1 || m.Ports[0].UUID != p.PortID {
		t.Errorf("Nova metadata %+v, want name %s and port %s", m, demoServerName, p.PortID)
	}
	if st := strings.TrimSpace(virshIn(t, p, "domstate", "--reason", p.Domain)); st != "running (booted)" {
		t.Errorf("virsh domstate: %q, want running (booted)", st)
	}
	// The tap libvirt made in the compute1 namespace, as iproute2 sees it.
	tap := link(t, p.HostPath, p.Tap)
	// (A tap's operstate is UNKNOWN; LOWER_UP is its carrier: qemu holds it.)
	if tap["address"] != linuxbridge.TapMAC(hwaddr.MAC(p.MAC)).String() || tap["master"] != p.Bridge || !slices.Contains(anySlice(tap["flags"]), "LOWER_UP") || !slices.Contains(anySlice(tap["flags"]), "UP") {
		t.Errorf("tap %s: ip says address %v master %v flags %v; want %s on %s, UP and LOWER_UP", p.Tap, tap["address"], tap["master"], tap["flags"], linuxbridge.TapMAC(hwaddr.MAC(p.MAC)), p.Bridge)
	}
	if _, err := os.Stat("/sys/class/net/" + p.Tap); err == nil {
		t.Errorf("tap %s is in the test's own namespace: libvirtd is not in compute1's", p.Tap)
	}
	leases, _ := os.ReadFile(filepath.Join(p.StateDir, p.NetworkID, "leases"))
	if !bytes.Contains(leases, []byte(fmt.Sprintf(" %s %s host-192-168-31-74 01:%s\n", p.MAC, p.IP, p.MAC))) {
		t.Errorf("lease file has no renewed row for %s:\n%s", p.MAC, leases)
	}
	if !strings.Contains(p.DHCPClientOutput, "DHCP bound ip="+p.IP.String()) {
		t.Errorf("the guest's console does not say it bound %s:\n%s", p.IP, p.DHCPClientOutput)
	}

	tr := runTraceLibvirt(t, p)
	wantHops(t, tr, nil)
	for _, k := range []trace.Kind{trace.KindDomain, trace.KindInterface} {
		if h, ok := tr.Hop(k, ""); !ok || h.Verdict != trace.OK {
			t.Errorf("%s hop %s (%s), want ok", k, h.Verdict, h.Summary)
		}
	}
	if h, _ := tr.Hop(trace.KindDomain, ""); h.Name != p.Domain || evidence(h, "nova_instance") != p.DomainUUID {
		t.Errorf("domain hop %q evidence %v, want %s with nova_instance %s", h.Name, h.Evidence, p.Domain, p.DomainUUID)
	}
	// libvirt's counters of the domain's interface moved: the guest
	// answered the ARP probe between the two samples.
	var a, b, d uint64
	if h, _ := tr.Hop(trace.KindCounters, ""); !strings.Contains(evidence(h, "domain_tx_packets"), "guest sent, libvirt") {
		t.Errorf("counters hop has no libvirt counters: %v", h.Evidence)
	} else if _, err := fmt.Sscanf(evidence(h, "domain_tx_packets"), "%d -> %d (+%d,", &a, &b, &d); err != nil || d == 0 || b != a+d {
		t.Errorf("domain_tx_packets %q (%v): want the guest's tx to have moved", evidence(h, "domain_tx_packets"), err)
	}
	if tr.Verdict != trace.OK {
		t.Errorf("verdict %s, want ok", tr.Verdict)
	}

	// Kill dnsmasq: the trace fails at the dnsmasq hop; the guest's hops
	// stay ok.
	if err := p.Break(BreakDnsmasq); err != nil {
		t.Fatal(err)
	}
	broken := runTraceLibvirt(t, p)
	wantHops(t, broken, map[trace.Kind]trace.Verdict{trace.KindDnsmasq: trace.Fail, trace.KindDHCPIf: trace.Warn})
	for _, k := range []trace.Kind{trace.KindDomain, trace.KindInterface} {
		if h, _ := broken.Hop(k, ""); h.Verdict != trace.OK {
			t.Errorf("after Break(dnsmasq): %s hop %s (%s), want ok", k, h.Verdict, h.Summary)
		}
	}
	if broken.Verdict != trace.Fail {
		t.Errorf("broken verdict %s, want fail", broken.Verdict)
	}

	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := p.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checkClean(t, p, dir, true, pid)
	if processHas(qemu, "guest="+p.Domain+",") {
		t.Errorf("qemu %d still runs after Close", qemu)
	}
	if pid := findProcess(dir + "/"); pid != 0 {
		t.Errorf("process %d still names %s after Close", pid, dir)
	}
}

// evidence returns the value of h's evidence key ("" if absent).
func evidence(h trace.Hop, key string) string {
	for _, e := range h.Evidence {
		if e.Key == key {
			return e.Value
		}
	}
	return ""
}

// TestIntegrationLibvirtGuestBreak injects the other faults into a path
// whose guest is the libvirt domain (one path each) and checks the trace
// fails at the fault's hop while the hops it does not touch, the domain's
// and its interface's included, stay ok; then that Close leaves nothing.
func TestIntegrationLibvirtGuestBreak(t *testing.T) {
	img := requireLibvirtGuest(t)
	for _, c := range []struct {
		b    Breakage
		hop  trace.Kind
		okay []trace.Kind // hops the fault must not touch
	}{
		{BreakTapDown, trace.KindTap, []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindBridge, trace.KindPhysicalPort, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease}},
		{BreakUplink, trace.KindPhysicalPort, []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease, trace.KindARP, trace.KindCounters}},
		{BreakHostsEntry, trace.KindHostsEntry, []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq}},
	} {
		t.Run(string(c.b), func(t *testing.T) {
			dir := searchableTempDir(t)
			p := buildLibvirtPath(t, img, dir)
			defer p.Close()
			pid, qemu := p.DnsmasqPID, p.QemuPID
			if err := p.Break(c.b); err != nil {
				t.Fatal(err)
			}
			if c.b == BreakTapDown {
				if l := link(t, p.HostPath, p.Tap); slices.Contains(anySlice(l["flags"]), "UP") {
					t.Errorf("ip says %s flags %v after Break(tap-down)", p.Tap, l["flags"])
				}
			}
			wantFailAt(t, runTraceLibvirt(t, p), c.hop, c.okay)
			if err := p.Close(); err != nil {
				t.Errorf("Close: %v", err)
			}
			checkClean(t, p, dir, true, pid)
			if processHas(qemu, "guest="+p.Domain+",") {
				t.Errorf("qemu %d still runs after Close", qemu)
			}
		})
	}
}

// TestIntegrationLibvirtGuestCancel cancels BuildPath while the demo's
// libvirtd starts and while the guest boots, and checks BuildPath returns
// the cancellation and leaves no libvirtd, no qemu, no namespace and
// nothing in its directory.
func TestIntegrationLibvirtGuestCancel(t *testing.T) {
	img := requireLibvirtGuest(t)
	// (Residue also finds a libvirtd or qemu left: their command lines name
	// dir, as the first test checks.)
	for _, after := range []time.Duration{30 * time.Millisecond, 2 * time.Second} {
		t.Run(after.String(), func(t *testing.T) {
			dir := searchableTempDir(t)
			ctx, cancel := context.WithTimeout(context.Background(), after)
			defer cancel()
			p, err := BuildPath(ctx, &PathConfig{Dir: dir, Guest: GuestLibvirt, GuestImageDir: img})
			if err == nil {
				p.Close()
				t.Fatalf("BuildPath finished within %v", after)
			}
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Errorf("BuildPath: %v, want the deadline", err)
			}
			t.Logf("BuildPath: %v", err)
			if left := Residue(dir, true); len(left) > 0 {
				t.Errorf("after a cancelled BuildPath: %v", left)
			}
		})
	}
}

// TestIntegrationGuestChoice checks how BuildPath chooses the guest
// without an image: GuestAuto falls back to the namespace guest and says
// why, GuestLibvirt fails with an error that satisfies
// errors.Is(fs.ErrNotExist) and leaves nothing, and the zero value is the
// namespace guest.
func TestIntegrationGuestChoice(t *testing.T) {
	requirePath(t)
	noImage := t.TempDir()
	ctx := context.Background()

	dir := searchableTempDir(t)
	p, err := BuildPath(ctx, &PathConfig{Dir: dir, Guest: GuestAuto, GuestImageDir: noImage})
	if err != nil {
		t.Fatal(err)
	}
	if p.GuestKind != GuestNetNS || !strings.Contains(p.GuestWhy, "no guest image in "+noImage) || p.Guest == "" || p.LibvirtSocket != "" {
		t.Errorf("auto without an image: GuestKind %q GuestWhy %q Guest %q LibvirtSocket %q; want netns, the reason, a guest namespace, no libvirt", p.GuestKind, p.GuestWhy, p.Guest, p.LibvirtSocket)
	}
	if g := link(t, p.Guest, "eth0"); !hasAddr(g, p.IP.String()+"/27") {
		t.Errorf("the namespace guest's eth0 lacks %s/27: %v", p.IP, g["addr_info"])
	}
	pid := p.DnsmasqPID
	if err := p.Close(); err != nil {
		t.Error(err)
	}
	checkClean(t, p, dir, true, pid)

	dir = searchableTempDir(t)
	p, err = BuildPath(ctx, &PathConfig{Dir: dir, Guest: GuestLibvirt, GuestImageDir: noImage})
	if err == nil {
		p.Close()
		t.Fatal("GuestLibvirt without an image: BuildPath succeeded")
	}
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "scripts/guest-image.sh") {
		t.Errorf("GuestLibvirt without an image: %v; want fs.ErrNotExist and how to build the image", err)
	}
	if left := Residue(dir, true); len(left) > 0 {
		t.Errorf("left behind: %v", left)
	}

	p, err = BuildPath(ctx, &PathConfig{Dir: searchableTempDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	if p.GuestKind != GuestNetNS || p.GuestWhy != "" {
		t.Errorf("zero Guest: %q (%q), want netns", p.GuestKind, p.GuestWhy)
	}
	if err := p.Close(); err != nil {
		t.Error(err)
	}

	if _, err := BuildPath(ctx, &PathConfig{Guest: "vmware"}); err == nil || !strings.Contains(err.Error(), `unknown guest "vmware"`) {
		t.Errorf("Guest vmware: %v", err)
	}
}

func cpusAllowed(t *testing.T, pid int) string {
	t.Helper()
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/status", pid))
	if err != nil {
		t.Fatal(err)
	}
	for _, l := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(l, "Cpus_allowed_list:"); ok {
			return strings.TrimSpace(v)
		}
	}
	t.Fatalf("no Cpus_allowed_list in /proc/%d/status", pid)
	return ""
}
