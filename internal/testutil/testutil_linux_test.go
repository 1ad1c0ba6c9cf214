package testutil

import (
	"os"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

func TestRandName(t *testing.T) {
	for _, p := range []string{"", "br", "brq", "tap0123456789ab"} {
		n := RandName(p)
		if len(n) != IfNameMax {
			t.Errorf("RandName(%q) = %q: length %d, want %d", p, n, len(n), IfNameMax)
		}
	}
	if a, b := RandName("x"), RandName("x"); a == b {
		t.Error("RandName returned the same name twice")
	}
}

func TestIntegrationTopology(t *testing.T) {
	RequireRoot(t)
	before, _ := os.Readlink("/proc/thread-self/ns/net")
	dir := t.TempDir()
	a := NewNetNSAt(t, dir, "vpt-a")
	b := NewNetNSAt(t, dir, "vpt-b")
	a.Bridge(t, "br0")
	a.Veth(t, "pa", b, "pb")
	a.Enslave(t, "pa", "br0")
	a.SetUp(t, "pa")
	b.SetUp(t, "pb")
	a.Tap(t, "tap0")
	a.Enslave(t, "tap0", "br0")
	a.SetUp(t, "tap0")
	f := a.AttachTap(t, "tapc")
	_ = f
	a.SetUp(t, "tapc")
	a.AddAddr(t, "br0", "192.0.2.1/24")

	// Wait for the port to forward (no STP: immediately, but the veth
	// carrier takes a moment).
	deadline := time.Now().Add(3 * time.Second)
	pbMAC := b.Link(t, "pb").Attrs().HardwareAddr
	for {
		b.SendFrames(t, "pb", 3)
		neigh, err := a.Handle(t).NeighList(0, unix.AF_BRIDGE)
		if err != nil {
			// NeighList(bridge index) lists by master; fall back to all.
			t.Fatal(err)
		}
		found := false
		for _, n := range neigh {
			if n.HardwareAddr.String() == pbMAC.String() {
				found = true
			}
		}
		if found {
			break
		}
		if time.Now().After(deadline) {
			all, _ := a.Handle(t).NeighList(0, unix.AF_BRIDGE)
			t.Fatalf("bridge never learned %s; fdb: %v", pbMAC, all)
		}
		time.Sleep(50 * time.Millisecond)
	}
	tap := a.Link(t, "tap0")
	if _, ok := tap.(*netlink.Tuntap); !ok {
		t.Errorf("tap0 is %T, want *netlink.Tuntap", tap)
	}
	// An attached, up tap has carrier (the tun driver reports "unknown",
	// as `ip link` shows for a running guest's tap); an unattached one has none.
	if tc := a.Link(t, "tapc"); tc.Attrs().RawFlags&unix.IFF_LOWER_UP == 0 {
		t.Errorf("attached tap has no carrier: flags %v, oper %v", tc.Attrs().Flags, tc.Attrs().OperState)
	}
	if tap.Attrs().OperState != netlink.OperDown {
		t.Errorf("unattached tap oper state %v, want down", tap.Attrs().OperState)
	}
	out := a.Run(t, "ip", "-br", "link")
	if !strings.Contains(string(out), "br0") {
		t.Errorf("ip link inside namespace does not show br0:\n%s", out)
	}
	// The test goroutine's thread never moved.
	self, _ := os.Readlink("/proc/thread-self/ns/net")
	if self != before {
		t.Errorf("test thread is in %s, want %s", self, before)
	}
}

func TestIntegrationLeakDetected(t *testing.T) {
	RequireRoot(t)
	ns := NewNetNSAt(t, t.TempDir(), "vpt-leak")
	f := ns.Open(t)
	defer f.Close()
	if who := ns.Holders(); len(who) == 0 {
		t.Fatal("holders found nothing while an fd to the namespace is open")
	}
}
