package launch

import (
	"fmt"
	"strings"
	"time"
)

// FaultKind is what Nova's fault says went wrong, as far as launch tells
// faults apart. The zero value is FaultOther.
type FaultKind string

// Fault kinds.
const (
	// FaultOther: any other fault (image, hypervisor, quota, …).
	FaultOther FaultKind = ""
	// FaultNoValidHost: the scheduler found no host ("No valid host was
	// found."): placement, the hosts' resource providers and inventories,
	// or the scheduler's filters.
	FaultNoValidHost FaultKind = "no-valid-host"
	// FaultNetworkAllocation: nova-compute gave up on the server's
	// network ("Build of instance … aborted: Failed to allocate the
	// network(s)"): most often its vif_plugging_timeout (300 s) ran out
	// because Neutron never reported the port ACTIVE.
	FaultNetworkAllocation FaultKind = "network-allocation"
)

// KindOf classifies Nova's fault. Nova's API gives nothing but its
// message and details (the exception's class name appears only in the
// details' traceback), so this is the one place where launch reads Nova's
// text; the recorded faults it is tested on are in testdata/.
func KindOf(f Fault) FaultKind {
	msg := f.Message + "\n" + f.Details
	switch {
	case strings.Contains(msg, "No valid host was found") || strings.Contains(msg, "NoValidHost"):
		return FaultNoValidHost
	case strings.Contains(msg, "Failed to allocate the network(s)") || strings.Contains(msg, "VirtualInterfaceCreateException"):
		return FaultNetworkAllocation
	}
	return FaultOther
}

// FaultError is returned when a server goes to ERROR: Nova's fault and
// what else explains it, read right after the ERROR was seen.
type FaultError struct {
	// ServerID and ServerName name the server; Fault is Nova's fault.
	ServerID   string `json:"server_id"`
	ServerName string `json:"server_name"`
	Fault      Fault  `json:"fault"`
	// Kind is KindOf(Fault) (Explain computes it when it is zero).
	Kind FaultKind `json:"kind,omitempty"`
	// Host is where Nova placed the server ("" if it was never scheduled,
	// and also after a failed build: Nova clears the host then).
	Host string `json:"host,omitempty"`
	// LastHost is the host the server's polls showed while it was in
	// BUILD ("" when never seen, or without the admin role).
	LastHost string `json:"last_host,omitempty"`
	// Flavor is the server's flavor as Nova embeds it (nil if unknown).
	Flavor *Flavor `json:"flavor,omitempty"`
	// Ports are the server's Neutron ports with their bindings (Nova
	// deletes the ports it created when a build fails).
	Ports []Port `json:"ports"`
	// Compute lists nova-compute services (on the host, or all when the
	// host is unknown).
	Compute []ComputeService `json:"compute"`
	// Agents lists Neutron agents on the same hosts.
	Agents []NetworkAgent `json:"agents"`
	// Placement is the placement check for the server's flavor, read when
	// the fault is FaultNoValidHost (nil otherwise).
	Placement *PlacementReport `json:"placement,omitempty"`
	// Polls is how many status polls the wait made.
	Polls int `json:"polls"`
}

// Error names the server and quotes Nova's fault.
func (e *FaultError) Error() string {
	var b strings.Builder
	fmt.Fprintf(&b, "launch: server %q (%s) went to ERROR: nova fault %d: %s", e.ServerName, e.ServerID, e.Fault.Code, strings.TrimSpace(e.Fault.Message))
	if ex := e.Explain(); len(ex) > 0 {
		b.WriteString("; " + strings.Join(ex, "; "))
	}
	return b.String()
}

// host is the host the build ran on, as far as the facts say.
func (e *FaultError) host() string {
	if e.Host != "" {
		return e.Host
	}
	if e.LastHost != "" {
		return e.LastHost
	}
	for _, p := range e.Ports {
		if p.HostID != "" {
			return p.HostID
		}
	}
	return ""
}

// Explain lists what, besides the fault, points at the cause. It is a
// pure function of the FaultError's fields.
func (e *FaultError) Explain() []string {
	var out []string
	kind := e.Kind
	if kind == FaultOther {
		kind = KindOf(e.Fault)
	}
	for _, p := range e.Ports {
		if p.VIFType == "binding_failed" {
			out = append(out, fmt.Sprintf("port %s binding failed (binding:vif_type=binding_failed, binding:host_id=%q): no mechanism driver/agent could bind it on that host", p.ID, p.HostID))
		}
	}
	for _, s := range e.Compute {
		if s.State == StateDown {
			out = append(out, fmt.Sprintf("nova-compute on %s is down (last update %s)", s.Host, s.Updated.Format(time.RFC3339)))
		} else if !s.Enabled {
			out = append(out, fmt.Sprintf("nova-compute on %s is disabled", s.Host))
		}
	}
	for _, a := range e.Agents {
		if !a.Alive {
			out = append(out, fmt.Sprintf("%s on %s is not alive (last heartbeat %s)", a.Type, a.Host, a.Heartbeat.Format(time.RFC3339)))
		} else if !a.AdminUp {
			out = append(out, fmt.Sprintf("%s on %s is administratively down (openstack network agent set --enable %s)", a.Type, a.Host, a.ID))
		}
	}
	switch kind {
	case FaultNetworkAllocation:
		out = append(out, e.explainVIF()...)
	case FaultNoValidHost:
		out = append(out, e.explainNoValidHost()...)
	default:
		if len(e.Ports) == 0 && e.host() == "" {
			out = append(out, "the server was never placed on a host and has no port: see the fault, then `openstack server event list` for the step that failed")
		}
	}
	return out
}

// explainVIF explains a network allocation failure: the host, its L2
// agent, and the ports bound there that never became ACTIVE.
func (e *FaultError) explainVIF() []string {
	h := e.host()
	var l2 []NetworkAgent
	for _, a := range e.Agents {
		if a.Type == AgentLinuxBridge && (h == "" || a.Host == h) {
			l2 = append(l2, a)
		}
	}
	if h == "" && len(l2) == 1 {
		h = l2[0].Host
	}
	var out []string
	var stuck []string
	for _, p := range e.Ports {
		if p.HostID != "" && p.Status != "ACTIVE" && p.VIFType != "binding_failed" {
			stuck = append(stuck, fmt.Sprintf("%s (%s, bound to %s)", p.ID, orUnknown(p.Status), p.HostID))
		}
	}
	where := "on host " + h
	if h == "" {
		where = "on an unknown host (Nova clears the host of a failed build; run with the admin role to see it while it builds)"
	}
	if len(l2) == 0 {
		out = append(out, fmt.Sprintf("not a scheduling failure: nova-compute %s gave up waiting for Neutron to plug the VIF, and no Linux bridge agent runs there: start neutron-linuxbridge-agent on that host", where))
		return out
	}
	for _, a := range l2 {
		if !a.Up() {
			out = append(out, fmt.Sprintf("not a scheduling failure: nova-compute on %s gave up waiting for Neutron to plug the VIF because the Linux bridge agent there (%s) is down: start it, then boot again", a.Host, a.ID))
			continue
		}
		age := ""
		if !e.Fault.Created.IsZero() && !a.Heartbeat.IsZero() && !a.Heartbeat.After(e.Fault.Created) {
			age = fmt.Sprintf(", last heartbeat %s before the fault", e.Fault.Created.Sub(a.Heartbeat).Round(time.Second))
		}
		msg := fmt.Sprintf("not a scheduling failure: VIF plugging timed out on host %s: the Linux bridge agent there (%s) is alive%s but never reported the port ACTIVE (Nova's vif_plugging_timeout ran out)", a.Host, a.ID, age)
		if len(stuck) > 0 {
			msg += "; ports bound there but not ACTIVE: " + strings.Join(stuck, ", ")
		}
		msg += ": an agent that heartbeats but does not wire ports is stuck on a command it retries: read neutron-linuxbridge-agent's log on " + a.Host + " (an ebtables or iptables call failing again and again), fix it and restart the agent"
		out = append(out, msg)
	}
	return out
}

// explainNoValidHost names which placement check failed.
func (e *FaultError) explainNoValidHost() []string {
	if e.Placement == nil {
		return []string{"the scheduler found no host: run Client.Preflight with the flavor (placement, resource providers, inventories, hypervisors) or `nova-status upgrade check`"}
	}
	var out []string
	for _, p := range e.Placement.Problems {
		out = append(out, p.String())
	}
	if len(out) == 0 {
		fl := "the flavor"
		if e.Placement.Flavor != nil {
			fl = "flavor " + e.Placement.Flavor.Name
		}
		out = append(out, fmt.Sprintf("placement has room for %s on %s and every host checks out: the scheduler's filters refused them (availability zone, aggregates, image properties): read nova-scheduler's log for the filter that returned 0 hosts", fl, strings.Join(e.Placement.Fits, ", ")))
	}
	return out
}
