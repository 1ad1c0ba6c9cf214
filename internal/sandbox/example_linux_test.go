package sandbox_test

import (
	"context"
	"log"
	"net/netip"
	"os"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// A qdhcp namespace with its serving interface and dnsmasq, as Neutron's
// DHCP agent makes them. It needs root, so it only compiles here.
func ExampleStartDnsmasq() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sandbox-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	os.Chmod(dir, 0o755) // dnsmasq reads its files as nobody
	networkID := sandbox.RandUUID()
	ns, err := sandbox.NewNetNS(dir, "qdhcp-"+networkID)
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	if err := ns.AddBridge("ns-demo"); err != nil {
		log.Fatal(err)
	}
	if err := ns.AddAddr("ns-demo", netip.MustParsePrefix("192.168.31.70/27")); err != nil {
		log.Fatal(err)
	}
	d, err := sandbox.StartDnsmasq(ctx, ns, &sandbox.DnsmasqConfig{
		NetworkID: networkID,
		Interface: "ns-demo",
		Pike:      true,
		Subnet:    netip.MustParsePrefix("192.168.31.64/27"),
		StateDir:  dir,
	})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	log.Printf("dnsmasq %d: %v", d.PID, d.Args)
}

// A private libvirtd that also listens on TLS, a test-driver domain
// defined through it, and virsh reading it back. It needs root, so it
// only compiles here.
func ExampleNewLibvirtd() {
	ctx := context.Background()
	dir, err := os.MkdirTemp("", "sandbox-")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	tlsAddr, err := sandbox.FreeLoopbackAddr()
	if err != nil {
		log.Fatal(err)
	}
	d, err := sandbox.NewLibvirtd(ctx, &sandbox.LibvirtdConfig{Dir: dir, TLSAddr: tlsAddr})
	if err != nil {
		log.Fatal(err)
	}
	defer d.Close()
	l, err := sandbox.DialLibvirt(d.Socket, "test:///default")
	if err != nil {
		log.Fatal(err)
	}
	defer l.Disconnect()
	dom, err := sandbox.DefineDomain(l, `<domain type='test'><name>vm1</name><memory unit='KiB'>8192</memory><os><type>hvm</type></os></domain>`, true)
	if err != nil {
		log.Fatal(err)
	}
	defer sandbox.RemoveDomain(l, dom)
	out, err := sandbox.Virsh(ctx, "test+tls://"+tlsAddr+"/default?pkipath="+d.PKIPath, "list", "--name")
	if err != nil {
		log.Fatal(err)
	}
	log.Print(out)
}
