package testutil

import (
	"crypto/rand"
	"encoding/hex"
)

// IfNameMax is the longest interface name the kernel accepts (IFNAMSIZ-1).
const IfNameMax = 15

// RandName returns prefix followed by random hex digits, as long as an
// interface name may be (15 characters). A prefix of 13 characters or more
// still gets two random digits; it is cut to make room.
func RandName(prefix string) string {
	return RandNameN(prefix, IfNameMax)
}

// RandNameN is RandName with a chosen total length.
func RandNameN(prefix string, n int) string {
	if len(prefix) > n-2 {
		prefix = prefix[:n-2]
	}
	b := make([]byte, (n-len(prefix)+1)/2)
	if _, err := rand.Read(b); err != nil {
		panic(err)
	}
	return prefix + hex.EncodeToString(b)[:n-len(prefix)]
}
