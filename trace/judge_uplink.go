package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strconv"
	"strings"

	"github.com/vifpath/vifpath/linuxbridge"
)

// uplinkHop judges the bridge's physical port by the agent's mappings. ok
// is false when there are none to go by (no agent config, or it maps no
// interface): the caller then guesses, with p's evidence.
func (v *view) uplinkHop(p *Hop) (up uplink, ok bool) {
	br := v.bridge
	agent := v.obs.Bridges.Agent
	var agentErr error
	if e := v.obs.Bridges.AgentError; e != "" {
		agentErr = errors.New(e)
	}
	if agent == nil {
		what := "no agent config"
		if agentErr != nil {
			what = agentErr.Error()
		}
		p.add("mappings", "warn: %s; the provider NIC is guessed (a bridge port Neutron did not name); set Config.AgentConfig or InterfaceMappings", what)
		return uplink{}, false
	}
	m := agent
	p.add("mappings", "%s (from %s)", m, orUnknown(m.Path, "Config"))
	if v.id.NetType != "" {
		p.add("network", "%s physical_network %q segmentation_id %d (Neutron)", v.id.NetType, v.id.PhysNet, v.id.SegID)
	}
	switch v.id.NetType {
	case "vxlan":
		if v.id.SegID > 0 {
			return v.judgeUplink(p, fmt.Sprintf("vxlan-%d", v.id.SegID), "", fmt.Sprintf("vxlan network, VNI %d", v.id.SegID))
		}
	case "local":
		p.Name = "(local network)"
		p.Summary = "a local network has no physical port"
		return uplink{phys: v.phys}, true
	}
	var nic, how string
	switch {
	case v.id.PhysNet != "":
		if bname, ok := m.Bridges[v.id.PhysNet]; ok {
			p.Name = bname
			if br.Name != bname {
				p.Verdict = Fail
				p.Summary = fmt.Sprintf("physical network %s uses the existing bridge %s (bridge_mappings), but the tap is on %s", v.id.PhysNet, bname, br.Name)
				p.Cause = "the tap was plugged into a bridge the agent would not use for this network"
				p.Next = "brctl show; bridge_mappings in " + orUnknown(m.Path, "the agent's config") + "; the linuxbridge agent's log"
				return uplink{phys: v.phys}, true
			}
			p.Summary = fmt.Sprintf("physical network %s uses the existing bridge %s (bridge_mappings): its uplink is configured outside Neutron, not judged", v.id.PhysNet, bname)
			return uplink{phys: v.phys}, true
		}
		nic = m.Interfaces[v.id.PhysNet]
		if nic == "" {
			p.Name = v.id.PhysNet
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("no physical_interface_mappings entry for the network's physical network %q", v.id.PhysNet)
			p.Cause = "the linuxbridge agent on this node cannot wire networks of " + v.id.PhysNet + ": the bridge gets no uplink (and new ports fail to bind)"
			p.Next = "add " + v.id.PhysNet + ":<nic> to physical_interface_mappings in " + orUnknown(m.Path, "linuxbridge_agent.ini") + " and restart the linuxbridge agent"
			return uplink{phys: v.phys}, true
		}
		how = fmt.Sprintf("physical_interface_mappings %s:%s, the network's physical network", v.id.PhysNet, nic)
	case len(m.Interfaces) == 1:
		for k, v := range m.Interfaces {
			nic, how = v, fmt.Sprintf("physical_interface_mappings %s:%s, the only mapping", k, v)
		}
	case len(m.Interfaces) == 0:
		p.add("mappings_note", "warn: physical_interface_mappings is empty; the provider NIC is guessed")
		return uplink{}, false
	default:
		var nics []string
		for k, v := range m.Interfaces {
			nics = append(nics, v)
			for _, port := range br.Ports {
				if port.Name == v || isVLANOf(port.Name, v) {
					nic, how = v, fmt.Sprintf("physical_interface_mappings %s:%s, the mapped interface on the bridge", k, v)
				}
			}
		}
		if nic == "" {
			slices.Sort(nics)
			p.Name = strings.Join(nics, ",")
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("none of the mapped interfaces (%s) is on %s", strings.Join(nics, ", "), br.Name)
			p.Cause = "the bridge has no uplink: its provider NIC is missing or not enslaved, so the VM reaches only this bridge's other ports"
			p.Next = "ip link show <nic>; bridge link show master " + br.Name + "; trace with the API (-server) so the network's physical network names the NIC"
			return uplink{phys: v.phys}, true
		}
	}
	want := nic
	switch {
	case v.id.NetType == "vlan" && v.id.SegID > 0:
		want = fmt.Sprintf("%s.%d", nic, v.id.SegID)
		how += fmt.Sprintf(", VLAN %d", v.id.SegID)
	case v.id.NetType == "":
		for _, port := range br.Ports {
			if isVLANOf(port.Name, nic) {
				want = port.Name
				how += ", a VLAN interface of it on the bridge"
			}
		}
	}
	return v.judgeUplink(p, want, nic, how)
}

// isVLANOf reports whether name is "<nic>.<number>".
func isVLANOf(name, nic string) bool {
	rest, ok := strings.CutPrefix(name, nic+".")
	if !ok || rest == "" {
		return false
	}
	_, err := strconv.ParseUint(rest, 10, 16)
	return err == nil
}

// judgeUplink judges the expected uplink want (parent: the NIC a VLAN
// interface sits on, or "") of the bridge.
func (v *view) judgeUplink(p *Hop, want, parent, how string) (uplink, bool) {
	br := v.bridge
	p.Name = want
	p.add("expected", "%s (%s)", want, how)
	for _, other := range v.phys {
		if other.Name != want {
			p.add("other_port", "%s (not a Neutron device, not the mapped interface)", other.Name)
		}
	}
	if port, ok := br.Port(want); ok {
		p.add(want, "kind %s up %t lower_up %t oper %s stp %s", port.Kind, port.Up, port.LowerUp, port.OperState, port.STPState)
		switch {
		case !port.Up:
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("%s exists but is down (on %s)", want, br.Name)
			p.Cause = "the provider NIC is administratively down: the network's traffic leaves the bridge nowhere"
			p.Next = "ip link set " + want + " up; who set it down? nmcli d (NetworkManager), ifupdown"
			v.nmCause(p, want, port.Index)
		case !port.LowerUp:
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("%s is up but has no carrier (oper state %s)", want, port.OperState)
			p.Cause = "no link on the provider NIC: cable, switch port, or the peer is down"
			p.Next = "ethtool " + want + "; the switch port"
		default:
			p.Verdict = OK
			if stpVerdict(p, &port, br) {
				p.Summary = fmt.Sprintf("%s up and forwarding on %s (%s)", want, br.Name, how)
			}
		}
		return uplink{phys: []linuxbridge.Port{port}}, true
	}
	p.Verdict = Fail
	if v.obs.Bridges.Before != nil {
		for _, b := range v.obs.Bridges.Before.Bridges {
			if _, ok := b.Port(want); ok {
				p.put("master", b.Name)
				p.Summary = fmt.Sprintf("%s is on another bridge, %s, not on %s", want, b.Name, br.Name)
				p.Cause = "the provider NIC is enslaved to another bridge (a stale brq of another network, or one made by hand or by NetworkManager): this network's frames never leave the node"
				p.Next = "brctl show; ip link set " + want + " nomaster; ip link set " + want + " master " + br.Name + " (restarting the linuxbridge agent does it)"
				return uplink{}, true
			}
		}
	}
	l, err := v.lookupLink(want)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.add("link", "%s: no such interface", want)
		p.Summary = fmt.Sprintf("%s missing from %s: no such interface on this node", want, br.Name)
		p.Cause = "the interface physical_interface_mappings names does not exist (a renamed NIC, a missing driver, or a wrong mapping): the bridge has no uplink"
		p.Next = "ip link; physical_interface_mappings in " + orUnknown(v.obs.Bridges.Agent.Path, "linuxbridge_agent.ini") + "; restart the linuxbridge agent"
		if parent != "" && parent != want {
			if pl, err := v.lookupLink(parent); err == nil {
				p.add("parent", "%s exists (up %t)", parent, pl.Up)
				p.Cause = "the linuxbridge agent did not create the VLAN interface " + want + " on " + parent
				p.Next = "the linuxbridge agent's log; ip link add link " + parent + " name " + want + " type vlan id " + strings.TrimPrefix(want, parent+".")
			} else {
				p.add("parent", "%s: %v", parent, err)
			}
		}
	case err != nil:
		p.add("link", "%s: %v", want, err)
		p.Summary = fmt.Sprintf("%s missing from %s (cannot read the interface: %v)", want, br.Name, err)
		p.Cause = "the provider NIC is not a port of the bridge: the VM reaches only this bridge's other ports"
		p.Next = "ip link show " + want + "; ip link set " + want + " master " + br.Name
	default:
		p.add("link", "%s exists: up %t lower_up %t oper %s, no master", want, l.Up, l.LowerUp, l.OperState)
		if l.Up {
			p.Summary = fmt.Sprintf("%s missing from %s: it exists but is not enslaved", want, br.Name)
		} else {
			p.Summary = fmt.Sprintf("%s exists but is down and not on %s", want, br.Name)
		}
		p.Cause = "the provider NIC is not on the bridge: the agent did not enslave it, or something (NetworkManager, ifdown, a hand edit) released it"
		p.Next = "ip link set " + want + " master " + br.Name + " up (restarting the linuxbridge agent does it); nmcli d"
		v.nmCause(p, want, l.Index)
		return uplink{name: want, index: l.Index}, true
	}
	return uplink{}, true
}

// nmCause adds, when NetworkManager runs and manages the device, that
// fact as evidence and as the cause.
func (v *view) nmCause(p *Hop, name string, index int) {
	if !v.obs.Settings.HostNetNS {
		return // NetworkManager manages the host's namespace only
	}
	if managed, file := v.obs.Host.NM.manages(index); managed {
		p.add("networkmanager", "%s: managed=true", file)
		p.Cause = "NetworkManager manages " + name + " and has taken it " + map[bool]string{true: "down", false: "off the bridge"}[strings.Contains(p.Summary, "down")] + ": it reconfigures devices the linuxbridge agent owns"
		p.Next = "nmcli d set " + name + " managed no (and an unmanaged-devices rule in NetworkManager.conf); then " + p.Next
	}
}

// manages reports whether a running NetworkManager manages the device of
// ifindex index, and the state file read.
func (n *NMFacts) manages(index int) (bool, string) {
	if !n.Running() || index <= 0 {
		return false, ""
	}
	d, ok := n.Devices[index]
	if !ok || d.Error != "" {
		return false, d.Path
	}
	return d.Managed == "true" || d.Managed == "1", d.Path
}

// lookupLink returns the observed interface name; a missing one is an
// error satisfying fs.ErrNotExist.
func (v *view) lookupLink(name string) (LinkFacts, error) {
	for _, l := range v.obs.Bridges.Links {
		if l.Name != name {
			continue
		}
		switch {
		case l.Missing:
			return l, fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		case l.Error != "":
			return l, errors.New(l.Error)
		}
		return l, nil
	}
	if v.needLinks != nil {
		v.needLinks[name] = true
	}
	return LinkFacts{}, fmt.Errorf("%s: not observed", name)
}

// mappedBridge reports whether name is the bridge bridge_mappings gives
// the network's physical network.
func (v *view) mappedBridge(name string) bool {
	a := v.obs.Bridges.Agent
	return a != nil && v.id.PhysNet != "" && a.Bridges[v.id.PhysNet] == name
}
