package sandbox

import (
	"fmt"
	"unsafe"

	"golang.org/x/sys/unix"
)

// TxChecksumOff turns off TX checksum offload on the named link (what
// `ethtool -K dev tx off` does). Neutron's CHECKSUM rule fills in the
// checksums of dnsmasq's replies; this does the same, so DHCP clients on
// raw sockets (udhcpc, dhcpns's probe) accept them.
func (n *NetNS) TxChecksumOff(dev string) error {
	return n.Do(func() error { return TxChecksumOff(dev) })
}

// TxChecksumOff is NetNS.TxChecksumOff in the calling thread's
// namespace: call it inside NetNS.Do.
func TxChecksumOff(dev string) error {
	fd, err := unix.Socket(unix.AF_INET, unix.SOCK_DGRAM|unix.SOCK_CLOEXEC, 0)
	if err != nil {
		return fmt.Errorf("sandbox: %w", err)
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
		return fmt.Errorf("sandbox: ethtool -K %s tx off: %w", dev, errno)
	}
	return nil
}
