package linuxbridge

import (
	"context"
	"errors"
	"testing"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationAbandonedDump: a dump whose replies were not read (the
// caller's ctx ended mid-dump) makes the kernel refuse the next dump on the
// socket with EBUSY; the conn drains it first.
func TestIntegrationAbandonedDump(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	for i := 0; i < 30; i++ {
		ns.Veth(t, testutil.RandName("lba"), ns, testutil.RandName("lbb"))
	}
	f, err := openNetNS(ns.Path)
	if err != nil {
		t.Fatal(err)
	}
	c, err := dialConn(int(f.Fd()), 0)
	f.Close()
	if err != nil {
		t.Fatal(err)
	}
	defer c.close()
	hdr := make([]byte, ifinfomsgLen)
	// abandon sends a dump request and reads none of its replies.
	abandon := func() {
		t.Helper()
		req := netlink.Message{Header: netlink.Header{Type: unix.RTM_GETLINK, Flags: netlink.Request | netlink.Dump}, Data: hdr}
		if _, err := c.nl.Send(req); err != nil {
			t.Fatal(err)
		}
		c.pending = true
	}
	count := func() (int, error) {
		n := 0
		err := c.dump(context.Background(), unix.RTM_GETLINK, hdr, nil, func(typ uint16, p []byte) error {
			if typ == unix.RTM_NEWLINK {
				n++
			}
			return nil
		})
		return n, err
	}

	// Without draining, the kernel refuses: this is what the drain is for.
	abandon()
	c.pending = false
	if _, err := count(); !errors.Is(err, unix.EBUSY) {
		t.Errorf("a second dump over an unread one: error %v, want EBUSY (the test's premise)", err)
	}
	// The refused request left the first dump unread; mark it pending as
	// dump does when it gives up, and the next dump drains it and works.
	c.pending = true
	if n, err := count(); err != nil || n != 61 {
		t.Errorf("dump after an abandoned one: %d links, %v; want 61 (lo and 60 veth ends)", n, err)
	}
	abandon()
	if n, err := count(); err != nil || n != 61 {
		t.Errorf("dump after an abandoned one: %d links, %v; want 61", n, err)
	}
}
