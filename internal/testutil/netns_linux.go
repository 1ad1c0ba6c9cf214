package testutil

import (
	"os"
	"strings"
	"testing"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// DefaultNetNSDir is where `ip netns add` bind-mounts named namespaces.
const DefaultNetNSDir = sandbox.DefaultNetNSDir

// NetNS is a throwaway named network namespace (a sandbox.NetNS), removed
// when the test ends. Its methods fail the test on error.
type NetNS struct {
	*sandbox.NetNS
}

// NewNetNS creates a namespace named "vpt-" plus random hex under
// /run/netns, so `ip netns` and `ip -n` see it.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	return NewNetNSAt(tb, DefaultNetNSDir, RandNameN("vpt-", 16))
}

// NewNetNSAt creates a namespace with the given name under dir (created if
// missing). Tests of code that scans a netns directory pass a temporary dir
// so real namespaces on the host (a running cloud's qdhcp-…) are not seen.
// It fails the test if the name is taken. At the end of the test it fails
// the test if an fd or thread of the process still refers to the
// namespace.
func NewNetNSAt(tb testing.TB, dir, name string) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	n, err := sandbox.NewNetNS(dir, name)
	if err != nil {
		tb.Fatalf("testutil: %v", err)
	}
	tb.Cleanup(func() {
		tb.Helper()
		if err := n.Close(); err != nil {
			tb.Errorf("testutil: %v", err)
		}
		if who := n.Holders(); len(who) > 0 {
			tb.Errorf("testutil: netns %s is still held at the end of the test by %s: close every handle, socket and fd into it", n.Name, strings.Join(who, ", "))
		}
	})
	return &NetNS{n}
}

// Delete removes the namespace now (as `ip netns delete` does), for tests of
// a namespace that disappears under a live handle. The cleanup registered by
// NewNetNSAt tolerates it.
func (n *NetNS) Delete(tb testing.TB) {
	tb.Helper()
	check(tb, n.Remove())
}

// Open returns an fd for the namespace. The caller closes it.
func (n *NetNS) Open(tb testing.TB) *os.File {
	tb.Helper()
	f, err := os.Open(n.Path)
	check(tb, err)
	return f
}

// Handle returns a netlink handle (NETLINK_ROUTE only) bound to the
// namespace. It is created once, shared, and closed when the test ends.
func (n *NetNS) Handle(tb testing.TB) *netlink.Handle {
	tb.Helper()
	h, err := n.NetNS.Handle()
	check(tb, err)
	return h
}

// check fails the test with err, if any.
func check(tb testing.TB, err error) {
	tb.Helper()
	if err != nil {
		tb.Fatalf("testutil: %v", err)
	}
}
