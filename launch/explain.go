package launch

import (
	"context"
	"errors"
	"net/url"
)

// ExplainServer builds the FaultError of srv, a server already read (by
// Server) that is in ERROR: Nova's fault, srv's ports, and the nova-compute
// services and network agents of the hosts involved (the server's and its
// ports' binding hosts). Lookups that fail are left out: the fault itself
// is always in the result. It is the explanation Launch returns when a
// server goes to ERROR, for a caller that found the server in that state.
// Only GET requests.
func (c *Client) ExplainServer(ctx context.Context, srv *Server) *FaultError {
	fe := &FaultError{ServerID: srv.ID, ServerName: srv.Name, Host: srv.Host, Ports: srv.Ports}
	if srv.Fault != nil {
		fe.Fault = *srv.Fault
	} else {
		fe.Fault.Message = "(Nova recorded no fault)"
	}
	c.explainHosts(ctx, fe)
	return fe
}

// explainHosts adds to fe the nova-compute services and network agents of
// the hosts fe names (all nova-compute services when it names none).
func (c *Client) explainHosts(ctx context.Context, fe *FaultError) {
	hosts := map[string]bool{}
	if fe.Host != "" {
		hosts[fe.Host] = true
	}
	for _, p := range fe.Ports {
		if p.HostID != "" {
			hosts[p.HostID] = true
		}
	}
	if svcs, err := c.ComputeServices(ctx, ""); err == nil {
		for _, s := range svcs {
			if s.Binary == "nova-compute" && (len(hosts) == 0 || hosts[s.Host]) {
				fe.Compute = append(fe.Compute, s)
				hosts[s.Host] = true
			}
		}
	}
	if agents, err := c.NetworkAgents(ctx, ""); err == nil {
		for _, a := range agents {
			if hosts[a.Host] {
				fe.Agents = append(fe.Agents, a)
			}
		}
	}
}

// PortsOnHost lists the Neutron ports bound to host (binding:host_id),
// each with its device_id and device_owner, in Neutron's order. None is an empty
// slice, not an error. It needs a role that may read bindings (admin, by
// default). Only a GET request.
func (c *Client) PortsOnHost(ctx context.Context, host string) ([]HostPort, error) {
	if host == "" {
		return nil, errors.New("launch: PortsOnHost needs a host name (an empty one would list every port)")
	}
	var body struct {
		Ports []struct {
			rawPort
			DeviceID    string `json:"device_id"`
			DeviceOwner string `json:"device_owner"`
		} `json:"ports"`
	}
	if err := c.get(ctx, "list ports bound to host "+host, c.network, c.network.ServiceURL("ports")+"?binding:host_id="+url.QueryEscape(host), &body); err != nil {
		return nil, err
	}
	out := make([]HostPort, 0, len(body.Ports))
	for _, p := range body.Ports {
		out = append(out, HostPort{Port: p.rawPort.typed(), DeviceID: p.DeviceID, DeviceOwner: p.DeviceOwner})
	}
	return out, nil
}

// HostPort is a port bound to a host, with the device it belongs to.
type HostPort struct {
	Port
	// DeviceID is the port's device_id (a server's ID for a VM port).
	DeviceID string `json:"device_id"`
	// DeviceOwner is its device_owner ("compute:nova" for a VM port,
	// "network:dhcp" for a DHCP port).
	DeviceOwner string `json:"device_owner"`
}
