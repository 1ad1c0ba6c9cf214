package launch

import (
	"context"
	"errors"
	"net/url"
)

// ExplainServer builds the FaultError of srv, a server already read (by
// Server) that is in ERROR: Nova's fault, srv's ports, the nova-compute
// services and network agents of the hosts involved (the server's and its
// ports' binding hosts; all when it names none) and, for "No valid host",
// the placement check for its flavor. Lookups that fail are left out: the
// fault itself is always in the result. It is the explanation Launch
// returns when a server goes to ERROR, for a caller that found the server
// in that state. Only GET requests.
func (c *Client) ExplainServer(ctx context.Context, srv *Server) *FaultError {
	fe := &FaultError{ServerID: srv.ID, ServerName: srv.Name, Host: srv.Host, Flavor: srv.Flavor}
	if srv.Fault != nil {
		fe.Fault = *srv.Fault
	} else {
		fe.Fault.Message = "(Nova recorded no fault)"
	}
	c.fillFault(ctx, fe, srv.Ports)
	return fe
}

// PortsOnHost lists the Neutron ports bound to host (binding:host_id),
// each with its device_id and device_owner, in Neutron's order. None is an empty
// slice, not an error. It needs a role that may read bindings (admin, by
// default). Only a GET request.
func (c *Client) PortsOnHost(ctx context.Context, host string) ([]HostPort, error) {
	if host == "" {
		return nil, errors.New("launch: PortsOnHost needs a host name (an empty one would list every port)")
	}
	list, err := c.listPorts(ctx, "list ports bound to host "+host, boundTo(host))
	if err != nil {
		return nil, err
	}
	out := make([]HostPort, 0, len(list))
	for _, p := range list {
		out = append(out, HostPort{Port: portOf(p), DeviceOwner: p.DeviceOwner})
	}
	return out, nil
}

// boundTo lists the ports bound to a host (binding:host_id, a filter
// gophercloud's ports.ListOpts lacks).
type boundTo string

func (h boundTo) ToPortListQuery() (string, error) {
	return "?" + url.Values{"binding:host_id": {string(h)}}.Encode(), nil
}

// HostPort is a port bound to a host, with the device it belongs to.
type HostPort struct {
	// Port is the port; Port.DeviceID is a server's ID for a VM port.
	Port
	// DeviceOwner is its device_owner ("compute:nova" for a VM port,
	// "network:dhcp" for a DHCP port).
	DeviceOwner string `json:"device_owner"`
}
