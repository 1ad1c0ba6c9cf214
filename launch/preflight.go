package launch

import (
	"context"
	"fmt"
	"net/url"
	"strings"
	"time"
)

// State is a service's liveness as Nova reports it. The zero value is
// StateUnknown.
type State string

// States.
const (
	StateUnknown State = ""
	StateUp      State = "up"
	StateDown    State = "down"
)

// ComputeService is one row of Nova's os-services.
type ComputeService struct {
	Binary         string    `json:"binary"`
	Host           string    `json:"host"`
	Zone           string    `json:"zone"`
	Enabled        bool      `json:"enabled"`
	State          State     `json:"state"`
	Updated        time.Time `json:"updated"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
}

// NetworkAgent is one row of Neutron's agents.
type NetworkAgent struct {
	ID     string `json:"id"`
	Type   string `json:"type"` // "Linux bridge agent", "DHCP agent", "Metadata agent", …
	Binary string `json:"binary"`
	Host   string `json:"host"`
	Alive  bool   `json:"alive"`
	// AdminUp is admin_state_up.
	AdminUp   bool      `json:"admin_up"`
	Heartbeat time.Time `json:"heartbeat"`
}

// Agent types as Neutron names them.
const (
	AgentLinuxBridge = "Linux bridge agent"
	AgentDHCP        = "DHCP agent"
)

// PreflightOptions narrows the verdict. A nil *PreflightOptions means all
// zero values.
type PreflightOptions struct {
	// Host whose nova-compute and Linux bridge agent must be up. Zero:
	// every host that runs nova-compute.
	Host string
	// Network (name or ID) that needs a live DHCP agent. Zero: not checked.
	Network string
}

// PreflightReport is the state of the services a launch depends on, with a
// verdict.
type PreflightReport struct {
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
	// Ready: every checked host has nova-compute and its Linux bridge agent
	// up, and (when a network was given) a live DHCP agent serves it.
	Ready bool `json:"ready"`
}

type rawService struct {
	Binary         string  `json:"binary"`
	Host           string  `json:"host"`
	Zone           string  `json:"zone"`
	Status         string  `json:"status"`
	State          string  `json:"state"`
	UpdatedAt      string  `json:"updated_at"`
	DisabledReason *string `json:"disabled_reason"`
}

type rawAgent struct {
	ID        string `json:"id"`
	AgentType string `json:"agent_type"`
	Binary    string `json:"binary"`
	Host      string `json:"host"`
	Alive     bool   `json:"alive"`
	AdminUp   bool   `json:"admin_state_up"`
	Heartbeat string `json:"heartbeat_timestamp"`
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

func (r rawService) typed() ComputeService {
	s := ComputeService{Binary: r.Binary, Host: r.Host, Zone: r.Zone, Enabled: r.Status == "enabled", Updated: parseTime(r.UpdatedAt)}
	switch r.State {
	case "up":
		s.State = StateUp
	case "down":
		s.State = StateDown
	}
	if r.DisabledReason != nil {
		s.DisabledReason = *r.DisabledReason
	}
	return s
}

func (r rawAgent) typed() NetworkAgent {
	return NetworkAgent{ID: r.ID, Type: r.AgentType, Binary: r.Binary, Host: r.Host, Alive: r.Alive, AdminUp: r.AdminUp, Heartbeat: parseTime(r.Heartbeat)}
}

// ComputeServices lists Nova's services; host "" lists every host.
func (c *Client) ComputeServices(ctx context.Context, host string) ([]ComputeService, error) {
	u := c.compute.ServiceURL("os-services")
	if host != "" {
		u += "?host=" + url.QueryEscape(host)
	}
	var body struct {
		Services []rawService `json:"services"`
	}
	if err := c.get(ctx, "list compute services", c.compute, u, &body); err != nil {
		return nil, err
	}
	out := make([]ComputeService, 0, len(body.Services))
	for _, s := range body.Services {
		out = append(out, s.typed())
	}
	return out, nil
}

// NetworkAgents lists Neutron's agents; host "" lists every host.
func (c *Client) NetworkAgents(ctx context.Context, host string) ([]NetworkAgent, error) {
	u := c.network.ServiceURL("agents")
	if host != "" {
		u += "?host=" + url.QueryEscape(host)
	}
	var body struct {
		Agents []rawAgent `json:"agents"`
	}
	if err := c.get(ctx, "list network agents", c.network, u, &body); err != nil {
		return nil, err
	}
	out := make([]NetworkAgent, 0, len(body.Agents))
	for _, a := range body.Agents {
		out = append(out, a.typed())
	}
	return out, nil
}

// Preflight reads compute services and network agents (and, for a network,
// the DHCP agents hosting it) and says what is down.
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
	r := &PreflightReport{Services: svcs, Agents: agents, ComputeUp: map[string]bool{}, LinuxBridgeUp: map[string]bool{}, Down: []string{}}
	for _, s := range svcs {
		switch {
		case s.State != StateUp:
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is %s (last update %s)", s.Binary, s.Host, orUnknown(string(s.State)), s.Updated.Format(time.RFC3339)))
		case !s.Enabled:
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is disabled (%s)", s.Binary, s.Host, s.DisabledReason))
		}
		if s.Binary == "nova-compute" && (o.Host == "" || o.Host == s.Host) {
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
		}
	}
	for _, a := range agents {
		if !a.Alive {
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is not alive (last heartbeat %s)", a.Type, a.Host, a.Heartbeat.Format(time.RFC3339)))
		} else if !a.AdminUp {
			r.Down = append(r.Down, fmt.Sprintf("%s on %s is administratively down", a.Type, a.Host))
		}
		if a.Type == AgentLinuxBridge {
			if _, ok := r.LinuxBridgeUp[a.Host]; ok {
				r.LinuxBridgeUp[a.Host] = a.Alive && a.AdminUp
			}
		}
	}
	r.Ready = len(r.ComputeUp) > 0
	for h, up := range r.ComputeUp {
		if !up {
			r.Ready = false
		}
		if !r.LinuxBridgeUp[h] {
			r.Ready = false
			found := false
			for _, a := range agents {
				found = found || (a.Type == AgentLinuxBridge && a.Host == h)
			}
			if !found {
				r.Down = append(r.Down, fmt.Sprintf("no Linux bridge agent on host %s", h))
			}
		}
	}
	if o.Network != "" {
		nw, err := c.findNetwork(ctx, o.Network)
		if err != nil {
			return nil, err
		}
		r.NetworkID = nw.ID
		var body struct {
			Agents []rawAgent `json:"agents"`
		}
		if err := c.get(ctx, "list DHCP agents of network "+nw.Name, c.network, c.network.ServiceURL("networks", nw.ID, "dhcp-agents"), &body); err != nil {
			return nil, err
		}
		for _, a := range body.Agents {
			if a.Alive && a.AdminUp {
				r.DHCPAlive = true
			}
		}
		if !r.DHCPAlive {
			r.Ready = false
			r.Down = append(r.Down, fmt.Sprintf("no live DHCP agent hosts network %s (%s): guests will get no address", nw.Name, nw.ID))
		}
	}
	return r, nil
}

func orUnknown(s string) string {
	if s == "" {
		return "in an unknown state"
	}
	return s
}

// String summarises the report in one line.
func (r *PreflightReport) String() string {
	if r.Ready && len(r.Down) == 0 {
		return "preflight: ready"
	}
	v := "ready"
	if !r.Ready {
		v = "NOT ready"
	}
	return "preflight: " + v + ": " + strings.Join(r.Down, "; ")
}
