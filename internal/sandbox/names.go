package sandbox

import (
	"crypto/rand"
	"encoding/hex"
	"net"
)

// IfNameMax is the longest interface name the kernel accepts (IFNAMSIZ-1).
const IfNameMax = 15

// RandName returns prefix followed by random hex digits, as long as an
// interface name may be (15 characters). A prefix of 13 characters or more
// still gets two random digits; it is cut to make room.
func RandName(prefix string) string {
	return RandNameN(prefix, IfNameMax)
}

// RandNameN is RandName with a chosen total length n.
func RandNameN(prefix string, n int) string {
	if len(prefix) > n-2 {
		prefix = prefix[:n-2]
	}
	b := make([]byte, (n-len(prefix)+1)/2)
	rand.Read(b) // never fails (crypto/rand since Go 1.24)
	return prefix + hex.EncodeToString(b)[:n-len(prefix)]
}

// RandUUID returns a random UUID in its canonical text form, as Neutron
// and Nova name networks, ports and servers.
func RandUUID() string {
	h := RandNameN("", 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

// RandNeutronMAC returns a random MAC with Neutron's default base
// fa:16:3e.
func RandNeutronMAC() net.HardwareAddr {
	m := net.HardwareAddr{0xfa, 0x16, 0x3e, 0, 0, 0}
	rand.Read(m[3:])
	return m
}
