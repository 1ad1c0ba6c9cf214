package sandbox

import (
	"encoding/binary"
	"fmt"
	"net"

	"golang.org/x/sys/unix"
)

// EtherTypeTest is the IEEE local experimental EtherType of the frames
// Frame builds.
const EtherTypeTest = 0x88b5

// Frame returns a 60-byte broadcast Ethernet frame from src with
// EtherTypeTest, after pad zero bytes (tuntap.VnetHdrLen for a tap opened
// with IFF_VNET_HDR, else 0). A bridge that forwards it learns src on the
// port it entered.
func Frame(src net.HardwareAddr, pad int) []byte {
	b := make([]byte, pad+60)
	e := b[pad:]
	copy(e[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(e[6:12], src)
	binary.BigEndian.PutUint16(e[12:14], EtherTypeTest)
	copy(e[14:], "vifpath sandbox frame")
	return b
}

// SendFrames sends count Frames out of the named link in the namespace,
// with the link's own MAC as source, so every bridge on the way learns
// that MAC on the port the frames entered. It needs CAP_NET_RAW.
func (n *NetNS) SendFrames(ifname string, count int) error {
	l, err := n.Link(ifname)
	if err != nil {
		return err
	}
	src, idx := l.Attrs().HardwareAddr, l.Attrs().Index
	err = n.Do(func() error {
		fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
		if err != nil {
			return fmt.Errorf("AF_PACKET socket: %w: needs CAP_NET_RAW", err)
		}
		defer unix.Close(fd)
		frame := Frame(src, 0)
		sa := &unix.SockaddrLinklayer{Ifindex: idx, Halen: 6}
		copy(sa.Addr[:], frame[0:6])
		for i := range count {
			if err := unix.Sendto(fd, frame, 0, sa); err != nil {
				return fmt.Errorf("send frame %d: %w", i, err)
			}
		}
		return nil
	})
	if err != nil {
		return fmt.Errorf("sandbox: send frames on %s in %s: %w", ifname, n.Name, err)
	}
	return nil
}
