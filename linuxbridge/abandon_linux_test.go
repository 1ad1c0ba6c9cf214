package linuxbridge

import (
	"context"
	"errors"
	"testing"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationAbandonedDump: a dump whose replies were not read (the
// caller's ctx ended mid-dump) makes the kernel refuse the next dump on the
// socket with EBUSY; the conn drains it first.
func TestIntegrationAbandonedDump(t *testing.T) {
	c := vethsConn(t, 30)
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
	count := func() (int, error) { return countLinks(c) }

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

// TestIntegrationDumpCancelled: cancelling a call's context mid-dump ends
// the dump's wait with the context's error and leaves its replies pending;
// the next dump drains them and works, and the cancellation does not leak
// into it (the socket's read deadline is cleared).
func TestIntegrationDumpCancelled(t *testing.T) {
	c := vethsConn(t, 100)
	hdr := make([]byte, ifinfomsgLen)
	ctx, cancel := context.WithCancel(context.Background())
	defer cancel()
	n := 0
	err := c.dump(ctx, unix.RTM_GETLINK, hdr, nil, func(uint16, []byte) error {
		if n++; n == 1 {
			cancel()
			time.Sleep(100 * time.Millisecond) // the read deadline is set by then
		}
		return nil
	})
	if !errors.Is(err, context.Canceled) || !c.pending || n >= 201 {
		t.Errorf("cancelled dump: %v after %d messages, pending %v; want context.Canceled before the 201st, pending", err, n, c.pending)
	}
	for i := 0; i < 2; i++ {
		count, err := countLinks(c)
		if err != nil || count != 201 || c.pending {
			t.Errorf("dump %d after a cancelled one: %d links, %v, pending %v; want 201 (lo and 200 veth ends)", i+1, count, err, c.pending)
		}
	}
}

// vethsConn returns a conn into a new namespace holding pairs veth pairs
// (and lo), closed when the test ends.
func vethsConn(t *testing.T, pairs int) *conn {
	t.Helper()
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	for range pairs {
		ns.Veth(t, testutil.RandName("lba"), ns, testutil.RandName("lbb"))
	}
	c := dialConnAt(t, ns.Path)
	t.Cleanup(func() { c.close() })
	return c
}

// countLinks dumps the links through c and counts them.
func countLinks(c *conn) (int, error) {
	n := 0
	err := c.dump(context.Background(), unix.RTM_GETLINK, make([]byte, ifinfomsgLen), nil, func(typ uint16, _ []byte) error {
		if typ == unix.RTM_NEWLINK {
			n++
		}
		return nil
	})
	return n, err
}
