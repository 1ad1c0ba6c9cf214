package testutil

import (
	"context"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// DnsmasqHost is one port Neutron knows on the network: a line of the
// hosts file and, with SeedLeases, a pre-seeded lease row.
type DnsmasqHost = sandbox.DnsmasqHost

// DnsmasqOptions say how to start dnsmasq like Neutron's DHCP agent does
// (sandbox.DnsmasqConfig). A StateDir of "" means a new t.TempDir() (made
// searchable by others: dnsmasq rereads files as nobody); Output "" means
// the test's standard error.
type DnsmasqOptions = sandbox.DnsmasqConfig

// Dnsmasq is a running dnsmasq started by StartDnsmasq (a sandbox.Dnsmasq
// whose methods fail the test on error).
type Dnsmasq struct {
	*sandbox.Dnsmasq
}

// StartDnsmasq runs the real dnsmasq inside n with Neutron's command line
// and a state directory shaped like Neutron's, waits for its pid file, and
// stops it when the test ends (see sandbox.StartDnsmasq).
func (n *NetNS) StartDnsmasq(tb testing.TB, o DnsmasqOptions) *Dnsmasq {
	tb.Helper()
	o.Binary = RequireBinary(tb, "dnsmasq", "dnsmasq-base")
	if o.StateDir == "" {
		o.StateDir = SearchableTempDir(tb)
	}
	if o.Output == nil {
		o.Output = os.Stderr
	}
	d, err := sandbox.StartDnsmasq(context.Background(), n.NetNS, &o)
	check(tb, err)
	tb.Cleanup(func() { d.Close() })
	return &Dnsmasq{d}
}

// Kill sends SIGKILL to dnsmasq. With reap false the process stays a
// zombie (state Z) until the test ends or Reap is called, as a killed
// daemon does until PID 1 gets to it.
func (d *Dnsmasq) Kill(tb testing.TB, reap bool) {
	tb.Helper()
	check(tb, d.Dnsmasq.Kill(reap))
}

// Reload sends SIGHUP: dnsmasq rereads the hosts and opts files.
func (d *Dnsmasq) Reload(tb testing.TB) {
	tb.Helper()
	check(tb, d.Dnsmasq.Reload())
}

// DHCPLease is what a DHCP client in a test namespace obtained.
type DHCPLease = sandbox.DHCPLease

// RunDHCPClient runs a real DHCP client (busybox udhcpc) on ifname inside n
// until it obtains a lease (DISCOVER, OFFER, REQUEST, ACK) or gives up after
// about 3 s. It sends hostname as option 12 and its MAC as client id, so
// dnsmasq's lease row carries both (a renewed row). It does not configure
// the interface. It fails the test if no lease is obtained.
func (n *NetNS) RunDHCPClient(tb testing.TB, ifname, hostname string) DHCPLease {
	tb.Helper()
	l, err := n.TryDHCPClient(ifname, hostname)
	check(tb, err)
	return l
}

// TryDHCPClient is RunDHCPClient returning the error instead of failing
// (for tests where no lease is expected).
func (n *NetNS) TryDHCPClient(ifname, hostname string) (DHCPLease, error) {
	return sandbox.RunDHCPClient(context.Background(), n.NetNS, &sandbox.DHCPClientConfig{Interface: ifname, Hostname: hostname})
}

// DHCPNetwork is a Neutron network's DHCP side in throwaway namespaces: a
// "host" namespace playing the network node with the brq bridge, a
// qdhcp-<network> namespace whose ns-<port> veth has its tap<port> end on
// the bridge, and guests on the same bridge. Names start with "dh".
type DHCPNetwork struct {
	// NetworkID is a random UUID.
	NetworkID string
	// Host holds the bridge and the host ends of every veth.
	Host *NetNS
	// Bridge is the bridge's name in Host ("brq" + 11 hex).
	Bridge string
	// QDHCP is the qdhcp-<NetworkID> namespace.
	QDHCP *NetNS
	// DHCPPortID is the DHCP port's (random) Neutron port ID; its devices are
	// "tap" and "ns-" + DHCPPortID[:11], as Neutron names them.
	DHCPPortID string
	// ServeIf is the serving interface in QDHCP ("ns-" + 11 hex), up.
	ServeIf string
	// ServeMAC is ServeIf's MAC.
	ServeMAC net.HardwareAddr
	// Subnet is the served subnet; ServerIP (Subnet's 6th address, as
	// Neutron's .70 in a /27 at .64) is on ServeIf unless NoAddress was set.
	Subnet   netip.Prefix
	ServerIP netip.Addr
	// Dnsmasq is set by StartDnsmasq.
	Dnsmasq *Dnsmasq
}

// DHCPGuest is a guest namespace with one veth whose peer is a bridge port.
type DHCPGuest struct {
	NS  *NetNS
	If  string
	MAC net.HardwareAddr
	// Port is the host end on the bridge.
	Port string
}

// NewDHCPNetwork builds the topology with namespaces under netnsDir (a
// t.TempDir(), so real qdhcp namespaces are not disturbed nor seen).
// Subnet must be IPv4 and at least a /29. With noAddress the serving
// interface is left without an address.
func NewDHCPNetwork(tb testing.TB, netnsDir string, subnet netip.Prefix, noAddress bool) *DHCPNetwork {
	tb.Helper()
	d := &DHCPNetwork{NetworkID: sandbox.RandUUID(), Subnet: subnet.Masked()}
	d.Host = NewNetNSAt(tb, netnsDir, RandNameN("dhhost-", 16))
	d.Bridge = "brq" + d.NetworkID[:11]
	d.Host.Bridge(tb, d.Bridge)
	d.QDHCP = NewNetNSAt(tb, netnsDir, "qdhcp-"+d.NetworkID)
	d.DHCPPortID = sandbox.RandUUID()
	port := d.DHCPPortID[:11] // Neutron's form: 8 hex, a dash, 2 hex
	d.ServeIf = "ns-" + port
	d.Host.Veth(tb, "tap"+port, d.QDHCP, d.ServeIf)
	d.Host.Enslave(tb, "tap"+port, d.Bridge)
	d.Host.SetUp(tb, "tap"+port)
	d.QDHCP.SetUp(tb, "lo")
	d.QDHCP.SetUp(tb, d.ServeIf)
	d.ServeMAC = d.QDHCP.Link(tb, d.ServeIf).Attrs().HardwareAddr
	d.Host.WaitOperUp(tb, "tap"+port)
	a := d.Subnet.Addr()
	for range 6 {
		a = a.Next()
	}
	d.ServerIP = a
	if !noAddress {
		d.QDHCP.AddAddr(tb, d.ServeIf, netip.PrefixFrom(a, d.Subnet.Bits()).String())
	}
	return d
}

// AddGuest adds a guest namespace under the same dir with a veth "eth-…"
// (MAC mac, up, no address) whose peer is enslaved to the bridge.
func (d *DHCPNetwork) AddGuest(tb testing.TB, mac net.HardwareAddr) *DHCPGuest {
	tb.Helper()
	g := &DHCPGuest{NS: NewNetNSAt(tb, d.Host.Dir, RandNameN("dhguest-", 16)), If: RandName("eth"), MAC: mac, Port: RandName("dhtap")}
	d.Host.Veth(tb, g.Port, g.NS, g.If)
	d.Host.Enslave(tb, g.Port, d.Bridge)
	d.Host.SetUp(tb, g.Port)
	g.NS.SetMAC(tb, g.If, mac)
	g.NS.SetUp(tb, g.If)
	d.Host.WaitOperUp(tb, g.Port)
	return g
}

// StartDnsmasq starts dnsmasq in QDHCP for this network (o.NetworkID,
// o.Interface and o.Subnet are filled in).
func (d *DHCPNetwork) StartDnsmasq(tb testing.TB, o DnsmasqOptions) *Dnsmasq {
	tb.Helper()
	o.NetworkID, o.Interface, o.Subnet = d.NetworkID, d.ServeIf, d.Subnet
	d.Dnsmasq = d.QDHCP.StartDnsmasq(tb, o)
	return d.Dnsmasq
}

// StartDynamicDnsmasq runs the real dnsmasq in n on ifname with a dynamic
// pool (--dhcp-range=pool, as a rogue DHCP server or a router runs it,
// unlike Neutron's static one), DNS off, until the test ends. It returns
// a function that gives dnsmasq's output and DHCP log so far. Like every
// dnsmasq it pings an address before it offers it: its OFFERs come up to
// 3 s after a DISCOVER.
func (n *NetNS) StartDynamicDnsmasq(tb testing.TB, ifname, pool string) (log func() string) {
	tb.Helper()
	bin := RequireBinary(tb, "dnsmasq", "dnsmasq-base")
	dir := tb.TempDir()
	cmd := exec.Command("nsenter", "--net="+n.Path, "--", bin, "--keep-in-foreground", "--conf-file=/dev/null", "--port=0",
		"--bind-interfaces", "--interface="+ifname, "--except-interface=lo", "--dhcp-range="+pool,
		"--dhcp-leasefile="+filepath.Join(dir, "leases"), "--pid-file="+filepath.Join(dir, "pid"),
		"--log-dhcp", "--log-facility="+filepath.Join(dir, "log"))
	var out strings.Builder
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Start(); err != nil {
		tb.Fatalf("start a dynamic dnsmasq in %s: %v", n.Name, err)
	}
	tb.Cleanup(func() { cmd.Process.Kill(); cmd.Wait() })
	return func() string {
		b, _ := os.ReadFile(filepath.Join(dir, "log"))
		return out.String() + string(b)
	}
}
