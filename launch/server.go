package launch

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"sort"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/remoteconsoles"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsbinding"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/vifpath/vifpath/hwaddr"
)

// ServerSpec asks for a server. Flavor, Image, Network, SecurityGroups and
// KeyName take names or IDs.
type ServerSpec struct {
	// Name, Flavor and Image name the server, its flavor and its image (names or IDs).
	Name   string `json:"name"`
	Flavor string `json:"flavor"`
	Image  string `json:"image"`
	// Network to attach (name or ID); or Port, an existing port's ID.
	Network string `json:"network,omitempty"`
	Port    string `json:"port,omitempty"`
	// SecurityGroups by name. Zero: Nova's default group.
	SecurityGroups []string `json:"security_groups,omitempty"`
	// KeyName of a Nova keypair. Zero: none.
	KeyName string `json:"key_name,omitempty"`
	// UserData (cloud-init); sent base64-encoded. Zero: none.
	UserData []byte `json:"-"`
	// AvailabilityZone. Zero: Nova's default.
	AvailabilityZone string `json:"availability_zone,omitempty"`
	// Host forces a compute host (admin only), sent as "zone:host".
	// Zero: the scheduler chooses.
	Host string `json:"host,omitempty"`
}

// Status is a Nova server status. The zero value is unknown.
type Status string

// Statuses a launch sees.
const (
	StatusUnknown Status = ""
	StatusBuild   Status = "BUILD"
	StatusActive  Status = "ACTIVE"
	StatusError   Status = "ERROR"
	// StatusShutoff: the server is stopped (Client.Server reports it; a
	// launch never waits for it).
	StatusShutoff Status = "SHUTOFF"
)

// FixedIP is one fixed address of a port.
type FixedIP struct {
	// SubnetID and Address are one fixed_ips entry.
	SubnetID string     `json:"subnet_id"`
	Address  netip.Addr `json:"address"`
}

// Port is a Neutron port with its binding.
type Port struct {
	// ID, NetworkID, MAC, FixedIPs and Status are Neutron's port fields.
	ID string `json:"id"`
	// DeviceID is the port's device_id: the server's ID for a VM port
	// ("" for an unattached one).
	DeviceID  string     `json:"device_id,omitempty"`
	NetworkID string     `json:"network_id"`
	MAC       hwaddr.MAC `json:"mac"`
	FixedIPs  []FixedIP  `json:"fixed_ips"`
	Status    string     `json:"status"`
	// VIFType is binding:vif_type ("bridge" on linuxbridge, "binding_failed"
	// when no agent could bind it, "unbound" before scheduling).
	VIFType string `json:"vif_type"`
	// HostID is binding:host_id.
	HostID string `json:"host_id"`
	// AdminDown is set when the port's admin_state_up is false (`openstack
	// port set --disable`): the agent keeps its tap down on purpose and
	// Neutron reports it DOWN.
	AdminDown bool `json:"admin_down,omitempty"`
	// UpdatedAt is Neutron's updated_at: when the port last changed (a
	// fixed IP, a group, a binding, a status the agent reported). Zero:
	// unknown (an older recording, or a Neutron that does not say).
	UpdatedAt time.Time `json:"updated_at,omitzero"`
}

// Address is one entry of a server's addresses.
type Address struct {
	// Network, Addr and MAC are one entry of the server's addresses (network name, address, port MAC).
	Network string     `json:"network"`
	Addr    netip.Addr `json:"addr"`
	MAC     hwaddr.MAC `json:"mac"`
	Type    string     `json:"type"` // "fixed" or "floating"
}

// Server is a launched server.
type Server struct {
	// ID, Name and Status are Nova's server fields.
	ID     string `json:"id"`
	Name   string `json:"name"`
	Status Status `json:"status"`
	// Host is OS-EXT-SRV-ATTR:host (admin only; "" otherwise).
	Host string `json:"host"`
	// InstanceName is the libvirt domain name (OS-EXT-SRV-ATTR:instance_name).
	InstanceName     string    `json:"instance_name"`
	AvailabilityZone string    `json:"availability_zone"`
	Ports            []Port    `json:"ports"`
	Addresses        []Address `json:"addresses"`
	// TaskState is OS-EXT-STS:task_state ("spawning", "deleting"…; ""
	// when no task runs).
	TaskState string `json:"task_state,omitempty"`
	// Flavor is the server's flavor as Nova embeds it (name, vCPUs, RAM,
	// disk; ID empty), nil when Nova did not show it.
	Flavor *Flavor `json:"flavor,omitempty"`
	// Fault is Nova's fault of a server in ERROR as Client.Server reads it
	// (nil otherwise; Launch returns a *FaultError instead).
	Fault *Fault `json:"fault,omitempty"`
	// Created is true when this call created the server (false: it
	// existed already and was adopted).
	Created bool `json:"created"`
	// Polls is how many status polls the wait made.
	Polls int `json:"polls"`
	// Waited is how long the wait for ACTIVE took.
	Waited time.Duration `json:"waited"`
}

// serverOf turns gophercloud's server (its extended attributes need the
// admin role and microversion ≥ 2.47 for the embedded flavor) into a Server.
func serverOf(r *servers.Server) Server {
	s := Server{ID: r.ID, Name: r.Name, Status: Status(r.Status), Host: r.Host, InstanceName: r.InstanceName, AvailabilityZone: r.AvailabilityZone, TaskState: r.TaskState, Addresses: []Address{}, Ports: []Port{}}
	if r.Flavor != nil {
		num := func(k string) int { f, _ := r.Flavor[k].(float64); return int(f) }
		name, _ := r.Flavor["original_name"].(string)
		s.Flavor = &Flavor{Name: name, VCPUs: num("vcpus"), RAMMiB: num("ram"), DiskGiB: num("disk")}
		if id, ok := r.Flavor["id"].(string); ok && name == "" {
			s.Flavor.ID = id // below microversion 2.47 Nova gives only the ID
		}
	}
	if r.Fault.Code != 0 || r.Fault.Message != "" {
		s.Fault = &Fault{Code: r.Fault.Code, Message: r.Fault.Message, Details: r.Fault.Details, Created: r.Fault.Created.UTC()}
	}
	nets := make([]string, 0, len(r.Addresses))
	for n := range r.Addresses {
		nets = append(nets, n)
	}
	sort.Strings(nets)
	for _, n := range nets {
		l, _ := r.Addresses[n].([]any)
		for _, e := range l {
			m, _ := e.(map[string]any)
			str := func(k string) string { v, _ := m[k].(string); return v }
			ad := Address{Network: n, Type: str("OS-EXT-IPS:type")}
			ad.Addr, _ = netip.ParseAddr(str("addr"))
			ad.MAC, _ = hwaddr.Parse(str("OS-EXT-IPS-MAC:mac_addr"))
			s.Addresses = append(s.Addresses, ad)
		}
	}
	return s
}

func (c *Client) getServer(ctx context.Context, id string) (*servers.Server, error) {
	var out *servers.Server
	err := c.call(ctx, "get server "+id, false, func(ctx context.Context) error {
		var err error
		out, err = servers.Get(ctx, c.compute, id).Extract()
		return err
	})
	return out, err
}

// ConsoleOutput returns the last lines of a server's console log as Nova
// keeps it (os-getConsoleOutput, `openstack console log show --lines N`):
// what the guest printed on its serial console, read from the controller
// side through the API. lines <= 0 asks for the whole log. It changes
// nothing; Nova answers 409 for a server that has no console log yet.
func (c *Client) ConsoleOutput(ctx context.Context, serverID string, lines int) (string, error) {
	if !isUUID(serverID) {
		return "", fmt.Errorf("launch: console output: %q is not a server ID (a UUID): look the server up with Client.Server first", serverID)
	}
	opts := servers.ShowConsoleOutputOpts{}
	if lines > 0 {
		opts.Length = lines
	}
	var out string
	err := c.call(ctx, "console output of server "+serverID, false, func(ctx context.Context) error {
		var err error
		out, err = servers.ShowConsoleOutput(ctx, c.compute, serverID, opts).Extract()
		return err
	})
	return out, err
}

// findServer returns the server with exactly this name, nil if none.
func (c *Client) findServer(ctx context.Context, name string) (*servers.Server, error) {
	var list []servers.Server
	err := c.call(ctx, "find server "+name, false, func(ctx context.Context) error {
		pages, err := servers.List(c.compute, servers.ListOpts{Name: "^" + regexpQuote(name) + "$"}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = servers.ExtractServers(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	var hits []servers.Server
	for _, s := range list {
		if s.Name == name {
			hits = append(hits, s)
		}
	}
	switch len(hits) {
	case 0:
		return nil, nil
	case 1:
		return &hits[0], nil
	}
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.ID+" ("+h.Status+")")
	}
	return nil, fmt.Errorf("%w: server %q matches %d servers: %v (delete the extra ones or use another name)", ErrAmbiguous, name, len(hits), ids)
}

// Server reads a server in any status (ACTIVE, SHUTOFF, BUILD, ERROR…)
// by ID or by name, with its Neutron ports (by device_id) and, for a server
// in ERROR, Nova's fault in Server.Fault. It never waits and never changes
// anything: only GET requests.
//
// nameOrID is tried as an ID first when it looks like a UUID, then as an
// exact name among the project's servers. A name that matches several
// servers is an error wrapping ErrAmbiguous that lists their IDs and
// statuses; no match is an error wrapping ErrNotFound (errors.Is
// fs.ErrNotExist). Polls and Waited are zero, Created false. Host and
// InstanceName are "" unless the credentials have the admin role.
func (c *Client) Server(ctx context.Context, nameOrID string) (*Server, error) {
	if nameOrID == "" {
		return nil, errors.New("launch: Server needs a server name or ID")
	}
	var r *servers.Server
	if isUUID(nameOrID) {
		got, err := c.getServer(ctx, nameOrID)
		switch {
		case err == nil:
			r = got
		case !errors.Is(err, ErrNotFound):
			return nil, err
		}
	}
	if r == nil {
		got, err := c.findServer(ctx, nameOrID)
		if err != nil {
			return nil, err
		}
		if got == nil {
			return nil, fmt.Errorf("launch: server %q: no server has this ID or name in the project (openstack server list): %w", nameOrID, ErrNotFound)
		}
		r = got
		// Nova's list leaves out an ERROR server's fault (seen on the aio
		// cloud, Zed: "No valid host was found" only in GET /servers/ID).
		if Status(r.Status) == StatusError && r.Fault.Code == 0 && r.Fault.Message == "" {
			if full, err := c.getServer(ctx, r.ID); err == nil {
				r = full
			}
		}
	}
	s := serverOf(r)
	ports, err := c.Ports(ctx, s.ID)
	if err != nil {
		return &s, err
	}
	s.Ports = ports
	return &s, nil
}

// Ports lists the Neutron ports whose device_id is deviceID (a server's
// ID, or a DHCP port's "dhcp…" device), with their binding (host,
// vif_type), in Neutron's order. None is an empty slice, not an error.
// Only a GET request.
func (c *Client) Ports(ctx context.Context, deviceID string) ([]Port, error) {
	if deviceID == "" {
		return nil, errors.New("launch: Ports needs a device ID (an empty one would list every port)")
	}
	return c.serverPorts(ctx, deviceID)
}

func regexpQuote(s string) string {
	var b strings.Builder
	for _, r := range s {
		// Only ASCII punctuation and spaces can be special to Nova's
		// (Python or database) regex; a backslash before a byte of a
		// multi-byte rune would split it into invalid UTF-8.
		if r < 0x80 && !(r >= 'a' && r <= 'z') && !(r >= 'A' && r <= 'Z') && !(r >= '0' && r <= '9') && r != '-' && r != '_' {
			b.WriteByte('\\')
		}
		b.WriteRune(r)
	}
	return b.String()
}

// Launch creates the server (or adopts an existing server of the same
// name), waits until it is ACTIVE and returns it with its host, libvirt
// instance name, ports and addresses.
//
// The wait polls with a growing interval (Config.PollFirst ×1.5 up to
// Config.PollMax) until ctx ends. When the server goes to ERROR it returns
// at once a *FaultError (errors.Is ErrServerError) with Nova's fault, the
// port bindings and the compute service and agents of the host. When ctx
// ends first, the error wraps ctx.Err() and names the server, which is left
// in place (Cleanup or DeleteServer removes it).
func (c *Client) Launch(ctx context.Context, spec ServerSpec) (*Server, error) {
	if spec.Name == "" || spec.Flavor == "" || spec.Image == "" || (spec.Network == "") == (spec.Port == "") {
		return nil, fmt.Errorf("launch: server spec needs a name, flavor, image and exactly one of network or port")
	}
	existing, err := c.findServer(ctx, spec.Name)
	if err != nil {
		return nil, err
	}
	if existing != nil {
		c.log.LogAttrs(ctx, slog.LevelInfo, "found server", slog.String("name", spec.Name), slog.String("id", existing.ID), slog.String("status", existing.Status))
		switch Status(existing.Status) {
		case StatusActive:
			s := serverOf(existing)
			return c.finish(ctx, &s, 0, 0)
		case StatusBuild, StatusError:
		default:
			return nil, fmt.Errorf("launch: a server named %q (%s) already exists and is %s: start it (openstack server start %s) or delete it, then launch again", spec.Name, existing.ID, existing.Status, existing.ID)
		}
		return c.WaitActive(ctx, existing.ID)
	}
	fl, err := c.FindFlavor(ctx, spec.Flavor)
	if err != nil {
		return nil, err
	}
	im, err := c.FindImage(ctx, spec.Image)
	if err != nil {
		return nil, err
	}
	var nets []servers.Network
	if spec.Port != "" {
		nets = []servers.Network{{Port: spec.Port}}
	} else {
		nw, err := c.findNetwork(ctx, spec.Network)
		if err != nil {
			return nil, err
		}
		nets = []servers.Network{{UUID: nw.ID}}
	}
	az := spec.AvailabilityZone
	if spec.Host != "" {
		if az == "" {
			az = "nova"
		}
		az += ":" + spec.Host
	}
	opts := servers.CreateOpts{Name: spec.Name, FlavorRef: fl.ID, ImageRef: im.ID, Networks: nets, SecurityGroups: spec.SecurityGroups, UserData: spec.UserData, AvailabilityZone: az}
	var kopts servers.CreateOptsBuilder = opts
	if spec.KeyName != "" {
		kopts = keypairs.CreateOptsExt{CreateOptsBuilder: opts, KeyName: spec.KeyName}
	}
	var id string
	attempt := 0
	err = c.call(ctx, "create server "+spec.Name, true, func(ctx context.Context) error {
		attempt++
		if attempt > 1 {
			// A create that failed with 5xx or a reset may have happened:
			// never make a second server of the same name.
			if s, err := c.findServer(ctx, spec.Name); err == nil && s != nil {
				id = s.ID
				return nil
			}
		}
		// The response carries adminPass: only the ID is kept.
		s, err := servers.Create(ctx, c.compute, kopts, nil).Extract()
		if err != nil {
			return err
		}
		id = s.ID
		return nil
	})
	if err != nil {
		return nil, err
	}
	c.record(createdResource{kind: "server", id: id, name: spec.Name})
	c.log.LogAttrs(ctx, slog.LevelInfo, "created server", slog.String("name", spec.Name), slog.String("id", id), slog.String("flavor", fl.Name), slog.String("image", im.Name))
	s, err := c.WaitActive(ctx, id)
	if s != nil {
		s.Created = true
	}
	return s, err
}

// WaitActive waits for a server to become ACTIVE (see Launch for the
// schedule and the errors).
func (c *Client) WaitActive(ctx context.Context, id string) (*Server, error) {
	start := time.Now()
	d := c.cfg.PollFirst
	polls := 0
	var last *servers.Server
	lastHost := ""
	for {
		if err := sleep(ctx, d); err != nil {
			return nil, c.waitErr(id, last, polls, start, err)
		}
		d = min(time.Duration(float64(d)*1.5), c.cfg.PollMax)
		r, err := c.getServer(ctx, id)
		polls++
		if err != nil {
			if ctx.Err() != nil {
				return nil, c.waitErr(id, last, polls, start, err)
			}
			return nil, err
		}
		last = r
		if r.Host != "" {
			lastHost = r.Host
		}
		switch Status(r.Status) {
		case StatusActive:
			s := serverOf(r)
			return c.finish(ctx, &s, polls, time.Since(start))
		case StatusError:
			return nil, c.explain(ctx, r, lastHost, polls)
		case StatusBuild:
			c.log.LogAttrs(ctx, slog.LevelDebug, "server building", slog.String("id", id), slog.Any("task_state", r.TaskState), slog.Int("poll", polls))
		default:
			return nil, fmt.Errorf("launch: server %q (%s) is %s (task %v), not BUILD or ACTIVE: it was stopped, rebuilt or deleted while we waited", r.Name, id, r.Status, r.TaskState)
		}
	}
}

func (c *Client) waitErr(id string, last *servers.Server, polls int, start time.Time, err error) error {
	st, task, name := "not yet polled", "", ""
	if last != nil {
		st, task, name = last.Status, last.TaskState, last.Name
	}
	return fmt.Errorf("launch: waiting for server %q (%s) to become ACTIVE: gave up after %d polls in %s, last status %s (task %v); the server is left in place: %w", name, id, polls, time.Since(start).Round(time.Millisecond), st, task, err)
}

func (c *Client) finish(ctx context.Context, s *Server, polls int, waited time.Duration) (*Server, error) {
	s.Polls, s.Waited = polls, waited
	ports, err := c.serverPorts(ctx, s.ID)
	if err != nil {
		return s, err
	}
	s.Ports = ports
	c.log.LogAttrs(ctx, slog.LevelInfo, "server active", slog.String("name", s.Name), slog.String("id", s.ID), slog.String("host", s.Host), slog.String("instance_name", s.InstanceName), slog.Int("polls", polls))
	return s, nil
}

// portWithBinding is a Neutron port with its binding extension.
type portWithBinding struct {
	ports.Port
	portsbinding.PortsBindingExt
}

func portOf(r portWithBinding) Port {
	p := Port{ID: r.ID, DeviceID: r.DeviceID, NetworkID: r.NetworkID, Status: r.Status, VIFType: r.VIFType, HostID: r.HostID, AdminDown: !r.AdminStateUp, FixedIPs: []FixedIP{}}
	if !r.UpdatedAt.IsZero() {
		p.UpdatedAt = r.UpdatedAt.UTC()
	}
	p.MAC, _ = hwaddr.Parse(r.MACAddress)
	for _, f := range r.FixedIPs {
		a, _ := netip.ParseAddr(f.IPAddress)
		p.FixedIPs = append(p.FixedIPs, FixedIP{SubnetID: f.SubnetID, Address: a})
	}
	return p
}

func (c *Client) serverPorts(ctx context.Context, id string) ([]Port, error) {
	list, err := c.listPorts(ctx, "list ports of server "+id, ports.ListOpts{DeviceID: id})
	if err != nil {
		return nil, err
	}
	out := make([]Port, 0, len(list))
	for _, p := range list {
		out = append(out, portOf(p))
	}
	return out, nil
}

// listPorts lists the ports opts selects, with their bindings (what names
// the request in errors).
func (c *Client) listPorts(ctx context.Context, what string, opts ports.ListOptsBuilder) ([]portWithBinding, error) {
	var list []portWithBinding
	err := c.call(ctx, what, false, func(ctx context.Context) error {
		pages, err := ports.List(c.network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		list = nil
		return ports.ExtractPortsInto(pages, &list)
	})
	return list, err
}

// explain builds the FaultError of a server in ERROR. Lookups that fail are
// left out: the fault itself always reaches the caller.
func (c *Client) explain(ctx context.Context, r *servers.Server, lastHost string, polls int) error {
	sv := serverOf(r)
	fe := &FaultError{ServerID: r.ID, ServerName: r.Name, Host: r.Host, LastHost: lastHost, Polls: polls, Flavor: sv.Flavor}
	if sv.Fault != nil {
		fe.Fault = *sv.Fault
	} else {
		fe.Fault.Message = "(Nova recorded no fault)"
	}
	ports, err := c.serverPorts(ctx, r.ID)
	if err != nil {
		ports = nil
	}
	c.fillFault(ctx, fe, ports)
	c.log.LogAttrs(ctx, slog.LevelWarn, "server went to ERROR", slog.String("name", r.Name), slog.String("id", r.ID), slog.Int("fault_code", fe.Fault.Code), slog.String("fault", fe.Fault.Message), slog.String("kind", string(fe.Kind)))
	return fe
}

func (c *Client) fillFault(ctx context.Context, fe *FaultError, ports []Port) {
	fe.Kind = KindOf(fe.Fault)
	fe.Ports, fe.Compute, fe.Agents = []Port{}, []ComputeService{}, []NetworkAgent{}
	if ports != nil {
		fe.Ports = ports
	}
	hosts := map[string]bool{}
	if h := fe.host(); h != "" {
		hosts[h] = true
	}
	for _, p := range fe.Ports {
		if p.HostID != "" {
			hosts[p.HostID] = true
		}
	}
	if svcs, err := c.ComputeServices(ctx, ""); err == nil {
		for _, s := range svcs {
			if s.Binary == BinaryNovaCompute && (len(hosts) == 0 || hosts[s.Host]) {
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
	if fe.Kind == FaultNoValidHost {
		if pr, err := c.Placement(ctx, fe.Flavor); err == nil {
			fe.Placement = pr
		}
	}
}

// ConsoleURL returns the noVNC console URL of a server (Nova remote
// consoles, microversion ≥ 2.6). The URL carries a short-lived console
// token: hand it to the person who opens it, do not log it.
func (c *Client) ConsoleURL(ctx context.Context, id string) (string, error) {
	var u string
	err := c.call(ctx, "get noVNC console of server "+id, false, func(ctx context.Context) error {
		rc, err := remoteconsoles.Create(ctx, c.compute, id, remoteconsoles.CreateOpts{Protocol: remoteconsoles.ConsoleProtocolVNC, Type: remoteconsoles.ConsoleTypeNoVNC}).Extract()
		if err != nil {
			return err
		}
		u = rc.URL
		return nil
	})
	if isStatus(err, 400) {
		return "", fmt.Errorf("%w (is [vnc] enabled in nova.conf on the compute host, and nova-novncproxy running?)", err)
	}
	return u, err
}

// DeleteServer deletes a server and waits until Nova no longer lists it.
// A server that is already gone is success.
func (c *Client) DeleteServer(ctx context.Context, id string) error {
	err := c.call(ctx, "delete server "+id, false, func(ctx context.Context) error {
		return servers.Delete(ctx, c.compute, id).ExtractErr()
	})
	if errors.Is(err, ErrNotFound) {
		return nil
	}
	if err != nil {
		return err
	}
	d := c.cfg.PollFirst / 2
	for {
		if err := sleep(ctx, d); err != nil {
			return fmt.Errorf("launch: waiting for server %s to be deleted: %w", id, err)
		}
		d = min(time.Duration(float64(d)*1.5), c.cfg.PollMax)
		r, err := c.getServer(ctx, id)
		if errors.Is(err, ErrNotFound) {
			c.log.LogAttrs(ctx, slog.LevelInfo, "server deleted", slog.String("id", id))
			return nil
		}
		if err != nil {
			return err
		}
		if r.Status == string(StatusError) && r.TaskState == "" {
			return fmt.Errorf("launch: deleting server %s: it is in ERROR and no delete is in progress", id)
		}
	}
}
