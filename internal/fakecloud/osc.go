package fakecloud

import "net/http"

// What python-openstackclient (osc_lib, novaclient, openstacksdk) asks of
// the fake beyond what launch does: lookups by name that start with a
// GET by ID and expect the service's own 404, the flavor summary list,
// and security groups shown by ID.

// noteServer marks the request being served (the newest one: handlers
// run under c.mu) with the server it created or showed.
func (c *Cloud) noteServer(id, status string) {
	r := &c.requests[len(c.requests)-1]
	r.ServerID, r.ServerStatus = id, status
}

// secgroupView returns a security group with its rules, as Neutron shows
// one.
func (c *Cloud) secgroupView(g obj) obj {
	g2 := obj{}
	for k, v := range g {
		g2[k] = v
	}
	rs := []any{}
	for _, ru := range c.rules {
		if ru["security_group_id"] == g["id"] {
			rs = append(rs, ru)
		}
	}
	g2["security_group_rules"] = rs
	return g2
}

// neutronNotFound answers Neutron's 404 with the exception's own type
// (NetworkNotFound, SecurityGroupNotFound), as
// testdata/recorded/neutron-network-get-404.json.
func (c *Cloud) neutronNotFound(w http.ResponseWriter, typ, msg string) {
	writeJSON(w, http.StatusNotFound, obj{"NeutronError": obj{"type": typ, "message": msg, "detail": ""}})
}
