package trace

import (
	"bytes"
	"context"
	"fmt"
	"net"
	"os"
	"path/filepath"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
)

// checkRoleTarget rejects targets this node's role cannot resolve: on a
// network node the tap is elsewhere, and a port ID is in no file here.
func checkRoleTarget(role Role, t Target, hints *apiHints) error {
	if role != RoleNetwork || hints != nil {
		return nil
	}
	switch {
	case t.Tap != "":
		return fmt.Errorf("%w: a tap (%s) is on the compute node, not on a network node: give the port's MAC (Target.MAC, vmtrace -mac) or use the API (Server, vmtrace -server)", ErrRole, t.Tap)
	case t.PortID != "":
		return fmt.Errorf("%w: on a network node a port ID (%s) cannot be found without the API: Neutron's hosts files list mac,host-…,ip, not the port ID; give the port's MAC (Target.MAC, vmtrace -mac) or use the API (Server, vmtrace -server)", ErrRole, t.PortID)
	}
	return nil
}

// runNetwork is the network node's trace: the compute side's hops are
// Unknown; the network comes from the API or the hosts file listing the
// MAC.
func (r *runner) runNetwork(ctx context.Context, target Target, hints *apiHints) (*Trace, error) {
	if target.MAC != nil {
		r.mac, r.macFrom, r.macExact = net.HardwareAddr(target.MAC), "target", true
	} else if hints != nil && len(hints.mac) == 6 {
		r.mac, r.macFrom, r.macExact = hints.mac, "Neutron port", true
	}
	if r.wantNet == "" && r.mac != nil {
		r.searchHosts()
	}
	dhcp := r.dhcpHops(ctx)
	if r.mac != nil {
		r.t.PortMAC = MAC(r.mac)
	}
	arp := r.arpHop(ctx, dhcp.health)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	for _, k := range []Kind{KindDomain, KindInterface, KindTap, KindBridge, KindPhysicalPort, KindFDB} {
		r.t.Hops = append(r.t.Hops, offNode(k, notComputeSide))
	}
	r.t.Hops = append(r.t.Hops, dhcp.hops...)
	r.t.Hops = append(r.t.Hops, arp, offNode(KindCounters, notComputeSide), r.brNF(), r.nm())
	r.t.Verdict = Worst(r.t.Hops)
	return r.t, nil
}

// hostsSearch is the search of the state directory's hosts files for the
// port's MAC.
type hostsSearch struct {
	files int      // hosts files read
	hits  []string // "<network> (<file> line N)", first is used
}

// searchHosts finds the port's network by the MAC in the state
// directory's <network>/host files (Neutron writes "mac,host-…,ip" rows)
// and sets wantNet and ip from the first match, in directory order.
func (r *runner) searchHosts() {
	s := &hostsSearch{}
	r.netSearch = s
	ents, err := os.ReadDir(r.c.StateDir)
	if err != nil {
		r.c.Logger.Debug("trace: cannot read the DHCP state directory", "dir", r.c.StateDir, "err", err)
		return
	}
	want := []byte(strings.ToLower(r.mac.String()))
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(r.c.StateDir, e.Name(), "host")
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s.files++
		if !bytes.Contains(bytes.ToLower(b), want) {
			continue // most files: no need to parse them
		}
		hosts, err := dhcpns.ParseHostsBytes(b)
		if err != nil {
			continue
		}
		for _, h := range hosts {
			if h.MAC == nil || h.MAC.String() != r.mac.String() {
				continue
			}
			s.hits = append(s.hits, fmt.Sprintf("%s (%s line %d)", e.Name(), path, h.Line))
			if r.wantNet == "" {
				r.wantNet = e.Name()
				if h.IP.IsValid() && !r.ip.IsValid() {
					r.ip, r.t.IP = h.IP, h.IP.String()
				}
			}
			break
		}
	}
}

// notInHosts is the DHCP side when no hosts file lists the MAC.
func (r *runner) notInHosts() dhcpResult {
	ns := Hop{Kind: KindDHCPNS, Summary: fmt.Sprintf("not reached: no network's hosts file lists %s", r.mac)}
	h := Hop{Kind: KindHostsEntry, Name: "(none)", Verdict: Fail}
	h.add("searched", "%d hosts files under %s", r.netSearch.files, r.c.StateDir)
	h.add("port_mac", "%s (from %s)", r.mac, r.macFrom)
	h.Summary = fmt.Sprintf("%s is in none of the %d hosts files under %s", r.mac, r.netSearch.files, r.c.StateDir)
	h.Cause = "no DHCP agent on this node serves the port: its network is hosted by another DHCP agent, the agent has not applied the port, or the MAC is not the port's"
	h.Next = "openstack network agent list --agent-type dhcp --network <network>; openstack port show <port> -c mac_address; the DHCP agent's log"
	return dhcpResult{hops: []Hop{ns,
		{Kind: KindDnsmasq, Summary: "not reached: no network"},
		{Kind: KindDHCPIf, Summary: "not reached: no network"},
		h,
		{Kind: KindLease, Summary: "not reached: no network"}}}
}

// noteSearch adds how the network was found to the namespace hop, and
// warns when the MAC is in several networks' hosts files.
func (r *runner) noteSearch(h *Hop) {
	s := r.netSearch
	if s == nil || len(s.hits) == 0 {
		return
	}
	h.add("network_from", "MAC %s in %s", r.mac, s.hits[0])
	if len(s.hits) > 1 {
		h.add("also_in", "%s", strings.Join(s.hits[1:], "; "))
		if h.Verdict == OK {
			h.Verdict = Warn
			h.Summary += fmt.Sprintf("; the MAC is in %d networks' hosts files, traced the first", len(s.hits))
			h.Cause = "the same MAC is on ports of several networks (Neutron allows it per network)"
			h.Next = "trace with the API (-server) or check which network the VM is on"
		}
	}
}

// mappedBridge reports whether name is the bridge bridge_mappings gives
// the network's physical network.
func (r *runner) mappedBridge(name string) bool {
	return r.agent != nil && r.physnet != "" && r.agent.Bridges[r.physnet] == name
}

// dhcpCause is the one-line cause of a DHCP hop's warn or fail (the
// check's summary says what was found, this what it means).
func dhcpCause(k Kind, v Verdict, summary string) string {
	switch k {
	case KindDHCPNS:
		return "the DHCP agent has not set up (or has torn down) the network's namespace on this node"
	case KindDnsmasq:
		switch {
		case strings.Contains(summary, "zombie"):
			return "dnsmasq exited and was not reaped: nothing serves DHCP on the network"
		case strings.Contains(summary, "is stopped"):
			return "dnsmasq is stopped (SIGSTOP): the DHCP agent counts it alive, but it answers nothing"
		case strings.Contains(summary, "namespace") && strings.Contains(summary, "is missing"):
			return "the qdhcp namespace was deleted under a running dnsmasq: it listens where no frame arrives"
		case strings.Contains(summary, "another namespace"):
			return "dnsmasq runs outside the network's qdhcp namespace (started by hand, or the namespace was recreated): it does not listen on the network"
		case strings.Contains(summary, "not this network's dnsmasq"):
			return "the pid file is stale: the network's dnsmasq died and its pid now belongs to another process"
		case v == Warn:
			return "the pid file does not name the running dnsmasq: the DHCP agent will think it dead and start another"
		}
		return "no live dnsmasq serves the network (it died or was killed, and the DHCP agent has not restarted it): guests get no lease or renewal"
	case KindDHCPIf:
		if strings.Contains(summary, "subnet is unknown") {
			return "no running dnsmasq, so the subnet it serves (read from its command line) is unknown: the interface itself is up with an address"
		}
		return "dnsmasq's interface in the namespace is down or lacks the DHCP port's address: it cannot answer on the network"
	case KindHostsEntry:
		return "dnsmasq has no row for the port's MAC: it ignores the guest's DHCP requests (the agent has not applied the port, or the port has no fixed IP)"
	case KindLease:
		if v == Warn {
			return "the guest has not completed DHCP with dnsmasq since the agent seeded the lease (it sent nothing, or the replies do not reach it)"
		}
		return "the guest holds no valid lease from dnsmasq"
	}
	return summary
}
