package trace

import (
	"fmt"
	"strings"
	"time"

	"github.com/vifpath/vifpath/linuxbridge"
)

func portEvidence(h *Hop, p *linuxbridge.Port) {
	h.put("kind", p.Kind.String())
	h.put("mac", p.MAC.String())
	h.add("up", "%t", p.Up)
	h.add("lower_up", "%t", p.LowerUp)
	h.put("oper_state", p.OperState.String())
	h.put("stp_state", p.STPState.String())
	h.add("learning", "%t", p.Learning)
}

// stpVerdict judges a port's STP state on bridge br; ok is false when it
// is not forwarding. A port disabled because br itself is administratively
// down only warns: the kernel disables every port of a down bridge, and
// the bridge hop fails for it (measured on the aio cloud: `ip link set
// brq… down` turned the tap and eth2 to "disabled").
func stpVerdict(h *Hop, p *linuxbridge.Port, br *linuxbridge.Bridge) bool {
	switch p.STPState {
	case linuxbridge.STPForwarding, linuxbridge.STPUnknown:
		return true
	case linuxbridge.STPDisabled:
		if br != nil && !br.Up {
			h.Verdict = Warn
			h.Summary = fmt.Sprintf("%s is disabled because its bridge %s is administratively down", p.Name, br.Name)
			h.Cause = "a down bridge disables every port: the fault is the bridge, not this port"
			h.Next = "see the bridge hop: ip link set " + br.Name + " up"
			return false
		}
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s is %s: the bridge forwards nothing through it", p.Name, p.STPState)
		h.Cause = "spanning tree blocks the port (a loop, or the port was disabled)"
		h.Next = "bridge link show dev " + p.Name + "; check for a second path between the provider networks"
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

func (v *view) tapHop() Hop {
	h := Hop{Kind: KindTap, Name: v.id.Tap}
	if v.tap == nil {
		h.Verdict = Fail
		if v.id.Target.MAC != nil {
			h.Name = "(none)"
			h.Summary = fmt.Sprintf("no bridge port carries the NIC of MAC %s", v.id.Target.MAC)
		} else {
			h.Summary = fmt.Sprintf("%s is not a port of any bridge", v.id.Tap)
		}
		h.Cause = "the tap does not exist (guest not running) or is not plugged into a bridge (linuxbridge agent did not wire it)"
		h.Next = "ip link show " + strings.TrimPrefix(h.Name, "(none)") + "; virsh domiflist <domain>; the linuxbridge agent's log"
		return h
	}
	h.put("bridge", v.bridge.Name)
	portEvidence(&h, v.tap)
	h.Verdict = OK
	h.Summary = fmt.Sprintf("up on %s, %s", v.bridge.Name, v.tap.STPState)
	switch {
	case !v.tap.Up:
		h.Verdict = Fail
		h.Summary = v.tap.Name + " is administratively down"
		h.Cause = "the tap was set down: the bridge neither forwards to nor learns from it"
		h.Next = "ip link set " + v.tap.Name + " up (nova/libvirt and the agent set it up when plugging; check who set it down)"
		if p := v.apiPort(); p != nil && p.AdminDown {
			// Seen on the aio cloud: `openstack port set --disable`.
			h.Cause = "the tap was set down by the linuxbridge agent: the port is disabled (admin_state_up false), so the bridge neither forwards to nor learns from it"
			h.Next = "openstack port set --enable " + p.ID
		}
		return h
	case !v.tap.LowerUp || v.tap.OperState == linuxbridge.OperDown || v.tap.OperState == linuxbridge.OperLowerLayerDown:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s has no carrier (oper state %s)", v.tap.Name, v.tap.OperState)
		h.Cause = "nothing holds the tap open: the guest's qemu is not running or the NIC is unplugged"
		h.Next = "virsh list --all; virsh domiflist <domain>"
		return h
	}
	if !stpVerdict(&h, v.tap, v.bridge) {
		return h
	}
	if v.bridge.Neutron.Kind != linuxbridge.DeviceBridge {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s is on %s, which is not a Neutron network's bridge", v.tap.Name, v.bridge.Name)
		h.Cause = "the tap is on the wrong bridge (libvirt's default network, or plugged by hand)"
		h.Next = "virsh domiflist <domain>; the port's network: its bridge is brq + the network ID's first 11 characters"
		return h
	}
	if v.tap.Isolated && v.isolatedTap(&h) {
		return h
	}
	if !v.tap.Flood && v.floodOff(&h) {
		return h
	}
	if v.id.Target.PortID != "" && !v.tap.Neutron.Matches(v.id.Target.PortID) {
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("%s does not name port %s", v.tap.Name, v.id.Target.PortID)
		h.Cause = "the tap found is not the port's"
		h.Next = "openstack port show " + v.id.Target.PortID
	}
	return h
}

// isolatedTap judges a tap with bridge port isolation on (Neutron never
// sets it; seen on the aio cloud with `bridge link set dev … isolated on`
// on the VM's tap and the DHCP port's: ARP and ping failed with no hop
// naming why). The bridge forwards nothing between two isolated ports:
// the hop fails when the DHCP port's tap or an uplink (a port that is not
// a Neutron tap) is isolated too, and warns otherwise, naming the other
// VMs' isolated taps. It reports whether it failed.
func (v *view) isolatedTap(h *Hop) bool {
	h.add("isolated", "%t", true)
	dhcp := ""
	if v.netw != nil {
		dhcp = dhcpTap(v.netw)
	}
	var cut, others []string
	for _, p := range v.bridge.Ports {
		switch {
		case p.Name == v.tap.Name || !p.Isolated:
		case p.Name == dhcp || p.Neutron.Kind != linuxbridge.DeviceTap:
			cut = append(cut, p.Name)
		default:
			others = append(others, p.Name)
		}
	}
	off := "bridge link set dev " + v.tap.Name + " isolated off"
	if len(cut) > 0 {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s and %s are isolated ports of %s: the bridge forwards nothing between them", v.tap.Name, strings.Join(cut, ", "), v.bridge.Name)
		h.Cause = "bridge port isolation (Neutron never sets it) cuts the VM off from " + strings.Join(cut, ", ") + " (the DHCP port's tap or the uplink)"
		h.Next = off + " (or on " + strings.Join(cut, ", ") + "); who set it? Neutron's agent does not"
		return true
	}
	h.Verdict = Warn
	h.Summary = fmt.Sprintf("%s is an isolated port of %s: it reaches only the bridge's ports that are not", v.tap.Name, v.bridge.Name)
	h.Cause = "bridge port isolation is set on the tap (Neutron never sets it)"
	if len(others) > 0 {
		h.Cause += ": the VM cannot reach " + strings.Join(others, ", ") + ", isolated too"
	}
	h.Next = off + "; who set it? Neutron's agent does not"
	return false
}

// floodOff judges a tap with unknown-unicast flooding off (`bridge link
// set dev … flood off`; Neutron never sets it). With learning off too the
// bridge neither learns the VM's MAC nor floods frames for it to the tap:
// unicast to the VM is dropped (seen on the aio cloud: ARP, a broadcast
// request, was answered; ping and SSH were not), and the hop fails. With
// learning on it works while the bridge has the MAC learned, and warns:
// once the entry ages out of a silent guest, nothing reaches it until it
// sends again. It reports whether it failed.
func (v *view) floodOff(h *Hop) bool {
	h.add("flood", "%t", false)
	on := "bridge link set dev " + v.tap.Name + " flood on"
	if !v.tap.Learning {
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("learning and flooding are off on %s: %s neither learns the VM's MAC there nor floods unicast for it to the tap", v.tap.Name, v.bridge.Name)
		h.Cause = "unicast to the VM is dropped: the bridge never learns where the VM's MAC is and does not flood unknown unicast to its tap (broadcasts such as ARP requests still pass); Neutron sets neither flag"
		h.Next = "bridge link set dev " + v.tap.Name + " learning on flood on; who set them? Neutron's agent does not"
		return true
	}
	h.Verdict = Warn
	h.Summary = fmt.Sprintf("flooding is off on %s: unicast reaches the VM only while %s has its MAC learned", v.tap.Name, v.bridge.Name)
	h.Cause = "unknown unicast is not flooded to the tap (Neutron never sets this): once the guest is silent for the bridge's ageing time its FDB entry expires and frames for it are dropped until it sends again"
	h.Next = on + "; who set it? Neutron's agent does not"
	return false
}

// reached reports whether the reachability probe of the NIC's address was
// answered by the guest (an echo reply, a SYN-ACK or a RST): the path to
// the VM works.
func (v *view) reached() bool {
	if v.netw == nil || !v.id.IP.IsValid() {
		return false
	}
	for _, r := range v.netw.Reach {
		if r.Target == v.id.IP && r.Reached() {
			return true
		}
	}
	return false
}

func (v *view) bridgeHops() (Hop, Hop, uplink) {
	b := Hop{Kind: KindBridge}
	p := Hop{Kind: KindPhysicalPort}
	if v.bridge == nil {
		b.Summary = "not reached: no tap"
		p.Summary = "not reached: no bridge"
		return b, p, uplink{}
	}
	br := v.bridge
	b.Name = br.Name
	b.add("up", "%t", br.Up)
	b.put("oper_state", br.OperState.String())
	b.add("stp", "%t", br.STP)
	b.add("ports", "%d", len(br.Ports))
	if br.Neutron.Kind == linuxbridge.DeviceBridge {
		b.put("network_id_prefix", br.Neutron.IDPrefix)
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
	if want := linuxbridge.NetworkBridgeName(v.id.WantNetwork); v.id.WantNetwork != "" && br.Name != want && !v.mappedBridge(br.Name) {
		b.add("network_bridge", "%s (port's network %s)", want, v.id.WantNetwork)
		if b.Verdict != Fail {
			b.Verdict = Fail
			b.Summary = fmt.Sprintf("the tap is on %s, but the port's network bridge is %s", br.Name, want)
			b.Cause = "the tap was plugged into another network's bridge: the guest is on the wrong L2 segment"
			b.Next = "brctl show; ip link set " + v.id.Tap + " master " + want + "; the linuxbridge agent's log"
		}
	}

	if up, ok := v.uplinkHop(&p); ok {
		return b, p, up
	}
	if len(v.phys) == 0 {
		p.Name = "(none)"
		p.Verdict = Fail
		p.Summary = br.Name + " has no provider interface"
		p.Cause = "the provider NIC is missing or not enslaved: the VM reaches only this bridge's other ports (no gateway, no other hosts)"
		p.Next = "physical_interface_mappings in linuxbridge_agent.ini; ip link show <nic>; ip link set <nic> master " + br.Name
		return b, p, uplink{}
	}
	var names []string
	p.Verdict = OK
	for i := range v.phys {
		ph := &v.phys[i]
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
			stpVerdict(&p, ph, v.bridge)
		}
	}
	p.Name = strings.Join(names, ",")
	if p.Verdict == OK {
		p.Summary = strings.Join(names, ", ") + " up and forwarding"
	}
	return b, p, uplink{phys: v.phys}
}

// fdbHop judges the bridge's FDB entries of the port MAC in the snapshot
// taken after the ARP probe: the probe's reply teaches the bridge the MAC
// when the path works, so a flushed FDB (a tap set down and up) is not a
// failure.
func (v *view) fdbHop() Hop {
	h := Hop{Kind: KindFDB}
	if v.bridge == nil || v.tap == nil {
		h.Summary = "not reached: no tap"
		return h
	}
	h.Name = v.bridge.Name
	if v.id.MAC == nil {
		h.Summary = "the port's MAC is unknown (give it as the target)"
		return h
	}
	snap, tap := v.after()
	h.put("mac", v.id.MAC.String())
	h.add("tap_learning", "%t", tap.Learning)
	if snap != v.obs.Bridges.After {
		h.add("snapshot", "before the probe (the second snapshot failed: %s)", v.obs.Bridges.AfterError)
	}
	var onTap, elsewhere []linuxbridge.FDBEntry
	for _, e := range snap.FDB {
		if !e.MAC.Equal(v.id.MAC) || e.Local() {
			continue
		}
		h.put("entry", e.String())
		if e.Bridge == v.bridge.Name && e.Port == v.tap.Name {
			onTap = append(onTap, e)
		} else {
			elsewhere = append(elsewhere, e)
		}
	}
	switch {
	case len(onTap) > 0 && len(elsewhere) == 0:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s learned on %s (%s)", v.id.MAC, v.tap.Name, onTap[0].State)
	case len(elsewhere) > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s learned on %s of %s, not on %s", v.id.MAC, elsewhere[0].Port, elsewhere[0].Bridge, v.tap.Name)
		h.Cause = "frames from the VM's MAC arrive through another port: a duplicate MAC, a loop, or a stale entry after a migration"
		h.Next = "bridge fdb show | grep " + v.id.MAC.String() + "; look for another VM or host with the same MAC"
		if e := elsewhere[0]; !e.Learned() {
			// Seen on the aio cloud: `bridge fdb replace <MAC> dev eth2
			// master static sticky` sent the VM's frames out of eth2
			// (without sticky the guest's next frame moves the entry back).
			h.Summary = fmt.Sprintf("%s has a %s entry on %s of %s, not on %s", v.id.MAC, e.State, e.Port, e.Bridge, v.tap.Name)
			h.Cause = fmt.Sprintf("a %s FDB entry someone added sends the bridge's frames for the VM's MAC to %s instead of its tap", e.State, e.Port)
			h.Next = fmt.Sprintf("bridge fdb show br %s | grep -i %s; bridge fdb del %s dev %s master", e.Bridge, v.id.MAC, v.id.MAC, e.Port)
		}
	default:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("%s has not learned %s", v.bridge.Name, v.id.MAC)
		h.Cause = "no frame from the guest reached the bridge within the ageing time (guest down, NIC unconfigured, or learning off on the tap)"
		h.Next = "the counters hop (is the tap's rx moving?); the guest's console; bridge link show dev " + v.tap.Name + " (learning on?)"
		switch {
		case !tap.Learning && !tap.Flood:
			// Seen on the aio cloud: unicast to the VM is then dropped.
			h.Cause = "learning and flooding are off on " + v.tap.Name + ": the bridge neither learns the VM's MAC nor floods unicast for it to the tap, so unicast to the VM is dropped"
			h.Next = "bridge link set dev " + v.tap.Name + " learning on flood on"
		case !tap.Learning && v.reached():
			// Seen on the aio cloud: with flooding on, ping and SSH were
			// answered; failing the hop would fail a working path.
			h.Verdict = Warn
			h.Summary += ": learning is off on " + v.tap.Name + ", the bridge floods frames for the VM (the probes were answered)"
			h.Cause = "learning is off on " + v.tap.Name + ": the bridge floods every frame for the VM out of all its ports instead of forwarding it; it works, but every port of the bridge sees that traffic"
			h.Next = "bridge link set dev " + v.tap.Name + " learning on; who set it off? Neutron's agent does not"
		case !tap.Learning:
			h.Cause = "learning is off on " + v.tap.Name + ": the bridge floods traffic to the VM instead of forwarding it"
			h.Next = "bridge link set dev " + v.tap.Name + " learning on"
		default:
			if off := v.dhcpOff(); off != nil {
				// The FDB is judged as far as the guest sends: on a DHCP-off
				// subnet an unconfigured guest sends nothing at all.
				h.Verdict = Warn
				h.Summary += ": " + dhcpOffWhy(off) + ", so the guest sends nothing until it has an address"
				h.Cause = dhcpOffWhy(off) + ": the guest got no address from DHCP and has sent no frame (it is not configured statically or by a config drive), so the bridge had nothing to learn"
				h.Next = dhcpOffNext(off)
			}
		}
	}
	return h
}

// countersHop compares the tap's counters in the two snapshots (the
// interval includes the ARP probe).
func (v *view) countersHop() Hop {
	h := Hop{Kind: KindCounters}
	if v.tap == nil || v.bridge == nil {
		h.Summary = "not reached: no tap"
		return h
	}
	h.Name = v.tap.Name
	bf := v.obs.Bridges
	var now linuxbridge.Port
	ok := false
	if bf.After != nil {
		if br := snapBridge(bf.After, v.bridge.Name); br != nil {
			now, ok = br.Port(v.tap.Name)
		}
	}
	if !ok {
		why := bf.AfterError
		if why == "" {
			why = "<nil>"
		}
		h.Summary = fmt.Sprintf("second sample failed: %s gone (%s)", v.tap.Name, why)
		return h
	}
	a, b := v.tap.Stats, now.Stats
	el := bf.AfterAt.Sub(bf.BeforeAt).Round(time.Millisecond)
	drx, dtx := b.RxPackets-a.RxPackets, b.TxPackets-a.TxPackets
	h.add("interval", "%s (includes the ARP probe)", el)
	h.add("rx_packets", "%d -> %d (+%d, from the guest)", a.RxPackets, b.RxPackets, drx)
	h.add("tx_packets", "%d -> %d (+%d, to the guest)", a.TxPackets, b.TxPackets, dtx)
	h.add("drops", "rx +%d tx +%d", b.RxDropped-a.RxDropped, b.TxDropped-a.TxDropped)
	dmoved := v.domainCounters(&h)
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
		h.Next = "the guest's console; virsh domifstat <domain> " + v.tap.Name
	default:
		h.Verdict = Warn
		h.Summary = "no packets either way in " + el.String()
		h.Cause = "nothing reaches the tap: it is down or isolated, and the guest is silent"
		h.Next = "the tap and bridge hops; the guest's console"
	}
	return h
}

// uplink is what the physical-port hop settled on: the provider ports
// of the bridge, and the expected uplink when it is not on the bridge
// (for the NetworkManager check).
type uplink struct {
	phys  []linuxbridge.Port
	name  string
	index int
}

// after returns the snapshot taken after the probe (else the first) and
// the tap in it (else the first snapshot's).
func (v *view) after() (*linuxbridge.Snapshot, *linuxbridge.Port) {
	bf := v.obs.Bridges
	if bf.After == nil {
		return bf.Before, v.tap
	}
	if br := snapBridge(bf.After, v.bridge.Name); br != nil {
		if p, ok := br.Port(v.tap.Name); ok {
			return bf.After, &p
		}
	}
	return bf.After, v.tap
}

// snapBridge returns the named bridge of a snapshot, nil if absent.
func snapBridge(s *linuxbridge.Snapshot, name string) *linuxbridge.Bridge {
	for i := range s.Bridges {
		if s.Bridges[i].Name == name {
			return &s.Bridges[i]
		}
	}
	return nil
}
