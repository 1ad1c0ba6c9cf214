package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"net"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"

	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// loadAgent reads the linuxbridge agent's mappings once per run (the
// compute side only): Config's maps, else Config.AgentConfig.
func (r *runner) loadAgent() {
	switch {
	case r.c.InterfaceMappings != nil:
		r.agent = &AgentMappings{Interfaces: r.c.InterfaceMappings, Bridges: r.c.BridgeMappings}
	case r.c.AgentConfig == "-":
		r.agentErr = errors.New("Config.AgentConfig is \"-\" (read none)")
	default:
		r.agent, r.agentErr = ReadAgentConfig(r.c.AgentConfig)
		if r.agentErr != nil {
			r.c.Logger.Warn("trace: no linuxbridge agent mappings: the physical-port hop guesses the provider NIC", "err", r.agentErr)
		}
	}
}

// uplinkHop judges the bridge's physical port by the agent's mappings. ok
// is false when there are none to go by (no agent config, or it maps no
// interface): the caller then guesses, with p's evidence.
func (r *runner) uplinkHop(p *Hop) (ok bool) {
	br := r.bridge
	if r.agent == nil {
		what := "no agent config"
		if r.agentErr != nil {
			what = r.agentErr.Error()
		}
		p.add("mappings", "warn: %s; the provider NIC is guessed (a bridge port Neutron did not name); set Config.AgentConfig or InterfaceMappings", what)
		return false
	}
	m := r.agent
	p.add("mappings", "%s (from %s)", m, orUnknown(m.Path, "Config"))
	if r.netType != "" {
		p.add("network", "%s physical_network %q segmentation_id %d (Neutron)", r.netType, r.physnet, r.segID)
	}
	switch r.netType {
	case "vxlan":
		if r.segID > 0 {
			return r.judgeUplink(p, fmt.Sprintf("vxlan-%d", r.segID), "", fmt.Sprintf("vxlan network, VNI %d", r.segID))
		}
	case "local":
		p.Name = "(local network)"
		p.Summary = "a local network has no physical port"
		return true
	}
	var nic, how string
	switch {
	case r.physnet != "":
		if bname, ok := m.Bridges[r.physnet]; ok {
			p.Name = bname
			if br.Name != bname {
				p.Verdict = Fail
				p.Summary = fmt.Sprintf("physical network %s uses the existing bridge %s (bridge_mappings), but the tap is on %s", r.physnet, bname, br.Name)
				p.Cause = "the tap was plugged into a bridge the agent would not use for this network"
				p.Next = "brctl show; bridge_mappings in " + orUnknown(m.Path, "the agent's config") + "; the linuxbridge agent's log"
				return true
			}
			p.Summary = fmt.Sprintf("physical network %s uses the existing bridge %s (bridge_mappings): its uplink is configured outside Neutron, not judged", r.physnet, bname)
			return true
		}
		nic = m.Interfaces[r.physnet]
		if nic == "" {
			p.Name = r.physnet
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("no physical_interface_mappings entry for the network's physical network %q", r.physnet)
			p.Cause = "the linuxbridge agent on this node cannot wire networks of " + r.physnet + ": the bridge gets no uplink (and new ports fail to bind)"
			p.Next = "add " + r.physnet + ":<nic> to physical_interface_mappings in " + orUnknown(m.Path, "linuxbridge_agent.ini") + " and restart the linuxbridge agent"
			return true
		}
		how = fmt.Sprintf("physical_interface_mappings %s:%s, the network's physical network", r.physnet, nic)
	case len(m.Interfaces) == 1:
		for k, v := range m.Interfaces {
			nic, how = v, fmt.Sprintf("physical_interface_mappings %s:%s, the only mapping", k, v)
		}
	case len(m.Interfaces) == 0:
		p.add("mappings_note", "warn: physical_interface_mappings is empty; the provider NIC is guessed")
		return false
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
			return true
		}
	}
	want := nic
	switch {
	case r.netType == "vlan" && r.segID > 0:
		want = fmt.Sprintf("%s.%d", nic, r.segID)
		how += fmt.Sprintf(", VLAN %d", r.segID)
	case r.netType == "":
		for _, port := range br.Ports {
			if isVLANOf(port.Name, nic) {
				want = port.Name
				how += ", a VLAN interface of it on the bridge"
			}
		}
	}
	return r.judgeUplink(p, want, nic, how)
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
func (r *runner) judgeUplink(p *Hop, want, parent, how string) bool {
	br := r.bridge
	p.Name = want
	p.add("expected", "%s (%s)", want, how)
	for _, other := range r.phys {
		if other.Name != want {
			p.add("other_port", "%s (not a Neutron device, not the mapped interface)", other.Name)
		}
	}
	if port, ok := br.Port(want); ok {
		r.phys = []linuxbridge.Port{port}
		p.add(want, "kind %s up %t lower_up %t oper %s stp %s", port.Kind, port.Up, port.LowerUp, port.OperState, port.STPState)
		switch {
		case !port.Up:
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("%s exists but is down (on %s)", want, br.Name)
			p.Cause = "the provider NIC is administratively down: the network's traffic leaves the bridge nowhere"
			p.Next = "ip link set " + want + " up; who set it down? nmcli d (NetworkManager), ifupdown"
			r.nmCause(p, want, port.Index)
		case !port.LowerUp:
			p.Verdict = Fail
			p.Summary = fmt.Sprintf("%s is up but has no carrier (oper state %s)", want, port.OperState)
			p.Cause = "no link on the provider NIC: cable, switch port, or the peer is down"
			p.Next = "ethtool " + want + "; the switch port"
		default:
			p.Verdict = OK
			if stpVerdict(p, &port) {
				p.Summary = fmt.Sprintf("%s up and forwarding on %s (%s)", want, br.Name, how)
			}
		}
		return true
	}
	r.phys = nil
	p.Verdict = Fail
	if r.snap != nil {
		for _, b := range r.snap.Bridges {
			if _, ok := b.Port(want); ok {
				p.add("master", "%s", b.Name)
				p.Summary = fmt.Sprintf("%s is on another bridge, %s, not on %s", want, b.Name, br.Name)
				p.Cause = "the provider NIC is enslaved to another bridge (a stale brq of another network, or one made by hand or by NetworkManager): this network's frames never leave the node"
				p.Next = "brctl show; ip link set " + want + " nomaster; ip link set " + want + " master " + br.Name + " (restarting the linuxbridge agent does it)"
				return true
			}
		}
	}
	l, err := r.lookupLink(want)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		p.add("link", "%s: no such interface", want)
		p.Summary = fmt.Sprintf("%s missing from %s: no such interface on this node", want, br.Name)
		p.Cause = "the interface physical_interface_mappings names does not exist (a renamed NIC, a missing driver, or a wrong mapping): the bridge has no uplink"
		p.Next = "ip link; physical_interface_mappings in " + orUnknown(r.agent.Path, "linuxbridge_agent.ini") + "; restart the linuxbridge agent"
		if parent != "" && parent != want {
			if pl, err := r.lookupLink(parent); err == nil {
				p.add("parent", "%s exists (up %t)", parent, pl.up)
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
		p.add("link", "%s exists: up %t lower_up %t oper %s, no master", want, l.up, l.lowerUp, l.oper)
		if l.up {
			p.Summary = fmt.Sprintf("%s missing from %s: it exists but is not enslaved", want, br.Name)
		} else {
			p.Summary = fmt.Sprintf("%s exists but is down and not on %s", want, br.Name)
		}
		p.Cause = "the provider NIC is not on the bridge: the agent did not enslave it, or something (NetworkManager, ifdown, a hand edit) released it"
		p.Next = "ip link set " + want + " master " + br.Name + " up (restarting the linuxbridge agent does it); nmcli d"
		r.nmCause(p, want, l.index)
		r.uplinkIndex, r.uplinkName = l.index, want
	}
	return true
}

// nmCause adds, when NetworkManager runs and manages the device, that
// fact as evidence and as the cause.
func (r *runner) nmCause(p *Hop, name string, index int) {
	if !(r.c.BridgeNetNS == "" || sameNetNS(r.c.BridgeNetNS, filepath.Join(r.c.ProcDir, "self/ns/net"))) {
		return // NetworkManager manages the host's namespace only
	}
	if managed, file := nmManages(r.c.NMRunDir, r.c.ProcDir, index); managed {
		p.add("networkmanager", "%s: managed=true", file)
		p.Cause = "NetworkManager manages " + name + " and has taken it " + map[bool]string{true: "down", false: "off the bridge"}[strings.Contains(p.Summary, "down")] + ": it reconfigures devices the linuxbridge agent owns"
		p.Next = "nmcli d set " + name + " managed no (and an unmanaged-devices rule in NetworkManager.conf); then " + p.Next
	}
}

// nmManages reports whether a running NetworkManager manages the device
// of ifindex index, and the state file it read.
func nmManages(runDir, procDir string, index int) (bool, string) {
	b, err := os.ReadFile(filepath.Join(runDir, "NetworkManager.pid"))
	if err != nil || index <= 0 {
		return false, ""
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		return false, ""
	}
	if _, err := os.Stat(filepath.Join(procDir, strconv.Itoa(pid))); err != nil {
		return false, ""
	}
	file := filepath.Join(runDir, "devices", strconv.Itoa(index))
	b, err = os.ReadFile(file)
	if err != nil {
		return false, file
	}
	m := nmManaged(b)
	return m == "true" || m == "1", file
}

type linkState struct {
	index       int
	up, lowerUp bool
	oper        string
}

// lookupLink reads one interface in the bridges' namespace; a missing one
// is an error satisfying fs.ErrNotExist.
func (r *runner) lookupLink(name string) (linkState, error) {
	var st linkState
	get := func() error {
		h, err := netlink.NewHandle(unix.NETLINK_ROUTE)
		if err != nil {
			return err
		}
		defer h.Close()
		l, err := h.LinkByName(name)
		var nf netlink.LinkNotFoundError
		if errors.As(err, &nf) {
			return fmt.Errorf("%s: %w", name, fs.ErrNotExist)
		}
		if err != nil {
			return err
		}
		a := l.Attrs()
		st = linkState{index: a.Index, up: a.Flags&net.FlagUp != 0, lowerUp: a.RawFlags&unix.IFF_LOWER_UP != 0, oper: strings.ToLower(a.OperState.String())}
		return nil
	}
	if r.c.BridgeNetNS == "" {
		return st, get()
	}
	return st, inNetNS(r.c.BridgeNetNS, get)
}
