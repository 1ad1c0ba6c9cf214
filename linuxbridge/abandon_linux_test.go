package linuxbridge

import (
	"context"
	"encoding/binary"
	"errors"
	"testing"

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
	var c *conn
	if err := ns.Do(func() (err error) { c, err = newConn(); return err }); err != nil {
		t.Fatal(err)
	}
	defer c.close()
	hdr := make([]byte, ifinfomsgLen)
	abandon := func() {
		t.Helper()
		c.seq++
		req := make([]byte, nlmsgHdrLen+len(hdr))
		ne := binary.NativeEndian
		ne.PutUint32(req[0:], uint32(len(req)))
		ne.PutUint16(req[4:], unix.RTM_GETLINK)
		ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
		ne.PutUint32(req[8:], c.seq)
		if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
			t.Fatal(err)
		}
		c.pending = c.seq
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
	c.pending = 0
	if _, err := count(); !errors.Is(err, unix.EBUSY) {
		t.Errorf("a second dump over an unread one: error %v, want EBUSY (the test's premise)", err)
	}
	// The refused request left the first dump unread; mark it pending as
	// dump does when it gives up, and the next dump drains it and works.
	c.pending = c.seq - 1
	if n, err := count(); err != nil || n != 61 {
		t.Errorf("dump after an abandoned one: %d links, %v; want 61 (lo and 60 veth ends)", n, err)
	}
	abandon()
	if n, err := count(); err != nil || n != 61 {
		t.Errorf("dump after an abandoned one: %d links, %v; want 61", n, err)
	}
}
