package trace

import (
	"context"
	"fmt"
	"net"
	"strings"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// domainResult is what libvirt said about the NIC's domain.
type domainResult struct {
	err      error // libvirt could not be asked
	how      string
	det      *libvirtinspect.Details
	iface    *libvirtinspect.Interface
	stats0   *libvirtinspect.InterfaceStats // first sample of the interface's counters
	sampled  time.Time
	searched int // domains looked at
}

// findDomain asks libvirt for the domain whose interface targets the tap
// (or the one target.Domain names): one Stats RPC (states and the running
// domains' interface devices, which also gives the first counter sample),
// then Details of the domain found. Domains that are not running have no
// interface stats, so they are searched through their XML.
func (r *runner) findDomain(ctx context.Context, target Target) {
	lv := r.c.Libvirt
	if lv == nil {
		return
	}
	d := &r.dom
	stats, err := lv.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface})
	if err != nil {
		d.err = err
		return
	}
	d.sampled = time.Now()
	tap := r.t.Tap
	ref := ""
	switch {
	case target.Domain != "":
		ref, d.how = target.Domain, "named by the caller"
	case tap != "":
		for _, s := range stats {
			for _, is := range s.Interfaces {
				if is.Name == tap {
					ref, d.how = s.Domain.UUID, "running, with an interface on "+tap
				}
			}
		}
	}
	if ref != "" {
		det, err := lv.Details(ctx, ref)
		if err != nil && libvirtinspect.IsNotFound(err) && r.serverID != "" && r.serverID != ref {
			// The instance name may be wrong or hidden; the domain's
			// UUID is the server's.
			ref = r.serverID
			d.how = "its UUID is the server's"
			det, err = lv.Details(ctx, ref)
		}
		if err != nil {
			if !libvirtinspect.IsNotFound(err) {
				d.err = err
			}
			d.searched = 1
			return
		}
		d.det = det
	} else {
		// Not among the running domains' devices: look at each domain's
		// XML (a stopped domain keeps a Nova tap name as its target).
		for _, s := range stats {
			if tap != "" && s.Domain.State == libvirtinspect.StateRunning {
				continue
			}
			det, err := lv.Details(ctx, s.Domain.UUID)
			d.searched++
			if err != nil {
				continue
			}
			if i := r.pickInterface(det); i != nil && (tap == "" || i.Target == tap) {
				d.det, d.how = det, "its XML has an interface on "+tap
				if tap == "" {
					d.how = "its XML has an interface with MAC " + r.mac.String()
				}
				break
			}
		}
	}
	if d.det == nil {
		return
	}
	r.t.Domain = d.det.Name
	d.iface = r.pickInterface(d.det)
	if d.iface != nil {
		for _, s := range stats {
			if s.Domain.UUID != d.det.UUID {
				continue
			}
			for i := range s.Interfaces {
				if s.Interfaces[i].Name == d.iface.Target && d.iface.Target != "" {
					d.stats0 = &s.Interfaces[i]
				}
			}
		}
		if !r.macExact && len(d.iface.MAC) == 6 {
			r.mac, r.macFrom, r.macExact = net.HardwareAddr(d.iface.MAC), "libvirt interface of "+d.det.Name, true
			r.macLibvirt = true
		}
	}
}

// pickInterface returns the domain interface of the NIC: the one whose
// target is the tap, else the one with the port's MAC, else the one that
// is the same NIC as the tap's MAC (fe: rule).
func (r *runner) pickInterface(det *libvirtinspect.Details) *libvirtinspect.Interface {
	for i := range det.Interfaces {
		if r.t.Tap != "" && det.Interfaces[i].Target == r.t.Tap {
			return &det.Interfaces[i]
		}
	}
	for i := range det.Interfaces {
		if r.macExact && det.Interfaces[i].MAC.String() == r.mac.String() {
			return &det.Interfaces[i]
		}
	}
	if r.tap != nil {
		for i := range det.Interfaces {
			if linuxbridge.SameNIC(r.tap.MAC, det.Interfaces[i].MAC) {
				return &det.Interfaces[i]
			}
		}
	}
	return nil
}

const noLibvirt = "no libvirt client"

// domainHops judges the domain and its interface; it runs after the DHCP
// side so the port MAC is as confirmed as it gets.
func (r *runner) domainHops() (Hop, Hop) {
	dh := Hop{Kind: KindDomain}
	ih := Hop{Kind: KindInterface}
	d := &r.dom
	switch {
	case r.c.Libvirt == nil:
		dh.Summary = "not checked: " + noLibvirt
		dh.add("libvirt", noLibvirt)
		ih.Summary = "not checked: " + noLibvirt
		ih.add("libvirt", noLibvirt)
		return dh, ih
	case d.err != nil:
		dh.Summary = "libvirt could not be asked: " + d.err.Error()
		dh.add("error", "%v", d.err)
		ih.Summary = "not reached"
		return dh, ih
	case d.det == nil:
		dh.Name = r.t.Target.Domain
		dh.Verdict = Fail
		dh.add("searched", "%d domains", d.searched)
		if r.t.Target.Domain != "" {
			dh.Summary = fmt.Sprintf("libvirt has no domain %q", r.t.Target.Domain)
			dh.Cause = "the instance is not defined on this host: it runs on another compute host, or was deleted or never spawned"
		} else {
			dh.Name = "(none)"
			dh.Summary = fmt.Sprintf("no libvirt domain has an interface on %s", r.t.Tap)
			dh.Cause = "no guest on this host owns the NIC: it runs on another compute host, or its domain was undefined"
		}
		dh.Next = "virsh list --all; openstack server show <server> -c OS-EXT-SRV-ATTR:host -c OS-EXT-SRV-ATTR:instance_name"
		ih.Summary = "not reached: no domain"
		return dh, ih
	}
	det := d.det
	dh.Name = det.Name
	dh.add("uuid", "%s", det.UUID)
	dh.add("found", "%s", d.how)
	dh.add("type", "%s", det.Type)
	if det.ID >= 0 {
		dh.add("id", "%d", det.ID)
	}
	dh.add("state", "%s (%s)", det.State, det.Reason)
	if det.Nova != nil {
		dh.add("nova_instance", "%s", det.Nova.InstanceUUID)
		dh.add("nova_name", "%s", det.Nova.Name)
		var ports []string
		for _, p := range det.Nova.Ports {
			ports = append(ports, p.UUID)
		}
		if len(ports) > 0 {
			dh.add("nova_ports", "%s", strings.Join(ports, ","))
		}
	}
	switch det.State {
	case libvirtinspect.StateRunning, libvirtinspect.StateBlocked:
		dh.Verdict = OK
		dh.Summary = fmt.Sprintf("%s (%s)", det.State, det.Reason)
	case libvirtinspect.StatePaused:
		dh.Verdict = Warn
		dh.Summary = fmt.Sprintf("paused (%s): the guest's CPUs are stopped", det.Reason)
		dh.Cause = "the domain is paused (a migration, a snapshot, an I/O error or `virsh suspend`)"
		dh.Next = "virsh domstate --reason " + det.Name + "; virsh resume " + det.Name
	default:
		dh.Verdict = Fail
		dh.Summary = fmt.Sprintf("%s (%s): the guest is not running", det.State, det.Reason)
		dh.Cause = "the guest is not running, so nothing holds its tap"
		dh.Next = "virsh domstate --reason " + det.Name + "; openstack server show <server> (status, fault); openstack server start"
	}

	ih.Name = det.Name
	i := d.iface
	if i == nil {
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("%s has no interface on %s", det.Name, r.t.Tap)
		ih.Cause = "the domain's XML has no interface for this port (interface detached, or another domain's port)"
		ih.Next = "virsh domiflist " + det.Name + "; openstack port show <port> (device_id)"
		ih.add("interfaces", "%d", len(det.Interfaces))
		return dh, ih
	}
	ih.Name = det.Name + "/" + i.Target
	if i.Alias != "" && i.Target == "" {
		ih.Name = det.Name + "/" + i.Alias
	}
	ih.add("type", "%s", i.Type)
	ih.add("source", "%s", i.Source)
	ih.add("target", "%s", i.Target)
	ih.add("mac", "%s", i.MAC)
	ih.add("model", "%s", i.Model)
	if i.MTU != 0 {
		ih.add("mtu", "%d", i.MTU)
	}
	if r.mac != nil {
		ih.add("port_mac", "%s (from %s)", r.mac, r.macFrom)
	}
	if r.bridge != nil {
		ih.add("tap_bridge", "%s", r.bridge.Name)
	}
	wantBr := ""
	if r.wantNet != "" {
		wantBr = linuxbridge.NetworkBridgeName(r.wantNet)
		ih.add("network_bridge", "%s", wantBr)
	}
	ih.Verdict = OK
	ih.Summary = fmt.Sprintf("%s on %s, MAC %s, model %s", i.Type, i.Source, i.MAC, i.Model)
	switch {
	case !r.macLibvirt && r.mac != nil && i.MAC.String() != r.mac.String():
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("guest MAC %s is not the port's %s", i.MAC, r.mac)
		ih.Cause = "the domain's NIC belongs to another port (port recreated, or the domain defined by hand): DHCP and anti-spoofing rules expect the port's MAC"
		ih.Next = "virsh domiflist " + det.Name + "; openstack port show <port> -c mac_address; nova reboot --hard regenerates the XML"
	case wantBr != "" && i.Source != wantBr:
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("libvirt plugs %s into %s, the port's network bridge is %s", i.Target, i.Source, wantBr)
		ih.Cause = "the domain was defined for another network (stale XML after a port change)"
		ih.Next = "virsh dumpxml " + det.Name + " | grep -A3 '<interface'; openstack port show <port>"
	case r.bridge != nil && i.Source != "" && i.Source != r.bridge.Name:
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("libvirt says %s is on %s, but it is a port of %s", i.Target, i.Source, r.bridge.Name)
		ih.Cause = "the tap was moved to another bridge after the guest started (by hand, or an agent re-plugged it)"
		ih.Next = "ip link set " + i.Target + " master " + i.Source + "; brctl show; the linuxbridge agent's log"
	case r.tap == nil && holdsTap(det.State):
		ih.Verdict = Fail
		ih.Summary = fmt.Sprintf("the domain runs but its tap %s is on no bridge", i.Target)
		ih.Cause = "the tap exists without a master, or libvirt's plug failed"
		ih.Next = "ip -d link show " + i.Target + "; virsh domiflist " + det.Name
	case !holdsTap(det.State):
		ih.Verdict = Unknown
		ih.Summary = "the domain is not running: its interface has no tap to check"
	case r.macLibvirt:
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
func (r *runner) domainCounters(ctx context.Context, h *Hop) (moved bool) {
	d := &r.dom
	if r.c.Libvirt == nil || d.stats0 == nil {
		if r.c.Libvirt == nil {
			h.add("domain", noLibvirt)
		}
		return false
	}
	all, err := r.c.Libvirt.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsInterface, ActiveOnly: true})
	if err != nil {
		h.add("domain", "second sample failed: %v", err)
		return false
	}
	for _, s := range all {
		if s.Domain.UUID != d.det.UUID {
			continue
		}
		for _, b := range s.Interfaces {
			if b.Name != d.stats0.Name {
				continue
			}
			a := d.stats0
			el := time.Since(d.sampled).Round(time.Millisecond)
			h.add("domain_interval", "%s", el)
			// InterfaceStats counts from the tap's side: Rx is what the guest sent.
			h.add("domain_tx_packets", "%d -> %d (+%d, guest sent, libvirt)", a.RxPackets, b.RxPackets, b.RxPackets-a.RxPackets)
			h.add("domain_rx_packets", "%d -> %d (+%d, guest received, libvirt)", a.TxPackets, b.TxPackets, b.TxPackets-a.TxPackets)
			return b.RxPackets > a.RxPackets
		}
	}
	h.add("domain", "second sample: %s no longer reports %s", d.det.Name, d.stats0.Name)
	return false
}

// holdsTap reports whether a domain in state st has its qemu process, and
// so its taps.
func holdsTap(st libvirtinspect.State) bool {
	return st == libvirtinspect.StateRunning || st == libvirtinspect.StateBlocked || st == libvirtinspect.StatePaused
}
