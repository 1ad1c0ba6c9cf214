package trace

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"slices"
	"strings"
	"time"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/linuxbridge"
)

// Run traces one VM NIC on this node without an OpenStack API: the tap,
// the brq bridge and its physical port, the FDB, the DHCP side of the
// bridge's network, an ARP probe from the qdhcp namespace to the port's IP
// (this sends packets unless cfg.NoARP), the tap's counters over
// cfg.CounterInterval, and the host checks. Every hop is in the result,
// with Unknown for hops that could not be reached. It observes the node
// (Observe) and judges the observation (JudgeTrace).
//
// cfg.Role says which hops this node judges (see Role): with RoleNetwork
// the target must be the MAC, and the network is the one whose hosts
// file lists it.
//
// The error is non-nil only when target is invalid (or one cfg.Role
// cannot resolve: errors.Is ErrRole), ctx ends, or the
// bridges' namespace cannot be inspected at all (missing namespace,
// missing privilege); a missing tap, bridge, namespace or daemon is a
// failed hop, not an error.
func Run(ctx context.Context, cfg *Config, target Target) (*Trace, error) {
	start := time.Now()
	obs, err := Observe(ctx, cfg, Request{Mode: ModeNIC, Target: &target}, nil)
	if err != nil {
		return nil, err
	}
	t, err := JudgeTrace(obs)
	if err != nil {
		return nil, err
	}
	t.Duration = time.Since(start)
	return t, nil
}

// Server traces every Neutron port of a Nova server (the API mode): it
// reads the server and its ports (by device_id) once through api
// (launch.Client.Server: any status, never waited for), then runs the
// local trace (see Run) for each port's tap on this node, with the port's
// MAC and network from Neutron and the server's libvirt instance name (or
// its UUID, which is the domain's) for the domain hop. Each port's Trace
// starts with two hops: the server (status; ACTIVE is ok; SHUTOFF, BUILD
// and other transitional states warn, saying the local hops below reflect
// that; ERROR fails with Nova's fault, the host's nova-compute service and
// its agents as evidence, as launch.Client.ExplainServer gives them) and
// the port (binding host, network, MAC, fixed IPs, vif_type;
// binding_failed fails it). A stopped server's ports are still traced:
// its domain hop says the domain is not running.
//
// server is the Nova server's ID or its unique name. The error is non-nil
// when the server cannot be found (errors.Is fs.ErrNotExist), its name is
// ambiguous (errors.Is launch.ErrAmbiguous, listing the candidates), ctx
// ends, or a local trace cannot run at all (see Run); a server in ERROR,
// a stopped one, or a port that failed to bind is a hop's verdict, not an
// error. cfg.ServerWait bounds the API reads.
//
// With cfg.Role RoleNetwork the ports' network, MAC and IPs come from
// Neutron and only the DHCP side is traced; a port bound to another host
// is then expected, not a warning. In the other roles the port's network
// is read too (its type, physical network and segment choose the
// physical-port hop's interface).
//
// Server sends what Run sends (the ARP probe unless cfg.NoARP) and, on
// the cloud, only GET requests. It is safe for concurrent use if api is.
func Server(ctx context.Context, cfg *Config, api *launch.Client, server string) (*ServerTrace, error) {
	if api == nil {
		return nil, errors.New("trace: Server needs a launch.Client (or use Run with a port ID, MAC or tap)")
	}
	if server == "" {
		return nil, errors.New("trace: Server needs the server's ID or name")
	}
	obs, err := Observe(ctx, cfg, Request{Mode: ModeServer, Server: server}, api)
	if err != nil {
		return nil, err
	}
	return JudgeServer(obs)
}

// Node traces every VM NIC on this node from one observation, without an
// API: every tap on a brq bridge and every interface of a running libvirt
// domain (cfg.Libvirt), sharing one counter interval and one ARP sweep per
// qdhcp namespace; with RoleNetwork, every MAC of the node's hosts files.
// Orphans are taps no domain owns and domain interfaces whose tap is on no
// bridge. The error is as Run's.
func Node(ctx context.Context, cfg *Config) (*NodeTrace, error) {
	obs, err := Observe(ctx, cfg, Request{Mode: ModeNode}, nil)
	if err != nil {
		return nil, err
	}
	return Judge(obs), nil
}

// NodeServers is Node with the API: every server with a port bound to this
// node (cfg.NodeName, else the hostname; the binding host Neutron knows)
// is traced as Server traces it, plus the NICs Node finds without the API.
// Orphans also count taps no port bound here owns and ports bound here
// whose tap is on no bridge. Listing ports by binding host needs the
// admin role. It needs the compute side (not RoleNetwork).
func NodeServers(ctx context.Context, cfg *Config, api *launch.Client) (*NodeTrace, error) {
	if api == nil {
		return nil, errors.New("trace: NodeServers needs a launch.Client (or use Node)")
	}
	obs, err := Observe(ctx, cfg, Request{Mode: ModeNode}, api)
	if err != nil {
		return nil, err
	}
	return Judge(obs), nil
}

// Observe gathers the facts of this node that req needs, once, into an
// Observation: the bridges (a snapshot before the probes and one after
// them and the counter interval), the libvirt domains (cfg.Libvirt), the
// qdhcp namespaces and their networks' DHCP facts, one ARP sweep per
// namespace (unless cfg.NoARP), the host checks' facts, and, with api,
// the server and port answers (ModeServer needs api; ModeNode with api
// reads every port bound to this node). JudgeTrace, JudgeServer and Judge
// decide the verdicts from it. The error is as Run's, Server's or
// NodeServers'.
func Observe(ctx context.Context, cfg *Config, req Request, api *launch.Client) (*Observation, error) {
	c := cfg.orDefault()
	role, err := cfg.EffectiveRole()
	if err != nil {
		return nil, err
	}
	o := &observer{c: c, obs: newObservation(c, role, req), dhcp: dhcpnsSource{cfg: dhcpnsConfig(&c)}, fw: newFirewallSource(c),
		meta: metadataPkg{cfg: dhcpnsConfig(&c)}}
	if c.Libvirt != nil {
		o.libvirt = c.Libvirt
		if !c.NoConsole {
			o.console = c.Libvirt
		}
	}
	switch req.Mode {
	case ModeNIC:
		if req.Target == nil {
			return nil, errors.New("trace: a nic observation needs a target")
		}
		if err := checkTarget(role, *req.Target); err != nil {
			return nil, err
		}
		o.nics = []nicReq{{target: *req.Target}}
	case ModeServer:
		if api == nil {
			return nil, errors.New("trace: a server observation needs a launch.Client")
		}
		facts, err := readServer(ctx, c, role, api, req.Server)
		if err != nil {
			return nil, err
		}
		o.obs.API = facts
		o.nics = []nicReq{}
		if len(facts.Servers) > 0 {
			srv := &facts.Servers[0]
			for i := range srv.Ports {
				o.nics = append(o.nics, portReq(o.obs, srv, &srv.Ports[i]))
			}
		}
	case ModeNode:
		if api != nil {
			if !role.compute() {
				return nil, fmt.Errorf("%w: node mode with the API traces the ports bound to a compute node: this node's role is %s", ErrRole, role)
			}
			facts, err := readNodeServers(ctx, c, api, o.obs.Node)
			if err != nil {
				return nil, err
			}
			o.obs.API = facts
		}
	default:
		return nil, fmt.Errorf("trace: unknown request mode %q", req.Mode)
	}
	if err := o.observe(ctx); err != nil {
		return nil, err
	}
	return o.obs, nil
}

// checkTarget rejects invalid targets, and those this node's role cannot
// resolve: on a network node the tap is elsewhere, and a port ID is in no
// file here.
func checkTarget(role Role, target Target) error {
	if role == RoleNetwork {
		switch {
		case target.Tap != "":
			return fmt.Errorf("%w: a tap (%s) is on the compute node, not on a network node: give the port's MAC (Target.MAC, vmtrace -mac) or use the API (Server, vmtrace -server)", ErrRole, target.Tap)
		case target.PortID != "":
			return fmt.Errorf("%w: on a network node a port ID (%s) cannot be found without the API: Neutron's hosts files list mac,host-…,ip, not the port ID; give the port's MAC (Target.MAC, vmtrace -mac) or use the API (Server, vmtrace -server)", ErrRole, target.PortID)
		}
	}
	n := 0
	for _, set := range []bool{target.PortID != "", target.MAC != nil, target.Tap != ""} {
		if set {
			n++
		}
	}
	if n != 1 {
		return fmt.Errorf("trace: target %+v: set exactly one of PortID, MAC and Tap", target)
	}
	if target.PortID != "" && len(target.PortID) < linuxbridge.NeutronIDPrefixLen {
		return fmt.Errorf("trace: port ID %q is shorter than the %d characters a tap name keeps: give more of it", target.PortID, linuxbridge.NeutronIDPrefixLen)
	}
	if target.MAC != nil && len(target.MAC) != 6 {
		return fmt.Errorf("trace: MAC %s is not a 6-byte Ethernet address", target.MAC)
	}
	return nil
}

// readServer reads the server (any status, never waited for), launch's
// explanation when it is in ERROR, and (compute side) its ports'
// networks.
func readServer(ctx context.Context, c Config, role Role, api *launch.Client, server string) (*APIFacts, error) {
	facts := &APIFacts{}
	wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
	srv, err := api.Server(wctx, server)
	var fe *launch.FaultError
	if err == nil && srv.Status == launch.StatusError {
		fe = api.ExplainServer(wctx, srv)
	}
	cancel()
	switch {
	case err == nil:
		facts.Servers = []ServerFacts{serverFacts(srv, fe)}
	case errors.Is(err, fs.ErrNotExist), errors.Is(err, launch.ErrAmbiguous):
		return nil, fmt.Errorf("trace: server %q: %w", server, err)
	case ctx.Err() != nil:
		return nil, fmt.Errorf("trace: server %q: %w", server, ctx.Err())
	default:
		facts.Error = err.Error()
		return facts, nil
	}
	if role.compute() {
		readNetworks(ctx, c, api, facts)
	}
	readPolicies(ctx, c, api, facts)
	readAgents(ctx, c, api, facts)
	readSubnets(ctx, c, api, facts)
	return facts, nil
}

// readAgents reads the agents and nova-compute services once, for every
// port's agents hop.
func readAgents(ctx context.Context, c Config, api *launch.Client, facts *APIFacts) {
	wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
	defer cancel()
	l, err := api.AgentList(wctx)
	if err != nil {
		facts.AgentsError = err.Error()
		return
	}
	facts.Agents = l
}

// readNodeServers reads the VM ports bound to node and their servers.
func readNodeServers(ctx context.Context, c Config, api *launch.Client, node string) (*APIFacts, error) {
	facts := &APIFacts{}
	wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
	defer cancel()
	ports, err := api.PortsOnHost(wctx, node)
	if err != nil {
		return nil, fmt.Errorf("trace: ports bound to %s: %w", node, err)
	}
	seen := map[string]bool{}
	for _, p := range ports {
		if !strings.HasPrefix(p.DeviceOwner, "compute:") || p.DeviceID == "" || seen[p.DeviceID] {
			continue
		}
		seen[p.DeviceID] = true
		srv, err := api.Server(wctx, p.DeviceID)
		if err != nil {
			if ctx.Err() != nil {
				return nil, fmt.Errorf("trace: server %s: %w", p.DeviceID, ctx.Err())
			}
			continue // deleted meanwhile: its port is gone too
		}
		var fe *launch.FaultError
		if srv.Status == launch.StatusError {
			fe = api.ExplainServer(wctx, srv)
		}
		facts.Servers = append(facts.Servers, serverFacts(srv, fe))
	}
	readNetworks(ctx, c, api, facts)
	readPolicies(ctx, c, api, facts)
	readAgents(ctx, c, api, facts)
	readSubnets(ctx, c, api, facts)
	return facts, nil
}

// readSubnets reads the subnet of each port's fixed IPs once, for the
// DHCP hops (a subnet with DHCP off needs no hosts entry or lease).
func readSubnets(ctx context.Context, c Config, api *launch.Client, facts *APIFacts) {
	for _, s := range facts.Servers {
		for _, p := range s.Ports {
			for _, f := range p.FixedIPs {
				id := f.SubnetID
				if id == "" || facts.Subnets[id] != nil || facts.SubnetErrors[id] != "" {
					continue
				}
				wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
				sn, err := api.Subnet(wctx, id)
				cancel()
				if err != nil {
					if facts.SubnetErrors == nil {
						facts.SubnetErrors = map[string]string{}
					}
					facts.SubnetErrors[id] = err.Error()
					continue
				}
				if facts.Subnets == nil {
					facts.Subnets = map[string]*launch.Subnet{}
				}
				facts.Subnets[id] = sn
			}
		}
	}
}

// readNetworks reads each port's network once.
func readNetworks(ctx context.Context, c Config, api *launch.Client, facts *APIFacts) {
	for _, s := range facts.Servers {
		for _, p := range s.Ports {
			id := p.NetworkID
			if id == "" {
				continue
			}
			if _, ok := facts.Networks[id]; ok {
				continue
			}
			if _, ok := facts.NetworkErrors[id]; ok {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
			nw, err := api.FindNetwork(wctx, id)
			cancel()
			if err != nil {
				if facts.NetworkErrors == nil {
					facts.NetworkErrors = map[string]string{}
				}
				facts.NetworkErrors[id] = err.Error()
				continue
			}
			if facts.Networks == nil {
				facts.Networks = map[string]*NetworkInfo{}
			}
			facts.Networks[id] = &NetworkInfo{Type: string(nw.Type), PhysicalNetwork: nw.PhysicalNetwork, SegmentationID: nw.SegmentationID, MTU: nw.MTU, AdminDown: nw.AdminDown}
		}
	}
}

func serverFacts(srv *launch.Server, fe *launch.FaultError) ServerFacts {
	s := ServerFacts{ID: srv.ID, Name: srv.Name, Status: string(srv.Status), TaskState: srv.TaskState, Host: srv.Host, InstanceName: srv.InstanceName, Ports: slices.Clone(srv.Ports)}
	if s.Ports == nil {
		s.Ports = []launch.Port{}
	}
	for _, a := range srv.Addresses {
		s.Addresses = append(s.Addresses, fmt.Sprint(a))
	}
	if fe != nil {
		f := &ServerFault{Code: fe.Fault.Code, Message: fe.Fault.Message, Details: fe.Fault.Details, Created: fe.Fault.Created, Explain: fe.Explain()}
		for _, cs := range fe.Compute {
			f.Compute = append(f.Compute, fmt.Sprint(cs))
		}
		for _, a := range fe.Agents {
			f.Agents = append(f.Agents, fmt.Sprint(a))
		}
		s.Fault = f
	}
	return s
}
