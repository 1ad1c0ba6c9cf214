package trace

import (
	"github.com/vifpath/vifpath/launch"
)

// agentsHop is the NIC's agents hop (after the port hop): the agents and
// services its port needs, derived from the observation's one agent list
// (APIFacts.Agents) and judged by JudgeAgents. Without the API, or when
// the agents could not be read, it is Unknown and says why.
func (v *view) agentsHop() Hop {
	h := Hop{Kind: KindAgents, Name: v.id.PortID}
	api := v.obs.API
	if api == nil {
		h.Summary = "not read: no OpenStack API (run with -cloud and -server to judge the port's agents)"
		h.add("api", "none")
		h.Next = "vmtrace -cloud CLOUD -server SERVER"
		return h
	}
	srv, p := api.port(v.id.PortID)
	switch {
	case p == nil:
		h.Summary = "not judged: no Neutron port of a server read through the API is this NIC's"
		h.add("port", "not read")
		return h
	case api.Agents == nil && api.AgentsError != "":
		h.Summary = "cannot read the agents (listing agents and services needs the admin role)"
		h.put("error", api.AgentsError)
		h.Next = "openstack network agent list; openstack compute service list"
		return h
	case api.Agents == nil:
		h.Summary = "the agents were not read (an observation older than the agents hop)"
		h.add("agents", "not observed")
		return h
	}
	return JudgeAgents(*api.Agents.Port(*p, srv.Host, launch.Status(srv.Status)))
}

// port finds a server's port by ID ("" or none: nil, nil).
func (a *APIFacts) port(id string) (*ServerFacts, *launch.Port) {
	if id == "" {
		return nil, nil
	}
	for i := range a.Servers {
		for j := range a.Servers[i].Ports {
			if a.Servers[i].Ports[j].ID == id {
				return &a.Servers[i], &a.Servers[i].Ports[j]
			}
		}
	}
	return nil, nil
}
