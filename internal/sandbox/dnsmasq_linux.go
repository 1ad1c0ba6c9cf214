package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"net"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"
)

// DnsmasqHost is one port Neutron knows on the network: a line of the
// hosts file and, with DnsmasqConfig.SeedLeases, a seeded lease row.
type DnsmasqHost struct {
	MAC net.HardwareAddr
	IP  netip.Addr
	// Hostname is the host's name; "" means Neutron's "host-a-b-c-d".
	Hostname string
}

// NeutronHostname is Neutron's host name for a fixed IP: "host-" and the
// address with dashes ("host-192-168-31-74").
func NeutronHostname(ip netip.Addr) string {
	return "host-" + strings.ReplaceAll(ip.String(), ".", "-")
}

// DnsmasqConfig says how to start dnsmasq as Neutron's DHCP agent does.
type DnsmasqConfig struct {
	// Binary is the dnsmasq to run; "" means "dnsmasq" looked up in $PATH.
	Binary string
	// NetworkID names the state directory StateDir/<NetworkID>/ and goes
	// into the file paths on the command line. Required.
	NetworkID string
	// Interface is the serving interface inside the namespace (Neutron's
	// "ns-<port>"); it must exist, be up and carry an address in Subnet
	// for dnsmasq to answer. Required. Its TX checksum offload is turned
	// off (see NetNS.TxChecksumOff).
	Interface string
	// Pike selects Neutron Pike's command line (--bind-interfaces
	// --interface=<Interface> --dhcp-range=set:tag0,…); false gives Zed's
	// (--local-service --bind-dynamic, set:subnet-<network>, no
	// --interface).
	Pike bool
	// Subnet is the IPv4 subnet served in static mode. Required.
	Subnet netip.Prefix
	// Router and DNS are the router and DNS server options; the zero
	// Addr means Subnet's first host address.
	Router, DNS netip.Addr
	// Hosts are written to the hosts file (dnsmasq answers only them).
	Hosts []DnsmasqHost
	// SeedLeases writes one "<expiry> <mac> <ip> * *" row per host into
	// the lease file before starting, as Neutron does.
	SeedLeases bool
	// StateDir is the parent of the per-network directory, shaped like
	// /var/lib/neutron/dhcp. Required; dnsmasq rereads its files as
	// nobody, so it and its parents must be searchable by others.
	StateDir string
	// Output receives dnsmasq's standard output and error; nil discards
	// them (its log goes to LogFile either way).
	Output io.Writer
}

// Dnsmasq is a running dnsmasq started by StartDnsmasq. Its methods are
// safe for concurrent use.
type Dnsmasq struct {
	// StateDir is the directory shaped like /var/lib/neutron/dhcp.
	StateDir string
	// Dir is StateDir/<network>, holding pid, host, addn_hosts, opts,
	// leases and log (dnsmasq's log).
	Dir string
	// PIDFile, HostsFile, AddnHostsFile, OptsFile, LeaseFile, LogFile are
	// the files in Dir.
	PIDFile, HostsFile, AddnHostsFile, OptsFile, LeaseFile, LogFile string
	// Args is the command line dnsmasq runs with.
	Args []string
	// PID is the dnsmasq process id (also in PIDFile).
	PID int

	cmd      *exec.Cmd
	waitOnce sync.Once
	waited   chan struct{}
}

// StartDnsmasq writes Neutron's files under cfg.StateDir and runs the real
// dnsmasq inside ns with Neutron's command line, plus --keep-in-foreground
// so that the caller is its parent and decides when a killed dnsmasq is
// reaped (see Kill). It waits (at most 5 s, or until ctx ends) for
// dnsmasq's pid file. dnsmasq runs in its own process group (a terminal's
// Ctrl-C reaches only the caller, which stops it) and gets SIGKILL if the
// caller dies during its start-up (the kernel clears that parent-death
// signal when dnsmasq drops root for nobody). Stop or Close stops it.
func StartDnsmasq(ctx context.Context, ns *NetNS, cfg *DnsmasqConfig) (_ *Dnsmasq, err error) {
	o := *cfg
	if o.NetworkID == "" || o.Interface == "" || !o.Subnet.IsValid() || o.StateDir == "" {
		return nil, fmt.Errorf("sandbox: StartDnsmasq needs NetworkID, Interface, Subnet and StateDir: %+v", o)
	}
	bin, err := LookBin(o.Binary, "dnsmasq", "dnsmasq-base")
	if err != nil {
		return nil, err
	}
	d := &Dnsmasq{StateDir: o.StateDir, Dir: filepath.Join(o.StateDir, o.NetworkID), waited: make(chan struct{})}
	if err := os.MkdirAll(d.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	f := func(n string) string { return filepath.Join(d.Dir, n) }
	d.PIDFile, d.HostsFile, d.AddnHostsFile, d.OptsFile, d.LeaseFile, d.LogFile = f("pid"), f("host"), f("addn_hosts"), f("opts"), f("leases"), f("log")

	subnet := o.Subnet.Masked()
	if !o.Router.IsValid() {
		o.Router = subnet.Addr().Next()
	}
	if !o.DNS.IsValid() {
		o.DNS = subnet.Addr().Next()
	}
	var hosts, addn, leases bytes.Buffer
	exp := time.Now().Add(24 * time.Hour).Unix()
	for _, h := range o.Hosts {
		name := h.Hostname
		if name == "" {
			name = NeutronHostname(h.IP)
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
	opts := fmt.Sprintf("tag:%s,option:dns-server,%s\ntag:%s,option:router,%s\n", tag, o.DNS, tag, o.Router)
	for p, b := range map[string][]byte{d.HostsFile: hosts.Bytes(), d.AddnHostsFile: addn.Bytes(), d.LeaseFile: leases.Bytes(), d.OptsFile: []byte(opts)} {
		if err := os.WriteFile(p, b, 0o644); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
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
		fmt.Sprintf("--dhcp-range=set:%s,%s,static,%s,86400s", tag, subnet.Addr(), net.IP(net.CIDRMask(subnet.Bits(), 32))),
		"--dhcp-option-force=option:mtu,1500",
		"--dhcp-lease-max=32",
		"--conf-file=",
		"--domain=openstacklocal",
		"--log-dhcp",
		"--log-facility="+d.LogFile,
		"--keep-in-foreground")

	if err := ns.TxChecksumOff(o.Interface); err != nil {
		return nil, err
	}
	d.cmd = exec.Command(d.Args[0], d.Args[1:]...)
	d.cmd.Stdout, d.cmd.Stderr = o.Output, o.Output
	d.cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	if err := ns.Start(d.cmd); err != nil {
		return nil, fmt.Errorf("sandbox: start dnsmasq in %s: %w", ns.Name, err)
	}
	d.PID = d.cmd.Process.Pid
	defer func() {
		if err != nil {
			d.Stop(syscall.SIGKILL)
		}
	}()
	for deadline := time.Now().Add(5 * time.Second); ; {
		b, err := os.ReadFile(d.PIDFile)
		if err == nil && strings.TrimSpace(string(b)) == strconv.Itoa(d.PID) {
			return d, nil
		}
		if time.Now().After(deadline) {
			return nil, fmt.Errorf("sandbox: dnsmasq (pid %d) wrote no pid file %s within 5 s (%q, %v); its log:\n%s", d.PID, d.PIDFile, b, err, d.Log())
		}
		select {
		case <-ctx.Done():
			return nil, ctx.Err()
		case <-time.After(2 * time.Millisecond):
		}
	}
}

// Signal sends sig to dnsmasq.
func (d *Dnsmasq) Signal(sig syscall.Signal) error {
	if err := d.cmd.Process.Signal(sig); err != nil {
		return fmt.Errorf("sandbox: %v to dnsmasq %d: %w", sig, d.PID, err)
	}
	return nil
}

// Reload sends SIGHUP: dnsmasq rereads the hosts and opts files.
func (d *Dnsmasq) Reload() error { return d.Signal(syscall.SIGHUP) }

// Kill sends SIGKILL and waits (at most 5 s) until the kernel has made
// dnsmasq a zombie. With reap false it stays one (state Z) until Reap or
// Stop, as a killed daemon does until PID 1 gets to it.
func (d *Dnsmasq) Kill(reap bool) error {
	if err := d.Signal(syscall.SIGKILL); err != nil {
		return err
	}
	for deadline := time.Now().Add(5 * time.Second); time.Now().Before(deadline); time.Sleep(time.Millisecond) {
		b, _ := os.ReadFile(fmt.Sprintf("/proc/%d/stat", d.PID))
		if i := bytes.LastIndexByte(b, ')'); i > 0 && len(b) > i+2 && b[i+2] == 'Z' {
			break
		}
	}
	if reap {
		d.Reap()
	}
	return nil
}

// Reap waits for dnsmasq to exit, so its pid disappears from /proc.
func (d *Dnsmasq) Reap() {
	d.waitOnce.Do(func() {
		d.cmd.Wait()
		close(d.waited)
	})
}

// Exited reports whether dnsmasq has been reaped.
func (d *Dnsmasq) Exited() bool {
	select {
	case <-d.waited:
		return true
	default:
		return false
	}
}

// Stop sends sig (unless dnsmasq has exited already) and reaps it,
// killing it if it has not exited within 3 s. It is idempotent.
func (d *Dnsmasq) Stop(sig syscall.Signal) error {
	if d.Exited() {
		return nil
	}
	err := d.Signal(sig)
	done := make(chan struct{})
	go func() { d.Reap(); close(done) }()
	select {
	case <-done:
	case <-time.After(3 * time.Second):
		d.cmd.Process.Kill()
		<-done
	}
	if errors.Is(err, os.ErrProcessDone) {
		err = nil
	}
	return err
}

// Close stops dnsmasq with SIGTERM (see Stop).
func (d *Dnsmasq) Close() error { return d.Stop(syscall.SIGTERM) }

// Log returns dnsmasq's log so far.
func (d *Dnsmasq) Log() string {
	b, _ := os.ReadFile(d.LogFile)
	return string(b)
}

// LookBin returns the path of the program given (or, if given is "", of
// name) looked up in $PATH, or an error naming the Debian package that
// provides it.
func LookBin(given, name, debianPackage string) (string, error) {
	if given == "" {
		given = name
	}
	bin, err := exec.LookPath(given)
	if err != nil {
		return "", fmt.Errorf("sandbox: %s not found (%w): apt-get install %s (or make deps)", name, err, debianPackage)
	}
	return bin, nil
}
