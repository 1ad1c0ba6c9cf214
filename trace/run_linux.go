package trace

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"runtime"
	"strings"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/linuxbridge"
	"golang.org/x/sys/unix"
)

// Run traces one VM NIC on this node without an OpenStack API: the tap,
// the brq bridge and its physical port, the FDB, the DHCP side of the
// bridge's network, an ARP probe from the qdhcp namespace to the port's IP
// (this sends packets unless cfg.NoARP), the tap's counters over
// cfg.CounterInterval, and the host checks. Every hop is in the result,
// with Unknown for hops that could not be reached.
//
// cfg.Role says which hops this node judges (see Role): with RoleNetwork
// the target must be the MAC, and the network is the one whose hosts
// file lists it.
//
// The error is non-nil only when target is invalid (or one cfg.Role
// cannot resolve: errors.Is ErrRole), ctx ends, or the
// bridges' namespace cannot be inspected at all (missing namespace,
// missing privilege); a missing tap, bridge, namespace or daemon is a
// failed hop, not an error.
func Run(ctx context.Context, cfg *Config, target Target) (*Trace, error) {
	return run(ctx, cfg, target, nil)
}

// apiHints are what the API mode knows about the port before the local
// trace starts.
type apiHints struct {
	mac       net.HardwareAddr // the Neutron port's MAC
	networkID string           // the port's network: its bridge is brq + 11 characters
	ip        netip.Addr       // the port's first fixed IPv4 (the ARP probe's target when the hosts file lacks it)
	serverID  string           // the Nova server's ID: the domain's UUID, tried when Target.Domain is not found
	netType   string           // the network's provider:network_type ("" unknown)
	physnet   string           // its provider:physical_network
	segID     int              // its provider:segmentation_id
}

func run(ctx context.Context, cfg *Config, target Target, hints *apiHints) (*Trace, error) {
	c := cfg.orDefault()
	role, err := cfg.EffectiveRole()
	if err != nil {
		return nil, err
	}
	if err := checkRoleTarget(role, target, hints); err != nil {
		return nil, err
	}
	n := 0
	for _, set := range []bool{target.PortID != "", target.MAC != nil, target.Tap != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return nil, fmt.Errorf("trace: target %+v: set exactly one of PortID, MAC and Tap", target)
	}
	if target.PortID != "" && len(target.PortID) < linuxbridge.NeutronIDPrefixLen {
		return nil, fmt.Errorf("trace: port ID %q is shorter than the %d characters a tap name keeps: give more of it", target.PortID, linuxbridge.NeutronIDPrefixLen)
	}
	if target.MAC != nil && len(target.MAC) != 6 {
		return nil, fmt.Errorf("trace: MAC %s is not a 6-byte Ethernet address", target.MAC)
	}
	r := &runner{c: c, role: role, t: &Trace{Target: target, Role: role, Started: time.Now()}}
	if hints != nil {
		r.wantNet = hints.networkID
		r.serverID = hints.serverID
		r.netType, r.physnet, r.segID = hints.netType, hints.physnet, hints.segID
		if hints.ip.IsValid() {
			r.ip, r.t.IP = hints.ip, hints.ip.String()
		}
	}
	defer func() { r.t.Duration = time.Since(r.t.Started) }()
	if !role.compute() {
		return r.runNetwork(ctx, target, hints)
	}
	r.loadAgent()

	in, err := linuxbridge.Open(ctx, &linuxbridge.Config{NetNSPath: c.BridgeNetNS, Logger: c.Logger})
	if err != nil {
		return nil, fmt.Errorf("trace: inspect the bridges' namespace %q: %w", c.BridgeNetNS, err)
	}
	defer in.Close()
	snap, err := in.Snapshot(ctx)
	if err != nil {
		return nil, fmt.Errorf("trace: read bridges and FDB: %w", err)
	}
	r.sampled = time.Now()
	r.snap = snap
	r.resolve(snap, target)
	if hints != nil && len(hints.mac) == 6 && target.MAC == nil {
		r.mac, r.macFrom, r.macExact = hints.mac, "Neutron port", true
	}

	// Hops are computed in dependency order and emitted in path order.
	r.findDomain(ctx, target) // may take the guest MAC from libvirt
	tapHop := r.tapHop(target)
	bridgeHop, physHop := r.bridgeHops()
	dhcp := r.dhcpHops(ctx) // refines the port MAC from the hosts file
	domHop, ifHop := r.domainHops()
	if r.mac != nil && r.t.PortMAC == nil {
		r.t.PortMAC = MAC(r.mac)
	}
	fdbHop := r.fdbHop(snap)
	arpHop := r.arpHop(ctx, dhcp.health)
	ctrHop := r.countersHop(ctx, in)
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("trace: %w", err)
	}
	r.t.Hops = append(r.t.Hops, domHop, ifHop, tapHop, bridgeHop, physHop, fdbHop)
	r.t.Hops = append(r.t.Hops, dhcp.hops...)
	r.t.Hops = append(r.t.Hops, arpHop, ctrHop, r.brNF(), r.nm())
	r.t.Verdict = Worst(r.t.Hops)
	return r.t, nil
}

type runner struct {
	c       Config
	t       *Trace
	bridge  *linuxbridge.Bridge
	tap     *linuxbridge.Port
	phys    []linuxbridge.Port
	mac     net.HardwareAddr // the port's (guest's) MAC
	macFrom string
	// macExact is set when mac is the port's own (given, from Neutron,
	// from libvirt or the hosts file), not derived from the tap's MAC.
	macExact bool
	wantNet  string // network ID known from the API
	serverID string // server ID known from the API
	hostsMAC bool   // the hosts file has the port MAC
	// macLibvirt is set when mac came from the domain's interface.
	macLibvirt bool
	dom        domainResult
	sampled    time.Time
	ip         netip.Addr

	// The node's role, and what the roles and mappings need (role.go,
	// uplink_linux.go, nodemode_linux.go).
	role Role
	snap *linuxbridge.Snapshot
	// agent holds the linuxbridge agent's mappings (nil: none, agentErr
	// says why).
	agent    *AgentMappings
	agentErr error
	// uplinkIndex is the ifindex of the expected provider NIC when it is
	// not a port of the bridge (for the NetworkManager check).
	uplinkIndex int
	uplinkName  string
	// netSearch is the hosts-file search for the port's MAC (nil: none).
	netSearch *hostsSearch
	netType   string // the network's type, physical network and segment (API)
	physnet   string
	segID     int
}

// resolve finds the tap and its bridge in the snapshot.
func (r *runner) resolve(snap *linuxbridge.Snapshot, t Target) {
	name := t.Tap
	if t.PortID != "" {
		name = linuxbridge.PortTapName(t.PortID)
	}
	for i := range snap.Bridges {
		b := &snap.Bridges[i]
		for j := range b.Ports {
			p := &b.Ports[j]
			if (name != "" && p.Name == name) || (t.MAC != nil && name == "" && r.tap == nil && linuxbridge.SameNIC(p.MAC, t.MAC)) {
				r.bridge, r.tap = b, p
			}
		}
	}
	if t.MAC != nil {
		r.mac, r.macFrom, r.macExact = net.HardwareAddr(t.MAC), "target", true
	} else if r.tap != nil && len(r.tap.MAC) == 6 && r.tap.MAC[0] == 0xfe {
		m := append(net.HardwareAddr{0xfa}, r.tap.MAC[1:]...)
		r.mac, r.macFrom = m, "tap MAC with fa: (libvirt's fe: rule, unconfirmed)"
	}
	if r.tap != nil {
		r.t.Tap = r.tap.Name
	} else {
		r.t.Tap = name
	}
	if r.bridge != nil {
		for _, p := range r.bridge.Ports {
			// The provider NIC: a port Neutron did not name, that is not
			// a tap. Names starting with "tap" are Neutron's (or a
			// guest's) even when the 11 characters do not look like a
			// UUID prefix.
			if p.Neutron.Kind == linuxbridge.DeviceOther && p.Kind != linuxbridge.PortTap && !strings.HasPrefix(p.Name, "tap") {
				r.phys = append(r.phys, p)
			}
		}
	}
}

func portEvidence(h *Hop, p *linuxbridge.Port) {
	h.add("kind", "%s", p.Kind)
	h.add("mac", "%s", p.MAC)
	h.add("up", "%t", p.Up)
	h.add("lower_up", "%t", p.LowerUp)
	h.add("oper_state", "%s", p.OperState)
	h.add("stp_state", "%s", p.STPState)
	h.add("learning", "%t", p.Learning)
}

// stpVerdict judges a port's STP state; ok is false when it is not
// forwarding.
func stpVerdict(h *Hop, p *linuxbridge.Port) bool {
	switch p.STPState {
	case linuxbridge.STPForwarding, linuxbridge.STPUnknown:
		return true
	case linuxbridge.STPListening, linuxbridge.STPLearning:
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("%s is %s, not yet forwarding", p.Name, p.STPState)
		h.Cause = "STP holds the port for the forward delay after it came up"
		h.Next = "wait the bridge's forward delay (15 s by default) and trace again; Neutron's bridges normally run without STP"
	default:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s is %s: the bridge forwards nothing through it", p.Name, p.STPState)
		h.Cause = "spanning tree blocks the port (a loop, or the port was disabled)"
		h.Next = "bridge link show dev " + p.Name + "; check for a second path between the provider networks"
	}
	return false
}

func (r *runner) tapHop(t Target) Hop {
	h := Hop{Kind: KindTap, Name: r.t.Tap}
	if r.tap == nil {
		h.Verdict = Fail
		if t.MAC != nil {
			h.Name = "(none)"
			h.Summary = fmt.Sprintf("no bridge port carries the NIC of MAC %s", t.MAC)
		} else {
			h.Summary = fmt.Sprintf("%s is not a port of any bridge", r.t.Tap)
		}
		h.Cause = "the tap does not exist (guest not running) or is not plugged into a bridge (linuxbridge agent did not wire it)"
		h.Next = "ip link show " + strings.TrimPrefix(h.Name, "(none)") + "; virsh domiflist <domain>; the linuxbridge agent's log"
		return h
	}
	h.add("bridge", "%s", r.bridge.Name)
	portEvidence(&h, r.tap)
	h.Verdict = OK
	h.Summary = fmt.Sprintf("up on %s, %s", r.bridge.Name, r.tap.STPState)
	switch {
	case !r.tap.Up:
		h.Verdict = Fail
		h.Summary = r.tap.Name + " is administratively down"
		h.Cause = "the tap was set down: the bridge neither forwards to nor learns from it"
		h.Next = "ip link set " + r.tap.Name + " up (nova/libvirt and the agent set it up when plugging; check who set it down)"
		return h
	case !r.tap.LowerUp || r.tap.OperState == linuxbridge.OperDown || r.tap.OperState == linuxbridge.OperLowerLayerDown:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s has no carrier (oper state %s)", r.tap.Name, r.tap.OperState)
		h.Cause = "nothing holds the tap open: the guest's qemu is not running or the NIC is unplugged"
		h.Next = "virsh list --all; virsh domiflist <domain>"
		return h
	}
	if !stpVerdict(&h, r.tap) {
		return h
	}
	if r.bridge.Neutron.Kind != linuxbridge.DeviceBridge {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s is on %s, which is not a Neutron network's bridge", r.tap.Name, r.bridge.Name)
		h.Cause = "the tap is on the wrong bridge (libvirt's default network, or plugged by hand)"
		h.Next = "virsh domiflist <domain>; the port's network: its bridge is brq + the network ID's first 11 characters"
		return h
	}
	if t.PortID != "" && !r.tap.Neutron.Matches(t.PortID) {
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("%s does not name port %s", r.tap.Name, t.PortID)
		h.Cause = "the tap found is not the port's"
		h.Next = "openstack port show " + t.PortID
	}
	return h
}

func (r *runner) bridgeHops() (Hop, Hop) {
	b := Hop{Kind: KindBridge}
	p := Hop{Kind: KindPhysicalPort}
	if r.bridge == nil {
		b.Summary = "not reached: no tap"
		p.Summary = "not reached: no bridge"
		return b, p
	}
	br := r.bridge
	b.Name = br.Name
	b.add("up", "%t", br.Up)
	b.add("oper_state", "%s", br.OperState)
	b.add("stp", "%t", br.STP)
	b.add("ports", "%d", len(br.Ports))
	if br.Neutron.Kind == linuxbridge.DeviceBridge {
		b.add("network_id_prefix", "%s", br.Neutron.IDPrefix)
	}
	switch {
	case !br.Up:
		b.Verdict = Fail
		b.Summary = br.Name + " is administratively down"
		b.Cause = "a down bridge forwards nothing"
		b.Next = "ip link set " + br.Name + " up; check the linuxbridge agent and NetworkManager"
	case br.OperState == linuxbridge.OperDown || br.OperState == linuxbridge.OperLowerLayerDown:
		b.Verdict = Fail
		b.Summary = fmt.Sprintf("%s is up but operationally %s: no port of it is up", br.Name, br.OperState)
		b.Cause = "every port of the bridge is down"
		b.Next = "bridge link show master " + br.Name
	case br.Neutron.Kind != linuxbridge.DeviceBridge:
		b.Verdict = Warn
		b.Summary = br.Name + " is not named for a Neutron network (brq + 11 characters of its ID)"
		b.Cause = "not a bridge the linuxbridge agent made: the tap was plugged into the wrong bridge"
		b.Next = "openstack port show <port> (its network); virsh domiflist <domain>; brctl show"
	default:
		b.Verdict = OK
		b.Summary = fmt.Sprintf("up, %d ports, network %s…", len(br.Ports), br.Neutron.IDPrefix)
	}
	if want := linuxbridge.NetworkBridgeName(r.wantNet); r.wantNet != "" && br.Name != want && !r.mappedBridge(br.Name) {
		b.add("network_bridge", "%s (port's network %s)", want, r.wantNet)
		if b.Verdict != Fail {
			b.Verdict = Fail
			b.Summary = fmt.Sprintf("the tap is on %s, but the port's network bridge is %s", br.Name, want)
			b.Cause = "the tap was plugged into another network's bridge: the guest is on the wrong L2 segment"
			b.Next = "brctl show; ip link set " + r.t.Tap + " master " + want + "; the linuxbridge agent's log"
		}
	}

	if r.uplinkHop(&p) {
		return b, p
	}
	if len(r.phys) == 0 {
		p.Name = "(none)"
		p.Verdict = Fail
		p.Summary = br.Name + " has no provider interface"
		p.Cause = "the provider NIC is missing or not enslaved: the VM reaches only this bridge's other ports (no gateway, no other hosts)"
		p.Next = "physical_interface_mappings in linuxbridge_agent.ini; ip link show <nic>; ip link set <nic> master " + br.Name
		return b, p
	}
	var names []string
	p.Verdict = OK
	for i := range r.phys {
		ph := &r.phys[i]
		names = append(names, ph.Name)
		p.add(ph.Name, "kind %s up %t lower_up %t oper %s stp %s", ph.Kind, ph.Up, ph.LowerUp, ph.OperState, ph.STPState)
		if p.Verdict != OK {
			continue
		}
		switch {
		case !ph.Up || !ph.LowerUp:
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("%s is down (up %t, carrier %t)", ph.Name, ph.Up, ph.LowerUp)
			p.Cause = "the provider NIC is down: traffic leaves the bridge nowhere"
			p.Next = "ip link set " + ph.Name + " up; check the cable/switch port; nmcli d (NetworkManager may have taken it)"
		default:
			stpVerdict(&p, ph)
		}
	}
	p.Name = strings.Join(names, ",")
	if p.Verdict == OK {
		p.Summary = strings.Join(names, ", ") + " up and forwarding"
	}
	return b, p
}

type dhcpResult struct {
	hops   []Hop
	health *dhcpns.Health
}

func (r *runner) dcfg() *dhcpns.Config {
	return &dhcpns.Config{NetNSDir: r.c.NetNSDir, ProcDir: r.c.ProcDir, StateDir: r.c.StateDir, Logger: r.c.Logger}
}

var dhcpKinds = map[string]Kind{
	dhcpns.CheckNamespace: KindDHCPNS,
	dhcpns.CheckDnsmasq:   KindDnsmasq,
	dhcpns.CheckInterface: KindDHCPIf,
	dhcpns.CheckHost:      KindHostsEntry,
	dhcpns.CheckLease:     KindLease,
}

var dhcpNext = map[Kind]string{
	KindDHCPNS:     "the DHCP agent's log; openstack network agent list (is a DHCP agent hosting the network here?)",
	KindDnsmasq:    "the DHCP agent's log (it restarts dnsmasq); ps -ef | grep dnsmasq; the pid file under the state directory",
	KindDHCPIf:     "ip -n qdhcp-<network> addr; the DHCP port's fixed IP in Neutron",
	KindHostsEntry: "openstack port show <port> (is it bound, with a fixed IP?); the DHCP agent's log (port update not applied)",
	KindLease:      "the guest's console: did it send DHCP? the tap and FDB hops; tcpdump -ni <tap> port 67",
}

func unknownDHCP(summary string) []Hop {
	var hs []Hop
	for _, k := range []Kind{KindDnsmasq, KindDHCPIf, KindHostsEntry, KindLease} {
		hs = append(hs, Hop{Kind: k, Summary: summary})
	}
	return hs
}

func (r *runner) dhcpHops(ctx context.Context) dhcpResult {
	if !r.role.dhcp() {
		var hs []Hop
		for _, k := range []Kind{KindDHCPNS, KindDnsmasq, KindDHCPIf, KindHostsEntry, KindLease} {
			hs = append(hs, offNode(k, notDHCPSide))
		}
		return dhcpResult{hops: hs}
	}
	if r.wantNet == "" && r.bridge == nil && r.macExact {
		r.searchHosts() // no tap, but the MAC may be in a network's hosts file
	}
	if r.wantNet == "" && r.netSearch != nil {
		return r.notInHosts()
	}
	if r.wantNet == "" && (r.bridge == nil || r.bridge.Neutron.Kind != linuxbridge.DeviceBridge) {
		return dhcpResult{hops: append([]Hop{{Kind: KindDHCPNS, Summary: "not reached: no Neutron bridge, so no network ID"}}, unknownDHCP("not reached")...)}
	}
	var prefix string
	if r.wantNet != "" {
		prefix = strings.ToLower(r.wantNet)
	} else {
		prefix = strings.ToLower(r.bridge.Neutron.IDPrefix)
	}
	nss, err := dhcpns.List(ctx, r.dcfg())
	if err != nil {
		return dhcpResult{hops: append([]Hop{{Kind: KindDHCPNS, Summary: "cannot list namespaces: " + err.Error()}}, unknownDHCP("not reached")...)}
	}
	var netID string
	var seen []string
	for _, ns := range nss {
		if strings.HasPrefix(strings.ToLower(ns.NetworkID), prefix) {
			seen = append(seen, ns.Name)
			if netID == "" {
				netID = ns.NetworkID
			}
		}
	}
	if netID == "" {
		ell := "…"
		if r.wantNet != "" {
			ell = ""
		}
		h := Hop{Kind: KindDHCPNS, Name: "qdhcp-" + prefix + ell, Verdict: Fail,
			Summary: fmt.Sprintf("no qdhcp namespace for network %s%s under %s", prefix, ell, r.c.NetNSDir),
			Cause:   "no DHCP agent serves the network on this node (it may run on a network node: trace there), or the agent failed to set it up",
			Next:    dhcpNext[KindDHCPNS]}
		h.add("namespaces", "%d qdhcp namespaces", len(nss))
		if r.role == RoleNetwork {
			h.Cause = "no DHCP agent on this node hosts the network: another node's agent does, or this agent failed to set it up"
			h.Next = "openstack network agent list --agent-type dhcp --network " + orUnknown(r.wantNet, "<network>") + "; trace on the node listed there; " + dhcpNext[KindDHCPNS]
		}
		r.noteSearch(&h)
		return dhcpResult{hops: append([]Hop{h}, unknownDHCP("not reached: no qdhcp namespace")...)}
	}
	r.t.NetworkID = netID
	if len(seen) > 1 {
		r.c.Logger.Debug("trace: several qdhcp namespaces match the bridge's network prefix", "prefix", prefix, "namespaces", seen)
	}
	// Confirm (or find) the port MAC from the hosts file.
	hostsPath := filepath.Join(r.c.StateDir, netID, "host")
	if b, err := os.ReadFile(hostsPath); err == nil {
		if hosts, err := dhcpns.ParseHostsBytes(b); err == nil {
			for _, hst := range hosts {
				if hst.MAC == nil {
					continue
				}
				if (r.macExact && hst.MAC.String() == r.mac.String()) ||
					(!r.macExact && r.tap != nil && linuxbridge.SameNIC(r.tap.MAC, hst.MAC)) {
					if !r.macExact {
						r.mac, r.macFrom, r.macExact = net.HardwareAddr(hst.MAC), fmt.Sprintf("%s line %d", hostsPath, hst.Line), true
					}
					r.hostsMAC = true
					break
				}
			}
		}
	}
	if r.mac != nil {
		r.t.PortMAC = MAC(r.mac)
	}
	health, err := dhcpns.CheckHealth(ctx, r.dcfg(), netID, MAC(r.mac))
	if err != nil {
		return dhcpResult{hops: append([]Hop{{Kind: KindDHCPNS, Name: dhcpns.NamespaceName(netID), Summary: "health check failed: " + err.Error()}}, unknownDHCP("not reached")...)}
	}
	res := dhcpResult{health: health}
	byKind := map[Kind]Hop{}
	for _, ch := range health.Checks {
		k, ok := dhcpKinds[ch.Name]
		if !ok {
			continue
		}
		h := Hop{Kind: k, Summary: ch.Summary}
		switch ch.Status {
		case dhcpns.StatusOK:
			h.Verdict = OK
		case dhcpns.StatusWarn:
			h.Verdict = Warn
		case dhcpns.StatusFail:
			h.Verdict = Fail
		}
		if h.Verdict == Warn || h.Verdict == Fail {
			h.Cause = dhcpCause(k, h.Verdict, ch.Summary)
			h.Next = dhcpNext[k]
			if k == KindDHCPIf && strings.Contains(ch.Summary, "subnet is unknown") {
				h.Next = "the dnsmasq hop first; then " + dhcpNext[k]
			}
		}
		for _, e := range ch.Evidence {
			h.add(ch.Name, "%s", e)
		}
		byKind[k] = h
	}
	names := map[Kind]string{
		KindDHCPNS:     dhcpns.NamespaceName(netID),
		KindDnsmasq:    "dnsmasq",
		KindDHCPIf:     health.ServingInterface,
		KindHostsEntry: hostsPath,
		KindLease:      filepath.Join(r.c.StateDir, netID, "leases"),
	}
	if health.Dnsmasq != nil && health.Dnsmasq.PIDFromFile != 0 {
		names[KindDnsmasq] = fmt.Sprintf("dnsmasq[%d]", health.Dnsmasq.PIDFromFile)
	}
	for _, k := range []Kind{KindDHCPNS, KindDnsmasq, KindDHCPIf, KindHostsEntry, KindLease} {
		h, ok := byKind[k]
		if !ok {
			h = Hop{Kind: k, Summary: "not checked"}
			if r.mac == nil && (k == KindHostsEntry || k == KindLease) {
				h.Summary = "not checked: the port's MAC is unknown (give the MAC as the target)"
			}
		}
		h.Name = names[k]
		if k == KindHostsEntry || k == KindLease {
			// The state dir's full path would make the table unreadably
			// wide: the hop is named by the file, the path is evidence.
			h.add("file", "%s", h.Name)
			h.Name = filepath.Base(h.Name)
		}
		if k == KindDHCPNS {
			r.noteSearch(&h)
		}
		if k == KindDHCPNS && len(seen) > 1 {
			h.add("ambiguous", "%d namespaces match %s…: %s; traced the first", len(seen), prefix, strings.Join(seen, ", "))
			if h.Verdict == OK {
				h.Verdict = Warn
				h.Cause = "two networks share the 11-character prefix the bridge name keeps"
				h.Next = "give the network ID (API mode) or check which namespace serves the port"
			}
		}
		if k == KindHostsEntry && r.mac != nil {
			h.add("port_mac", "%s (from %s)", r.mac, r.macFrom)
		}
		res.hops = append(res.hops, h)
	}
	if health.Host != nil && health.Host.IP.IsValid() {
		r.ip = health.Host.IP
		r.t.IP = r.ip.String()
	}
	return res
}

func (r *runner) fdbHop(snap *linuxbridge.Snapshot) Hop {
	h := Hop{Kind: KindFDB}
	if r.bridge == nil || r.tap == nil {
		h.Summary = "not reached: no tap"
		return h
	}
	h.Name = r.bridge.Name
	if r.mac == nil {
		h.Summary = "the port's MAC is unknown (give it as the target)"
		return h
	}
	h.add("mac", "%s", r.mac)
	h.add("tap_learning", "%t", r.tap.Learning)
	var onTap, elsewhere []linuxbridge.FDBEntry
	for _, e := range snap.FDB {
		if e.MAC.String() != r.mac.String() || e.Local() {
			continue
		}
		h.add("entry", "%s", e)
		if e.Bridge == r.bridge.Name && e.Port == r.tap.Name {
			onTap = append(onTap, e)
		} else {
			elsewhere = append(elsewhere, e)
		}
	}
	switch {
	case len(onTap) > 0 && len(elsewhere) == 0:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s learned on %s (%s)", r.mac, r.tap.Name, onTap[0].State)
	case len(elsewhere) > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s learned on %s of %s, not on %s", r.mac, elsewhere[0].Port, elsewhere[0].Bridge, r.tap.Name)
		h.Cause = "frames from the VM's MAC arrive through another port: a duplicate MAC, a loop, or a stale entry after a migration"
		h.Next = "bridge fdb show | grep " + r.mac.String() + "; look for another VM or host with the same MAC"
	default:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s has not learned %s", r.bridge.Name, r.mac)
		h.Cause = "no frame from the guest reached the bridge within the ageing time (guest down, NIC unconfigured, or learning off on the tap)"
		h.Next = "the counters hop (is the tap's rx moving?); the guest's console; bridge link show dev " + r.tap.Name + " (learning on?)"
		if !r.tap.Learning {
			h.Cause = "learning is off on " + r.tap.Name + ": the bridge floods traffic to the VM instead of forwarding it"
			h.Next = "bridge link set dev " + r.tap.Name + " learning on"
		}
	}
	return h
}

func (r *runner) arpHop(ctx context.Context, health *dhcpns.Health) Hop {
	h := Hop{Kind: KindARP}
	switch {
	case !r.role.dhcp():
		return offNode(KindARP, notDHCPSide+": the probe is sent from the qdhcp namespace")
	case r.c.NoARP:
		h.Summary = "skipped (Config.NoARP)"
		return h
	case health == nil || !r.ip.IsValid():
		h.Summary = "not reached: no IP for the port from the hosts file"
		return h
	case health.ServingInterface == "":
		h.Summary = "not reached: no serving interface in the qdhcp namespace"
		return h
	case !r.ip.Is4():
		h.Summary = "not probed: " + r.ip.String() + " is not IPv4"
		return h
	}
	ns := dhcpns.NamespaceName(r.t.NetworkID)
	h.Name = r.ip.String()
	h.add("from", "%s in %s", health.ServingInterface, ns)
	p, err := dhcpns.OpenARPProber(ctx, r.dcfg(), ns, health.ServingInterface)
	if err != nil {
		h.Summary = "cannot open the ARP prober: " + err.Error()
		return h
	}
	defer p.Close()
	res, err := p.ProbeARP(ctx, r.ip, &dhcpns.ARPOptions{Timeout: r.c.ARPTimeout, Attempts: 3, Settle: r.c.ARPSettle})
	if err != nil && !errors.Is(err, dhcpns.ErrNoReply) {
		h.Summary = "ARP probe failed: " + err.Error()
		return h
	}
	var ours, others []string
	for _, rep := range res.Replies {
		h.add("reply", "%s in %s", rep.MAC, rep.RTT.Round(time.Microsecond))
		if r.mac != nil && rep.MAC.String() == r.mac.String() {
			ours = append(ours, rep.MAC.String())
		} else {
			others = append(others, rep.MAC.String())
		}
	}
	switch {
	case len(res.Replies) == 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("no answer for %s within %s", r.ip, r.c.ARPTimeout)
		h.Cause = "the guest does not hold " + r.ip.String() + " (no lease applied, guest down) or frames stop between the qdhcp port and the tap"
		h.Next = "the tap, FDB and lease hops; the guest's console (ip addr)"
	case len(others) > 0 && r.mac == nil:
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("%s answered by %s; the port's MAC is unknown, so not compared", r.ip, strings.Join(others, ", "))
	case len(others) > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s answered by %s, not (only) by the port's %s", r.ip, strings.Join(others, ", "), r.mac)
		h.Cause = "another host holds the port's IP (duplicate address)"
		h.Next = "find the MAC " + others[0] + ": bridge fdb show | grep " + others[0]
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s answered by %s", r.ip, ours[0])
	}
	return h
}

func (r *runner) countersHop(ctx context.Context, in *linuxbridge.Inspector) Hop {
	h := Hop{Kind: KindCounters}
	if r.tap == nil || r.bridge == nil {
		h.Summary = "not reached: no tap"
		return h
	}
	h.Name = r.tap.Name
	if d := r.c.CounterInterval - time.Since(r.sampled); d > 0 {
		select {
		case <-ctx.Done():
			h.Summary = "interrupted"
			return h
		case <-time.After(d):
		}
	}
	br, err := in.Bridge(ctx, r.bridge.Name)
	var now linuxbridge.Port
	var ok bool
	if err == nil {
		now, ok = br.Port(r.tap.Name)
	}
	if !ok {
		h.Summary = fmt.Sprintf("second sample failed: %s gone (%v)", r.tap.Name, err)
		return h
	}
	a, b := r.tap.Stats, now.Stats
	el := time.Since(r.sampled).Round(time.Millisecond)
	drx, dtx := b.RxPackets-a.RxPackets, b.TxPackets-a.TxPackets
	h.add("interval", "%s (includes the ARP probe)", el)
	h.add("rx_packets", "%d -> %d (+%d, from the guest)", a.RxPackets, b.RxPackets, drx)
	h.add("tx_packets", "%d -> %d (+%d, to the guest)", a.TxPackets, b.TxPackets, dtx)
	h.add("drops", "rx +%d tx +%d", b.RxDropped-a.RxDropped, b.TxDropped-a.TxDropped)
	dmoved := r.domainCounters(ctx, &h)
	switch {
	case drx > 0 || dmoved:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("moving: guest sent %d, received %d packets in %s", drx, dtx, el)
		if b.TxDropped > a.TxDropped {
			h.Verdict = Warn
			h.Summary += fmt.Sprintf("; %d dropped on the way to the guest", b.TxDropped-a.TxDropped)
			h.Cause = "the guest does not read its NIC fast enough (or qemu is stalled)"
			h.Next = "virsh domstats; the guest's load"
		}
	case dtx > 0:
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("the bridge sent %d packets to the guest in %s, the guest sent none", dtx, el)
		h.Cause = "the guest is silent: not running, NIC down inside, or no address"
		h.Next = "the guest's console; virsh domifstat <domain> " + r.tap.Name
	default:
		h.Verdict = Warn
		h.Summary = "no packets either way in " + el.String()
		h.Cause = "nothing reaches the tap: it is down or isolated, and the guest is silent"
		h.Next = "the tap and bridge hops; the guest's console"
	}
	return h
}

// brNF reads bridge-nf-call-iptables in the bridges' namespace (the value
// is per network namespace since Linux 5.3).
func (r *runner) brNF() Hop {
	path := filepath.Join(r.c.ProcDir, "sys/net/bridge/bridge-nf-call-iptables")
	var b []byte
	var err error
	if r.c.BridgeNetNS == "" {
		b, err = os.ReadFile(path)
	} else {
		err = inNetNS(r.c.BridgeNetNS, func() error {
			var e error
			b, e = os.ReadFile(path)
			return e
		})
	}
	h := brNFHop(path, b, err)
	if r.c.BridgeNetNS != "" {
		h.add("netns", "%s", r.c.BridgeNetNS)
	}
	return h
}

func (r *runner) nm() Hop {
	devs := map[string]int{}
	var names []string
	if r.bridge != nil {
		devs[r.bridge.Name] = r.bridge.Index
		names = append(names, r.bridge.Name)
		for _, p := range r.phys {
			devs[p.Name] = p.Index
			names = append(names, p.Name)
		}
		if r.tap != nil {
			devs[r.tap.Name] = r.tap.Index
			names = append(names, r.tap.Name)
		}
	}
	if r.uplinkIndex > 0 {
		devs[r.uplinkName] = r.uplinkIndex
		names = append(names, r.uplinkName)
	}
	return nmHop(r.c.NMRunDir, r.c.ProcDir, devs, names, r.c.BridgeNetNS == "" || sameNetNS(r.c.BridgeNetNS, filepath.Join(r.c.ProcDir, "self/ns/net")))
}

func sameNetNS(a, b string) bool {
	var sa, sb unix.Stat_t
	if unix.Stat(a, &sa) != nil || unix.Stat(b, &sb) != nil {
		return false
	}
	return sa.Dev == sb.Dev && sa.Ino == sb.Ino
}

// inNetNS runs fn on a fresh goroutine locked to its thread inside the
// network namespace at path, and moves the thread back; if that fails the
// thread is not unlocked, so it ends with the goroutine. The only place
// this package changes a thread's namespace.
func inNetNS(path string, fn func() error) error {
	target, err := os.Open(path)
	if err != nil {
		return err
	}
	defer target.Close()
	errc := make(chan error, 1)
	go func() {
		runtime.LockOSThread()
		self, err := os.Open(fmt.Sprintf("/proc/self/task/%d/ns/net", unix.Gettid()))
		if err != nil {
			runtime.UnlockOSThread()
			errc <- err
			return
		}
		defer self.Close()
		if err := unix.Setns(int(target.Fd()), unix.CLONE_NEWNET); err != nil {
			runtime.UnlockOSThread()
			errc <- fmt.Errorf("setns %s: %w (needs CAP_SYS_ADMIN)", path, err)
			return
		}
		ferr := fn()
		if err := unix.Setns(int(self.Fd()), unix.CLONE_NEWNET); err != nil {
			errc <- errors.Join(ferr, fmt.Errorf("restore namespace: %w", err))
			return // thread stays locked and dies with the goroutine
		}
		runtime.UnlockOSThread()
		errc <- ferr
	}()
	return <-errc
}
