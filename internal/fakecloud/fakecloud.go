package fakecloud

import (
	"bytes"
	"embed"
	"encoding/json"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/http/httptest"
	"net/netip"
	"net/url"
	"os"
	"regexp"
	"slices"
	"strconv"
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
	// HostRAMMiB is the RAM of the only compute host: a server whose flavor
	// asks for more goes to ERROR with Nova's "No valid host was found."
	// fault after ErrorTime. Zero: 8192.
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
}

// Cloud is the fake. Create it with New.
type Cloud struct {
	mu   sync.Mutex
	cfg  Config
	base string

	tokenBody obj
	tokens    map[string]bool
	issued    []string
	seq       int

	flavors    []obj
	keypairs   []obj
	servers    []*server
	networks   []obj
	subnets    []obj
	ports      []obj
	secgroups  []obj
	rules      []obj
	images     []obj
	services   []obj
	agents     []obj
	versions   []byte
	netVers    []byte
	imageVers  []byte
	consoleErr []byte

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
	if c.cfg.Host != Host {
		c.rehost()
	}
	return c
}

// noValidHost is the fault the real Zed cloud recorded for a flavor no host
// can take (testdata/recorded/nova-server-error-fault.json).
func noValidHost() ServerFault {
	var m struct {
		Server struct {
			Fault struct {
				Code    int    `json:"code"`
				Message string `json:"message"`
				Details string `json:"details"`
			} `json:"fault"`
		} `json:"server"`
	}
	if err := json.Unmarshal(mustRead("recorded/nova-server-error-fault.json"), &m); err != nil {
		panic("fakecloud: recorded fault: " + err.Error())
	}
	f := m.Server.Fault
	return ServerFault{Code: f.Code, Message: f.Message, Details: f.Details}
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
func (c *Cloud) SetAgent(agentType, host string, alive bool) {
	c.mu.Lock()
	defer c.mu.Unlock()
	for _, a := range c.agents {
		if a["agent_type"] == agentType && a["host"] == host {
			a["alive"] = alive
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
	if c.identityVersions(sw, r) {
		return
	}
	if rest, ok := strings.CutPrefix(path, "/identity/v3"); ok {
		c.identity(sw, r, rest, body)
		return
	}
	if tok := r.Header.Get("X-Auth-Token"); !c.tokens[tok] && !isVersionRoot(path) {
		writeJSON(sw, http.StatusUnauthorized, obj{"error": obj{"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	switch {
	case strings.HasPrefix(path, "/compute/v2.1"):
		c.compute(sw, r, strings.TrimPrefix(path, "/compute/v2.1"), body)
	case path == "/compute/" || path == "/compute":
		sw.Header().Set("Content-Type", "application/json")
		sw.WriteHeader(http.StatusOK)
		sw.Write(c.rebase(c.versions))
	case strings.HasPrefix(path, "/network/v2.0"):
		c.network(sw, r, strings.TrimPrefix(path, "/network/v2.0"), body)
	case path == "/network/" || path == "/network":
		sw.Header().Set("Content-Type", "application/json")
		sw.WriteHeader(http.StatusOK)
		sw.Write(c.rebase(c.netVers))
	case path == "/image/" || path == "/image":
		// Glance Zed's version document as recorded (v2.15 CURRENT).
		sw.Header().Set("Content-Type", "application/json")
		sw.WriteHeader(http.StatusMultipleChoices)
		sw.Write(c.rebase(c.imageVers))
	case strings.HasPrefix(path, "/image/v2"):
		c.image(sw, r, strings.TrimPrefix(path, "/image/v2"))
	default:
		c.notFound(sw, path)
	}
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

func (c *Cloud) identity(w http.ResponseWriter, r *http.Request, rest string, body []byte) {
	if r.Method != http.MethodPost || strings.TrimSuffix(rest, "/") != "/auth/tokens" {
		c.notFound(w, "/identity")
		return
	}
	var req struct {
		Auth struct {
			Identity struct {
				Password struct {
					User struct {
						Name     string `json:"name"`
						Password string `json:"password"`
					} `json:"user"`
				} `json:"password"`
			} `json:"identity"`
		} `json:"auth"`
	}
	if err := json.Unmarshal(body, &req); err != nil || req.Auth.Identity.Password.User.Name != Username || req.Auth.Identity.Password.User.Password != c.cfg.Password {
		writeJSON(w, http.StatusUnauthorized, obj{"error": obj{"code": 401, "title": "Unauthorized", "message": "The request you have made requires authentication."}})
		return
	}
	c.seq++
	tok := fmt.Sprintf("gAAAAAfake-token-%06d-secret", c.seq)
	c.tokens[tok] = true
	c.issued = append(c.issued, tok)
	b, _ := json.Marshal(c.tokenBody)
	var body2 obj
	json.Unmarshal(b, &body2)
	t := body2["token"].(obj)
	now := c.cfg.Now().UTC()
	t["issued_at"] = now.Format("2006-01-02T15:04:05.000000Z")
	t["expires_at"] = now.Add(time.Hour).Format("2006-01-02T15:04:05.000000Z")
	svcPath := map[string]string{"compute": "/compute/v2.1", "network": "/network", "image": "/image", "identity": "/identity/v3/", "placement": "/placement"}
	for _, e := range t["catalog"].([]any) {
		e := e.(obj)
		for _, ep := range e["endpoints"].([]any) {
			ep.(obj)["url"] = c.base + svcPath[e["type"].(string)]
		}
	}
	w.Header().Set("X-Subject-Token", tok)
	writeJSON(w, http.StatusCreated, body2)
}

func seg(rest string) []string {
	rest = strings.Trim(rest, "/")
	if rest == "" {
		return nil
	}
	return strings.Split(rest, "/")
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

func (c *Cloud) compute(w http.ResponseWriter, r *http.Request, rest string, body []byte) {
	s := seg(rest)
	p := "/compute" + rest
	switch {
	case len(s) == 1 && s[0] == "flavors" && r.Method == http.MethodGet:
		// The summary list (novaclient's find by name starts here): id,
		// name and links of each flavor, as Nova answers below 2.55.
		l := []obj{}
		for _, f := range c.flavors {
			l = append(l, obj{"id": f["id"], "name": f["name"], "links": f["links"]})
		}
		writeJSON(w, 200, obj{"flavors": l})
	case len(s) == 2 && s[0] == "flavors" && s[1] == "detail" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"flavors": filter(c.flavors, url.Values{})})
	case len(s) == 2 && s[0] == "flavors" && r.Method == http.MethodGet:
		if _, f := find(c.flavors, "id", s[1]); f != nil {
			writeJSON(w, 200, obj{"flavor": f})
			return
		}
		c.fail(w, 404, p, fmt.Sprintf("Flavor %s could not be found.", s[1]))
	case len(s) == 1 && s[0] == "flavors" && r.Method == http.MethodPost:
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
			c.fail(w, 409, p, fmt.Sprintf("Flavor with name %s already exists.", req.Flavor.Name))
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
	case len(s) == 2 && s[0] == "flavors" && r.Method == http.MethodDelete:
		if i, _ := find(c.flavors, "id", s[1]); i >= 0 {
			c.flavors = slices.Delete(c.flavors, i, i+1)
			w.WriteHeader(202)
			return
		}
		c.notFound(w, p)
	case len(s) == 1 && s[0] == "os-keypairs" && r.Method == http.MethodGet:
		var l []obj
		for _, k := range c.keypairs {
			l = append(l, obj{"keypair": obj{"name": k["name"], "public_key": k["public_key"], "fingerprint": k["fingerprint"], "type": k["type"]}})
		}
		if l == nil {
			l = []obj{}
		}
		writeJSON(w, 200, obj{"keypairs": l})
	case len(s) == 2 && s[0] == "os-keypairs" && r.Method == http.MethodGet:
		if _, k := find(c.keypairs, "name", s[1]); k != nil {
			writeJSON(w, 200, obj{"keypair": k})
			return
		}
		c.fail(w, 404, p, fmt.Sprintf("Keypair %s not found for user 127f18415e5140cca7070c7ec85ed0f0", s[1]))
	case len(s) == 1 && s[0] == "os-keypairs" && r.Method == http.MethodPost:
		var req struct {
			Keypair struct {
				Name      string `json:"name"`
				PublicKey string `json:"public_key"`
			} `json:"keypair"`
		}
		json.Unmarshal(body, &req)
		if _, k := find(c.keypairs, "name", req.Keypair.Name); k != nil {
			c.fail(w, 409, p, fmt.Sprintf("Key pair '%s' already exists.", req.Keypair.Name))
			return
		}
		if req.Keypair.PublicKey == "" {
			c.fail(w, 400, p, "Invalid input for field/attribute keypair. Value: {'name': ...}. 'public_key' is a required property")
			return
		}
		k := obj{"name": req.Keypair.Name, "public_key": req.Keypair.PublicKey, "fingerprint": fmt.Sprintf("fake:%d", len(req.Keypair.PublicKey)), "type": "ssh", "user_id": "127f18415e5140cca7070c7ec85ed0f0"}
		c.keypairs = append(c.keypairs, k)
		writeJSON(w, 201, obj{"keypair": k}) // as recorded: testdata/recorded/nova-keypair-import.json
	case len(s) == 2 && s[0] == "os-keypairs" && r.Method == http.MethodDelete:
		if i, _ := find(c.keypairs, "name", s[1]); i >= 0 {
			c.keypairs = slices.Delete(c.keypairs, i, i+1)
			w.WriteHeader(202)
			return
		}
		c.notFound(w, p)
	case len(s) == 1 && s[0] == "os-services" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"services": filter(c.services, r.URL.Query())})
	case len(s) == 1 && s[0] == "servers" && r.Method == http.MethodPost:
		c.createServer(w, p, body)
	case len(s) <= 2 && len(s) >= 1 && s[0] == "servers" && (len(s) == 1 || s[1] == "detail") && r.Method == http.MethodGet:
		c.listServers(w, r, p, len(s) == 2)
	case len(s) == 3 && s[0] == "servers" && s[2] == "action" && r.Method == http.MethodPost:
		c.serverAction(w, p, s[1], body)
	case len(s) == 2 && s[0] == "servers" && r.Method == http.MethodGet:
		if sv := c.server(s[1]); sv != nil {
			b := c.serverView(sv)
			c.noteServer(s[1], fmt.Sprint(b["status"]))
			writeJSON(w, 200, obj{"server": c.serverAt(b, r)})
			return
		}
		c.fail(w, 404, p, "Instance "+s[1]+" could not be found.")
	case len(s) == 2 && s[0] == "servers" && r.Method == http.MethodDelete:
		sv := c.server(s[1])
		if sv == nil {
			c.fail(w, 404, p, "Instance "+s[1]+" could not be found.")
			return
		}
		if sv.deleted.IsZero() {
			sv.deleted = c.cfg.Now()
		}
		w.WriteHeader(204)
	case len(s) == 3 && s[0] == "servers" && s[2] == "remote-consoles" && r.Method == http.MethodPost:
		sv := c.server(s[1])
		if sv == nil {
			c.fail(w, 404, p, "Instance "+s[1]+" could not be found.")
			return
		}
		if !c.consoleOn {
			w.Header().Set("Content-Type", "application/json")
			w.WriteHeader(400)
			w.Write(c.consoleErr)
			return
		}
		writeJSON(w, 200, obj{"remote_console": obj{"protocol": "vnc", "type": "novnc", "url": c.base + "/vnc_auto.html?path=%3Ftoken%3Dfake-console-token"}})
	default:
		c.notFound(w, p)
	}
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
			pt["status"] = portStatus
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
		b["fault"] = obj{"code": sv.fault.Code, "message": sv.fault.Message, "details": sv.fault.Details, "created": c.cfg.Now().UTC().Format(time.RFC3339)}
		if sv.fault.BindingFailed {
			for _, p := range c.ports {
				if p["device_id"] == b["id"] {
					p["binding:vif_type"], p["status"] = "binding_failed", "DOWN"
				}
			}
		}
	case sv.fault == nil && el >= sv.buildTime:
		b["status"], b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = "ACTIVE", "active", nil, 1
		b["OS-SRV-USG:launched_at"] = c.cfg.Now().UTC().Format("2006-01-02T15:04:05.000000")
		for _, p := range c.ports {
			if p["device_id"] == b["id"] {
				p["status"] = "ACTIVE"
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
	} else if ram, _ := strconv.Atoi(fmt.Sprint(fl["ram"])); ram > c.cfg.HostRAMMiB {
		f := noValidHost()
		f.After = c.cfg.ErrorTime
		sv.fault = &f
	}
	if sv.fault != nil {
		b["OS-EXT-SRV-ATTR:host"], b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = nil, nil
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

func (c *Cloud) newPort(nw obj) obj {
	p := template("neutron-ports-by-device.json", "ports")
	id := c.newID(0x90)
	p["id"], p["network_id"], p["status"] = id, nw["id"], "DOWN"
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

func (c *Cloud) network(w http.ResponseWriter, r *http.Request, rest string, body []byte) {
	s := seg(rest)
	p := "/network" + rest
	q := r.URL.Query()
	switch {
	case len(s) == 1 && s[0] == "networks" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"networks": filter(c.networks, q)})
	case len(s) == 2 && s[0] == "networks" && r.Method == http.MethodGet:
		if _, n := find(c.networks, "id", s[1]); n != nil {
			writeJSON(w, 200, obj{"network": n})
			return
		}
		c.neutronNotFound(w, "NetworkNotFound", "Network "+s[1]+" could not be found.")
	case len(s) == 3 && s[0] == "networks" && s[2] == "dhcp-agents" && r.Method == http.MethodGet:
		var l []obj
		for _, a := range c.agents {
			if a["agent_type"] != "DHCP agent" {
				continue
			}
			for _, sn := range c.subnets {
				if sn["network_id"] == s[1] && sn["enable_dhcp"] == true {
					l = append(l, a)
					break
				}
			}
		}
		if l == nil {
			l = []obj{}
		}
		writeJSON(w, 200, obj{"agents": l})
	case len(s) == 1 && s[0] == "networks" && r.Method == http.MethodPost:
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
	case len(s) == 2 && s[0] == "networks" && r.Method == http.MethodDelete:
		i, _ := find(c.networks, "id", s[1])
		if i < 0 {
			c.notFound(w, p)
			return
		}
		for _, pt := range c.ports {
			if pt["network_id"] == s[1] && pt["device_owner"] != "network:dhcp" {
				c.fail(w, 409, p, fmt.Sprintf("Unable to complete operation on network %s. There are one or more ports still in use on the network.", s[1]))
				return
			}
		}
		c.networks = slices.Delete(c.networks, i, i+1)
		c.subnets = slices.DeleteFunc(c.subnets, func(o obj) bool { return o["network_id"] == s[1] })
		w.WriteHeader(204)
	case len(s) == 1 && s[0] == "subnets" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"subnets": filter(c.subnets, q)})
	case len(s) == 2 && s[0] == "subnets" && r.Method == http.MethodGet:
		if _, sn := find(c.subnets, "id", s[1]); sn != nil {
			writeJSON(w, 200, obj{"subnet": sn})
			return
		}
		c.fail(w, 404, p, "Subnet "+s[1]+" could not be found.")
	case len(s) == 2 && s[0] == "ports" && r.Method == http.MethodGet:
		if _, pt := find(c.ports, "id", s[1]); pt != nil {
			writeJSON(w, 200, obj{"port": pt})
			return
		}
		c.fail(w, 404, p, "Port "+s[1]+" could not be found.")
	case len(s) == 1 && s[0] == "subnets" && r.Method == http.MethodPost:
		var req struct {
			Subnet obj `json:"subnet"`
		}
		json.Unmarshal(body, &req)
		_, nw := find(c.networks, "id", fmt.Sprint(req.Subnet["network_id"]))
		if nw == nil {
			c.fail(w, 404, p, fmt.Sprintf("Network %v could not be found.", req.Subnet["network_id"]))
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
	case len(s) == 2 && s[0] == "subnets" && r.Method == http.MethodDelete:
		if i, _ := find(c.subnets, "id", s[1]); i >= 0 {
			c.subnets = slices.Delete(c.subnets, i, i+1)
			w.WriteHeader(204)
			return
		}
		c.notFound(w, p)
	case len(s) == 1 && s[0] == "ports" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"ports": filter(c.ports, q)})
	case len(s) == 1 && s[0] == "security-groups" && r.Method == http.MethodGet:
		l := []obj{}
		for _, g := range filter(c.secgroups, q) {
			l = append(l, c.secgroupView(g))
		}
		writeJSON(w, 200, obj{"security_groups": l})
	case len(s) == 2 && s[0] == "security-groups" && r.Method == http.MethodGet:
		if _, g := find(c.secgroups, "id", s[1]); g != nil {
			writeJSON(w, 200, obj{"security_group": c.secgroupView(g)})
			return
		}
		c.neutronNotFound(w, "SecurityGroupNotFound", "Security group "+s[1]+" does not exist")
	case len(s) == 1 && s[0] == "security-group-rules" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"security_group_rules": filter(c.rules, q)})
	case len(s) == 1 && s[0] == "security-group-rules" && r.Method == http.MethodPost:
		var req struct {
			Rule obj `json:"security_group_rule"`
		}
		json.Unmarshal(body, &req)
		if _, g := find(c.secgroups, "id", fmt.Sprint(req.Rule["security_group_id"])); g == nil {
			c.fail(w, 404, p, fmt.Sprintf("Security group %v does not exist", req.Rule["security_group_id"]))
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
	case len(s) == 2 && s[0] == "security-group-rules" && r.Method == http.MethodDelete:
		if i, _ := find(c.rules, "id", s[1]); i >= 0 {
			c.rules = slices.Delete(c.rules, i, i+1)
			w.WriteHeader(204)
			return
		}
		c.notFound(w, p)
	case len(s) == 1 && s[0] == "agents" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"agents": filter(c.agents, q)})
	default:
		c.notFound(w, p)
	}
}

func (c *Cloud) image(w http.ResponseWriter, r *http.Request, rest string) {
	s := seg(rest)
	switch {
	case len(s) == 1 && s[0] == "images" && r.Method == http.MethodGet:
		writeJSON(w, 200, obj{"images": filter(c.images, r.URL.Query()), "schema": "/v2/schemas/images", "first": "/v2/images"})
	case len(s) == 2 && s[0] == "images" && r.Method == http.MethodGet:
		if _, im := find(c.images, "id", s[1]); im != nil {
			writeJSON(w, 200, im)
			return
		}
		w.WriteHeader(404)
		io.WriteString(w, "404 Not Found\n\nThe resource could not be found.\n\n   ")
	default:
		c.notFound(w, "/image"+rest)
	}
}
