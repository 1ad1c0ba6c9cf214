package fakecloud

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/netip"
	"slices"
	"time"
)

// neutronRoutes registers Neutron's API (network v2.0).
func (c *Cloud) neutronRoutes() {
	c.versionRoutes("/network", &c.netVers, http.StatusOK)
	c.handle("GET /network/v2.0/networks", c.listOf(&c.networks, "networks"))
	c.handle("GET /network/v2.0/networks/{id}", c.getFrom(&c.networks, "id", "network", func(w http.ResponseWriter, r *http.Request) {
		c.neutronNotFound(w, "NetworkNotFound", "Network "+r.PathValue("id")+" could not be found.")
	}))
	c.handle("GET /network/v2.0/networks/{id}/dhcp-agents", c.listNetworkDHCPAgents)
	c.handle("POST /network/v2.0/networks", c.createNetwork)
	c.handle("DELETE /network/v2.0/networks/{id}", c.deleteNetwork)
	c.handle("GET /network/v2.0/subnets", c.listOf(&c.subnets, "subnets"))
	c.handle("GET /network/v2.0/subnets/{id}", c.getFrom(&c.subnets, "id", "subnet", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, 404, r.URL.Path, "Subnet "+r.PathValue("id")+" could not be found.")
	}))
	c.handle("GET /network/v2.0/ports/{id}", c.getPort)
	c.handle("POST /network/v2.0/subnets", c.createSubnet)
	c.handle("DELETE /network/v2.0/subnets/{id}", c.deleteFrom(&c.subnets, "id", 204))
	c.handle("GET /network/v2.0/ports", c.listOf(&c.ports, "ports"))
	c.handle("GET /network/v2.0/security-groups", c.listSecurityGroups)
	c.handle("GET /network/v2.0/security-groups/{id}", c.getSecurityGroup)
	c.handle("GET /network/v2.0/security-group-rules", c.listOf(&c.rules, "security_group_rules"))
	c.handle("POST /network/v2.0/security-group-rules", c.createRule)
	c.handle("DELETE /network/v2.0/security-group-rules/{id}", c.deleteFrom(&c.rules, "id", 204))
	c.handle("GET /network/v2.0/agents", c.listAgents)
	c.handle("GET /network/v2.0/agents/{id}/dhcp-networks", c.listAgentDHCPNetworks)
}

// listNetworkDHCPAgents answers GET /network/v2.0/networks/{id}/dhcp-agents.
func (c *Cloud) listNetworkDHCPAgents(w http.ResponseWriter, r *http.Request, _ []byte) {
	var l []obj
	for _, a := range c.agents {
		if a["agent_type"] != "DHCP agent" {
			continue
		}
		for _, sn := range c.subnets {
			if sn["network_id"] == r.PathValue("id") && sn["enable_dhcp"] == true {
				l = append(l, a)
				break
			}
		}
	}
	if l == nil {
		l = []obj{}
	}
	writeJSON(w, 200, obj{"agents": l})
}

// createNetwork answers POST /network/v2.0/networks.
func (c *Cloud) createNetwork(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Network obj `json:"network"`
	}
	json.Unmarshal(body, &req)
	n := template("neutron-networks.json", "networks")
	n["id"], n["subnets"] = c.newID(0x4e), []any{}
	for _, k := range []string{"name", "shared", "router:external", "provider:network_type", "provider:physical_network", "provider:segmentation_id", "admin_state_up"} {
		if v, ok := req.Network[k]; ok {
			n[k] = v
		} else if k == "shared" || k == "router:external" {
			n[k] = false
		} else if k == "provider:segmentation_id" {
			n[k] = nil
		}
	}
	c.networks = append(c.networks, n)
	writeJSON(w, 201, obj{"network": n})
}

// deleteNetwork answers DELETE /network/v2.0/networks/{id}.
func (c *Cloud) deleteNetwork(w http.ResponseWriter, r *http.Request, _ []byte) {
	i, _ := find(c.networks, "id", r.PathValue("id"))
	if i < 0 {
		c.notFound(w, r.URL.Path)
		return
	}
	for _, pt := range c.ports {
		if pt["network_id"] == r.PathValue("id") && pt["device_owner"] != "network:dhcp" {
			c.fail(w, 409, r.URL.Path, fmt.Sprintf("Unable to complete operation on network %s. There are one or more ports still in use on the network.", r.PathValue("id")))
			return
		}
	}
	c.networks = slices.Delete(c.networks, i, i+1)
	c.subnets = slices.DeleteFunc(c.subnets, func(o obj) bool { return o["network_id"] == r.PathValue("id") })
	w.WriteHeader(204)
}

// getPort answers GET /network/v2.0/ports/{id}.
func (c *Cloud) getPort(w http.ResponseWriter, r *http.Request, _ []byte) {
	if _, pt := find(c.ports, "id", r.PathValue("id")); pt != nil {
		writeJSON(w, 200, obj{"port": pt})
		return
	}
	c.fail(w, 404, r.URL.Path, "Port "+r.PathValue("id")+" could not be found.")
}

// createSubnet answers POST /network/v2.0/subnets.
func (c *Cloud) createSubnet(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Subnet obj `json:"subnet"`
	}
	json.Unmarshal(body, &req)
	_, nw := find(c.networks, "id", fmt.Sprint(req.Subnet["network_id"]))
	if nw == nil {
		c.fail(w, 404, r.URL.Path, fmt.Sprintf("Network %v could not be found.", req.Subnet["network_id"]))
		return
	}
	sn := template("neutron-subnets.json", "subnets")
	sn["id"] = c.newID(0x5b)
	for k, v := range req.Subnet {
		sn[k] = v
	}
	if _, ok := req.Subnet["enable_dhcp"]; !ok {
		sn["enable_dhcp"] = true
	}
	for _, k := range []string{"dns_nameservers", "allocation_pools", "host_routes"} {
		if _, ok := req.Subnet[k]; !ok {
			sn[k] = []any{}
		}
	}
	nw["subnets"] = append(nw["subnets"].([]any), sn["id"])
	c.subnets = append(c.subnets, sn)
	writeJSON(w, 201, obj{"subnet": sn})
}

// listSecurityGroups answers GET /network/v2.0/security-groups.
func (c *Cloud) listSecurityGroups(w http.ResponseWriter, r *http.Request, _ []byte) {
	l := []obj{}
	for _, g := range filter(c.secgroups, r.URL.Query()) {
		l = append(l, c.secgroupView(g))
	}
	writeJSON(w, 200, obj{"security_groups": l})
}

// getSecurityGroup answers GET /network/v2.0/security-groups/{id}.
func (c *Cloud) getSecurityGroup(w http.ResponseWriter, r *http.Request, _ []byte) {
	if _, g := find(c.secgroups, "id", r.PathValue("id")); g != nil {
		writeJSON(w, 200, obj{"security_group": c.secgroupView(g)})
		return
	}
	c.neutronNotFound(w, "SecurityGroupNotFound", "Security group "+r.PathValue("id")+" does not exist")
}

// createRule answers POST /network/v2.0/security-group-rules.
func (c *Cloud) createRule(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Rule obj `json:"security_group_rule"`
	}
	json.Unmarshal(body, &req)
	if _, g := find(c.secgroups, "id", fmt.Sprint(req.Rule["security_group_id"])); g == nil {
		c.fail(w, 404, r.URL.Path, fmt.Sprintf("Security group %v does not exist", req.Rule["security_group_id"]))
		return
	}
	norm := func(v any) string {
		if v == nil {
			return ""
		}
		return fmt.Sprint(v)
	}
	for _, ex := range c.rules {
		same := true
		for _, k := range []string{"security_group_id", "direction", "ethertype", "protocol", "port_range_min", "port_range_max", "remote_ip_prefix", "remote_group_id"} {
			if norm(ex[k]) != norm(req.Rule[k]) {
				same = false
			}
		}
		if same {
			writeJSON(w, 409, obj{"NeutronError": obj{"type": "SecurityGroupRuleExists", "message": fmt.Sprintf("Security group rule already exists. Rule id is %v.", ex["id"]), "detail": ""}})
			return
		}
	}
	ru := obj{"id": c.newID(0x5c), "tenant_id": "0e28594ddbe7463188629949de692f18", "project_id": "0e28594ddbe7463188629949de692f18", "port_range_min": nil, "port_range_max": nil, "protocol": nil, "remote_ip_prefix": nil, "remote_group_id": nil, "description": "", "revision_number": 0}
	for k, v := range req.Rule {
		ru[k] = v
	}
	c.rules = append(c.rules, ru)
	writeJSON(w, 201, obj{"security_group_rule": ru})
}

// listAgents answers GET /network/v2.0/agents. An alive agent heartbeat
// just now (on the fake's clock), as a real one does every
// report_interval; a dead one keeps the heartbeat SetAgent gave it.
func (c *Cloud) listAgents(w http.ResponseWriter, r *http.Request, _ []byte) {
	l := filter(c.agents, r.URL.Query())
	now := c.cfg.Now().UTC().Format(agentTime)
	for i, a := range l {
		if a["alive"] == true {
			cp := maps.Clone(a)
			cp["heartbeat_timestamp"] = now
			l[i] = cp
		}
	}
	writeJSON(w, 200, obj{"agents": l})
}

// agentTime is the layout of Neutron's agent timestamps.
const agentTime = "2006-01-02 15:04:05"

// setPortStatus sets a port's status and, when it changes, its
// updated_at, as Neutron does when an agent reports a port up or down.
func (c *Cloud) setPortStatus(p obj, status string) {
	if p["status"] == status {
		return
	}
	p["status"] = status
	p["updated_at"] = c.cfg.Now().UTC().Format(time.RFC3339)
}

func (c *Cloud) newPort(nw obj) obj {
	p := template("neutron-ports-by-device.json", "ports")
	id := c.newID(0x90)
	p["id"], p["network_id"], p["status"] = id, nw["id"], "DOWN"
	now := c.cfg.Now().UTC().Format(time.RFC3339)
	p["created_at"], p["updated_at"] = now, now
	p["mac_address"] = fmt.Sprintf("fa:16:3e:%02x:%02x:%02x", (c.seq>>16)&0xff, (c.seq>>8)&0xff, c.seq&0xff)
	var fixed []any
	for _, sn := range c.subnets {
		if sn["network_id"] != nw["id"] {
			continue
		}
		pools, _ := sn["allocation_pools"].([]any)
		if len(pools) == 0 {
			continue
		}
		start, err := netip.ParseAddr(fmt.Sprint(pools[0].(obj)["start"]))
		if err != nil {
			continue
		}
		a := start
		for used := true; used; {
			used = false
			for _, op := range c.ports {
				for _, ip := range op["fixed_ips"].([]any) {
					if ip.(obj)["ip_address"] == a.String() {
						used = true
					}
				}
			}
			if used {
				a = a.Next()
			}
		}
		fixed = append(fixed, obj{"subnet_id": sn["id"], "ip_address": a.String()})
	}
	if fixed == nil {
		fixed = []any{}
	}
	p["fixed_ips"] = fixed
	c.ports = append(c.ports, p)
	return p
}

// listAgentDHCPNetworks answers GET /v2.0/agents/{id}/dhcp-networks: the
// networks with a DHCP-enabled subnet, for a DHCP agent.
func (c *Cloud) listAgentDHCPNetworks(w http.ResponseWriter, r *http.Request, _ []byte) {
	_, a := find(c.agents, "id", r.PathValue("id"))
	if a == nil {
		c.neutronNotFound(w, "AgentNotFound", "Agent "+r.PathValue("id")+" could not be found.")
		return
	}
	l := []obj{}
	if a["agent_type"] == "DHCP agent" {
		for _, n := range c.networks {
			for _, sn := range c.subnets {
				if sn["network_id"] == n["id"] && sn["enable_dhcp"] == true {
					l = append(l, n)
					break
				}
			}
		}
	}
	writeJSON(w, 200, obj{"networks": l})
}
