package sandbox

import (
	"fmt"
	"os"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
	"github.com/vishvananda/netlink"
)

// DialLibvirt connects to the libvirtd listening on socket, read-write,
// as uri ("qemu:///system", "test:///default"): the connection that
// creates the domains vifpath then inspects read-only. The caller
// disconnects it (the test driver forgets its domains with its last
// connection).
func DialLibvirt(socket, uri string) (*libvirt.Libvirt, error) {
	l := libvirt.NewWithDialer(dialers.NewLocal(dialers.WithSocket(socket), dialers.WithLocalTimeout(5*time.Second)))
	if err := l.ConnectToURI(libvirt.ConnectURI(uri)); err != nil {
		return nil, fmt.Errorf("sandbox: connect to %s through %s: %w", uri, socket, err)
	}
	return l, nil
}

// DefineDomain defines the domain xml through l and, when start is set,
// starts it. A domain defined but not started is undefined again.
// RemoveDomain removes it.
func DefineDomain(l *libvirt.Libvirt, xml string, start bool) (libvirt.Domain, error) {
	d, err := l.DomainDefineXML(xml)
	if err != nil {
		return d, fmt.Errorf("sandbox: define a domain: %w\n%s", err, xml)
	}
	if start {
		if err := l.DomainCreate(d); err != nil {
			l.DomainUndefine(d)
			return d, fmt.Errorf("sandbox: start %s: %w", d.Name, err)
		}
	}
	return d, nil
}

// RemoveDomain destroys (if it runs) and undefines d, ignoring what is
// already done.
func RemoveDomain(l *libvirt.Libvirt, d libvirt.Domain) {
	l.DomainDestroy(d)
	l.DomainUndefine(d)
}

// AddHostBridge creates a bridge named name in this process's own
// (the host's) network namespace, up, with IPv6 off so the host sends
// nothing on it, and no address: for a libvirtd that runs there, which
// makes a guest's tap in its own namespace (the one exception to links
// only in throwaway namespaces). DeleteHostLink removes it.
func AddHostBridge(name string) error {
	if err := netlink.LinkAdd(&netlink.Bridge{LinkAttrs: netlink.LinkAttrs{Name: name}}); err != nil {
		return fmt.Errorf("sandbox: create bridge %s: %w", name, err)
	}
	os.WriteFile("/proc/sys/net/ipv6/conf/"+name+"/disable_ipv6", []byte("1"), 0o644)
	l, err := netlink.LinkByName(name)
	if err == nil {
		err = netlink.LinkSetUp(l)
	}
	if err != nil {
		DeleteHostLink(name)
		return fmt.Errorf("sandbox: set bridge %s up: %w", name, err)
	}
	return nil
}

// DeleteHostLink deletes the link named name from this process's own
// network namespace; a link already gone is not an error.
func DeleteHostLink(name string) error {
	l, err := netlink.LinkByName(name)
	if err != nil {
		return nil
	}
	if err := netlink.LinkDel(l); err != nil {
		return fmt.Errorf("sandbox: delete %s: %w", name, err)
	}
	return nil
}
