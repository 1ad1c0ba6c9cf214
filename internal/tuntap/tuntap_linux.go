// Package tuntap opens tap devices the way libvirt does, for vifpath's test
// harness and demo. It is Linux-only.
//
// The device is created in the network namespace of the calling thread:
// call it from inside a namespace helper, not from an arbitrary goroutine.
package tuntap

import (
	"fmt"
	"os"
	"unsafe"

	"golang.org/x/sys/unix"
)

// Flags are the flags libvirt opens tap devices with.
const Flags = unix.IFF_TAP | unix.IFF_NO_PI | unix.IFF_VNET_HDR

// VnetHdrLen is the size of the virtio-net header that precedes each frame
// on a tap opened with IFF_VNET_HDR.
const VnetHdrLen = 10

// Open opens the tap device name, creating it if needed, with Flags. While
// the file is open the tap has carrier once it is up, as a running guest's
// does. The caller closes it.
func Open(name string) (*os.File, error) {
	fd, err := unix.Open("/dev/net/tun", unix.O_RDWR|unix.O_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("open /dev/net/tun: %w", err)
	}
	f := os.NewFile(uintptr(fd), "/dev/net/tun")
	var req struct {
		name  [unix.IFNAMSIZ]byte
		flags uint16
		_     [22]byte
	}
	copy(req.name[:], name)
	req.flags = Flags
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TUNSETIFF, uintptr(unsafe.Pointer(&req))); errno != 0 {
		f.Close()
		return nil, fmt.Errorf("TUNSETIFF %s: %w", name, errno)
	}
	return f, nil
}

// Persist keeps the tap of f after f is closed (TUNSETPERSIST), like a tap
// whose guest is stopped: no carrier until something opens it again.
func Persist(f *os.File) error {
	if _, _, errno := unix.Syscall(unix.SYS_IOCTL, f.Fd(), unix.TUNSETPERSIST, 1); errno != 0 {
		return fmt.Errorf("TUNSETPERSIST: %w", errno)
	}
	return nil
}
