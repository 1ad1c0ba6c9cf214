package testutil

import (
	"testing"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// LibvirtAdmin is a read-write go-libvirt connection to the libvirtd at
// socket as uri (sandbox.DialLibvirt), for creating what the library
// inspects read-only; it is closed when the test ends.
func LibvirtAdmin(tb testing.TB, socket, uri string) *libvirt.Libvirt {
	tb.Helper()
	l, err := sandbox.DialLibvirt(socket, uri)
	check(tb, err)
	tb.Cleanup(func() { l.Disconnect() })
	return l
}

// DefineDomain defines (and, when start is set, starts) the domain xml
// through l (sandbox.DefineDomain); it is destroyed and undefined when
// the test ends.
func DefineDomain(tb testing.TB, l *libvirt.Libvirt, xml string, start bool) libvirt.Domain {
	tb.Helper()
	d, err := sandbox.DefineDomain(l, xml, start)
	check(tb, err)
	tb.Cleanup(func() { sandbox.RemoveDomain(l, d) })
	return d
}

// HostBridge creates a bridge named prefix plus random hex in the HOST
// namespace, up, IPv6 off, no address (sandbox.AddHostBridge), for a
// libvirtd that runs there; it is deleted when the test ends.
func HostBridge(tb testing.TB, prefix string) string {
	tb.Helper()
	RequireRoot(tb)
	name := RandName(prefix)
	check(tb, sandbox.AddHostBridge(name))
	tb.Cleanup(func() { sandbox.DeleteHostLink(name) })
	return name
}

// DeleteHostLinkAtEnd deletes the link named name (a tap libvirt made in
// the host namespace) from the host namespace when the test ends, if it
// is still there.
func DeleteHostLinkAtEnd(tb testing.TB, name string) {
	tb.Cleanup(func() { sandbox.DeleteHostLink(name) })
}
