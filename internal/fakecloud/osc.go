package fakecloud

import (
	"fmt"
	"net/http"
	"strconv"
	"strings"
)

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

// novaMicroversion returns the compute microversion a request asks for
// (OpenStack-API-Version: compute X.Y, or the older
// X-OpenStack-Nova-API-Version), as major and minor; none is 2.1, the
// base version, as Nova assumes. "latest" is the recorded cloud's
// maximum, 2.93.
func novaMicroversion(r *http.Request) (int, int) {
	v := r.Header.Get("X-OpenStack-Nova-API-Version")
	if h, ok := strings.CutPrefix(strings.TrimSpace(r.Header.Get("OpenStack-API-Version")), "compute "); ok {
		v = h
	}
	v = strings.TrimSpace(v)
	if v == "latest" {
		return 2, 93
	}
	maj, min, ok := strings.Cut(v, ".")
	a, err1 := strconv.Atoi(maj)
	b, err2 := strconv.Atoi(min)
	if !ok || err1 != nil || err2 != nil {
		return 2, 1
	}
	return a, b
}

// serverAt returns a server's body as the request's microversion shows
// it. The stored body is the recorded 2.79 one; below 2.47 Nova shows
// the flavor as a reference (id and links) instead of its embedded
// copy, so a client at 2.1 (the openstack CLI's default) has to GET the
// flavor, as against a real cloud. Other fields that newer microversions
// added are left in.
func (c *Cloud) serverAt(b obj, r *http.Request) obj {
	if maj, min := novaMicroversion(r); maj > 2 || (maj == 2 && min >= 47) {
		return b
	}
	fl, _ := b["flavor"].(obj)
	if fl == nil || fl["original_name"] == nil {
		return b
	}
	id := ""
	if _, f := find(c.flavors, "name", fmt.Sprint(fl["original_name"])); f != nil {
		id = fmt.Sprint(f["id"])
	}
	out := make(obj, len(b))
	for k, v := range b {
		out[k] = v
	}
	out["flavor"] = obj{"id": id, "links": []any{obj{"rel": "bookmark", "href": c.base + "/compute/flavors/" + id}}}
	return out
}
