package trace

import (
	"fmt"
	"net/netip"
	"slices"
	"strings"
	"time"

	"github.com/vifpath/vifpath/guestlog"
)

// ConsoleMissing says why a guest's console could not be read. The zero
// value "" means it was read.
type ConsoleMissing string

// Reasons a console is missing (set by whoever read it, from typed errors:
// libvirtinspect.ErrNoConsoleLog, fs.ErrNotExist, fs.ErrPermission).
const (
	// ConsoleNoLogFile: the domain XML declares no console log file
	// (libvirtinspect.ErrNoConsoleLog).
	ConsoleNoLogFile ConsoleMissing = "no-log-file"
	// ConsoleFileMissing: the declared file does not exist (the domain
	// never started since it was defined, or the file was removed).
	ConsoleFileMissing ConsoleMissing = "file-missing"
	// ConsoleNotPermitted: the file exists but this process may not read
	// it (virtlogd writes it as root).
	ConsoleNotPermitted ConsoleMissing = "not-permitted"
	// ConsoleNotOnThisNode: the domain runs on another node (this one
	// has no libvirt domain for the server).
	ConsoleNotOnThisNode ConsoleMissing = "not-on-this-node"
	// ConsoleReadFailed: any other read error (see GuestFacts.ConsoleError).
	ConsoleReadFailed ConsoleMissing = "read-failed"
)

// GuestFacts is what the guest hop judges: the guest's console output as
// read once (from its log file on the compute node, or from Nova's
// os-getConsoleOutput), and the addresses it is compared with. It is a
// plain value; record it as JSON to replay a judgement.
type GuestFacts struct {
	// Domain names the domain or server whose console this is.
	Domain string `json:"domain,omitempty"`
	// ConsolePath is where the console was read from (a file path, or
	// "os-getConsoleOutput").
	ConsolePath string `json:"console_path,omitempty"`
	// Missing is why the console could not be read ("" when it was);
	// ConsoleError is the read error's text, for the evidence only.
	Missing      ConsoleMissing `json:"missing,omitempty"`
	ConsoleError string         `json:"console_error,omitempty"`
	// ConsoleBytes is how many bytes were read; ConsoleModTime when the
	// file last changed (zero when unknown).
	ConsoleBytes   int       `json:"console_bytes"`
	ConsoleModTime time.Time `json:"console_mod_time,omitzero"`
	// Events are guestlog.Parse of what was read.
	Events []guestlog.Event `json:"events,omitempty"`
	// PortIP is the Neutron port's fixed IP (what the guest should
	// lease); DHCPServer the address of the network's DHCP port (what it
	// should lease from). Zero when unknown: not compared.
	PortIP     netip.Addr `json:"port_ip,omitzero"`
	DHCPServer netip.Addr `json:"dhcp_server,omitzero"`
	// NICIPs are this NIC's IPv4 fixed IPs when the domain has several
	// NICs, whose DHCP clients share the one console: a lease of an
	// address not among them is another NIC's, and says nothing of this
	// one. Empty: not compared.
	NICIPs []netip.Addr `json:"nic_ips,omitempty"`
	// DomainRunning is set when the domain was running when the console
	// was read; ReadAt is when it was read (the observation's start).
	// With ConsoleModTime they tell how long an empty console has been
	// silent. Zero: not judged.
	DomainRunning bool      `json:"domain_running,omitempty"`
	ReadAt        time.Time `json:"read_at,omitzero"`
}

// GuestSilentAfter is how long a running domain's console may stay empty
// before the guest hop warns. Every Linux image the walkthrough uses
// prints its kernel's boot messages on ttyS0 within seconds (the
// project's TCG guest within 10 s, a cirros under TCG within 60 s), so
// two minutes of nothing means the guest is not booting: a broken
// image, or a flavor with too little RAM for it. libvirt reports no
// domain start time, so the silence is counted from the console log's
// mtime: an empty file was last written when virtlogd created or
// truncated it, at the domain's start.
const GuestSilentAfter = 120 * time.Second

// JudgeGuest judges the guest's own view of its network from its console:
// it leased the port's address from the network's DHCP server (ok); it
// sent DISCOVERs and got no offer (fail: the fault is outside the guest);
// it got an offer but no lease; it leased another address or from another
// server; its link went down; it never started a DHCP client (warn: an
// image problem, or a static configuration); or no console output
// (unknown, saying why). It is a pure function of f.
func JudgeGuest(f GuestFacts) Hop {
	h := Hop{Kind: KindGuest, Name: f.Domain}
	if h.Name == "" {
		h.Name = "console"
	}
	if f.ConsolePath != "" {
		jAdd(&h, "console", "%s", f.ConsolePath)
	}
	if f.Missing != "" {
		jAdd(&h, "missing", "%s", f.Missing)
		if f.ConsoleError != "" {
			jAdd(&h, "error", "%s", f.ConsoleError)
		}
		switch f.Missing {
		case ConsoleNoLogFile:
			h.Summary = "no console output: the domain declares no console log file"
			h.Next = "openstack console log show <server> (Nova's os-getConsoleOutput)"
		case ConsoleFileMissing:
			h.Summary = "no console output: the console log file does not exist"
			h.Next = "check the instance directory on the compute node; openstack console log show <server>"
		case ConsoleNotPermitted:
			h.Summary = "no console output: the console log is not readable by this process"
			h.Next = "run as root on the compute node (virtlogd writes console.log as root)"
		case ConsoleNotOnThisNode:
			h.Summary = "no console output: the domain does not run on this node"
			h.Next = "run on the compute node hosting the server, or use openstack console log show <server>"
		default:
			h.Summary = "no console output: the console log could not be read"
		}
		return h
	}
	jAdd(&h, "console_bytes", "%d", f.ConsoleBytes)
	if !f.ConsoleModTime.IsZero() {
		jAdd(&h, "console_mod_time", "%s", f.ConsoleModTime.UTC().Format(time.RFC3339))
	}
	if f.ConsoleBytes == 0 {
		silent := time.Duration(0)
		if f.DomainRunning && !f.ConsoleModTime.IsZero() && !f.ReadAt.IsZero() {
			silent = f.ReadAt.Sub(f.ConsoleModTime)
			jAdd(&h, "silent_for", "%s (the empty console log's mtime to the read)", silent.Round(time.Second))
		}
		if silent > GuestSilentAfter {
			h.Verdict = Warn
			h.Summary = fmt.Sprintf("the guest printed nothing in %d s: image/flavor problem? (too little RAM)", int(silent.Seconds()))
			h.Cause = "the domain runs but its guest never wrote to the serial console: the image does not boot (corrupt, wrong format, no console=ttyS0), or the flavor's RAM is too small for it"
			h.Next = "openstack console log show <server>; compare the flavor's RAM with the image's min_ram; virsh screenshot <domain> to see the VGA console"
			return h
		}
		h.Summary = "no console output yet: the guest printed nothing on its serial console"
		h.Next = "wait for the boot, or check the image sends its console to ttyS0 (console=ttyS0 on the kernel command line)"
		return h
	}
	s := guestlog.Summarize(f.Events)
	if len(s.Sources) > 0 {
		src := make([]string, len(s.Sources))
		for i, x := range s.Sources {
			src[i] = string(x)
		}
		jAdd(&h, "sources", "%s", strings.Join(src, ","))
	}
	jAdd(&h, "dhcp", "%d discover, %d offer, %d request, %d lease, %d no-lease", s.Discovers, s.Offers, s.Requests, s.Leases, s.NoLeases)
	if s.LastDHCP != nil {
		jAdd(&h, "last_dhcp_line", "%d: %s", s.LastDHCP.Line, s.LastDHCP.Text)
	}
	if s.LastLink != nil {
		jAdd(&h, "last_link_line", "%d: %s", s.LastLink.Line, s.LastLink.Text)
	}
	if s.LastMetadata != nil {
		jAdd(&h, "last_metadata_line", "%d: %s", s.LastMetadata.Line, s.LastMetadata.Text)
	}

	linkDown := s.LastLink != nil && s.LastLink.Kind == guestlog.LinkDown && (s.LastLease == nil || s.LastLink.Line > s.LastLease.Line)
	switch {
	case linkDown:
		h.Verdict = Fail
		ifn := s.LastLink.Interface
		if ifn == "" {
			ifn = "its NIC"
		}
		h.Summary = fmt.Sprintf("the guest says %s lost its link (console line %d)", ifn, s.LastLink.Line)
		h.Cause = "the guest sees no carrier: the tap is down or detached on the host, or the NIC was unplugged"
		h.Next = "check the tap and interface hops; virsh domif-getlink <domain> <tap>"
	case s.Bound():
		ip, srv := s.LeasedIP, s.LeaseServer
		switch {
		case f.PortIP.IsValid() && ip.IsValid() && ip != f.PortIP:
			h.Verdict = Fail
			h.Summary = fmt.Sprintf("the guest leased %s but its port has %s", ip, f.PortIP)
			h.Cause = "another DHCP server answered, or the hosts file gives this MAC another address"
			h.Next = "check the hosts-entry hop; look for a rogue DHCP server on the segment (" + srvText(srv) + ")"
			if f.DHCPServer.IsValid() && srv == f.DHCPServer {
				// Neutron's own dnsmasq leased it: the port's address
				// changed after the lease (seen on the aio cloud after
				// `openstack port set --fixed-ip`), and the guest keeps
				// the old one until it renews.
				h.Summary += fmt.Sprintf(" (leased from the network's DHCP port %s)", srv)
				h.Cause = "the port's fixed IP changed after the guest took its lease (or the guest set its address by hand): the guest keeps " + ip.String() + " until it renews, and anti-spoofing admits only " + f.PortIP.String()
				h.Next = "renew DHCP in the guest (udhcpc/dhclient, or reboot it), or give the port back " + ip.String() + " (openstack port set --fixed-ip)"
			}
		case f.DHCPServer.IsValid() && srv.IsValid() && srv != f.DHCPServer:
			h.Verdict = Warn
			h.Summary = fmt.Sprintf("the guest leased %s from %s, not from the network's DHCP port %s", ip, srv, f.DHCPServer)
			h.Cause = "a DHCP server other than Neutron's dnsmasq answers on this segment"
			h.Next = "find " + srv.String() + " on the provider network and stop it"
		case len(f.NICIPs) > 0 && ip.IsValid() && !slices.Contains(f.NICIPs, ip):
			h.Summary = fmt.Sprintf("the console shows a lease of %s, an address of another of the domain's NICs: nothing of this NIC's %s", ip, addrList(f.NICIPs))
			h.Next = "the guest's console (ip addr): does the NIC hold " + addrList(f.NICIPs) + "?"
		default:
			h.Verdict = OK
			h.Summary = fmt.Sprintf("the guest leased %s from %s", addrText(ip), srvText(srv))
		}
	case s.LastOffer != nil && s.DiscoversSinceLease > 0 && s.LastOffer.Line > lastLine(s.LastLease):
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the guest got an offer of %s from %s but no lease", addrText(s.LastOffer.IP), srvText(s.LastOffer.Server))
		h.Cause = "the guest's REQUEST or the server's ACK was lost: egress filtering of DHCP from the port, or the server refused the request"
		h.Next = "check the security-group and anti-spoofing hops, and dnsmasq's log for DHCPNAK"
	case s.DiscoversSinceLease > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the guest sent %d DISCOVERs and got no offer", s.DiscoversSinceLease)
		if s.LastLease != nil {
			h.Summary += fmt.Sprintf(" (after an earlier lease of %s)", addrText(s.LeasedIP))
		}
		h.Cause = "the fault is outside the guest: no DHCP offer reached it (dnsmasq down or without a hosts entry, or the path between tap and DHCP namespace broken)"
		h.Next = "check the dnsmasq, hosts-entry, bridge, fdb and physical-port hops"
	case s.NoLeases > 0:
		h.Verdict = Fail
		h.Summary = "the guest's DHCP client gave up without a lease"
		h.Cause = "no DHCP server answered the guest"
		h.Next = "check the dnsmasq, hosts-entry, bridge, fdb and physical-port hops"
	case s.DHCPClient:
		h.Verdict = Unknown
		h.Summary = "the guest's DHCP client started but has not sent a DISCOVER yet"
	default:
		h.Verdict = Warn
		h.Summary = "the guest never started a DHCP client"
		h.Cause = "an image problem (no DHCP client configured on its NIC, or a NIC driver missing), or the image uses a static address or config drive"
		h.Next = "read the console (openstack console log show <server>) and the image's network configuration"
	}
	return h
}

func lastLine(e *guestlog.Event) int {
	if e == nil {
		return 0
	}
	return e.Line
}

func addrText(a netip.Addr) string {
	if !a.IsValid() {
		return "an address"
	}
	return a.String()
}

func srvText(a netip.Addr) string {
	if !a.IsValid() {
		return "an unnamed server"
	}
	return a.String()
}

// jAdd appends one piece of evidence to h (the judge files' own helper,
// so they depend only on Hop's exported fields).
func jAdd(h *Hop, key, format string, args ...any) {
	h.Evidence = append(h.Evidence, Evidence{Key: key, Value: fmt.Sprintf(format, args...)})
}

// addrList is the addresses, comma-separated.
func addrList(as []netip.Addr) string {
	out := make([]string, len(as))
	for i, a := range as {
		out[i] = a.String()
	}
	return strings.Join(out, ", ")
}
