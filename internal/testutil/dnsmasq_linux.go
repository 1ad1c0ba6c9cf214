package testutil

import (
	"bytes"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"regexp"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
)

// DnsmasqHost is one port Neutron knows on the network: a line of the
// hosts file and, with SeedLeases, a pre-seeded lease row.
type DnsmasqHost struct {
	MAC      net.HardwareAddr
	IP       netip.Addr
	Hostname string // "" → Neutron's "host-a-b-c-d.openstacklocal"
}

// DnsmasqOptions say how to start dnsmasq like Neutron's DHCP agent does.
type DnsmasqOptions struct {
	// NetworkID names the state directory <StateDir>/<NetworkID>/ and goes
	// into the file paths on the command line. Required.
	NetworkID string
	// Interface is the serving interface inside the namespace (Neutron's
	// "ns-<port>"); it must exist, be up and carry an address in Subnet for
	// dnsmasq to answer. Required. Its TX checksum offload is turned off
	// (what Neutron's CHECKSUM rule achieves) so raw-socket clients accept
	// the replies.
	Interface string
	// Pike selects Neutron Pike's command line (--bind-interfaces
	// --interface=<Interface> --dhcp-range=set:tag0,…); false gives Zed's
	// (--local-service --bind-dynamic, set:subnet-<uuid>, no --interface).
	Pike bool
	// Subnet is the IPv4 subnet served in static mode. Required.
	Subnet netip.Prefix
	// Hosts are written to the hosts file (dnsmasq answers only them).
	Hosts []DnsmasqHost
	// SeedLeases writes one "<expiry> <mac> <ip> * *" row per host into the
	// lease file before starting, as Neutron does.
	SeedLeases bool
	// StateDir is the parent of the per-network directory. "" → a new
	// t.TempDir() (made world-readable: dnsmasq rereads files as nobody).
	StateDir string
}

// Dnsmasq is a running dnsmasq started by StartDnsmasq.
type Dnsmasq struct {
	// StateDir is the directory shaped like /var/lib/neutron/dhcp.
	StateDir string
	// Dir is StateDir/<network>, holding pid, host, addn_hosts, opts,
	// leases (and log, dnsmasq's log).
	Dir string
	// PIDFile, HostsFile, AddnHostsFile, OptsFile, LeaseFile, LogFile are
	// the files in Dir.
	PIDFile, HostsFile, AddnHostsFile, OptsFile, LeaseFile, LogFile string
	// Args is the command line dnsmasq runs with.
	Args []string
	// PID is the dnsmasq process id (also in PIDFile).
	PID int

	cmd    *exec.Cmd
	waited bool
}

// StartDnsmasq runs the real dnsmasq inside n with Neutron's command line
// and a state directory shaped like Neutron's, waits for its pid file, and
// stops it when the test ends. dnsmasq runs with --keep-in-foreground (an
// addition to Neutron's line) so that the test process is its parent and
// controls when a killed dnsmasq is reaped (see Kill).
func (n *NetNS) StartDnsmasq(tb testing.TB, o DnsmasqOptions) *Dnsmasq {
	tb.Helper()
	bin := RequireBinary(tb, "dnsmasq", "dnsmasq-base")
	RequireBinary(tb, "ethtool", "ethtool")
	if o.NetworkID == "" || o.Interface == "" || !o.Subnet.IsValid() {
		tb.Fatalf("testutil: StartDnsmasq needs NetworkID, Interface and Subnet: %+v", o)
	}
	if o.StateDir == "" {
		o.StateDir = worldReadableTempDir(tb)
	}
	d := &Dnsmasq{StateDir: o.StateDir, Dir: filepath.Join(o.StateDir, o.NetworkID)}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		tb.Fatal(err)
	}
	d.PIDFile = filepath.Join(d.Dir, "pid")
	d.HostsFile = filepath.Join(d.Dir, "host")
	d.AddnHostsFile = filepath.Join(d.Dir, "addn_hosts")
	d.OptsFile = filepath.Join(d.Dir, "opts")
	d.LeaseFile = filepath.Join(d.Dir, "leases")
	d.LogFile = filepath.Join(d.Dir, "log")

	subnet := o.Subnet.Masked()
	var hosts, addn, leases bytes.Buffer
	exp := time.Now().Add(24 * time.Hour).Unix()
	for _, h := range o.Hosts {
		name := h.Hostname
		if name == "" {
			name = "host-" + strings.ReplaceAll(h.IP.String(), ".", "-")
		}
		fmt.Fprintf(&hosts, "%s,%s.openstacklocal,%s\n", h.MAC, name, h.IP)
		fmt.Fprintf(&addn, "%s\t%s.openstacklocal %s\n", h.IP, name, name)
		if o.SeedLeases {
			fmt.Fprintf(&leases, "%d %s %s * *\n", exp, h.MAC, h.IP)
		}
	}
	tag := "subnet-" + o.NetworkID
	if o.Pike {
		tag = "tag0"
	}
	opts := fmt.Sprintf("tag:%s,option:dns-server,%s\ntag:%s,option:router,%s\n", tag, subnet.Addr().Next(), tag, subnet.Addr().Next())
	for p, b := range map[string][]byte{d.HostsFile: hosts.Bytes(), d.AddnHostsFile: addn.Bytes(), d.LeaseFile: leases.Bytes(), d.OptsFile: []byte(opts)} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			tb.Fatal(err)
		}
	}
	mask := net.IP(net.CIDRMask(subnet.Bits(), 32)).String()
	d.Args = []string{bin, "--no-hosts", "--no-resolv"}
	if o.Pike {
		d.Args = append(d.Args, "--strict-order", "--except-interface=lo")
	}
	d.Args = append(d.Args,
		"--pid-file="+d.PIDFile,
		"--dhcp-hostsfile="+d.HostsFile,
		"--addn-hosts="+d.AddnHostsFile,
		"--dhcp-optsfile="+d.OptsFile,
		"--dhcp-leasefile="+d.LeaseFile,
		"--dhcp-match=set:ipxe,175")
	if o.Pike {
		d.Args = append(d.Args, "--bind-interfaces", "--interface="+o.Interface)
	} else {
		d.Args = append(d.Args, "--dhcp-userclass=set:ipxe6,iPXE", "--local-service", "--bind-dynamic")
	}
	d.Args = append(d.Args,
		fmt.Sprintf("--dhcp-range=set:%s,%s,static,%s,86400s", tag, subnet.Addr(), mask),
		"--dhcp-option-force=option:mtu,1500",
		"--dhcp-lease-max=32",
		"--conf-file=",
		"--domain=openstacklocal",
		"--log-dhcp",
		"--log-facility="+d.LogFile,
		"--keep-in-foreground")

	if out, err := n.Command("ethtool", "-K", o.Interface, "tx", "off").CombinedOutput(); err != nil {
		tb.Fatalf("testutil: ethtool -K %s tx off in %s: %v\n%s", o.Interface, n.Name, err, out)
	}
	d.cmd = n.Command(d.Args[0], d.Args[1:]...)
	// nsenter execs dnsmasq in place, so the child's pid is dnsmasq's.
	d.cmd.Stdout, d.cmd.Stderr = os.Stderr, os.Stderr
	if err := d.cmd.Start(); err != nil {
		tb.Fatalf("testutil: start dnsmasq in %s: %v", n.Name, err)
	}
	d.PID = d.cmd.Process.Pid
	tb.Cleanup(func() { d.stop() })
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(d.PIDFile)
		if err == nil && strings.TrimSpace(string(b)) == fmt.Sprint(d.PID) {
			break
		}
		if time.Now().After(deadline) {
			log, _ := os.ReadFile(d.LogFile)
			tb.Fatalf("testutil: dnsmasq (pid %d) wrote no pid file %s within 5s (got %q, %v); log:\n%s", d.PID, d.PIDFile, b, err, log)
		}
		time.Sleep(2 * time.Millisecond)
	}
	return d
}

func worldReadableTempDir(tb testing.TB) string {
	dir := tb.TempDir()
	for p := dir; p != os.TempDir() && p != "/" && p != "."; p = filepath.Dir(p) {
		os.Chmod(p, 0o755)
	}
	return dir
}

// Kill sends SIGKILL to dnsmasq. With reap false the process stays a
// zombie (state Z) until the test ends or Reap is called, as a killed
// daemon does until PID 1 gets to it.
func (d *Dnsmasq) Kill(tb testing.TB, reap bool) {
	tb.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGKILL); err != nil {
		tb.Fatalf("testutil: kill dnsmasq %d: %v", d.PID, err)
	}
	// Wait until the kernel has made it a zombie.
	deadline := time.Now().Add(5 * time.Second)
	for time.Now().Before(deadline) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.PID))
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			break
		}
		time.Sleep(time.Millisecond)
	}
	if reap {
		d.Reap()
	}
}

// Reap waits for a killed dnsmasq, so its pid disappears from /proc.
func (d *Dnsmasq) Reap() {
	if !d.waited {
		d.waited = true
		d.cmd.Wait()
	}
}

// Reload sends SIGHUP: dnsmasq rereads the hosts and opts files.
func (d *Dnsmasq) Reload(tb testing.TB) {
	tb.Helper()
	if err := d.cmd.Process.Signal(syscall.SIGHUP); err != nil {
		tb.Fatalf("testutil: SIGHUP dnsmasq %d: %v", d.PID, err)
	}
}

func (d *Dnsmasq) stop() {
	if d.waited {
		return
	}
	d.cmd.Process.Signal(syscall.SIGTERM)
	done := make(chan struct{})
	go func() { d.Reap(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
}

// Log returns dnsmasq's log so far.
func (d *Dnsmasq) Log() string {
	b, _ := os.ReadFile(d.LogFile)
	return string(b)
}

// DHCPLease is what a DHCP client in a test namespace obtained.
type DHCPLease struct {
	IP     netip.Addr
	Output string
}

var leaseRE = regexp.MustCompile(`lease of ([0-9.]+) obtained`)

// RunDHCPClient runs a real DHCP client (busybox udhcpc) on ifname inside n
// until it obtains a lease (DISCOVER, OFFER, REQUEST, ACK) or gives up after
// about 3 s. It sends hostname as option 12 and its MAC as client id, so
// dnsmasq's lease row carries both (a renewed row). It does not configure
// the interface. It fails the test if no lease is obtained.
func (n *NetNS) RunDHCPClient(tb testing.TB, ifname, hostname string) DHCPLease {
	tb.Helper()
	l, err := n.TryDHCPClient(ifname, hostname)
	if err != nil {
		tb.Fatalf("testutil: DHCP client on %s in %s: %v", ifname, n.Name, err)
	}
	return l
}

// TryDHCPClient is RunDHCPClient returning the error instead of failing
// (for tests where no lease is expected).
func (n *NetNS) TryDHCPClient(ifname, hostname string) (DHCPLease, error) {
	if _, err := exec.LookPath("busybox"); err != nil {
		return DHCPLease{}, fmt.Errorf("busybox not found: apt-get install busybox (make deps)")
	}
	args := []string{"udhcpc", "-f", "-q", "-n", "-i", ifname, "-t", "3", "-T", "1", "-s", "/bin/true"}
	if hostname != "" {
		args = append(args, "-x", "hostname:"+hostname)
	}
	out, err := n.Command("busybox", args...).CombinedOutput()
	m := leaseRE.FindSubmatch(out)
	if err != nil || m == nil {
		return DHCPLease{Output: string(out)}, errors.Join(fmt.Errorf("udhcpc obtained no lease: %s", bytes.TrimSpace(out)), err)
	}
	ip, perr := netip.ParseAddr(string(m[1]))
	if perr != nil {
		return DHCPLease{Output: string(out)}, perr
	}
	return DHCPLease{IP: ip, Output: string(out)}, nil
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
	d := &DHCPNetwork{NetworkID: randUUID(), Subnet: subnet.Masked()}
	d.Host = NewNetNSAt(tb, netnsDir, RandNameN("dhhost-", 16))
	d.Bridge = "brq" + d.NetworkID[:11]
	d.Host.Bridge(tb, d.Bridge)
	d.QDHCP = NewNetNSAt(tb, netnsDir, "qdhcp-"+d.NetworkID)
	d.DHCPPortID = randUUID()
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

// WaitOperUp waits until a link is operationally up. The kernel's link
// watcher reports carrier changes up to a second late, and a bridge port
// forwards only from then on: frames sent before are dropped.
func (n *NetNS) WaitOperUp(tb testing.TB, name string) {
	tb.Helper()
	deadline := time.Now().Add(3 * time.Second)
	for {
		l, err := n.Handle(tb).LinkByName(name)
		if err == nil && l.Attrs().OperState == netlink.OperUp {
			return
		}
		if time.Now().After(deadline) {
			tb.Fatalf("testutil: %s in %s not operationally up after 3s: %v", name, n.Name, err)
		}
		time.Sleep(2 * time.Millisecond)
	}
}

// StartDnsmasq starts dnsmasq in QDHCP for this network (o.NetworkID,
// o.Interface and o.Subnet are filled in).
func (d *DHCPNetwork) StartDnsmasq(tb testing.TB, o DnsmasqOptions) *Dnsmasq {
	tb.Helper()
	o.NetworkID, o.Interface, o.Subnet = d.NetworkID, d.ServeIf, d.Subnet
	d.Dnsmasq = d.QDHCP.StartDnsmasq(tb, o)
	return d.Dnsmasq
}

func randUUID() string {
	h := RandNameN("", 32)
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}
