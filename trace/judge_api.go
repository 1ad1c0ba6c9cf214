package trace

import (
	"fmt"
	"strings"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
)

// statusHop judges a server that is not in ERROR by its status.
func statusHop(srv *ServerFacts) Hop {
	sh := Hop{Kind: KindServer, Name: serverName(srv.Name, srv.ID)}
	sh.put("id", srv.ID)
	sh.put("status", srv.Status)
	if srv.TaskState != "" {
		sh.put("task_state", srv.TaskState)
	}
	sh.add("host", "%s", orUnknown(srv.Host, "(not shown: needs the admin role)"))
	sh.add("instance_name", "%s", orUnknown(srv.InstanceName, "(not shown: needs the admin role)"))
	for _, a := range srv.Addresses {
		sh.put("address", a)
	}
	sh.Summary = fmt.Sprintf("%s on %s, %d ports", srv.Status, orUnknown(srv.Host, "?"), len(srv.Ports))
	if srv.TaskState != "" {
		sh.Summary += ", task " + srv.TaskState
	}
	switch srv.Status {
	case "ACTIVE":
		sh.Verdict = OK
	case "SHUTOFF", "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED":
		sh.Verdict = Warn
		sh.Cause = fmt.Sprintf("the server is %s: its domain does not run, so the tap, domain and counter hops below fail or stay unknown for that reason alone", srv.Status)
		sh.Next = "openstack server start " + srv.ID + " (or resume/unpause/unshelve), then trace again"
	case "BUILD", "REBOOT", "HARD_REBOOT", "REBUILD", "MIGRATING", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE", "PASSWORD", "RESCUE":
		sh.Verdict = Warn
		sh.Cause = fmt.Sprintf("the server is %s: Nova is still working on it, so the tap and domain may not exist yet or be about to change", srv.Status)
		sh.Next = "wait, then trace again; openstack server show " + srv.ID + " -c status -c OS-EXT-STS:task_state"
	default:
		sh.Verdict = Fail
		sh.Cause = fmt.Sprintf("the server is %s: no VM runs for it", orUnknown(srv.Status, "in no status"))
		sh.Next = "openstack server show " + srv.ID
	}
	return sh
}

// errorHop is the server hop of a server in ERROR: Nova's fault, and the
// nova-compute services and agents of its host, as launch explained them.
func errorHop(srv *ServerFacts) Hop {
	f := srv.Fault
	sh := Hop{Kind: KindServer, Name: serverName(srv.Name, srv.ID), Verdict: Fail}
	sh.Summary = "ERROR: " + f.Message
	sh.put("id", srv.ID)
	sh.add("status", "ERROR")
	sh.add("host", "%s", orUnknown(srv.Host, "(never scheduled, or not shown: needs the admin role)"))
	sh.add("fault_code", "%d", f.Code)
	sh.put("fault_message", f.Message)
	if !f.Created.IsZero() {
		sh.put("fault_created", f.Created.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if d := firstLine(f.Details); d != "" {
		sh.put("fault_details", d)
	}
	for _, cs := range f.Compute {
		sh.put("nova-compute", cs)
	}
	for _, a := range f.Agents {
		sh.put("agent", a)
	}
	sh.Cause = "Nova put the server in ERROR: " + f.Message
	sh.Next = "openstack server show " + srv.ID + " -c fault; " + strings.Join(f.Explain, "; ")
	return sh
}

// serverHop judges the server: by its fault when in ERROR, else by its
// status.
func serverHop(srv *ServerFacts) Hop {
	if srv.Status == "ERROR" && srv.Fault != nil {
		return errorHop(srv)
	}
	return statusHop(srv)
}

// networkEvidence adds the port's network as Neutron gave it (or why it
// could not be read) to the port hop.
func networkEvidence(api *APIFacts, id string, ph *Hop) {
	if e, ok := api.NetworkErrors[id]; ok {
		ph.add("network", "cannot read network %s: %s", id, e)
		return
	}
	nw := api.Networks[id]
	if nw == nil {
		return
	}
	ph.add("network_type", "%s", orUnknown(nw.Type, "(not shown: needs the admin role)"))
	if nw.PhysicalNetwork != "" {
		ph.put("physical_network", nw.PhysicalNetwork)
	}
	if nw.SegmentationID != 0 {
		ph.add("segmentation_id", "%d", nw.SegmentationID)
	}
}
func portHop(p launch.Port, serverHost, node string) Hop {
	h := Hop{Kind: KindPort, Name: p.ID}
	h.put("network_id", p.NetworkID)
	h.put("bridge", linuxbridge.NetworkBridgeName(p.NetworkID))
	h.put("mac", p.MAC.String())
	for _, f := range p.FixedIPs {
		h.add("fixed_ip", "%s (subnet %s)", f.Address, f.SubnetID)
	}
	h.put("status", p.Status)
	h.put("vif_type", p.VIFType)
	h.put("binding_host", p.HostID)
	h.put("tap", linuxbridge.PortTapName(p.ID))
	h.Verdict = OK
	h.Summary = fmt.Sprintf("%s bound to %s (%s), MAC %s", p.Status, orUnknown(p.HostID, "?"), p.VIFType, p.MAC)
	if p.AdminDown {
		h.add("admin_state_up", "false")
	}
	switch {
	case p.AdminDown:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("administratively down (admin_state_up false), status %s", p.Status)
		h.Cause = "the port is disabled in Neutron: its agent keeps the tap down on purpose, so no frame reaches or leaves the VM"
		h.Next = "openstack port set --enable " + p.ID + " (if the port was not disabled on purpose)"
	case p.VIFType == "binding_failed":
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("binding failed on %s", orUnknown(p.HostID, "(no host)"))
		h.Cause = "no mechanism driver could bind the port on its host: the linuxbridge agent there is dead, or has no mapping for the network's physical network"
		h.Next = "openstack network agent list --host " + orUnknown(p.HostID, "<host>") + "; physical_interface_mappings in linuxbridge_agent.ini; neutron-server's log for the binding"
	case p.VIFType == "unbound" || p.VIFType == "":
		h.Verdict = Fail
		h.Summary = "the port is not bound to any host"
		h.Cause = "Nova never asked Neutron to bind it (the server was not scheduled), or the binding was cleared"
		h.Next = "openstack port show " + p.ID + " -c binding_host_id -c binding_vif_type"
	case serverHost != "" && p.HostID != "" && p.HostID != serverHost:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("bound to %s, but the server runs on %s", p.HostID, serverHost)
		h.Cause = "a stale binding (after a migration or evacuation): the agents wire the port on the wrong host"
		h.Next = "openstack port show " + p.ID + "; nova-compute's log on " + serverHost
	case node != "" && p.HostID != "" && p.HostID != node:
		h.put("this_node", node)
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("bound to %s; this trace runs on %s", p.HostID, node)
		h.Cause = "the port's tap and the domain are on " + p.HostID + ": the local hops below describe this node, not the VM's"
		h.Next = "run the trace on " + p.HostID + " (and Config.NodeName if Nova knows this node by another name)"
	case len(p.FixedIPs) == 0:
		h.Verdict = Warn
		h.Summary += "; no fixed IP"
		h.Cause = "the port has no address: DHCP cannot serve the guest"
		h.Next = "openstack port show " + p.ID + " -c fixed_ips; the network's subnets"
	case p.Status != "ACTIVE":
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("status %s (the agent has not reported it wired)", p.Status)
		h.Cause = "the linuxbridge agent has not (yet) plugged the tap into the network's bridge"
		h.Next = "the linuxbridge agent's log on " + orUnknown(p.HostID, "the host") + "; the tap and bridge hops"
	}
	return h
}

func serverName(name, id string) string {
	if name == "" {
		return id
	}
	return name
}

func orUnknown(s, def string) string {
	if s == "" {
		return def
	}
	return s
}

func firstLine(s string) string {
	s, _, _ = strings.Cut(strings.TrimSpace(s), "\n")
	return s
}
