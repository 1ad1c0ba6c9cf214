package testutil

import "github.com/vifpath/vifpath/internal/sandbox"

// IfNameMax is the longest interface name the kernel accepts (IFNAMSIZ-1).
const IfNameMax = sandbox.IfNameMax

// RandName returns prefix followed by random hex digits, as long as an
// interface name may be (15 characters); see sandbox.RandName.
func RandName(prefix string) string { return sandbox.RandName(prefix) }

// RandNameN is RandName with a chosen total length.
func RandNameN(prefix string, n int) string { return sandbox.RandNameN(prefix, n) }
