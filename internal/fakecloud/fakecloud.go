package fakecloud

import (
	"bytes"
	"context"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/url"
	"os"
	"slices"
	"strings"
	"sync"
	"syscall"
	"time"
)

//go:embed testdata/*.json testdata/recorded/*.json
var testdata embed.FS

// Credentials the fake Keystone accepts.
const (
	Username    = "admin"
	ProjectName = "admin"
	DomainName  = "Default"
	// Host is the compute host of the recorded cloud; servers land there.
	Host = "vm"
	// InternalBase is the base URL the catalog uses when the fake is driven
	// through Transport (nothing listens there).
	InternalBase = "http://fakecloud.invalid"
)

// Config tunes a Cloud. A nil *Config means all defaults.
type Config struct {
	// Password is the only password Keystone accepts. Zero: "fake-secret-password".
	Password string
	// BuildTime is how long a new server stays in BUILD before it is ACTIVE.
	// Zero: ACTIVE at the first GET after the create.
	BuildTime time.Duration
	// DeleteTime is how long a deleted server is still listed (status
	// DELETED... Nova shows ACTIVE with task_state deleting). Zero: gone at
	// once.
	DeleteTime time.Duration
	// HostRAMMiB is the RAM of the only compute host: its placement
	// MEMORY_MB inventory (reserved 0, allocation ratio 1). A server whose
	// flavor does not fit placement's inventories (this RAM, the recorded
	// VCPU and DISK_GB, minus what the host's servers use) goes to ERROR
	// with Nova's "No valid host was found." fault after ErrorTime. Zero:
	// 8192.
	HostRAMMiB int
	// ErrorTime is how long a server that fails stays in BUILD first.
	// Zero: 3 s (the scheduler's answer time seen on the recorded cloud).
	ErrorTime time.Duration
	// Fresh starts from a project where the walkthrough has not run yet:
	// no flavors, servers, networks, subnets or ports, and the default
	// security group without its ICMP and SSH rules. Zero: everything
	// recorded (m1.nano, m1.micro, provider1, its subnet, vm2 and its port).
	Fresh bool
	// Now is the fake's clock. Nil: time.Now.
	Now func() time.Time
	// Host is the name of the only compute (and network) node: the
	// recorded nova-compute service, Neutron agents, vm2 and its port are
	// renamed to it, and servers land there. Zero: Host ("vm", the
	// recorded cloud's).
	Host string
	// ControllerHost, when set (and not Host), makes the cloud two nodes,
	// as the walkthrough's: the controller ControllerHost runs
	// nova-conductor, nova-scheduler, the DHCP and metadata agents and a
	// Linux bridge agent of its own; Host stays the compute node
	// (nova-compute, its Linux bridge agent, the only hypervisor, where
	// servers land). Zero: one node, Host, runs everything.
	ControllerHost string
}

// Fault makes the fake answer matching requests with an error instead of
// serving them.
type Fault struct {
	// Method matches the HTTP method; "" matches any.
	Method string
	// Path is a substring of the request path (e.g. "/servers",
	// "/security-group-rules"); "" matches any.
	Path string
	// Status is the HTTP status to answer (409, 500, 503, 429 …).
	Status int
	// RetryAfter, if set, is sent as the Retry-After header.
	RetryAfter string
	// Reset drops the connection (TCP RST through Listen, ECONNRESET through
	// Transport) instead of answering.
	Reset bool
	// Times is how many matching requests the fault answers. Zero: 1.
	Times int
}

// ServerFault puts a server into ERROR the way Nova does.
type ServerFault struct {
	Code    int
	Message string
	Details string
	// After is how long the server stays in BUILD first. Zero: Config.ErrorTime.
	After time.Duration
	// BindingFailed marks the server's port binding:vif_type=binding_failed.
	BindingFailed bool
	// DeletePorts deletes the ports the create made when the server goes
	// to ERROR, as Nova does when it aborts a build after allocating the
	// network (VIFPluggingTimeout).
	DeletePorts bool
}

// VIFPluggingTimeout is the fault Nova records when nova-compute's
// vif_plugging_timeout runs out (the Linux bridge agent never reported the
// port ACTIVE): the server goes to ERROR after After, its host cleared and
// the ports Nova made deleted. Message and details are the ones recorded
// on the project's cloud (testdata/recorded/nova-server-vif-timeout-fault.json),
// with the server's ID in place of the recorded one.
func VIFPluggingTimeout(after time.Duration) ServerFault {
	f, id := recordedFault("recorded/nova-server-vif-timeout-fault.json")
	f.Message, f.Details = strings.ReplaceAll(f.Message, id, "{id}"), strings.ReplaceAll(f.Details, id, "{id}")
	f.After, f.DeletePorts = after, true
	return f
}

// Request is one request the fake saw.
type Request struct {
	Method string
	// Path is the URL path, with the service prefix (/compute/v2.1/servers).
	Path  string
	Query string
	// Status is what the fake answered (0 for a reset connection).
	Status int
	// Time is when the fake saw the request, on its clock (Config.Now).
	Time time.Time
	// UserAgent is the request's User-Agent header (gophercloud's,
	// python-novaclient's, openstacksdk's …), to tell clients apart.
	UserAgent string
	// ServerID is the Nova server a request created (POST /servers) or
	// showed (GET /servers/{id}); empty for other requests.
	ServerID string
	// ServerStatus is the status a GET /servers/{id} answered (BUILD,
	// ACTIVE, ERROR …), or BUILD for the server a POST created; empty
	// for other requests.
	ServerStatus string
}

type obj = map[string]any

type server struct {
	body      obj
	created   time.Time
	deleted   time.Time
	fault     *ServerFault
	buildTime time.Duration
	console   string // what os-getConsoleOutput answers (SetConsoleOutput)
}

// Cloud is the fake. Create it with New.
type Cloud struct {
	mu   sync.Mutex
	mux  *http.ServeMux
	cfg  Config
	base string

	tokenBody obj
	tokens    map[string]bool
	issued    []string
	seq       int

	flavors   []obj
	keypairs  []obj
	servers   []*server
	networks  []obj
	subnets   []obj
	ports     []obj
	secgroups []obj
	rules     []obj
	images    []obj
	services  []obj
	agents    []obj
	// placement and Nova's hypervisors (placement.go)
	providers     []*provider
	hypervisors   []obj
	placementVers []byte
	versions      []byte
	netVers       []byte
	imageVers     []byte
	consoleErr    []byte

	serverFaults map[string]ServerFault
	faults       []*Fault
	requests     []Request
	adminPasses  []string
	consoleOn    bool
}

// New returns a fake cloud whose catalog points at InternalBase; use
// Transport to reach it in-process, or Listen to serve it on a socket.
func New(cfg *Config) *Cloud {
	c := &Cloud{base: InternalBase, tokens: map[string]bool{}, serverFaults: map[string]ServerFault{}, consoleOn: true}
	if cfg != nil {
		c.cfg = *cfg
	}
	if c.cfg.Password == "" {
		c.cfg.Password = "fake-secret-password"
	}
	if c.cfg.HostRAMMiB == 0 {
		c.cfg.HostRAMMiB = 8192
	}
	if c.cfg.ErrorTime == 0 {
		c.cfg.ErrorTime = 3 * time.Second
	}
	if c.cfg.Now == nil {
		c.cfg.Now = time.Now
	}
	if c.cfg.Host == "" {
		c.cfg.Host = Host
	}
	c.load()
	c.loadPlacement()
	c.routes()
	if c.cfg.Host != Host {
		c.rehost()
	}
	if c.cfg.ControllerHost != "" && c.cfg.ControllerHost != c.cfg.Host {
		c.splitController()
	}
	return c
}

// splitController moves the controller's services and agents to
// Config.ControllerHost and gives it a Linux bridge agent (a copy of the
// compute node's, with its own ID).
func (c *Cloud) splitController() {
	ctl := c.cfg.ControllerHost
	for _, s := range c.services {
		if s["binary"] != "nova-compute" {
			s["host"] = ctl
		}
	}
	var lb obj
	for _, a := range c.agents {
		switch a["binary"] {
		case "neutron-linuxbridge-agent":
			lb = a
		default:
			a["host"] = ctl
		}
	}
	if lb != nil {
		b, _ := json.Marshal(lb)
		var cp obj
		json.Unmarshal(b, &cp)
		cp["id"], cp["host"] = c.newID(0xa9), ctl
		c.agents = append(c.agents, cp)
	}
}

// noValidHost is the fault the real Zed cloud recorded for a flavor no host
// can take (testdata/recorded/nova-server-error-fault.json).
func noValidHost() ServerFault {
	f, _ := recordedFault("recorded/nova-server-error-fault.json")
	return f
}

// recordedFault reads a server's fault (code, message, details) from a
// recorded Nova server body, with that server's ID.
func recordedFault(file string) (ServerFault, string) {
	var m struct {
		Server struct {
			ID    string `json:"id"`
			Fault struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Details string `json:"details"`
			} `json:"fault"`
		} `json:"server"`
	}
	if err := json.Unmarshal(mustRead(file), &m); err != nil {
		panic("fakecloud: recorded fault " + file + ": " + err.Error())
	}
	f := m.Server.Fault
	return ServerFault{Code: f.Code, Message: f.Message, Details: f.Details}, m.Server.ID
}

func mustRead(name string) []byte {
	b, err := testdata.ReadFile("testdata/" + name)
	if err != nil {
		panic("fakecloud: " + err.Error())
	}
	return b
}

func list(name, key string) []obj {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(mustRead(name), &m); err != nil {
		panic("fakecloud: " + name + ": " + err.Error())
	}
	var l []obj
	if err := json.Unmarshal(m[key], &l); err != nil {
		panic("fakecloud: " + name + ": " + err.Error())
	}
	return l
}

func (c *Cloud) load() {
	var tok obj
	if err := json.Unmarshal(mustRead("keystone-token.json"), &tok); err != nil {
		panic(err)
	}
	c.tokenBody = tok
	c.versions = mustRead("nova-versions.json")
	c.netVers = mustRead("neutron-versions.json")
	c.imageVers = mustRead("recorded/glance-versions.json")
	c.consoleErr = mustRead("nova-remote-console.json")
	c.images = list("glance-images.json", "images")
	c.services = list("nova-os-services.json", "services")
	c.agents = list("neutron-agents.json", "agents")
	c.secgroups = list("neutron-secgroups-default.json", "security_groups")
	for _, g := range c.secgroups {
		rs, _ := g["security_group_rules"].([]any)
		for _, r := range rs {
			r := r.(obj)
			if c.cfg.Fresh && (r["protocol"] == "icmp" || r["protocol"] == "tcp") {
				continue
			}
			c.rules = append(c.rules, r)
		}
		delete(g, "security_group_rules")
	}
	if c.cfg.Fresh {
		return
	}
	c.flavors = list("nova-flavors-detail.json", "flavors")
	c.networks = list("neutron-networks.json", "networks")
	c.subnets = list("neutron-subnets.json", "subnets")
	c.ports = list("neutron-ports-by-device.json", "ports")
	var s map[string]obj
	if err := json.Unmarshal(mustRead("nova-server.json"), &s); err != nil {
		panic(err)
	}
	c.servers = append(c.servers, &server{body: s["server"], created: time.Time{}})
}

// rehost moves what the recorded cloud had on its host "vm" to Config.Host.
func (c *Cloud) rehost() {
	set := func(o obj, keys ...string) {
		for _, k := range keys {
			if o[k] == Host {
				o[k] = c.cfg.Host
			}
		}
	}
	for _, o := range c.services {
		set(o, "host")
	}
	for _, o := range c.agents {
		set(o, "host")
	}
	for _, o := range c.ports {
		set(o, "binding:host_id")
	}
	for _, sv := range c.servers {
		set(sv.body, "OS-EXT-SRV-ATTR:host", "OS-EXT-SRV-ATTR:hypervisor_hostname")
	}
	for _, p := range c.providers {
		set(p.body, "name")
	}
	for _, h := range c.hypervisors {
		set(h, "hypervisor_hostname")
		if s, ok := h["service"].(obj); ok {
			set(s, "host")
		}
	}
}

// template returns a deep copy of the first recorded object in name.
func template(name, key string) obj {
	var m map[string]json.RawMessage
	if err := json.Unmarshal(mustRead(name), &m); err != nil {
		panic(err)
	}
	var o obj
	raw := m[key]
	if raw[0] == '[' {
		var l []obj
		if err := json.Unmarshal(raw, &l); err != nil {
			panic(err)
		}
		o = l[0]
	} else if err := json.Unmarshal(raw, &o); err != nil {
		panic(err)
	}
	return o
}

// AuthURL is the Keystone v3 endpoint.
func (c *Cloud) AuthURL() string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return c.base + "/identity/v3/"
}

// Password is the password Keystone accepts.
func (c *Cloud) Password() string { return c.cfg.Password }

// CloudsYAML returns a clouds.yaml naming one cloud, cloudName, that
// authenticates against the fake with a password.
func (c *Cloud) CloudsYAML(cloudName string) string {
	return fmt.Sprintf(`clouds:
  %s:
    auth:
      auth_url: %s
      username: %s
      password: %s
      project_name: %s
      user_domain_name: %s
      project_domain_name: %s
    region_name: RegionOne
    interface: public
    identity_api_version: 3
`, cloudName, c.AuthURL(), Username, c.cfg.Password, ProjectName, DomainName, DomainName)
}

// Transport returns an http.RoundTripper that serves requests in-process by
// calling the fake's handler on the caller's goroutine: no socket, so it
// works inside a testing/synctest bubble.
func (c *Cloud) Transport() http.RoundTripper { return transport{c} }

type transport struct{ c *Cloud }

type recorder struct {
	*httptest.ResponseRecorder
	reset bool
}

func (t transport) RoundTrip(req *http.Request) (*http.Response, error) {
	if err := req.Context().Err(); err != nil {
		return nil, err
	}
	rec := &recorder{ResponseRecorder: httptest.NewRecorder()}
	if req.Body != nil {
		b, _ := io.ReadAll(req.Body)
		req.Body.Close()
		req.Body = io.NopCloser(bytes.NewReader(b))
	}
	t.c.ServeHTTP(rec, req)
	if rec.reset {
		return nil, &net.OpError{Op: "read", Net: "tcp", Err: os.NewSyscallError("read", syscall.ECONNRESET)}
	}
	resp := rec.Result()
	resp.Request = req
	return resp, nil
}

// Inject queues a fault; faults are matched in the order injected.
func (c *Cloud) Inject(f Fault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if f.Times == 0 {
		f.Times = 1
	}
	c.faults = append(c.faults, &f)
}

// FailServer makes every server created with this name go to ERROR with f.
func (c *Cloud) FailServer(name string, f ServerFault) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.serverFaults[name] = f
}

// SetService sets the state ("up"/"down") of a Nova service on a host.
func (c *Cloud) SetService(binary, host, state string) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, s := range c.services {
		if s["binary"] == binary && s["host"] == host {
			s["state"] = state
		}
	}
}

// SetAgent sets whether the Neutron agent of agentType on host is alive.
// An agent set dead last heartbeat two minutes ago (past Neutron's
// agent_down_time, 75 s); an alive one heartbeats at every list.
func (c *Cloud) SetAgent(agentType, host string, alive bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if a["agent_type"] == agentType && a["host"] == host {
			a["alive"] = alive
			if !alive {
				a["heartbeat_timestamp"] = c.cfg.Now().Add(-2 * time.Minute).UTC().Format(agentTime)
			}
		}
	}
}

// SetConsole turns the noVNC console on (the default) or off; off answers
// the recorded 400 "Unavailable console type novnc.".
func (c *Cloud) SetConsole(on bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.consoleOn = on
}

// SetConsoleOutput sets what os-getConsoleOutput answers for the server
// with this ID (Nova's console.log of the instance); it reports whether
// the server exists.
func (c *Cloud) SetConsoleOutput(id, output string) bool {
	c.mu.Lock()
	defer c.mu.Unlock()
	sv := c.server(id)
	if sv != nil {
		sv.console = output
	}
	return sv != nil
}

// ExpireTokens revokes every token issued so far: the next request with one
// gets 401 and the client must authenticate again.
func (c *Cloud) ExpireTokens() {
	c.mu.Lock()
	defer c.mu.Unlock()
	clear(c.tokens)
}

// Tokens returns every token the fake issued (secrets a client must never
// log).
func (c *Cloud) Tokens() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.issued)
}

// PostServer creates a server through Nova's own API, as another client
// would (a POST to /servers with the newest token), from the names of a
// flavor, an image and a network the fake holds. Tests use it for what
// launch never does itself, such as a second server with a name in use.
// A client must have authenticated first.
func (c *Cloud) PostServer(name, flavor, image, network string) error {
	c.mu.Lock()
	_, fl := find(c.flavors, "name", flavor)
	_, im := find(c.images, "name", image)
	_, nw := find(c.networks, "name", network)
	var tok string
	if len(c.issued) > 0 {
		tok = c.issued[len(c.issued)-1]
	}
	c.mu.Unlock()
	switch {
	case fl == nil || im == nil || nw == nil:
		return fmt.Errorf("fakecloud: post server %s: flavor %q, image %q or network %q not in the fake", name, flavor, image, network)
	case tok == "":
		return fmt.Errorf("fakecloud: post server %s: no token issued yet: authenticate a client first", name)
	}
	body := fmt.Sprintf(`{"server":{"name":%q,"flavorRef":"%v","imageRef":"%v","networks":[{"uuid":"%v"}]}}`, name, fl["id"], im["id"], nw["id"])
	req, err := http.NewRequest(http.MethodPost, InternalBase+"/compute/v2.1/servers", strings.NewReader(body))
	if err != nil {
		return err
	}
	req.Header.Set("X-Auth-Token", tok)
	req.Header.Set("Content-Type", "application/json")
	resp, err := c.Transport().RoundTrip(req)
	if err != nil {
		return fmt.Errorf("fakecloud: post server %s: %w", name, err)
	}
	defer resp.Body.Close()
	if resp.StatusCode != http.StatusAccepted {
		b, _ := io.ReadAll(resp.Body)
		return fmt.Errorf("fakecloud: post server %s: HTTP %d: %s", name, resp.StatusCode, b)
	}
	return nil
}

// AdminPasswords returns every adminPass the fake returned from a server
// create (secrets a client must never log).
func (c *Cloud) AdminPasswords() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.adminPasses)
}

// Requests returns every request seen so far.
func (c *Cloud) Requests() []Request {
	c.mu.Lock()
	defer c.mu.Unlock()
	return slices.Clone(c.requests)
}

// ResetRequests forgets the requests seen so far.
func (c *Cloud) ResetRequests() {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.requests = nil
}

// Count returns how many requests had this method ("" any) and a path
// containing pathSubstr.
func (c *Cloud) Count(method, pathSubstr string) int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.requests {
		if (method == "" || r.Method == method) && strings.Contains(r.Path, pathSubstr) {
			n++
		}
	}
	return n
}

// ServerPolls counts GET /servers/{id} requests (status polls).
func (c *Cloud) ServerPolls() int {
	c.mu.Lock()
	defer c.mu.Unlock()
	n := 0
	for _, r := range c.requests {
		rest, ok := strings.CutPrefix(r.Path, "/compute/v2.1/servers/")
		if ok && r.Method == http.MethodGet && rest != "detail" && !strings.Contains(rest, "/") {
			n++
		}
	}
	return n
}

// Names lists the names of the objects of one kind ("flavors", "keypairs",
// "servers", "networks", "subnets", "security-group-rules" (ids)).
func (c *Cloud) Names(kind string) []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	var l []obj
	switch kind {
	case "flavors":
		l = c.flavors
	case "keypairs":
		l = c.keypairs
	case "servers":
		for _, s := range c.servers {
			if !c.gone(s) {
				l = append(l, s.body)
			}
		}
	case "networks":
		l = c.networks
	case "subnets":
		l = c.subnets
	case "security-group-rules":
		var ids []string
		for _, r := range c.rules {
			ids = append(ids, fmt.Sprint(r["id"]))
		}
		return ids
	}
	var out []string
	for _, o := range l {
		out = append(out, fmt.Sprint(o["name"]))
	}
	return out
}

// AddImage adds a copy of the recorded aio-tiny image under another id,
// with the given name (to make names ambiguous).
func (c *Cloud) AddImage(name string) string {
	c.mu.Lock()
	defer c.mu.Unlock()
	im := template("glance-images.json", "images")
	id := c.newID(0x1a)
	im["id"], im["name"] = id, name
	c.images = append(c.images, im)
	return id
}

func (c *Cloud) newID(kind int) string {
	c.seq++
	return fmt.Sprintf("%08x-0000-4000-8000-%012x", 0xfa000000+kind, c.seq)
}

// ServeHTTP implements http.Handler.
func (c *Cloud) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	c.mu.Lock()
	defer c.mu.Unlock()
	var body []byte
	if r.Body != nil {
		body, _ = io.ReadAll(r.Body)
	}
	c.requests = append(c.requests, Request{Method: r.Method, Path: r.URL.Path, Query: r.URL.RawQuery, Time: c.cfg.Now(), UserAgent: r.UserAgent()})
	idx := len(c.requests) - 1
	rw := &rebaseWriter{ResponseWriter: w}
	sw := &statusWriter{ResponseWriter: rw}
	defer func() {
		c.requests[idx].Status = sw.status
		rw.flush(c)
	}()

	for i, f := range c.faults {
		if (f.Method == "" || f.Method == r.Method) && strings.Contains(r.URL.Path, f.Path) {
			f.Times--
			if f.Times <= 0 {
				c.faults = slices.Delete(c.faults, i, i+1)
			}
			if f.Reset {
				reset(w)
				return
			}
			if f.RetryAfter != "" {
				w.Header().Set("Retry-After", f.RetryAfter)
			}
			c.fail(sw, f.Status, r.URL.Path, fmt.Sprintf("injected fault %d", f.Status))
			return
		}
	}
	path := r.URL.Path
	// The services ignore a trailing slash (/servers/ is /servers).
	if p := strings.TrimSuffix(path, "/"); p != path && strings.Count(path, "/") > 2 {
		r2 := r.Clone(r.Context())
		r2.URL.Path = p
		r = r2
	}
	r = r.WithContext(context.WithValue(r.Context(), bodyKey{}, body))
	c.mux.ServeHTTP(sw, r)
}

type bodyKey struct{}

// listOf is the handler of a GET that lists *list, filtered by the
// query, as {name: [...]}.
func (c *Cloud) listOf(list *[]obj, name string) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		writeJSON(w, 200, obj{name: filter(*list, r.URL.Query())})
	}
}

// getFrom is the handler of a GET …/{id} that answers {name: object} for
// the object of *list whose key field is {id}, or calls missing (each
// service words its 404 in its own way).
func (c *Cloud) getFrom(list *[]obj, key, name string, missing func(http.ResponseWriter, *http.Request)) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if _, o := find(*list, key, r.PathValue("id")); o != nil {
			writeJSON(w, 200, obj{name: o})
			return
		}
		missing(w, r)
	}
}

// deleteFrom is the handler of a DELETE …/{id} that removes the object
// of *list whose key field is {id}, answering status (Nova 202, Neutron
// 204), or 404 when there is none.
func (c *Cloud) deleteFrom(list *[]obj, key string, status int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, r *http.Request, _ []byte) {
		if i, _ := find(*list, key, r.PathValue("id")); i >= 0 {
			*list = slices.Delete(*list, i, i+1)
			w.WriteHeader(status)
			return
		}
		c.notFound(w, r.URL.Path)
	}
}

// handle registers a handler for a method-and-path pattern
// ("GET /network/v2.0/ports/{id}") that needs a valid X-Auth-Token (401
// without one, as every service answers); it gets the request body read
// once.
func (c *Cloud) handle(pattern string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		if !c.tokens[r.Header.Get("X-Auth-Token")] {
			unauthorized(w)
			return
		}
		b, _ := r.Context().Value(bodyKey{}).([]byte)
		h(w, r, b)
	})
}

// public registers a handler, as handle does, for what the services
// answer without a token: Keystone's API and every version document.
func (c *Cloud) public(pattern string, h func(w http.ResponseWriter, r *http.Request, body []byte)) {
	c.mux.HandleFunc(pattern, func(w http.ResponseWriter, r *http.Request) {
		b, _ := r.Context().Value(bodyKey{}).([]byte)
		h(w, r, b)
	})
}

// unauthorized answers Keystone's 401 for a missing or revoked token.
func unauthorized(w http.ResponseWriter) {
	writeJSON(w, http.StatusUnauthorized, obj{"error": obj{"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
}

// routes builds the mux: one file per service registers its patterns
// (keystone.go, nova.go, neutron.go, glance.go, placement.go); what
// no pattern matches is a 404 (a 401 first without a token).
func (c *Cloud) routes() {
	c.mux = http.NewServeMux()
	c.keystoneRoutes()
	c.novaRoutes()
	c.neutronRoutes()
	c.glanceRoutes()
	c.placementRoutes()
	c.handle("/", func(w http.ResponseWriter, r *http.Request, _ []byte) { c.notFound(w, r.URL.Path) })
}

type statusWriter struct {
	http.ResponseWriter
	status int
}

func (s *statusWriter) WriteHeader(code int) {
	s.status = code
	s.ResponseWriter.WriteHeader(code)
}

func reset(w http.ResponseWriter) {
	if rec, ok := w.(*recorder); ok {
		rec.reset = true
		return
	}
	hj, ok := w.(http.Hijacker)
	if !ok {
		panic(http.ErrAbortHandler)
	}
	conn, _, err := hj.Hijack()
	if err != nil {
		panic(http.ErrAbortHandler)
	}
	if tc, ok := conn.(*net.TCPConn); ok {
		tc.SetLinger(0)
	}
	conn.Close()
}

func writeJSON(w http.ResponseWriter, status int, v any) {
	w.Header().Set("Content-Type", "application/json")
	w.WriteHeader(status)
	json.NewEncoder(w).Encode(v)
}

// fail answers an error in the body shape of the service that path belongs
// to (Nova's {"badRequest": {...}}, Neutron's {"NeutronError": {...}}).
func (c *Cloud) fail(w http.ResponseWriter, status int, path, msg string) {
	if strings.HasPrefix(path, "/network") {
		typ := map[int]string{404: "NotFound", 409: "Conflict", 400: "BadRequest"}[status]
		if typ == "" {
			typ = "HTTPError"
		}
		writeJSON(w, status, obj{"NeutronError": obj{"type": typ, "message": msg, "detail": ""}})
		return
	}
	key := map[int]string{400: "badRequest", 404: "itemNotFound", 409: "conflictingRequest", 429: "overLimit", 403: "forbidden"}[status]
	if key == "" {
		key = "computeFault"
	}
	writeJSON(w, status, obj{key: obj{"code": status, "message": msg}})
}

func (c *Cloud) notFound(w http.ResponseWriter, path string) {
	c.fail(w, http.StatusNotFound, path, "The resource could not be found.")
}

// filter keeps the objects whose fields equal every query parameter that
// names a field the objects have (other parameters are ignored, as the
// services ignore unknown ones).
func filter(l []obj, q url.Values) []obj {
	var out []obj
next:
	for _, o := range l {
		for k, vs := range q {
			v, ok := o[k]
			if !ok {
				continue
			}
			if !slices.Contains(vs, fmt.Sprint(v)) {
				continue next
			}
		}
		out = append(out, o)
	}
	if out == nil {
		out = []obj{}
	}
	return out
}

func find(l []obj, key, val string) (int, obj) {
	for i, o := range l {
		if fmt.Sprint(o[key]) == val {
			return i, o
		}
	}
	return -1, nil
}
