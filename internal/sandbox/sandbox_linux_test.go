package sandbox_test

import (
	"context"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationNetNSClose builds a bridge with a veth into a second
// namespace, has the bridge learn the peer's MAC from frames, then closes
// both namespaces (twice) and checks nothing is left: no mount point, no
// fd or thread of this process in either namespace.
func TestIntegrationNetNSClose(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	a, err := sandbox.NewNetNS(dir, sandbox.RandName("sba"))
	if err != nil {
		t.Fatal(err)
	}
	defer a.Close()
	b, err := sandbox.NewNetNS(dir, sandbox.RandName("sbb"))
	if err != nil {
		t.Fatal(err)
	}
	defer b.Close()
	if _, err := sandbox.NewNetNS(dir, a.Name); err == nil {
		t.Errorf("NewNetNS of a taken name %s succeeded", a.Name)
	}
	ctx := context.Background()
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(a.AddBridge("br0"))
	must(a.AddVeth("pa", b, "pb"))
	must(a.SetLink("pa", sandbox.LinkSettings{Master: "br0", Up: true}))
	must(b.SetLink("pb", sandbox.LinkSettings{MAC: []byte{0xfa, 0x16, 0x3e, 1, 2, 3}, Up: true}))
	must(b.AddAddr("pb", netip.MustParsePrefix("192.0.2.2/24")))
	must(a.WaitOperUp(ctx, 0, "pa"))
	must(a.AddTap("tapoff"))
	if err := a.WaitOperUp(ctx, 100*time.Millisecond, "tapoff"); err == nil {
		t.Error("WaitOperUp of a tap nobody holds succeeded")
	}
	if err := a.SetLink("absent0", sandbox.LinkSettings{Up: true}); err == nil || !strings.Contains(err.Error(), "absent0") {
		t.Errorf("SetLink of a missing link: %v, want an error naming it", err)
	}
	learned := func() bool {
		must(b.SendFrames("pb", 2))
		h, err := a.Handle()
		must(err)
		es, err := h.NeighList(0, unix.AF_BRIDGE)
		if err != nil && err != netlink.ErrDumpInterrupted {
			t.Fatal(err)
		}
		for _, e := range es {
			if e.HardwareAddr.String() == "fa:16:3e:01:02:03" {
				return true
			}
		}
		return false
	}
	if !testutil.Settle(learned) {
		t.Error("the bridge never learned the peer's MAC from SendFrames")
	}
	var mtu int
	must(a.WithLink("pa", func(h *netlink.Handle, l netlink.Link) error {
		mtu = l.Attrs().MTU
		return h.LinkSetMTU(l, 1400)
	}))
	if l, err := a.Link("pa"); err != nil || l.Attrs().MTU != 1400 || mtu != 1500 {
		t.Errorf("WithLink: mtu was %d, is %v (%v), want 1500 then 1400", mtu, l, err)
	}
	for range 2 {
		if err := a.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
		if err := b.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	}
	for _, n := range []*sandbox.NetNS{a, b} {
		if _, err := os.Lstat(n.Path); !os.IsNotExist(err) {
			t.Errorf("%s still exists after Close (%v)", n.Path, err)
		}
		if who := n.Holders(); len(who) > 0 {
			t.Errorf("namespace %s still held by %v", n.Name, who)
		}
	}
}

// TestIntegrationDnsmasqStop starts dnsmasq with Neutron's command line,
// kills it without reaping (a zombie), then stops it, twice.
func TestIntegrationDnsmasqStop(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	ns := testutil.NewNetNSAt(t, t.TempDir(), sandbox.RandName("sbq"))
	ns.Bridge(t, "ns-sb")
	ns.AddAddr(t, "ns-sb", "192.0.2.70/27")
	if _, err := sandbox.StartDnsmasq(context.Background(), ns.NetNS, &sandbox.DnsmasqConfig{Interface: "ns-sb"}); err == nil {
		t.Error("StartDnsmasq without NetworkID, Subnet and StateDir succeeded")
	}
	// dnsmasq rereads its files as nobody.
	state := t.TempDir()
	for p := state; p != os.TempDir() && p != "/"; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	d, err := sandbox.StartDnsmasq(context.Background(), ns.NetNS, &sandbox.DnsmasqConfig{
		NetworkID: sandbox.RandUUID(), Interface: "ns-sb", Pike: true,
		Subnet: netip.MustParsePrefix("192.0.2.64/27"), StateDir: state,
	})
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(strings.Join(d.Args, " "), "--interface=ns-sb") {
		t.Errorf("Pike command line lacks --interface: %v", d.Args)
	}
	if err := d.Kill(false); err != nil {
		t.Fatal(err)
	}
	if d.Exited() {
		t.Error("Kill(false) reaped dnsmasq")
	}
	for range 2 {
		if err := d.Stop(syscall.SIGTERM); err != nil {
			t.Errorf("Stop: %v", err)
		}
	}
	if _, err := os.Stat("/proc/" + strconv.Itoa(d.PID)); !os.IsNotExist(err) {
		t.Errorf("dnsmasq %d still in /proc after Stop (%v)", d.PID, err)
	}
}
