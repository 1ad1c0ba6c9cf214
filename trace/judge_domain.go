package trace

import (
	"fmt"
	"strings"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

const noLibvirt = "no libvirt client"

// domainHops judges the domain and its interface; it runs after the DHCP
// side so the port MAC is as confirmed as it gets.
func (v *view) domainHops() (Hop, Hop) {
	dh := Hop{Kind: KindDomain}
	ih := Hop{Kind: KindInterface}
	lv := v.obs.Libvirt
	switch {
	case lv == nil || !v.obs.Settings.Libvirt:
		dh.Summary = "not checked: " + noLibvirt
		dh.add("libvirt", noLibvirt)
		ih.Summary = "not checked: " + noLibvirt
		ih.add("libvirt", noLibvirt)
		return dh, ih
	case v.libvirtErr() != "":
		dh.Summary = "libvirt could not be asked: " + v.libvirtErr()
		dh.put("error", v.libvirtErr())
		ih.Summary = "not reached"
		return dh, ih
	case v.dom == nil:
		dh.Name = v.id.Target.Domain
		dh.Verdict = Fail
		dh.add("searched", "%d domains", v.searchedDomains())
		if v.id.Target.Domain != "" {
			dh.Summary = fmt.Sprintf("libvirt has no domain %q", v.id.Target.Domain)
			dh.Cause = "the instance is not defined on this host: it runs on another compute host, or was deleted or never spawned"
		} else {
			dh.Name = "(none)"
			dh.Summary = fmt.Sprintf("no libvirt domain has an interface on %s", v.id.Tap)
			dh.Cause = "no guest on this host owns the NIC: it runs on another compute host, or its domain was undefined"
		}
		dh.Next = "virsh list --all; openstack server show <server> -c OS-EXT-SRV-ATTR:host -c OS-EXT-SRV-ATTR:instance_name"
		ih.Summary = "not reached: no domain"
		return dh, ih
	}
	det := v.dom
	dh.Name = det.Name
	dh.put("uuid", det.UUID)
	dh.put("found", v.id.DomainHow)
	dh.put("type", det.Type)
	if det.ID >= 0 {
		dh.add("id", "%d", det.ID)
	}
	dh.add("state", "%s (%s)", det.State, det.Reason)
	if det.Nova != nil {
		dh.put("nova_instance", det.Nova.InstanceUUID)
		dh.put("nova_name", det.Nova.Name)
		var ports []string
		ports = append(ports, det.Nova.Ports...)
		if len(ports) > 0 {
			dh.add("nova_ports", "%s", strings.Join(ports, ","))
		}
	}
	switch det.State {
	case libvirtinspect.StateRunning, libvirtinspect.StateBlocked:
		dh.Verdict = OK
		dh.Summary = fmt.Sprintf("%s (%s)", det.State, det.Reason)
	case libvirtinspect.StatePaused:
		// A paused guest answers nothing: on the aio cloud (`openstack
		// server pause`) the bridge forgot its MAC and ARP and ping went
		// unanswered, and the trace blamed the FDB. The pause is the fault.
		dh.Verdict = Fail
		dh.Summary = fmt.Sprintf("paused (%s): the guest's CPUs are stopped", det.Reason)
		dh.Cause = "the domain is paused (openstack server pause, a migration, a snapshot, an I/O error or `virsh suspend`): the guest answers nothing, so the FDB, ARP and reachability hops fail for that reason alone"
		dh.Next = "virsh domstate --reason " + det.Name + "; openstack server unpause <server> (paused by Nova) or virsh resume " + det.Name
	default:
		dh.Verdict = Fail
		dh.Summary = fmt.Sprintf("%s (%s): the guest is not running", det.State, det.Reason)
		dh.Cause = "the guest is not running, so nothing holds its tap"
		dh.Next = "virsh domstate --reason " + det.Name + "; openstack server show <server> (status, fault); openstack server start"
	}

	ih.Name = det.Name
	i := v.iface
	if i == nil {
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("%s has no interface on %s", det.Name, v.id.Tap)
		ih.Cause = "the domain's XML has no interface for this port (interface detached, or another domain's port)"
		ih.Next = "virsh domiflist " + det.Name + "; openstack port show <port> (device_id)"
		ih.add("interfaces", "%d", len(det.Interfaces))
		return dh, ih
	}
	ih.Name = det.Name + "/" + i.Target
	if i.Alias != "" && i.Target == "" {
		ih.Name = det.Name + "/" + i.Alias
	}
	ih.put("type", i.Type)
	ih.put("source", i.Source)
	ih.put("target", i.Target)
	ih.put("mac", i.MAC.String())
	ih.put("model", i.Model)
	if i.MTU != 0 {
		ih.add("mtu", "%d", i.MTU)
	}
	if v.id.MAC != nil {
		ih.add("port_mac", "%s (from %s)", v.id.MAC, v.id.MACFrom)
	}
	if v.bridge != nil {
		ih.put("tap_bridge", v.bridge.Name)
	}
	wantBr := ""
	if v.id.WantNetwork != "" {
		wantBr = linuxbridge.NetworkBridgeName(v.id.WantNetwork)
		ih.put("network_bridge", wantBr)
	}
	ih.Verdict = OK
	ih.Summary = fmt.Sprintf("%s on %s, MAC %s, model %s", i.Type, i.Source, i.MAC, i.Model)
	switch {
	case !(v.id.MACSource == MACFromLibvirt) && v.id.MAC != nil && i.MAC.String() != v.id.MAC.String():
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("guest MAC %s is not the port's %s", i.MAC, v.id.MAC)
		ih.Cause = "the domain's NIC belongs to another port (port recreated, or the domain defined by hand): DHCP and anti-spoofing rules expect the port's MAC"
		ih.Next = "virsh domiflist " + det.Name + "; openstack port show <port> -c mac_address; nova reboot --hard regenerates the XML"
	case wantBr != "" && i.Source != wantBr:
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("libvirt plugs %s into %s, the port's network bridge is %s", i.Target, i.Source, wantBr)
		ih.Cause = "the domain was defined for another network (stale XML after a port change)"
		ih.Next = "virsh dumpxml " + det.Name + " | grep -A3 '<interface'; openstack port show <port>"
	case v.bridge != nil && i.Source != "" && i.Source != v.bridge.Name:
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("libvirt says %s is on %s, but it is a port of %s", i.Target, i.Source, v.bridge.Name)
		ih.Cause = "the tap was moved to another bridge after the guest started (by hand, or an agent re-plugged it)"
		ih.Next = "ip link set " + i.Target + " master " + i.Source + "; brctl show; the linuxbridge agent's log"
	case v.tap == nil && holdsTap(det.State) && v.bridgeMissing(i.Source):
		// compute1's brq deleted while the server ran (aio cloud): the
		// kernel released the tap; the bridge itself is what is gone.
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("the domain runs but its bridge %s does not exist: its tap %s is on no bridge", i.Source, i.Target)
		ih.Cause = "the bridge libvirt plugged the tap into was deleted while the server runs (by hand, or a cleanup): the kernel released its ports"
		ih.Next = "restart neutron-linuxbridge-agent on the node (at start it re-plugs every tap, creating the bridge), or ip link add " + i.Source + " type bridge and re-enslave the tap and the provider NIC"
	case v.tap == nil && holdsTap(det.State):
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("the domain runs but its tap %s is on no bridge", i.Target)
		ih.Cause = "the tap exists without a master, or libvirt's plug failed"
		ih.Next = "ip -d link show " + i.Target + "; virsh domiflist " + det.Name
	case !holdsTap(det.State):
		ih.Verdict = Unknown
		ih.Summary = "the domain is not running: its interface has no tap to check"
	case (v.id.MACSource == MACFromLibvirt):
		ih.Summary += " (the port MAC is taken from here: not confirmed by Neutron or the hosts file)"
	}
	if i.Type != "bridge" && ih.Verdict == OK {
		ih.Verdict = Warn
		ih.Summary = fmt.Sprintf("interface type %s, not bridge", i.Type)
		ih.Cause = "Nova plugs linuxbridge ports as <interface type='bridge'>"
		ih.Next = "virsh dumpxml " + det.Name + "; the port's binding:vif_type"
	}
	return dh, ih
}

// domainCounters adds libvirt's view of the interface's counters (the
// guest's point of view: tx is what the guest sent) and reports whether
// they moved.
func (v *view) domainCounters(h *Hop) (moved bool) {
	lv := v.obs.Libvirt
	if lv == nil || !v.obs.Settings.Libvirt {
		h.add("domain", noLibvirt)
		return false
	}
	if v.dom == nil || v.iface == nil || v.iface.Target == "" {
		return false
	}
	var a *libvirtinspect.InterfaceStats
	for i := range v.dom.Stats {
		if v.dom.Stats[i].Name == v.iface.Target {
			a = &v.dom.Stats[i]
		}
	}
	if a == nil {
		return false
	}
	if lv.StatsAfterError != "" {
		h.add("domain", "second sample failed: %s", lv.StatsAfterError)
		return false
	}
	for _, b := range v.dom.StatsAfter {
		if b.Name != a.Name {
			continue
		}
		el := lv.StatsAfterAt.Sub(lv.StatsAt).Round(time.Millisecond)
		h.put("domain_interval", el.String())
		// InterfaceStats counts from the tap's side: Rx is what the guest sent.
		h.add("domain_tx_packets", "%d -> %d (+%d, guest sent, libvirt)", a.RxPackets, b.RxPackets, b.RxPackets-a.RxPackets)
		h.add("domain_rx_packets", "%d -> %d (+%d, guest received, libvirt)", a.TxPackets, b.TxPackets, b.TxPackets-a.TxPackets)
		return b.RxPackets > a.RxPackets
	}
	h.add("domain", "second sample: %s no longer reports %s", v.dom.Name, a.Name)
	return false
}

// libvirtErr is why libvirt could not be asked about this NIC ("" when
// it could).
func (v *view) libvirtErr() string {
	lv := v.obs.Libvirt
	if lv.Error != "" {
		return lv.Error
	}
	for _, ref := range []string{v.id.Target.Domain, v.id.ServerID} {
		if e, ok := lv.LookupErrors[ref]; ok && ref != "" && v.dom == nil {
			return e
		}
	}
	return ""
}

// searched is how many domains were looked at to find the NIC's.
func (v *view) searchedDomains() int {
	if v.id.Target.Domain != "" {
		return 1
	}
	return v.obs.Libvirt.Searched
}

// holdsTap reports whether a domain in state st has its qemu process, and
// so its taps.
func holdsTap(st libvirtinspect.State) bool {
	return st == libvirtinspect.StateRunning || st == libvirtinspect.StateBlocked || st == libvirtinspect.StatePaused
}

// bridgeMissing reports whether the node's bridge snapshot was read and
// has no bridge named name.
func (v *view) bridgeMissing(name string) bool {
	b := v.obs.Bridges
	if name == "" || b == nil || b.Before == nil {
		return false
	}
	for _, br := range b.Before.Bridges {
		if br.Name == name {
			return false
		}
	}
	return true
}
