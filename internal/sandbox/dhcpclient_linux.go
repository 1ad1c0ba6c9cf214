package sandbox

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os/exec"
	"regexp"
	"strconv"
	"syscall"
)

// DHCPClientConfig says how RunDHCPClient runs busybox udhcpc.
type DHCPClientConfig struct {
	// Busybox is the busybox binary; "" means "busybox" looked up in $PATH.
	Busybox string
	// Interface is the link to ask on. Required.
	Interface string
	// Hostname is sent as option 12 (and the MAC as client id), so
	// dnsmasq's lease row carries both; "" sends none.
	Hostname string
	// Tries is how many DISCOVERs to send, a second apart; zero means 3.
	Tries int
}

// DHCPLease is what a DHCP client obtained.
type DHCPLease struct {
	// IP is the leased address.
	IP netip.Addr
	// Output is what udhcpc printed.
	Output string
}

var leaseRE = regexp.MustCompile(`lease of ([0-9.]+) obtained`)

// RunDHCPClient runs a real DHCP client (busybox udhcpc) inside ns until it
// obtains a lease (DISCOVER, OFFER, REQUEST, ACK), gives up after
// cfg.Tries seconds or so, or ctx ends. It does not configure the
// interface. The error says what udhcpc printed when it got no lease.
func RunDHCPClient(ctx context.Context, ns *NetNS, cfg *DHCPClientConfig) (DHCPLease, error) {
	bin, err := LookBin(cfg.Busybox, "busybox", "busybox")
	if err != nil {
		return DHCPLease{}, err
	}
	tries := cfg.Tries
	if tries <= 0 {
		tries = 3
	}
	args := []string{"udhcpc", "-f", "-q", "-n", "-i", cfg.Interface, "-t", strconv.Itoa(tries), "-T", "1", "-s", "/bin/true"}
	if cfg.Hostname != "" {
		args = append(args, "-x", "hostname:"+cfg.Hostname)
	}
	cmd := exec.CommandContext(ctx, bin, args...)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := ns.Start(cmd); err != nil {
		return DHCPLease{}, fmt.Errorf("sandbox: start udhcpc in %s: %w", ns.Name, err)
	}
	err = cmd.Wait()
	l := DHCPLease{Output: out.String()}
	if ctx.Err() != nil {
		return l, fmt.Errorf("sandbox: the DHCP client was stopped: %w", ctx.Err())
	}
	m := leaseRE.FindStringSubmatch(l.Output)
	if err != nil || m == nil {
		return l, errors.Join(fmt.Errorf("sandbox: udhcpc on %s obtained no lease: %s", cfg.Interface, bytes.TrimSpace(out.Bytes())), err)
	}
	if l.IP, err = netip.ParseAddr(m[1]); err != nil {
		return l, fmt.Errorf("sandbox: udhcpc: %w", err)
	}
	return l, nil
}
