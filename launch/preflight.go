package launch

import (
	"context"
	"fmt"
	"strings"
	"time"
)

// PreflightOptions narrows the verdict. A nil *PreflightOptions means all
// zero values.
type PreflightOptions struct {
	// Host whose nova-compute and Linux bridge agent must be up. Zero:
	// every host that runs nova-compute.
	Host string
	// Network (name or ID) that needs a live DHCP agent. Zero: not checked.
	Network string
	// Flavor (name or ID) the placement check sizes the hosts' inventories
	// against. Zero: placement, resource providers and hypervisors are
	// still checked, capacity is not.
	Flavor string
	// SkipPlacement leaves out the placement check (placement, resource
	// providers, inventories, hypervisors). Zero: checked.
	SkipPlacement bool
}

// PreflightReport is the state of the services a launch depends on, with a
// verdict.
type PreflightReport struct {
	// Services are Nova's compute services; Agents Neutron's agents.
	Services []ComputeService `json:"services"`
	Agents   []NetworkAgent   `json:"agents"`
	// Down describes every service that is down or disabled and every agent
	// that is not alive.
	Down []string `json:"down"`
	// Hosts checked, and per host whether nova-compute / the Linux bridge
	// agent are up.
	ComputeUp     map[string]bool `json:"compute_up"`
	LinuxBridgeUp map[string]bool `json:"linuxbridge_up"`
	// NetworkID checked for DHCP, and whether a DHCP agent hosting it is alive.
	NetworkID string `json:"network_id,omitempty"`
	DHCPAlive bool   `json:"dhcp_alive"`
	// DHCPAgents are the DHCP agents hosting NetworkID.
	DHCPAgents []NetworkAgent `json:"dhcp_agents,omitempty"`
	// Placement is `nova-status upgrade check` through the APIs (nil with
	// SkipPlacement).
	Placement *PlacementReport `json:"placement,omitempty"`
	// Problems lists every failed check with the command that fixes it
	// (the placement report's problems included).
	Problems []Problem `json:"problems"`
	// Ready: every checked host has nova-compute and its Linux bridge agent
	// up, (when a network was given) a live DHCP agent serves it, and
	// (unless skipped) placement has a host that can take the flavor.
	Ready bool `json:"ready"`
}

// parseTime reads the timestamp shapes OpenStack uses
// ("2026-11-24T06:09:55.000000", "2026-11-24 06:00:19", RFC 3339); they
// are UTC. Unparsable gives the zero time.
func parseTime(s string) time.Time {
	for _, layout := range []string{time.RFC3339Nano, "2006-01-02T15:04:05.999999", "2006-01-02 15:04:05", "2006-01-02T15:04:05"} {
		if t, err := time.ParseInLocation(layout, s, time.UTC); err == nil {
			return t
		}
	}
	return time.Time{}
}

// Preflight reads compute services and network agents (and, for a network,
// the DHCP agents hosting it), runs the placement check, and says what is
// down and what fixes it.
func (c *Client) Preflight(ctx context.Context, opts *PreflightOptions) (*PreflightReport, error) {
	var o PreflightOptions
	if opts != nil {
		o = *opts
	}
	svcs, err := c.ComputeServices(ctx, "")
	if err != nil {
		return nil, err
	}
	agents, err := c.NetworkAgents(ctx, "")
	if err != nil {
		return nil, err
	}
	var f preflightFacts
	f.opts, f.services, f.agents = o, svcs, agents
	if o.Network != "" {
		nw, err := c.findNetwork(ctx, o.Network)
		if err != nil {
			return nil, err
		}
		f.network = nw
		if f.dhcp, err = c.DHCPAgents(ctx, nw.ID); err != nil {
			return nil, err
		}
	}
	if !o.SkipPlacement {
		var fl *Flavor
		if o.Flavor != "" {
			if fl, err = c.FindFlavor(ctx, o.Flavor); err != nil {
				return nil, err
			}
		}
		hvs, err := c.Hypervisors(ctx)
		if err != nil {
			return nil, err
		}
		rps, perr := c.ResourceProviders(ctx)
		f.placement = JudgePlacement(svcs, hvs, rps, perr, fl)
	}
	return judgePreflight(f), nil
}

type preflightFacts struct {
	opts      PreflightOptions
	services  []ComputeService
	agents    []NetworkAgent
	network   *Network
	dhcp      []NetworkAgent
	placement *PlacementReport
}

// judgePreflight is Preflight's verdict, a pure function of what it read.
func judgePreflight(f preflightFacts) *PreflightReport {
	o := f.opts
	r := &PreflightReport{Services: f.services, Agents: f.agents, ComputeUp: map[string]bool{}, LinuxBridgeUp: map[string]bool{}, Down: []string{}, Problems: []Problem{}}
	for _, s := range f.services {
		switch {
		case s.State != StateUp:
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is %s (last update %s)", s.Binary, s.Host, orUnknown(string(s.State)), s.Updated.Format(time.RFC3339)))
		case !s.Enabled:
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is disabled (%s)", s.Binary, s.Host, s.DisabledReason))
		}
		if s.Binary == BinaryNovaCompute && (o.Host == "" || o.Host == s.Host) {
			r.ComputeUp[s.Host] = s.State == StateUp && s.Enabled
			if _, ok := r.LinuxBridgeUp[s.Host]; !ok {
				r.LinuxBridgeUp[s.Host] = false
			}
		}
	}
	if o.Host != "" {
		if _, ok := r.ComputeUp[o.Host]; !ok {
			r.ComputeUp[o.Host] = false
			r.LinuxBridgeUp[o.Host] = false
			r.Down = append(r.Down, fmt.Sprintf("no nova-compute service on host %s", o.Host))
			r.Problems = append(r.Problems, Problem{Check: CheckComputeUp, Host: o.Host, Detail: "no nova-compute service on host " + o.Host, Fix: "start nova-compute there, then `nova-manage cell_v2 discover_hosts --verbose`"})
		}
	}
	for _, a := range f.agents {
		if !a.Alive {
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is not alive (last heartbeat %s)", a.Type, a.Host, a.Heartbeat.Format(time.RFC3339)))
		} else if !a.AdminUp {
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is administratively down", a.Type, a.Host))
		}
		if a.Type == AgentLinuxBridge {
			if _, ok := r.LinuxBridgeUp[a.Host]; ok {
				r.LinuxBridgeUp[a.Host] = a.Up()
			}
		}
	}
	r.Ready = len(r.ComputeUp) > 0
	for h, up := range r.ComputeUp {
		if !up {
			r.Ready = false
			if f.placement == nil { // the placement report names down hosts itself
				r.Problems = append(r.Problems, Problem{Check: CheckComputeUp, Host: h, Detail: "nova-compute on " + h + " is down or disabled", Fix: "start it (`openstack compute service set --enable " + h + " nova-compute` if disabled) and read /var/log/nova/nova-compute.log"})
			}
		}
		if !r.LinuxBridgeUp[h] {
			r.Ready = false
			found := false
			for _, a := range f.agents {
				found = found || (a.Type == AgentLinuxBridge && a.Host == h)
			}
			detail := "the Linux bridge agent on " + h + " is not alive or administratively down"
			if !found {
				detail = "no Linux bridge agent on host " + h
				r.Down = append(r.Down, detail)
			}
			r.Problems = append(r.Problems, Problem{Check: CheckL2Agent, Host: h, Detail: detail, Fix: "start neutron-linuxbridge-agent on " + h + " and check `openstack network agent list --host " + h + "`"})
		}
	}
	if f.network != nil {
		nw := f.network
		r.NetworkID = nw.ID
		r.DHCPAgents = f.dhcp
		for _, a := range f.dhcp {
			if a.Up() {
				r.DHCPAlive = true
			}
		}
		if !r.DHCPAlive {
			r.Ready = false
			d := fmt.Sprintf("no live DHCP agent hosts network %s (%s): guests will get no address", nw.Name, nw.ID)
			r.Down = append(r.Down, d)
			r.Problems = append(r.Problems, Problem{Check: CheckDHCPAgent, Detail: d, Fix: "start neutron-dhcp-agent, or `openstack network agent add network --dhcp AGENT " + nw.ID + "`"})
		}
	}
	if f.placement != nil {
		r.Placement = f.placement
		r.Problems = append(r.Problems, f.placement.Problems...)
		if !f.placement.Ready() {
			r.Ready = false
		}
	}
	return r
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// String summarises the report in one line.
func (r *PreflightReport) String() string {
	if r.Ready && len(r.Down) == 0 && len(r.Problems) == 0 {
		return "preflight: ready"
	}
	v := "ready"
	if !r.Ready {
		v = "NOT ready"
	}
	covered := map[string]bool{}
	for _, p := range r.Problems {
		covered[p.Detail] = true
	}
	var l []string
	seen := map[string]bool{}
	for _, d := range r.Down {
		if !covered[d] && !seen[d] {
			seen[d] = true
			l = append(l, d)
		}
	}
	for _, p := range r.Problems {
		if s := p.String(); !seen[s] {
			seen[s] = true
			l = append(l, s)
		}
	}
	return "preflight: " + v + ": " + strings.Join(l, "; ")
}
