package fakecloud

import (
	"encoding/json"
	"fmt"
	"math"
	"net/http"
	"strconv"
)

// The fake's placement: one resource provider per compute host, named
// after it, with the recorded VCPU and DISK_GB inventories and a
// MEMORY_MB inventory of Config.HostRAMMiB (reserved 0, ratio 1). Usages
// are the flavors of the servers on the host that are not in ERROR.
// Bodies: testdata/recorded/placement-*.json.

type provider struct {
	body        obj // uuid, name, generation, links, parent/root uuids
	inventories map[string]obj
}

func (c *Cloud) loadPlacement() {
	c.placementVers = mustRead("recorded/placement-versions.json")
	c.hypervisors = list("recorded/nova-hypervisors-detail.json", "hypervisors")
	rps := list("recorded/placement-resource-providers.json", "resource_providers")
	var inv struct {
		Inventories map[string]obj `json:"inventories"`
	}
	if err := json.Unmarshal(mustRead("recorded/placement-inventories.json"), &inv); err != nil {
		panic("fakecloud: placement inventories: " + err.Error())
	}
	for _, rp := range rps {
		p := &provider{body: rp, inventories: map[string]obj{}}
		for class, i := range inv.Inventories {
			cp := obj{}
			for k, v := range i {
				cp[k] = v
			}
			p.inventories[class] = cp
		}
		c.providers = append(c.providers, p)
	}
	c.setHostRAM()
}

// setHostRAM makes MEMORY_MB of every provider Config.HostRAMMiB.
func (c *Cloud) setHostRAM() {
	for _, p := range c.providers {
		if m, ok := p.inventories["MEMORY_MB"]; ok {
			m["total"], m["reserved"], m["allocation_ratio"], m["max_unit"] = c.cfg.HostRAMMiB, 0, 1.0, c.cfg.HostRAMMiB
		}
	}
}

// placementRoutes registers Placement's API (read-only: providers,
// their inventories and usages).
func (c *Cloud) placementRoutes() {
	c.versionRoutes("/placement", &c.placementVers, http.StatusOK)
	c.handle("GET /placement/resource_providers", c.listProviders)
	c.handle("GET /placement/resource_providers/{id}", c.getProvider)
	c.handle("GET /placement/resource_providers/{id}/inventories", c.getInventories)
	c.handle("GET /placement/resource_providers/{id}/usages", c.getUsages)
}

// placementFail answers placement's error shape (as recorded in
// placement-resource-provider-404.json).
func placementFail(w http.ResponseWriter, status int, title, detail string) {
	writeJSON(w, status, obj{"errors": []obj{{"status": status, "title": title, "detail": detail, "request_id": "req-fake", "code": "placement.undefined_code"}}})
}

func (c *Cloud) provider(id string) *provider {
	for _, p := range c.providers {
		if p.body["uuid"] == id {
			return p
		}
	}
	return nil
}

func (c *Cloud) listProviders(w http.ResponseWriter, r *http.Request, _ []byte) {
	l := []obj{}
	for _, p := range c.providers {
		l = append(l, p.body)
	}
	writeJSON(w, 200, obj{"resource_providers": filter(l, r.URL.Query())})
}

func (c *Cloud) getProvider(w http.ResponseWriter, r *http.Request, _ []byte) {
	p := c.provider(r.PathValue("id"))
	if p == nil {
		placementFail(w, 404, "Not Found", "The resource could not be found.\n\n No resource provider with uuid "+r.PathValue("id")+" found  ")
		return
	}
	writeJSON(w, 200, p.body)
}

func (c *Cloud) getInventories(w http.ResponseWriter, r *http.Request, _ []byte) {
	p := c.provider(r.PathValue("id"))
	if p == nil {
		placementFail(w, 404, "Not Found", "The resource could not be found.\n\n No resource provider with uuid "+r.PathValue("id")+" found  ")
		return
	}
	writeJSON(w, 200, obj{"resource_provider_generation": p.body["generation"], "inventories": p.inventories})
}

func (c *Cloud) getUsages(w http.ResponseWriter, r *http.Request, _ []byte) {
	p := c.provider(r.PathValue("id"))
	if p == nil {
		placementFail(w, 404, "Not Found", "The resource could not be found.\n\n No resource provider with uuid "+r.PathValue("id")+" found  ")
		return
	}
	u := c.usage(fmt.Sprint(p.body["name"]))
	writeJSON(w, 200, obj{"resource_provider_generation": p.body["generation"], "usages": obj{"VCPU": u[0], "MEMORY_MB": u[1], "DISK_GB": u[2]}})
}

// usage sums VCPU, MEMORY_MB and DISK_GB of the servers on host that are
// not in ERROR (as placement holds their allocations).
func (c *Cloud) usage(host string) [3]int {
	var u [3]int
	for _, sv := range c.servers {
		if c.gone(sv) || sv.fault != nil || sv.body["OS-EXT-SRV-ATTR:host"] != host {
			continue
		}
		f, _ := sv.body["flavor"].(obj)
		for i, k := range []string{"vcpus", "ram", "disk"} {
			n, _ := strconv.Atoi(fmt.Sprint(f[k]))
			u[i] += n
		}
	}
	return u
}

// fits reports whether a flavor (vcpus, ram MiB, disk GiB) fits on host
// as placement would judge it: a provider named host exists and each
// class has room ((total − reserved) × ratio − used, within max_unit).
func (c *Cloud) fits(host string, vcpus, ram, disk int) bool {
	var p *provider
	for _, q := range c.providers {
		if q.body["name"] == host {
			p = q
		}
	}
	if p == nil {
		return false
	}
	u := c.usage(host)
	for i, want := range []struct {
		class string
		n     int
	}{{"VCPU", vcpus}, {"MEMORY_MB", ram}, {"DISK_GB", disk}} {
		if want.n <= 0 {
			continue
		}
		inv, ok := p.inventories[want.class]
		if !ok {
			return false
		}
		num := func(k string) float64 { f, _ := strconv.ParseFloat(fmt.Sprint(inv[k]), 64); return f }
		capacity := int(math.Floor((num("total") - num("reserved")) * num("allocation_ratio")))
		if mu := int(num("max_unit")); (mu > 0 && want.n > mu) || want.n > capacity-u[i] {
			return false
		}
	}
	return true
}

// listHypervisors answers GET /os-hypervisors/detail (microversion 2.79
// shape, as recorded).
func (c *Cloud) listHypervisors(w http.ResponseWriter, _ *http.Request, _ []byte) {
	l := append([]obj{}, c.hypervisors...)
	writeJSON(w, 200, obj{"hypervisors": l})
}

// DeleteResourceProvider removes the resource provider of a compute host
// (its compute node's name) from the fake's placement, as
// `openstack resource provider delete` would; servers then fail with "No
// valid host was found.". It reports whether there was one.
func (c *Cloud) DeleteResourceProvider(host string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	for i, p := range c.providers {
		if p.body["name"] == host {
			c.providers = append(c.providers[:i], c.providers[i+1:]...)
			return true
		}
	}
	return false
}

// RemoveHypervisor drops a compute host from Nova's hypervisor list, as if
// it were not mapped to a cell (nova-manage cell_v2 discover_hosts not
// run yet).
func (c *Cloud) RemoveHypervisor(host string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var keep []obj
	for _, h := range c.hypervisors {
		if s, _ := h["service"].(obj); s == nil || s["host"] != host {
			keep = append(keep, h)
		}
	}
	c.hypervisors = keep
}
