package trace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"strings"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
)

// Server traces every Neutron port of a Nova server (the API mode): it
// reads the server and its ports (by device_id) once through api
// (launch.Client.Server: any status, never waited for), then runs the
// local trace (see Run) for each port's tap on this node, with the port's
// MAC and network from Neutron and the server's libvirt instance name (or
// its UUID, which is the domain's) for the domain hop. Each port's Trace
// starts with two hops: the server (status; ACTIVE is ok; SHUTOFF, BUILD
// and other transitional states warn, saying the local hops below reflect
// that; ERROR fails with Nova's fault, the host's nova-compute service and
// its agents as evidence) and the port (binding host, network, MAC, fixed
// IPs, vif_type; binding_failed fails it). A stopped server's ports are
// still traced: its domain hop says the domain is not running.
//
// server is the Nova server's ID or its unique name. The error is non-nil
// when the server cannot be found (errors.Is fs.ErrNotExist), its name is
// ambiguous (errors.Is launch.ErrAmbiguous, listing the candidates), ctx
// ends, or a local trace cannot run at all (see Run); a server in ERROR,
// a stopped one, or a port that failed to bind is a hop's verdict, not an
// error. cfg.ServerWait bounds the API reads.
//
// With cfg.Role RoleNetwork the ports' network, MAC and IPs come from
// Neutron and only the DHCP side is traced; a port bound to another host
// is then expected, not a warning. In the other roles the port's network
// is read too (its type, physical network and segment choose the
// physical-port hop's interface).
//
// Server sends what Run sends (the ARP probe unless cfg.NoARP) and, on
// the cloud, only GET requests. It is safe for concurrent use if api is.
func Server(ctx context.Context, cfg *Config, api *launch.Client, server string) (*ServerTrace, error) {
	if api == nil {
		return nil, errors.New("trace: Server needs a launch.Client (or use Run with a port ID, MAC or tap)")
	}
	if server == "" {
		return nil, errors.New("trace: Server needs the server's ID or name")
	}
	c := cfg.orDefault()
	role, err := cfg.EffectiveRole()
	if err != nil {
		return nil, err
	}
	node := c.NodeName
	if node == "" {
		node, _ = os.Hostname()
	}
	if node == "-" || role == RoleNetwork {
		node = "" // a network node traces ports bound elsewhere by design
	}
	serverID := server
	st := &ServerTrace{ServerID: server, Role: role}
	sh := Hop{Kind: KindServer, Name: server}
	var ports []launch.Port
	wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
	srv, err := api.Server(wctx, server)
	if err == nil && srv.Status == launch.StatusError {
		sh = errorHop(wctx, api, srv)
	}
	cancel()
	switch {
	case err == nil:
		serverID = srv.ID
		st.ServerID, st.ServerName, st.Status, st.Host, st.InstanceName = srv.ID, srv.Name, string(srv.Status), srv.Host, srv.InstanceName
		ports = srv.Ports
		if srv.Status != launch.StatusError {
			sh = statusHop(srv)
		}
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, launch.ErrAmbiguous):
		return nil, fmt.Errorf("trace: server %q: %w", server, err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("trace: server %q: %w", server, ctx.Err())
	default:
		sh.Verdict = Fail
		sh.Summary = "cannot read the server: " + err.Error()
		sh.add("error", "%v", err)
		sh.Cause = "Nova or Neutron did not answer about the server (down, slow past Config.ServerWait, or the credentials lack a role)"
		sh.Next = "openstack server show " + server
	}

	if len(ports) == 0 {
		ph := Hop{Kind: KindPort, Name: "(none)", Verdict: Fail,
			Summary: "Neutron has no port with device_id " + serverID,
			Cause:   "the server has no network interface: Nova never allocated one (scheduling failed) or it was detached",
			Next:    "openstack port list --device-id " + serverID}
		if err != nil {
			ph.Verdict, ph.Summary, ph.Cause, ph.Next = Unknown, "not reached: the server could not be read", "", ""
		}
		t := &Trace{Role: role, Hops: []Hop{sh, ph}}
		t.Verdict = Worst(t.Hops)
		st.Traces = []*Trace{t}
		st.Verdict = t.Verdict
		return st, nil
	}
	domRef := st.InstanceName
	if domRef == "" {
		domRef = serverID // the domain's UUID is the instance's
	}
	nets := map[string]*launch.Network{}
	for _, p := range ports {
		ph := portHop(p, st.Host, node)
		nw := portNetwork(ctx, c, api, role, p.NetworkID, nets, &ph)
		target := Target{PortID: p.ID, Domain: domRef}
		hints := &apiHints{mac: p.MAC, networkID: p.NetworkID, serverID: serverID}
		if nw != nil {
			hints.netType, hints.physnet, hints.segID = string(nw.Type), nw.PhysicalNetwork, nw.SegmentationID
		}
		for _, f := range p.FixedIPs {
			if f.Address.Is4() && !hints.ip.IsValid() {
				hints.ip = f.Address
			}
		}
		t, err := run(ctx, cfg, target, hints)
		if err != nil {
			return nil, fmt.Errorf("trace: server %s port %s: %w", serverID, p.ID, err)
		}
		t.Hops = append([]Hop{sh, ph}, t.Hops...)
		if t.NetworkID == "" {
			t.NetworkID = p.NetworkID
		}
		t.Verdict = Worst(t.Hops)
		st.Traces = append(st.Traces, t)
		st.Verdict = max(st.Verdict, t.Verdict)
	}
	return st, nil
}

// statusHop judges a server that is not in ERROR by its status.
func statusHop(srv *launch.Server) Hop {
	sh := Hop{Kind: KindServer, Name: serverName(srv.Name, srv.ID)}
	sh.add("id", "%s", srv.ID)
	sh.add("status", "%s", srv.Status)
	if srv.TaskState != "" {
		sh.add("task_state", "%s", srv.TaskState)
	}
	sh.add("host", "%s", orUnknown(srv.Host, "(not shown: needs the admin role)"))
	sh.add("instance_name", "%s", orUnknown(srv.InstanceName, "(not shown: needs the admin role)"))
	for _, a := range srv.Addresses {
		sh.add("address", "%v", a)
	}
	sh.Summary = fmt.Sprintf("%s on %s, %d ports", srv.Status, orUnknown(srv.Host, "?"), len(srv.Ports))
	if srv.TaskState != "" {
		sh.Summary += ", task " + srv.TaskState
	}
	switch srv.Status {
	case launch.StatusActive:
		sh.Verdict = OK
	case launch.StatusShutoff, "SUSPENDED", "PAUSED", "SHELVED", "SHELVED_OFFLOADED":
		sh.Verdict = Warn
		sh.Cause = fmt.Sprintf("the server is %s: its domain does not run, so the tap, domain and counter hops below fail or stay unknown for that reason alone", srv.Status)
		sh.Next = "openstack server start " + srv.ID + " (or resume/unpause/unshelve), then trace again"
	case launch.StatusBuild, "REBOOT", "HARD_REBOOT", "REBUILD", "MIGRATING", "RESIZE", "VERIFY_RESIZE", "REVERT_RESIZE", "PASSWORD", "RESCUE":
		sh.Verdict = Warn
		sh.Cause = fmt.Sprintf("the server is %s: Nova is still working on it, so the tap and domain may not exist yet or be about to change", srv.Status)
		sh.Next = "wait, then trace again; openstack server show " + srv.ID + " -c status -c OS-EXT-STS:task_state"
	default:
		sh.Verdict = Fail
		sh.Cause = fmt.Sprintf("the server is %s: no VM runs for it", orUnknown(string(srv.Status), "in no status"))
		sh.Next = "openstack server show " + srv.ID
	}
	return sh
}

// errorHop is the server hop of a server in ERROR: Nova's fault, and the
// nova-compute services and agents of its host (lookups that fail are
// left out).
func errorHop(ctx context.Context, api *launch.Client, srv *launch.Server) Hop {
	fe := &launch.FaultError{ServerID: srv.ID, ServerName: srv.Name, Host: srv.Host, Ports: srv.Ports}
	if srv.Fault != nil {
		fe.Fault = *srv.Fault
	} else {
		fe.Fault.Message = "(Nova recorded no fault)"
	}
	hosts := map[string]bool{}
	if srv.Host != "" {
		hosts[srv.Host] = true
	}
	for _, p := range srv.Ports {
		if p.HostID != "" {
			hosts[p.HostID] = true
		}
	}
	if svcs, err := api.ComputeServices(ctx, ""); err == nil {
		for _, s := range svcs {
			if s.Binary == "nova-compute" && (len(hosts) == 0 || hosts[s.Host]) {
				fe.Compute = append(fe.Compute, s)
				hosts[s.Host] = true
			}
		}
	}
	if agents, err := api.NetworkAgents(ctx, ""); err == nil {
		for _, a := range agents {
			if hosts[a.Host] {
				fe.Agents = append(fe.Agents, a)
			}
		}
	}
	sh := Hop{Kind: KindServer, Name: serverName(srv.Name, srv.ID), Verdict: Fail}
	sh.Summary = "ERROR: " + fe.Fault.Message
	sh.add("id", "%s", srv.ID)
	sh.add("status", "ERROR")
	sh.add("host", "%s", orUnknown(srv.Host, "(never scheduled, or not shown: needs the admin role)"))
	sh.add("fault_code", "%d", fe.Fault.Code)
	sh.add("fault_message", "%s", fe.Fault.Message)
	if !fe.Fault.Created.IsZero() {
		sh.add("fault_created", "%s", fe.Fault.Created.UTC().Format("2006-01-02T15:04:05Z"))
	}
	if d := firstLine(fe.Fault.Details); d != "" {
		sh.add("fault_details", "%s", d)
	}
	for _, cs := range fe.Compute {
		sh.add("nova-compute", "%v", cs)
	}
	for _, a := range fe.Agents {
		sh.add("agent", "%v", a)
	}
	sh.Cause = "Nova put the server in ERROR: " + fe.Fault.Message
	sh.Next = "openstack server show " + srv.ID + " -c fault; " + strings.Join(fe.Explain(), "; ")
	return sh
}

func portHop(p launch.Port, serverHost, node string) Hop {
	h := Hop{Kind: KindPort, Name: p.ID}
	h.add("network_id", "%s", p.NetworkID)
	h.add("bridge", "%s", linuxbridge.NetworkBridgeName(p.NetworkID))
	h.add("mac", "%s", p.MAC)
	for _, f := range p.FixedIPs {
		h.add("fixed_ip", "%s (subnet %s)", f.Address, f.SubnetID)
	}
	h.add("status", "%s", p.Status)
	h.add("vif_type", "%s", p.VIFType)
	h.add("binding_host", "%s", p.HostID)
	h.add("tap", "%s", linuxbridge.PortTapName(p.ID))
	h.Verdict = OK
	h.Summary = fmt.Sprintf("%s bound to %s (%s), MAC %s", p.Status, orUnknown(p.HostID, "?"), p.VIFType, p.MAC)
	switch {
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
		h.add("this_node", "%s", node)
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

// portNetwork reads the port's network once per server (its type,
// physical network and segment choose the physical-port hop's interface)
// and adds them to the port hop; nil when the role has no bridge to judge
// or Neutron did not say (the error is evidence, not a failure).
func portNetwork(ctx context.Context, c Config, api *launch.Client, role Role, id string, cache map[string]*launch.Network, ph *Hop) *launch.Network {
	if !role.compute() || id == "" {
		return nil
	}
	nw, ok := cache[id]
	if !ok {
		wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
		var err error
		nw, err = api.FindNetwork(wctx, id)
		cancel()
		if err != nil {
			ph.add("network", "cannot read network %s: %v", id, err)
			nw = nil
		}
		cache[id] = nw
	}
	if nw != nil {
		ph.add("network_type", "%s", orUnknown(string(nw.Type), "(not shown: needs the admin role)"))
		if nw.PhysicalNetwork != "" {
			ph.add("physical_network", "%s", nw.PhysicalNetwork)
		}
		if nw.SegmentationID != 0 {
			ph.add("segmentation_id", "%d", nw.SegmentationID)
		}
	}
	return nw
}
