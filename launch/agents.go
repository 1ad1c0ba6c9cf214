package launch

import (
	"context"
	"fmt"
	"slices"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/services"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/agents"
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
	// Binary, Host, Zone, Enabled, State, Updated and DisabledReason are the row of `openstack compute service list` (State "up" or "down").
	Binary         string    `json:"binary"`
	Host           string    `json:"host"`
	Zone           string    `json:"zone"`
	Enabled        bool      `json:"enabled"`
	State          State     `json:"state"`
	Updated        time.Time `json:"updated"`
	DisabledReason string    `json:"disabled_reason,omitempty"`
	// ForcedDown is forced_down (`openstack compute service set --down`).
	ForcedDown bool `json:"forced_down,omitempty"`
}

// Up reports whether the service is up and enabled: what the scheduler
// needs to place a server on its host.
func (s ComputeService) Up() bool { return s.State == StateUp && s.Enabled && !s.ForcedDown }

// NetworkAgent is one row of Neutron's agents.
type NetworkAgent struct {
	// ID is the agent's Neutron ID.
	ID     string `json:"id"`
	Type   string `json:"type"` // "Linux bridge agent", "DHCP agent", "Metadata agent", …
	Binary string `json:"binary"`
	Host   string `json:"host"`
	Alive  bool   `json:"alive"`
	// AdminUp is admin_state_up.
	AdminUp   bool      `json:"admin_up"`
	Heartbeat time.Time `json:"heartbeat"`
	// Started is when the agent (re)started: started_at.
	Started time.Time `json:"started,omitzero"`
	// Config are the settings of its configurations vifpath reads.
	Config AgentConfig `json:"config,omitzero"`
}

// AgentConfig are the settings an agent reports in its configurations
// that vifpath reads. A setting the agent does not report is nil.
type AgentConfig struct {
	// IsolatedMetadata is a DHCP agent's enable_isolated_metadata (true
	// also when it reports force_metadata). Upstream DHCP agents do not
	// report it: nil, read dhcp_agent.ini on the node instead.
	IsolatedMetadata *bool `json:"isolated_metadata,omitempty"`
	// Networks is how many networks a DHCP agent serves (nil: not
	// reported).
	Networks *int `json:"networks,omitempty"`
}

// agentConfigOf reads the settings of AgentConfig from configurations.
func agentConfigOf(m map[string]any) AgentConfig {
	var c AgentConfig
	flag := func(k string) (bool, bool) {
		switch v := m[k].(type) {
		case bool:
			return v, true
		case string:
			return v == "true" || v == "True", true
		}
		return false, false
	}
	iso, ok1 := flag("enable_isolated_metadata")
	force, ok2 := flag("force_metadata")
	if ok1 || ok2 {
		v := iso || force
		c.IsolatedMetadata = &v
	}
	if n, ok := m["networks"].(float64); ok {
		v := int(n)
		c.Networks = &v
	}
	return c
}

// Up reports whether the agent is alive and administratively up.
func (a NetworkAgent) Up() bool { return a.Alive && a.AdminUp }

// Agent types as Neutron names them.
const (
	AgentLinuxBridge = "Linux bridge agent"
	AgentDHCP        = "DHCP agent"
	AgentMetadata    = "Metadata agent"
)

// Nova's binary name for the compute service.
const BinaryNovaCompute = "nova-compute"

func serviceOf(s services.Service) ComputeService {
	cs := ComputeService{Binary: s.Binary, Host: s.Host, Zone: s.Zone, Enabled: s.Status == "enabled", Updated: s.UpdatedAt.UTC(), DisabledReason: s.DisabledReason, ForcedDown: s.ForcedDown}
	switch s.State {
	case "up":
		cs.State = StateUp
	case "down":
		cs.State = StateDown
	}
	return cs
}

func agentOf(a agents.Agent) NetworkAgent {
	return NetworkAgent{ID: a.ID, Type: a.AgentType, Binary: a.Binary, Host: a.Host, Alive: a.Alive, AdminUp: a.AdminStateUp, Heartbeat: a.HeartbeatTimestamp.UTC(), Started: a.StartedAt.UTC(), Config: agentConfigOf(a.Configurations)}
}

// ComputeServices lists Nova's services; host "" lists every host.
func (c *Client) ComputeServices(ctx context.Context, host string) ([]ComputeService, error) {
	var out []ComputeService
	err := c.call(ctx, "list compute services", false, func(ctx context.Context) error {
		pages, err := services.List(c.compute, services.ListOpts{Host: host}).AllPages(ctx)
		if err != nil {
			return err
		}
		l, err := services.ExtractServices(pages)
		if err != nil {
			return err
		}
		out = make([]ComputeService, 0, len(l))
		for _, s := range l {
			out = append(out, serviceOf(s))
		}
		return nil
	})
	return out, err
}

// NetworkAgents lists Neutron's agents; host "" lists every host.
func (c *Client) NetworkAgents(ctx context.Context, host string) ([]NetworkAgent, error) {
	return c.listAgents(ctx, agents.ListOpts{Host: host})
}

func (c *Client) listAgents(ctx context.Context, opts agents.ListOpts) ([]NetworkAgent, error) {
	var out []NetworkAgent
	err := c.call(ctx, "list network agents", false, func(ctx context.Context) error {
		pages, err := agents.List(c.network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		l, err := agents.ExtractAgents(pages)
		if err != nil {
			return err
		}
		out = make([]NetworkAgent, 0, len(l))
		for _, a := range l {
			out = append(out, agentOf(a))
		}
		return nil
	})
	return out, err
}

// DHCPAgents lists the DHCP agents hosting a network (by ID): what
// `openstack network agent list --network ID` shows. It lists the DHCP
// agents, then the networks each hosts (agents' dhcp-networks), so it
// costs one request per DHCP agent. None is an empty slice.
func (c *Client) DHCPAgents(ctx context.Context, networkID string) ([]NetworkAgent, error) {
	if networkID == "" {
		return nil, fmt.Errorf("launch: DHCPAgents needs a network ID")
	}
	all, err := c.listAgents(ctx, agents.ListOpts{AgentType: AgentDHCP})
	if err != nil {
		return nil, err
	}
	out := []NetworkAgent{}
	for _, a := range all {
		var hosts bool
		err := c.call(ctx, "list networks of DHCP agent on "+a.Host, false, func(ctx context.Context) error {
			nets, err := agents.ListDHCPNetworks(ctx, c.network, a.ID).Extract()
			if err != nil {
				return err
			}
			for _, n := range nets {
				if n.ID == networkID {
					hosts = true
				}
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		if hosts {
			out = append(out, a)
		}
	}
	return out, nil
}

// PortAgents are the agents and services one port of a server needs, as
// the APIs showed them at ReadAt: the input of the trace's agents hop.
type PortAgents struct {
	// Port is the port the agents serve.
	Port Port `json:"port"`
	// ServerHost is the server's host (OS-EXT-SRV-ATTR:host; "" unknown).
	ServerHost string `json:"server_host,omitempty"`
	// ServerStatus is the server's status (BUILD, ACTIVE, …).
	ServerStatus Status `json:"server_status"`
	// L2 is the Linux bridge agent on the port's binding host (nil: none).
	L2 *NetworkAgent `json:"l2,omitempty"`
	// DHCP are the DHCP agents hosting the port's network.
	DHCP []NetworkAgent `json:"dhcp"`
	// Metadata are the metadata agents on the DHCP agents' hosts (on
	// every host when no DHCP agent hosts the network).
	Metadata []NetworkAgent `json:"metadata"`
	// Compute is nova-compute on the server's host (nil: none, or the
	// host is unknown).
	Compute *ComputeService `json:"compute,omitempty"`
	// ReadAt is when the facts were read (heartbeat ages count from it).
	ReadAt time.Time `json:"read_at"`
}

// PortAgents reads the agents port needs: the Linux bridge agent on its
// binding host, the DHCP agents of its network, the metadata agents, and
// nova-compute on srv's host (srv may be nil when only the port is known).
// Only GET requests. To read the agents of several ports, read one
// AgentList and derive each port's from it (AgentList.Port).
func (c *Client) PortAgents(ctx context.Context, srv *Server, port Port) (*PortAgents, error) {
	l, err := c.AgentList(ctx)
	if err != nil {
		return nil, err
	}
	var host string
	var status Status
	if srv != nil {
		host, status = srv.Host, srv.Status
	}
	return l.Port(port, host, status), nil
}

// AgentList is what the agents of any port are derived from, read once
// (Client.AgentList) and shared by every port of an observation: every
// Neutron agent, the networks each DHCP agent hosts and Nova's
// nova-compute services. It is a plain value that round-trips through
// JSON.
type AgentList struct {
	// Agents are every Neutron agent (GET /v2.0/agents).
	Agents []NetworkAgent `json:"agents"`
	// DHCPNetworks are the network IDs each DHCP agent hosts, by agent
	// ID (GET /v2.0/agents/{id}/dhcp-networks).
	DHCPNetworks map[string][]string `json:"dhcp_networks"`
	// Compute are Nova's nova-compute services, every host.
	Compute []ComputeService `json:"compute"`
	// ReadAt is when the list was read (heartbeat ages count from it).
	ReadAt time.Time `json:"read_at"`
}

// AgentList reads every Neutron agent (one request), the networks each
// DHCP agent hosts (one request per DHCP agent) and the nova-compute
// services (one request). Only GET requests; listing agents and services
// needs the admin role.
func (c *Client) AgentList(ctx context.Context) (*AgentList, error) {
	all, err := c.NetworkAgents(ctx, "")
	if err != nil {
		return nil, err
	}
	l := &AgentList{Agents: all, DHCPNetworks: map[string][]string{}, Compute: []ComputeService{}}
	for _, a := range all {
		if a.Type != AgentDHCP {
			continue
		}
		ids := []string{}
		err := c.call(ctx, "list networks of DHCP agent on "+a.Host, false, func(ctx context.Context) error {
			nets, err := agents.ListDHCPNetworks(ctx, c.network, a.ID).Extract()
			if err != nil {
				return err
			}
			for _, n := range nets {
				ids = append(ids, n.ID)
			}
			return nil
		})
		if err != nil {
			return nil, err
		}
		l.DHCPNetworks[a.ID] = ids
	}
	svcs, err := c.ComputeServices(ctx, "")
	if err != nil {
		return nil, err
	}
	for _, s := range svcs {
		if s.Binary == BinaryNovaCompute {
			l.Compute = append(l.Compute, s)
		}
	}
	l.ReadAt = time.Now().UTC()
	return l, nil
}

// Port derives the agents one port needs from the list: the Linux bridge
// agent on its binding host (else serverHost), the DHCP agents hosting its
// network, the metadata agents on those agents' hosts (every metadata
// agent when no DHCP agent hosts the network) and nova-compute on
// serverHost. It is pure.
func (l *AgentList) Port(port Port, serverHost string, status Status) *PortAgents {
	pa := &PortAgents{Port: port, ServerHost: serverHost, ServerStatus: status, DHCP: []NetworkAgent{}, Metadata: []NetworkAgent{}, ReadAt: l.ReadAt}
	host := port.HostID
	if host == "" {
		host = serverHost
	}
	for _, a := range l.Agents {
		if a.Type == AgentLinuxBridge && a.Host == host && host != "" {
			pa.L2 = &a
		}
		if a.Type == AgentDHCP && port.NetworkID != "" && slices.Contains(l.DHCPNetworks[a.ID], port.NetworkID) {
			pa.DHCP = append(pa.DHCP, a)
		}
	}
	dhcpHosts := map[string]bool{}
	for _, a := range pa.DHCP {
		dhcpHosts[a.Host] = true
	}
	for _, a := range l.Agents {
		if a.Type == AgentMetadata && (len(dhcpHosts) == 0 || dhcpHosts[a.Host]) {
			pa.Metadata = append(pa.Metadata, a)
		}
	}
	if serverHost != "" {
		for _, s := range l.Compute {
			if s.Binary == BinaryNovaCompute && s.Host == serverHost {
				pa.Compute = &s
			}
		}
	}
	return pa
}
