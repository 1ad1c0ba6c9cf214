package trace

import (
	"fmt"
	"strings"
	"time"

	"github.com/vifpath/vifpath/launch"
)

// AgentDownTime is Neutron's default agent_down_time: an agent whose last
// heartbeat is older is reported dead by the API.
const AgentDownTime = 75 * time.Second

// JudgeAgents is the agents hop of one port: a pure function of what the
// APIs showed (launch.Client.PortAgents). It checks the Linux bridge agent
// on the port's binding host, the DHCP agents hosting its network, the
// metadata agent and nova-compute on the server's host (alive, admin state
// up, heartbeat age), and tells an agent that heartbeats but does not wire
// the port (bound to the host, server ACTIVE or building, port not ACTIVE)
// from one that is down.
func JudgeAgents(f launch.PortAgents) Hop {
	h := Hop{Kind: KindAgents, Name: f.Port.ID}
	host := f.Port.HostID
	if host == "" {
		host = f.ServerHost
	}
	age := func(t time.Time) string {
		if t.IsZero() || f.ReadAt.IsZero() {
			return "unknown"
		}
		return f.ReadAt.Sub(t).Round(time.Second).String()
	}
	state := func(a launch.NetworkAgent) string {
		s := "alive"
		if !a.Alive {
			s = "dead"
		}
		if !a.AdminUp {
			s += ", admin down"
		}
		return fmt.Sprintf("%s on %s: %s, heartbeat %s ago (id %s)", a.Type, a.Host, s, age(a.Heartbeat), a.ID)
	}
	h.add("binding_host", "%s", agentsOr(f.Port.HostID, "(not bound)"))
	h.add("port_status", "%s", agentsOr(f.Port.Status, "(unknown)"))
	h.add("vif_type", "%s", agentsOr(f.Port.VIFType, "(unknown)"))
	if !f.Port.UpdatedAt.IsZero() {
		h.add("port_updated", "%s (%s before the agents were read)", f.Port.UpdatedAt.UTC().Format(time.RFC3339), age(f.Port.UpdatedAt))
	}
	var fails, warns []string
	var cause, next, wcause, wnext string
	// setCause records the first failure's cause, setWarnCause the first
	// warning's: a warning found before a failure does not hide its cause.
	setCause := func(c, n string) {
		if cause == "" {
			cause, next = c, n
		}
	}
	setWarnCause := func(c, n string) {
		if wcause == "" {
			wcause, wnext = c, n
		}
	}

	// nova-compute on the server's host.
	switch {
	case f.Compute != nil:
		h.add("nova-compute", "on %s: %s, %s, updated %s ago", f.Compute.Host, agentsOr(string(f.Compute.State), "unknown"), map[bool]string{true: "enabled", false: "disabled"}[f.Compute.Enabled], age(f.Compute.Updated))
		switch {
		case f.Compute.Up():
		case f.ServerStatus == launch.StatusActive:
			// A running server's network does not need nova-compute (seen
			// on the aio cloud: nova-compute stopped, every path hop OK).
			warns = append(warns, "nova-compute on "+f.Compute.Host+" is not up and enabled")
			setWarnCause("nova-compute on "+f.Compute.Host+" is down or disabled: the running server's network is not affected, but nothing on that host is built, started, rebooted or plugged", "openstack compute service list --host "+f.Compute.Host+"; start nova-compute there and read its log")
		default:
			fails = append(fails, "nova-compute on "+f.Compute.Host+" is not up and enabled")
			setCause("nova-compute on "+f.Compute.Host+" is down or disabled: nothing on that host is built, started or plugged", "openstack compute service list --host "+f.Compute.Host+"; start nova-compute there and read its log")
		}
	case f.ServerHost != "":
		h.add("nova-compute", "none on %s", f.ServerHost)
		fails = append(fails, "no nova-compute on "+f.ServerHost)
		setCause("the server's host "+f.ServerHost+" runs no nova-compute service Nova knows", "openstack compute service list; nova-manage cell_v2 discover_hosts --verbose")
	}

	// The L2 agent on the binding host, and whether it wired the port.
	switch {
	case host == "":
		h.add("l2_agent", "not looked up: the port is not bound and the server's host is unknown")
	case f.L2 == nil:
		h.add("l2_agent", "none on %s", host)
		fails = append(fails, "no Linux bridge agent on "+host)
		setCause("no Linux bridge agent runs on "+host+": nothing wires the port into the bridge", "start neutron-linuxbridge-agent on "+host+"; openstack network agent list --host "+host)
	default:
		a := *f.L2
		h.put("l2_agent", state(a))
		switch {
		case !a.Alive && f.Port.Status == "ACTIVE" && f.ServerStatus == launch.StatusActive:
			// The agent wired the port before it stopped: the tap, bridge
			// and firewall stay as it left them (seen on the aio cloud:
			// compute1's agent stopped, every path hop OK). Whether the
			// path works is the path hops' to judge.
			warns = append(warns, "Linux bridge agent on "+a.Host+" is dead")
			setWarnCause("the Linux bridge agent on "+a.Host+" is dead (last heartbeat "+age(a.Heartbeat)+" ago): the ports it wired keep working as it left them, but new ports stay DOWN (Nova's boot fails after vif_plugging_timeout) and security-group changes are not applied", "restart neutron-linuxbridge-agent on "+a.Host+" and read its log")
		case !a.Alive:
			fails = append(fails, "Linux bridge agent on "+a.Host+" is dead")
			setCause("the Linux bridge agent on "+a.Host+" is dead (last heartbeat "+age(a.Heartbeat)+" ago): new ports stay DOWN and Nova's boot fails after vif_plugging_timeout", "restart neutron-linuxbridge-agent on "+a.Host+" and read its log")
		case !a.AdminUp:
			fails = append(fails, "Linux bridge agent on "+a.Host+" is administratively down")
			setCause("the Linux bridge agent on "+a.Host+" is administratively down", "openstack network agent set --enable "+a.ID)
		case f.Port.VIFType == "binding_failed":
			fails = append(fails, "port binding failed on "+a.Host)
			setCause("Neutron could not bind the port on "+a.Host+" although its Linux bridge agent is alive: the network's physnet is probably missing from the agent's physical_interface_mappings", "compare the network's provider:physical_network with physical_interface_mappings in linuxbridge_agent.ini on "+a.Host)
		case f.Port.AdminDown:
			// A disabled port is DOWN because the agent did its job: the
			// port hop names it; the agent is not to blame.
		case f.Port.HostID != "" && f.Port.Status != "ACTIVE" && (f.ServerStatus == launch.StatusActive || f.ServerStatus == launch.StatusBuild):
			msg := fmt.Sprintf("the Linux bridge agent on %s is alive (heartbeat %s ago) but has not reported port %s ACTIVE (it is %s) while the server is %s", a.Host, age(a.Heartbeat), f.Port.ID, agentsOr(f.Port.Status, "unknown"), f.ServerStatus)
			if at, ok := rewiring(f); ok {
				warns = append(warns, fmt.Sprintf("port %s is %s, being rewired after an update at %s", f.Port.ID, f.Port.Status, at))
				setWarnCause(msg+": the port was updated "+age(f.Port.UpdatedAt)+" before this look (at "+at+"), and the agent rewires a port in BUILD for 10 to 20 s after an update; it is a failure only if it stays so past "+PortRewireTime.String(), "trace again in a minute; if the port is still "+f.Port.Status+", read neutron-linuxbridge-agent's log on "+a.Host)
			} else if f.ServerStatus == launch.StatusBuild {
				warns = append(warns, msg)
				setWarnCause(msg+": Nova waits for it (vif_plugging_timeout, 300 s) and fails the boot with \"Failed to allocate the network(s)\" if it never comes", "watch neutron-linuxbridge-agent's log on "+a.Host+" for a command it retries")
			} else {
				fails = append(fails, msg)
				setCause(msg+": the agent heartbeats but does not wire ports, stuck on a command it retries", "read neutron-linuxbridge-agent's log on "+a.Host+" (an ebtables or iptables call failing again and again), fix it, restart the agent")
			}
		}
	}

	// DHCP agents hosting the network.
	live := 0
	for _, a := range f.DHCP {
		h.put("dhcp_agent", state(a))
		if a.Up() {
			live++
		}
	}
	switch {
	case f.Port.NetworkID == "":
	case len(f.DHCP) == 0:
		h.add("dhcp_agent", "none hosts network %s", f.Port.NetworkID)
		fails = append(fails, "no DHCP agent hosts the network")
		setCause("no DHCP agent hosts network "+f.Port.NetworkID+": the guest gets no address (unless the subnet has DHCP off)", "openstack network agent list --agent-type dhcp; openstack network agent add network --dhcp AGENT "+f.Port.NetworkID)
	case live == 0:
		// Stopping the agent leaves its dnsmasq running (seen on the aio
		// cloud: agent dead, dnsmasq alive, the guest renewing its lease):
		// whether DHCP is served is the dnsmasq, hosts-entry and lease
		// hops' to judge.
		warns = append(warns, "every DHCP agent of the network is down")
		setWarnCause("no live DHCP agent hosts network "+f.Port.NetworkID+": a dnsmasq already running keeps serving the leases it knows (the dnsmasq and lease hops say whether one does), but new ports, address changes and a dnsmasq that dies are not handled", "restart neutron-dhcp-agent on "+f.DHCP[0].Host)
	case live < len(f.DHCP):
		warns = append(warns, fmt.Sprintf("%d of %d DHCP agents of the network are down", len(f.DHCP)-live, len(f.DHCP)))
		setWarnCause("some DHCP agents of the network are down; the live one answers", "openstack network agent list --network "+f.Port.NetworkID)
	}

	// The metadata agent.
	mlive := 0
	for _, a := range f.Metadata {
		h.put("metadata_agent", state(a))
		if a.Up() {
			mlive++
		}
	}
	if mlive == 0 {
		if len(f.Metadata) == 0 {
			h.add("metadata_agent", "none")
		}
		warns = append(warns, "no live metadata agent")
		setWarnCause("no live metadata agent: the guest reaches no metadata (cloud-init gets no SSH key: the VM \"has no SSH\"), the network path itself is not affected", "start neutron-metadata-agent; openstack network agent list --agent-type metadata")
	}

	switch {
	case len(fails) > 0:
		h.Verdict, h.Summary = Fail, strings.Join(fails, "; ")
	case len(warns) > 0:
		h.Verdict, h.Summary = Warn, strings.Join(warns, "; ")
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("agents up: Linux bridge on %s, %d DHCP, %d metadata; nova-compute up", host, live, mlive)
		if f.Compute == nil {
			h.Summary = fmt.Sprintf("agents up: Linux bridge on %s, %d DHCP, %d metadata", host, live, mlive)
		}
		return h
	}
	h.Cause, h.Next = cause, next
	if h.Verdict == Warn {
		h.Cause, h.Next = wcause, wnext
	}
	return h
}

// PortRewireTime is how long after an update (Neutron's updated_at) a
// port in BUILD on a running server is taken for one the Linux bridge
// agent is still rewiring: on the aio cloud a port sat in BUILD for 10 to
// 20 s after `openstack port set` on an ACTIVE server. Past it, BUILD
// means the agent does not wire the port.
const PortRewireTime = time.Minute

// rewiring reports whether f's port is in BUILD after an update less than
// PortRewireTime before the agents were read, and the update's time as
// text. A port without updated_at, or an observation without its time,
// is not rewiring: it is judged as before.
func rewiring(f launch.PortAgents) (string, bool) {
	p := f.Port
	if p.Status != "BUILD" || p.UpdatedAt.IsZero() || f.ReadAt.IsZero() {
		return "", false
	}
	d := f.ReadAt.Sub(p.UpdatedAt)
	// A clock ahead on the Neutron server makes d negative: a second of
	// skew is still "just updated", a large one proves nothing.
	if d >= PortRewireTime || d < -5*time.Second {
		return "", false
	}
	return p.UpdatedAt.UTC().Format(time.RFC3339), true
}

// agentsOr is s, or def when s is empty.
func agentsOr(s, def string) string {
	if s == "" {
		return def
	}
	return s
}
