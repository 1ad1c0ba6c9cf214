package testutil

import (
	"encoding/binary"
	"fmt"
	"net"
	"testing"

	"golang.org/x/sys/unix"
)

// EtherTypeTest is the IEEE local experimental EtherType used for frames the
// tests send so bridges learn MACs.
const EtherTypeTest = 0x88b5

// SendFrames sends count broadcast Ethernet frames out of the named link in
// n, with the link's own MAC as source, so every bridge on the way learns
// that MAC on the port the frames entered. It needs CAP_NET_RAW.
func (n *NetNS) SendFrames(tb testing.TB, ifname string, count int) {
	tb.Helper()
	l := n.Link(tb, ifname)
	src := l.Attrs().HardwareAddr
	idx := l.Attrs().Index
	err := n.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w", err)
		}
		defer unix.Close(fd)
		frame := make([]byte, 60)
		copy(frame[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
		copy(frame[6:12], src)
		binary.BigEndian.PutUint16(frame[12:14], EtherTypeTest)
		copy(frame[14:], "vifpath test frame")
		sa := &unix.SockaddrLinklayer{Ifindex: idx, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		for i := 0; i < count; i++ {
			if err := unix.Sendto(fd, frame, 0, sa); err != nil {
				return fmt.Errorf("send frame %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		tb.Fatalf("testutil: send frames on %s in %s: %v", ifname, n.Name, err)
	}
}
