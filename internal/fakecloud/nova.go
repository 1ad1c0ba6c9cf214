package fakecloud

import (
	"encoding/json"
	"fmt"
	"maps"
	"net/http"
	"net/url"
	"regexp"
	"slices"
	"strconv"
	"strings"
	"time"
)

// novaRoutes registers Nova's API (compute v2.1).
func (c *Cloud) novaRoutes() {
	c.versionRoutes("/compute", &c.versions, http.StatusOK)
	c.handle("GET /compute/v2.1/flavors", c.listFlavors)
	c.handle("GET /compute/v2.1/flavors/detail", c.listFlavorsDetail)
	c.handle("GET /compute/v2.1/flavors/{id}", c.getFrom(&c.flavors, "id", "flavor", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, 404, r.URL.Path, fmt.Sprintf("Flavor %s could not be found.", r.PathValue("id")))
	}))
	c.handle("POST /compute/v2.1/flavors", c.createFlavor)
	c.handle("DELETE /compute/v2.1/flavors/{id}", c.deleteFrom(&c.flavors, "id", 202))
	c.handle("GET /compute/v2.1/os-keypairs", c.listKeypairs)
	c.handle("GET /compute/v2.1/os-keypairs/{id}", c.getFrom(&c.keypairs, "name", "keypair", func(w http.ResponseWriter, r *http.Request) {
		c.fail(w, 404, r.URL.Path, fmt.Sprintf("Keypair %s not found for user 127f18415e5140cca7070c7ec85ed0f0", r.PathValue("id")))
	}))
	c.handle("POST /compute/v2.1/os-keypairs", c.createKeypair)
	c.handle("DELETE /compute/v2.1/os-keypairs/{id}", c.deleteFrom(&c.keypairs, "name", 202))
	c.handle("GET /compute/v2.1/os-services", c.listServices)
	c.handle("POST /compute/v2.1/servers", c.postServer)
	c.handle("GET /compute/v2.1/servers", c.listServersSummary)
	c.handle("GET /compute/v2.1/servers/detail", c.listServersDetail)
	c.handle("POST /compute/v2.1/servers/{id}/action", c.postServerAction)
	c.handle("GET /compute/v2.1/servers/{id}", c.getServer)
	c.handle("DELETE /compute/v2.1/servers/{id}", c.deleteServer)
	c.handle("POST /compute/v2.1/servers/{id}/remote-consoles", c.postRemoteConsole)
	c.handle("GET /compute/v2.1/os-hypervisors/detail", c.listHypervisors)
}

// listFlavors answers GET /compute/v2.1/flavors.
func (c *Cloud) listFlavors(w http.ResponseWriter, r *http.Request, _ []byte) {
	// The summary list (novaclient's find by name starts here): id,
	// name and links of each flavor, as Nova answers below 2.55.
	l := []obj{}
	for _, f := range c.flavors {
		l = append(l, obj{"id": f["id"], "name": f["name"], "links": f["links"]})
	}
	writeJSON(w, 200, obj{"flavors": l})
}

// listFlavorsDetail answers GET /compute/v2.1/flavors/detail.
func (c *Cloud) listFlavorsDetail(w http.ResponseWriter, r *http.Request, _ []byte) {
	writeJSON(w, 200, obj{"flavors": filter(c.flavors, url.Values{})})
}

// createFlavor answers POST /compute/v2.1/flavors.
func (c *Cloud) createFlavor(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Flavor struct {
			Name  string `json:"name"`
			RAM   int    `json:"ram"`
			VCPUs int    `json:"vcpus"`
			Disk  *int   `json:"disk"`
			ID    string `json:"id"`
		} `json:"flavor"`
	}
	json.Unmarshal(body, &req)
	if _, f := find(c.flavors, "name", req.Flavor.Name); f != nil {
		c.fail(w, 409, r.URL.Path, fmt.Sprintf("Flavor with name %s already exists.", req.Flavor.Name))
		return
	}
	f := template("nova-flavors-detail.json", "flavors")
	id := req.Flavor.ID
	if id == "" {
		id = c.newID(0xf1)
	}
	disk := 0
	if req.Flavor.Disk != nil {
		disk = *req.Flavor.Disk
	}
	f["id"], f["name"], f["ram"], f["vcpus"], f["disk"] = id, req.Flavor.Name, req.Flavor.RAM, req.Flavor.VCPUs, disk
	c.flavors = append(c.flavors, f)
	writeJSON(w, 200, obj{"flavor": f})
}

// listKeypairs answers GET /compute/v2.1/os-keypairs.
func (c *Cloud) listKeypairs(w http.ResponseWriter, r *http.Request, _ []byte) {
	var l []obj
	for _, k := range c.keypairs {
		l = append(l, obj{"keypair": obj{"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"], "type": k["type"]}})
	}
	if l == nil {
		l = []obj{}
	}
	writeJSON(w, 200, obj{"keypairs": l})
}

// createKeypair answers POST /compute/v2.1/os-keypairs.
func (c *Cloud) createKeypair(w http.ResponseWriter, r *http.Request, body []byte) {
	var req struct {
		Keypair struct {
			Name      string `json:"name"`
			PublicKey string `json:"public_key"`
		} `json:"keypair"`
	}
	json.Unmarshal(body, &req)
	if _, k := find(c.keypairs, "name", req.Keypair.Name); k != nil {
		c.fail(w, 409, r.URL.Path, fmt.Sprintf("Key pair '%s' already exists.", req.Keypair.Name))
		return
	}
	if req.Keypair.PublicKey == "" {
		c.fail(w, 400, r.URL.Path, "Invalid input for field/attribute keypair. Value: {'name': ...}. 'public_key' is a required property")
		return
	}
	k := obj{"name": req.Keypair.Name, "public_key": req.Keypair.PublicKey, "fingerprint": fmt.Sprintf("fake:%d", len(req.Keypair.PublicKey)), "type": "ssh", "user_id": "127f18415e5140cca7070c7ec85ed0f0"}
	c.keypairs = append(c.keypairs, k)
	writeJSON(w, 201, obj{"keypair": k}) // as recorded: testdata/recorded/nova-keypair-import.json
}

// listServices answers GET /compute/v2.1/os-services. A service that is
// up reported just now (on the fake's clock), as a live one does every
// report_interval.
func (c *Cloud) listServices(w http.ResponseWriter, r *http.Request, _ []byte) {
	l := filter(c.services, r.URL.Query())
	now := c.cfg.Now().UTC().Format("2006-01-02T15:04:05.000000")
	for i, s := range l {
		if s["state"] == "up" {
			cp := maps.Clone(s)
			cp["updated_at"] = now
			l[i] = cp
		}
	}
	writeJSON(w, 200, obj{"services": l})
}

// postServer answers POST /compute/v2.1/servers.
func (c *Cloud) postServer(w http.ResponseWriter, r *http.Request, body []byte) {
	c.createServer(w, r.URL.Path, body)
}

// listServersSummary answers GET /servers.
func (c *Cloud) listServersSummary(w http.ResponseWriter, r *http.Request, _ []byte) {
	c.listServers(w, r, r.URL.Path, false)
}

// listServersDetail answers GET /servers/detail.
func (c *Cloud) listServersDetail(w http.ResponseWriter, r *http.Request, _ []byte) {
	c.listServers(w, r, r.URL.Path, true)
}

// postServerAction answers POST /compute/v2.1/servers/{id}/action.
func (c *Cloud) postServerAction(w http.ResponseWriter, r *http.Request, body []byte) {
	c.serverAction(w, r.URL.Path, r.PathValue("id"), body)
}

// getServer answers GET /compute/v2.1/servers/{id}.
func (c *Cloud) getServer(w http.ResponseWriter, r *http.Request, _ []byte) {
	if sv := c.server(r.PathValue("id")); sv != nil {
		b := c.serverView(sv)
		c.noteServer(r.PathValue("id"), fmt.Sprint(b["status"]))
		writeJSON(w, 200, obj{"server": c.serverAt(b, r)})
		return
	}
	c.fail(w, 404, r.URL.Path, "Instance "+r.PathValue("id")+" could not be found.")
}

// deleteServer answers DELETE /compute/v2.1/servers/{id}.
func (c *Cloud) deleteServer(w http.ResponseWriter, r *http.Request, _ []byte) {
	sv := c.server(r.PathValue("id"))
	if sv == nil {
		c.fail(w, 404, r.URL.Path, "Instance "+r.PathValue("id")+" could not be found.")
		return
	}
	if sv.deleted.IsZero() {
		sv.deleted = c.cfg.Now()
	}
	w.WriteHeader(204)
}

// postRemoteConsole answers POST /compute/v2.1/servers/{id}/remote-consoles.
func (c *Cloud) postRemoteConsole(w http.ResponseWriter, r *http.Request, _ []byte) {
	sv := c.server(r.PathValue("id"))
	if sv == nil {
		c.fail(w, 404, r.URL.Path, "Instance "+r.PathValue("id")+" could not be found.")
		return
	}
	if !c.consoleOn {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(400)
		w.Write(c.consoleErr)
		return
	}
	writeJSON(w, 200, obj{"remote_console": obj{"protocol": "vnc", "type": "novnc", "url": c.base + "/vnc_auto.html?path=%3Ftoken%3Dfake-console-token"}})
}

// listServers answers GET /servers and /servers/detail. Like Nova, it
// treats the name filter as a regular expression searched anywhere in
// the name (Nova hands it to the database's REGEXP: "^vm$" is an exact
// match, "vm" matches "vm1" and "myvm"); an invalid expression is a 400
// (Nova on MySQL fails with a 500 instead). Other query parameters are
// ignored.
func (c *Cloud) listServers(w http.ResponseWriter, r *http.Request, p string, detail bool) {
	var re *regexp.Regexp
	if name := r.URL.Query().Get("name"); name != "" {
		var err error
		if re, err = regexp.Compile(name); err != nil {
			c.fail(w, 400, p, fmt.Sprintf("Invalid regular expression in name filter %q: %v", name, err))
			return
		}
	}
	l := []obj{}
	for _, sv := range c.servers {
		if c.gone(sv) {
			continue
		}
		if re != nil && !re.MatchString(fmt.Sprint(sv.body["name"])) {
			continue
		}
		b := c.serverAt(c.serverView(sv), r)
		if !detail {
			b = obj{"id": b["id"], "name": b["name"], "links": b["links"]}
		}
		// Like Nova (Zed, on the aio cloud), the list shows no fault:
		// only GET /servers/ID does (b may be the server's own body: copy).
		if _, ok := b["fault"]; ok {
			nb := obj{}
			for k, v := range b {
				if k != "fault" {
					nb[k] = v
				}
			}
			b = nb
		}
		l = append(l, b)
	}
	writeJSON(w, 200, obj{"servers": l})
}

// serverAction answers POST /servers/{id}/action for os-stop and
// os-start. Nova does both asynchronously (task_state powering-off, then
// vm_state stopped); the fake changes the state at once, so the next GET
// shows SHUTOFF (power_state 4, vm_state stopped) or ACTIVE (power_state
// 1, vm_state active). As the Linux bridge agent does when the tap goes
// away or comes back, the server's ports turn DOWN or ACTIVE. A server in
// the wrong state answers Nova's 409.
func (c *Cloud) serverAction(w http.ResponseWriter, p, id string, body []byte) {
	sv := c.server(id)
	if sv == nil {
		c.fail(w, 404, p, "Instance "+id+" could not be found.")
		return
	}
	var req map[string]json.RawMessage
	if err := json.Unmarshal(body, &req); err != nil || len(req) != 1 {
		c.fail(w, 400, p, "Malformed request body")
		return
	}
	var action string
	for k := range req {
		action = k
	}
	b := c.serverView(sv)
	vmState := fmt.Sprint(b["OS-EXT-STS:vm_state"])
	conflict := func(verb string) {
		c.fail(w, 409, p, fmt.Sprintf("Cannot '%s' instance %s while it is in vm_state %s", verb, id, vmState))
	}
	portStatus := ""
	switch action {
	case "os-getConsoleOutput":
		// Nova's answer: the console log's last "length" lines (all when
		// length is absent or negative).
		var o struct {
			Length *int `json:"length"`
		}
		json.Unmarshal(req[action], &o)
		out := sv.console
		if o.Length != nil && *o.Length >= 0 {
			lines := strings.SplitAfter(out, "\n")
			if lines[len(lines)-1] == "" {
				lines = lines[:len(lines)-1]
			}
			if len(lines) > *o.Length {
				lines = lines[len(lines)-*o.Length:]
			}
			out = strings.Join(lines, "")
		}
		writeJSON(w, 200, obj{"output": out})
		return
	case "os-stop":
		if !sv.deleted.IsZero() || (vmState != "active" && vmState != "error" && vmState != "rescued") {
			conflict("stop")
			return
		}
		b["status"], b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = "SHUTOFF", "stopped", nil, 4
		portStatus = "DOWN"
	case "os-start":
		if !sv.deleted.IsZero() || vmState != "stopped" {
			conflict("start")
			return
		}
		b["status"], b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = "ACTIVE", "active", nil, 1
		delete(b, "fault")
		portStatus = "ACTIVE"
	default:
		c.fail(w, 400, p, "There is no such action: "+action)
		return
	}
	sv.fault = nil
	b["updated"] = c.cfg.Now().UTC().Format(time.RFC3339)
	for _, pt := range c.ports {
		if pt["device_id"] == b["id"] {
			c.setPortStatus(pt, portStatus)
		}
	}
	w.WriteHeader(202)
}

func (c *Cloud) gone(sv *server) bool {
	g := !sv.deleted.IsZero() && !c.cfg.Now().Before(sv.deleted.Add(c.cfg.DeleteTime))
	if g {
		// Nova deletes the ports it created for the server.
		c.ports = slices.DeleteFunc(c.ports, func(p obj) bool { return p["device_id"] == sv.body["id"] })
	}
	return g
}

func (c *Cloud) server(id string) *server {
	for _, sv := range c.servers {
		if sv.body["id"] == id && !c.gone(sv) {
			return sv
		}
	}
	return nil
}

// serverView updates a server's status from the clock and returns its body.
func (c *Cloud) serverView(sv *server) obj {
	b := sv.body
	if sv.created.IsZero() || b["status"] == "ERROR" || b["status"] == "ACTIVE" || b["status"] == "SHUTOFF" {
		if !sv.deleted.IsZero() {
			b["OS-EXT-STS:task_state"] = "deleting"
		}
		return b
	}
	el := c.cfg.Now().Sub(sv.created)
	switch {
	case sv.fault != nil && el >= sv.fault.After:
		b["status"], b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"] = "ERROR", "error", nil
		b["OS-EXT-SRV-ATTR:host"], b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nil, nil
		b["fault"] = obj{"code": sv.fault.Code, "message": strings.ReplaceAll(sv.fault.Message, "{id}", fmt.Sprint(b["id"])), "details": strings.ReplaceAll(sv.fault.Details, "{id}", fmt.Sprint(b["id"])), "created": c.cfg.Now().UTC().Format(time.RFC3339)}
		if sv.fault.DeletePorts {
			c.ports = slices.DeleteFunc(c.ports, func(p obj) bool { return p["device_id"] == b["id"] })
			b["addresses"] = obj{}
		}
		if sv.fault.BindingFailed {
			for _, p := range c.ports {
				if p["device_id"] == b["id"] {
					p["binding:vif_type"] = "binding_failed"
					c.setPortStatus(p, "DOWN")
				}
			}
		}
	case sv.fault == nil && el >= sv.buildTime:
		b["status"], b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = "ACTIVE", "active", nil, 1
		b["OS-SRV-USG:launched_at"] = c.cfg.Now().UTC().Format("2006-01-02T15:04:05.000000")
		for _, p := range c.ports {
			if p["device_id"] == b["id"] {
				c.setPortStatus(p, "ACTIVE")
			}
		}
	default:
		if el > time.Second {
			b["OS-EXT-STS:task_state"] = "spawning"
		}
	}
	b["updated"] = c.cfg.Now().UTC().Format(time.RFC3339)
	return b
}

func (c *Cloud) createServer(w http.ResponseWriter, p string, body []byte) {
	var req struct {
		Server struct {
			Name      string `json:"name"`
			ImageRef  string `json:"imageRef"`
			FlavorRef string `json:"flavorRef"`
			KeyName   string `json:"key_name"`
			AZ        string `json:"availability_zone"`
			Host      string `json:"host"`
			Networks  []struct {
				UUID string `json:"uuid"`
				Port string `json:"port"`
			} `json:"networks"`
			SecurityGroups []struct {
				Name string `json:"name"`
			} `json:"security_groups"`
		} `json:"server"`
	}
	if err := json.Unmarshal(body, &req); err != nil {
		c.fail(w, 400, p, "Malformed request body")
		return
	}
	rq := req.Server
	_, fl := find(c.flavors, "id", rq.FlavorRef)
	if fl == nil {
		c.fail(w, 400, p, fmt.Sprintf("Flavor %s could not be found.", rq.FlavorRef))
		return
	}
	_, im := find(c.images, "id", rq.ImageRef)
	if im == nil {
		c.fail(w, 400, p, fmt.Sprintf("Image %s could not be found.", rq.ImageRef))
		return
	}
	if rq.KeyName != "" {
		if _, k := find(c.keypairs, "name", rq.KeyName); k == nil {
			c.fail(w, 400, p, "Invalid key_name provided.")
			return
		}
	}
	if len(rq.Networks) != 1 {
		c.fail(w, 409, p, "Multiple possible networks found, use a Network ID to be more specific.")
		return
	}
	id := c.newID(0x5e)
	var port obj
	if pid := rq.Networks[0].Port; pid != "" {
		_, port = find(c.ports, "id", pid)
		if port == nil {
			c.fail(w, 400, p, "Port "+pid+" not found.")
			return
		}
	} else {
		_, nw := find(c.networks, "id", rq.Networks[0].UUID)
		if nw == nil {
			c.fail(w, 400, p, fmt.Sprintf("Network %s could not be found.", rq.Networks[0].UUID))
			return
		}
		port = c.newPort(nw)
	}
	port["device_id"], port["device_owner"] = id, "compute:nova"
	port["binding:host_id"] = c.cfg.Host
	var groups []any
	for _, g := range rq.SecurityGroups {
		// Nova takes a group's name or ID (the CLI sends the ID) and
		// shows its name.
		name := g.Name
		if _, sg := find(c.secgroups, "id", name); sg != nil {
			name = fmt.Sprint(sg["name"])
		}
		groups = append(groups, obj{"name": name})
	}
	if groups == nil {
		groups = []any{obj{"name": "default"}}
	}
	b := template("nova-server.json", "server")
	now := c.cfg.Now().UTC()
	az := rq.AZ
	if az == "" {
		az = "nova"
	}
	seq := c.seq
	b["id"], b["name"], b["status"] = id, rq.Name, "BUILD"
	b["OS-EXT-SRV-ATTR:host"], b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = c.cfg.Host, c.cfg.Host
	b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = "building", "scheduling", 0
	b["OS-EXT-SRV-ATTR:instance_name"] = fmt.Sprintf("instance-%08x", seq)
	b["OS-EXT-SRV-ATTR:hostname"], b["description"] = rq.Name, rq.Name
	b["OS-EXT-AZ:availability_zone"] = az
	b["created"], b["updated"] = now.Format(time.RFC3339), now.Format(time.RFC3339)
	b["OS-SRV-USG:launched_at"] = nil
	b["key_name"] = nil
	if rq.KeyName != "" {
		b["key_name"] = rq.KeyName
	}
	b["security_groups"] = groups
	b["image"] = obj{"id": rq.ImageRef, "links": []any{}}
	b["flavor"] = obj{"vcpus": fl["vcpus"], "ram": fl["ram"], "disk": fl["disk"], "ephemeral": 0, "swap": 0, "original_name": fl["name"], "extra_specs": obj{}}
	var netName string
	if _, nw := find(c.networks, "id", fmt.Sprint(port["network_id"])); nw != nil {
		netName = fmt.Sprint(nw["name"])
	}
	var addrs []any
	for _, ip := range port["fixed_ips"].([]any) {
		addrs = append(addrs, obj{"version": 4, "addr": ip.(obj)["ip_address"], "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": port["mac_address"]})
	}
	b["addresses"] = obj{netName: addrs}
	sv := &server{body: b, created: c.cfg.Now(), buildTime: c.cfg.BuildTime}
	if f, ok := c.serverFaults[rq.Name]; ok {
		if f.After == 0 {
			f.After = c.cfg.ErrorTime
		}
		sv.fault = &f
	} else if !c.fits(c.cfg.Host, atoi(fl["vcpus"]), atoi(fl["ram"]), atoi(fl["disk"])) {
		f := noValidHost()
		f.After = c.cfg.ErrorTime
		sv.fault = &f
	}
	if sv.fault != nil && !sv.fault.DeletePorts {
		// (A build aborted on the host, DeletePorts, shows the host while
		// it builds; Nova clears it at ERROR.)
		b["OS-EXT-SRV-ATTR:host"], b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nil, nil
	}
	if sv.fault != nil {
		if strings.HasPrefix(sv.fault.Message, "No valid host") && rq.Networks[0].Port == "" {
			// The scheduler failed: nova-compute never allocated a port.
			c.ports = slices.DeleteFunc(c.ports, func(o obj) bool { return o["id"] == port["id"] })
			b["addresses"] = obj{}
		}
	}
	c.servers = append(c.servers, sv)
	c.noteServer(id, "BUILD")
	pass := fmt.Sprintf("AdminPass%06dSecret", seq)
	c.adminPasses = append(c.adminPasses, pass)
	writeJSON(w, 202, obj{"server": obj{"id": id, "links": []any{}, "OS-DCF:diskConfig": "MANUAL", "security_groups": groups, "adminPass": pass}})
}

func atoi(v any) int {
	n, _ := strconv.Atoi(fmt.Sprint(v))
	return n
}
