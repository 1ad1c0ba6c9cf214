package linuxbridge

import "github.com/vifpath/vifpath/hwaddr"

// GuestMACOfTap is the inverse of TapMAC for a libvirt tap: when tapMAC
// starts with fe: (libvirt's rule for the host side of a guest NIC), it
// returns the MAC with fa: in its place, the usual first byte of a Neutron
// port (fa:16:3e:…). That is a guess, not a fact: a port created with
// another MAC prefix keeps its first byte, so a caller says where the MAC
// came from. It returns nil for any other tapMAC.
func GuestMACOfTap(tapMAC hwaddr.MAC) hwaddr.MAC {
	if len(tapMAC) != 6 || tapMAC[0] != 0xfe {
		return nil
	}
	m := make(hwaddr.MAC, 6)
	copy(m, tapMAC)
	m[0] = 0xfa
	return m
}
