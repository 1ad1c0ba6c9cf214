package trace

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io/fs"
	"maps"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// bridgeSource is what the observation reads the bridges through
// (*linuxbridge.Inspector).
type bridgeSource interface {
	Snapshot(ctx context.Context) (*linuxbridge.Snapshot, error)
	Link(ctx context.Context, name string) (*linuxbridge.Link, error)
}

// libvirtSource is what the observation reads the domains through
// (*libvirtinspect.Client).
type libvirtSource interface {
	Stats(ctx context.Context, req *libvirtinspect.StatsRequest) ([]libvirtinspect.DomainStats, error)
	Details(ctx context.Context, ref string) (*libvirtinspect.Details, error)
	DetailsOf(ctx context.Context, doms []libvirtinspect.Domain) ([]*libvirtinspect.Details, []error)
}

// dhcpSource is what the observation reads the DHCP side through (the
// dhcpns functions, see dhcpnsSource).
type dhcpSource interface {
	List(ctx context.Context) ([]dhcpns.NamespaceInfo, error)
	CheckHealthAll(ctx context.Context, networkIDs []string) ([]*dhcpns.Health, error)
	SweepARP(ctx context.Context, namespace, ifname string, ips []netip.Addr, opts *dhcpns.ARPOptions) ([]dhcpns.ARPResult, error)
	ProbeDHCPServers(ctx context.Context, networkID string, opts *dhcpns.DHCPProbeOptions) ([]dhcpns.DHCPOffer, error)
}

// dhcpnsSource is dhcpSource on the dhcpns package.
type dhcpnsSource struct{ cfg *dhcpns.Config }

func (d dhcpnsSource) List(ctx context.Context) ([]dhcpns.NamespaceInfo, error) {
	return dhcpns.List(ctx, d.cfg)
}

func (d dhcpnsSource) CheckHealthAll(ctx context.Context, networkIDs []string) ([]*dhcpns.Health, error) {
	return dhcpns.CheckHealthAll(ctx, d.cfg, networkIDs)
}

func (d dhcpnsSource) ProbeDHCPServers(ctx context.Context, networkID string, opts *dhcpns.DHCPProbeOptions) ([]dhcpns.DHCPOffer, error) {
	return dhcpns.ProbeDHCPServers(ctx, d.cfg, networkID, opts)
}

func (d dhcpnsSource) SweepARP(ctx context.Context, namespace, ifname string, ips []netip.Addr, opts *dhcpns.ARPOptions) ([]dhcpns.ARPResult, error) {
	p, err := dhcpns.OpenARPProber(ctx, d.cfg, namespace, ifname)
	if err != nil {
		return nil, fmt.Errorf("cannot open the ARP prober: %w", err)
	}
	defer p.Close()
	rs, err := p.SweepARP(ctx, ips, opts)
	if err != nil {
		return nil, fmt.Errorf("ARP probe failed: %w", err)
	}
	return rs, nil
}

// observer gathers one Observation.
type observer struct {
	c       Config
	obs     *Observation
	bridges bridgeSource
	libvirt libvirtSource
	dhcp    dhcpSource
	fw      firewallSource
	// console reads the domains' consoles, meta the namespaces' metadata
	// side (nil: not read).
	console consoleSource
	meta    metadataSource
	// nics are the NICs of a nic or server request (nil in node mode,
	// where every NIC is observed).
	nics []nicReq
	// consoles are the console log files the domains' XML declares, by
	// domain UUID, as read with their details (noteConsole): the console
	// is then read without a second XML RPC.
	consoles map[string]consoleFile
}

func newObservation(c Config, role Role, req Request) *Observation {
	node := c.NodeName
	if node == "" || node == "-" {
		node, _ = os.Hostname()
	}
	return &Observation{
		Version: ObservationVersion, Node: node, Role: role, Request: req, Started: time.Now(),
		Settings: Settings{NetNSDir: c.NetNSDir, StateDir: c.StateDir, ProcDir: c.ProcDir, NMRunDir: c.NMRunDir,
			BridgeNetNSPath: c.BridgeNetNSPath, NoARP: c.NoARP, NoFirewall: c.NoFirewall, NoReach: c.NoReach, NoConsole: c.NoConsole, NoMetadataProbe: c.NoMetadataProbe, ProbeDHCPServers: c.ProbeDHCPServers, ARPTimeout: c.ARPTimeout, CounterInterval: c.CounterInterval,
			Libvirt:   c.Libvirt != nil,
			HostNetNS: c.BridgeNetNSPath == "" || netns.Same(c.BridgeNetNSPath, filepath.Join(c.ProcDir, "self/ns/net"))},
	}
}

// observe runs the observation: the node's facts before any probe, the
// NICs resolved on them, the ARP sweeps, then (after the counter
// interval) the facts a probe can change.
func (o *observer) observe(ctx context.Context) error {
	c, obs := &o.c, o.obs
	role := obs.Role
	// The firewall, and in node mode the domains, are read while the
	// bridges and then the DHCP side are: all wait on daemons or tools
	// (iptables-save and its kin, libvirtd's RPCs, netlink, /proc and the
	// namespaces), none changes what the others read, and neither needs
	// the bridges (the firewall read is scoped by the request's taps or
	// port IDs, node mode reads every domain). A one-NIC or server
	// request's domains are looked up by the tap the bridges resolve, so
	// their goroutine starts after the snapshot, on a copy of the
	// observation taken then; obs.Libvirt is set once it is done. The
	// firewall is read before any probe is sent (the wait below), so its
	// counters are the probes' baseline.
	var lv *LibvirtFacts
	var wg sync.WaitGroup
	defer wg.Wait() // (an early return still joins the readers)
	lvDone := make(chan struct{})
	lvStarted := false
	readDomains := func(base *Observation) {
		lvStarted = true
		wg.Add(1)
		go func() {
			defer wg.Done()
			defer close(lvDone)
			lv = o.observeDomains(ctx, base)
			o.readConsoles(ctx, lv)
		}()
	}
	var fwRead sync.WaitGroup
	if role.compute() {
		o.startFirewall()
		fwRead.Go(func() { o.readFirewall(ctx, false) })
		defer fwRead.Wait()
		if o.libvirt != nil && o.nics == nil {
			readDomains(nil) // node mode: every domain, nothing to resolve
		}
	}
	var in *linuxbridge.Inspector
	if role.compute() {
		o.loadAgent()
		if o.bridges == nil {
			var err error
			in, err = linuxbridge.Open(ctx, &linuxbridge.Config{NetNSPath: c.BridgeNetNSPath, Logger: c.Logger, Qdiscs: true})
			if err != nil {
				return fmt.Errorf("trace: inspect the bridges' namespace %q: %w", c.BridgeNetNSPath, err)
			}
			defer in.Close()
			o.bridges = in
		}
		snap, err := o.bridges.Snapshot(ctx)
		if err != nil {
			return fmt.Errorf("trace: read bridges and FDB: %w", err)
		}
		obs.Bridges.Before, obs.Bridges.BeforeAt = snap, time.Now()
		if o.libvirt != nil && o.nics != nil {
			base := *obs
			readDomains(&base)
		}
	}
	if !lvStarted {
		close(lvDone)
	}
	var dhcpErr error
	var servers sync.WaitGroup
	defer servers.Wait()
	if role.dhcp() {
		if dhcpErr = o.observeDHCP(ctx); dhcpErr == nil {
			o.probeDHCPServers(ctx, &servers)
		}
	}
	fwRead.Wait() // the probes' baseline
	if dhcpErr != nil {
		return dhcpErr
	}
	joinNSFirewalls := func() {}
	if role.dhcp() {
		joinNSFirewalls = o.readDHCPFirewalls(ctx)
	}
	defer func() { joinNSFirewalls() }() // (an early return still joins the reads)
	// The probes need the NICs' addresses, which the DHCP side gives. They
	// are sent as soon as that and the firewall are read, on the NICs
	// resolved so far; the domains' XML (node mode's longest read) seldom
	// changes what is probed, and when it does, every probe and the second
	// samples are taken again below on the final NICs.
	domainsRead := func() bool {
		select {
		case <-lvDone:
			obs.Libvirt = lv
			return true
		default:
			return false
		}
	}
	early := domainsRead()
	probing := role.dhcp() && !c.NoARP
	var plan probePlan
	var views []*view // the final NICs once the domains are read
	if probing {
		vs := o.views()
		if early {
			views = vs
		}
		plan = o.planProbes(vs)
		o.sendProbes(ctx, plan)
	}
	if role.dhcp() {
		o.probeMetadata(ctx)
	}
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	// The DHCP servers probe's endpoint is gone before any second sample
	// of the bridges.
	servers.Wait()
	// The second samples of what the probes may have changed (the
	// bridges' FDB and counters, the firewall's counters) are independent
	// reads, taken together, while the domains may still be read.
	var after sync.WaitGroup
	afterErr := make(chan error, 1)
	fail := func(err error) {
		select {
		case afterErr <- err:
		default: // one is enough
		}
	}
	takeAfter := func() {
		if role.compute() {
			after.Go(func() {
				if err := o.sampleAfter(ctx); err != nil {
					fail(err)
				}
			})
		}
	}
	takeAfter()
	if !early {
		<-lvDone
		domainsRead()
	}
	if views == nil {
		views = o.views()
	}
	if probing {
		if final := o.planProbes(views); !final.equal(plan) {
			after.Wait()
			o.clearProbes()
			o.sendProbes(ctx, final)
			takeAfter()
		}
	}
	if role.compute() && o.libvirt != nil && obs.Libvirt.Error == "" {
		// The domains' second counter sample, after the final probes.
		after.Go(func() {
			if err := o.waitInterval(ctx); err != nil {
				fail(err)
				return
			}
			o.resampleDomains(ctx)
		})
	}
	after.Wait()
	select {
	case err := <-afterErr:
		return err
	default:
	}
	if role.compute() {
		o.observeLinks(ctx, views)
	}
	if role != RoleAllInOne {
		o.observeProvider(ctx, views) // join_observe_linux.go
	}
	joinNSFirewalls()
	joinNSFirewalls = func() {}
	o.observeHost()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	obs.Duration = time.Since(obs.Started)
	return nil
}

// sampleAfter waits out the counter interval and takes the second samples
// of what the probes may have changed: the bridges (FDB and counters) and
// the firewall's counters, together.
func (o *observer) sampleAfter(ctx context.Context) error {
	obs := o.obs
	if err := o.waitInterval(ctx); err != nil {
		return err
	}
	var after sync.WaitGroup
	after.Go(func() {
		if snap, err := o.bridges.Snapshot(ctx); err != nil {
			obs.Bridges.After, obs.Bridges.AfterError = nil, err.Error()
		} else {
			obs.Bridges.After, obs.Bridges.AfterError = snap, ""
		}
		obs.Bridges.AfterAt = time.Now()
	})
	if o.needFirewallAfter() {
		after.Go(func() { o.readFirewall(ctx, true) })
	}
	after.Wait()
	return nil
}

// waitInterval waits until the counter interval has passed since the
// bridges' first snapshot.
func (o *observer) waitInterval(ctx context.Context) error {
	if d := o.c.CounterInterval - time.Since(o.obs.Bridges.BeforeAt); d > 0 {
		t := time.NewTimer(d)
		defer t.Stop()
		select {
		case <-ctx.Done():
			return fmt.Errorf("trace: %w", ctx.Err())
		case <-t.C:
		}
	}
	return nil
}

// views resolves the NICs to observe on what is observed so far.
func (o *observer) views() []*view {
	var vs []*view
	if o.nics == nil {
		ix := newIndex(o.obs)
		reqs := nodeNICs(o.obs)
		vs = make([]*view, len(reqs))
		parallel(len(reqs), func(i int) { vs[i] = resolveIx(o.obs, ix, reqs[i].target, reqs[i].hint) })
		return vs
	}
	for _, n := range o.nics {
		vs = append(vs, resolve(o.obs, n.target, n.hint))
	}
	return vs
}

// loadAgent reads the linuxbridge agent's mappings: Config's maps, else
// Config.AgentConfig.
func (o *observer) loadAgent() {
	c := &o.c
	bf := &BridgeFacts{}
	o.obs.Bridges = bf
	switch {
	case c.InterfaceMappings != nil:
		bf.Agent = &linuxbridge.AgentMappings{Interfaces: c.InterfaceMappings, Bridges: c.BridgeMappings}
	case c.AgentConfig == "-":
		bf.AgentError = "Config.AgentConfig is \"-\" (read none)"
	default:
		m, err := linuxbridge.ReadAgentConfig(c.AgentConfig)
		if err != nil {
			bf.AgentError = err.Error()
			c.Logger.Warn("trace: no linuxbridge agent mappings: the physical-port hop guesses the provider NIC", "err", err)
		}
		bf.Agent = m
	}
}

// observeDomains takes the first counter sample of every domain and reads
// the details of the domains the request needs (all in node mode).
func (o *observer) observeDomains(ctx context.Context, base *Observation) *LibvirtFacts {
	lv := &LibvirtFacts{Domains: []DomainFacts{}}
	stats, err := o.libvirt.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface})
	if err != nil {
		lv.Error = err.Error()
		return lv
	}
	lv.StatsAt = time.Now()
	byUUID := map[string]*libvirtinspect.DomainStats{}
	for i := range stats {
		byUUID[stats[i].Domain.UUID] = &stats[i]
	}
	have := map[string]bool{}
	// add reads a domain's details; found is false when it does not exist.
	add := func(ref string) (found bool) {
		for _, d := range lv.Domains {
			if d.Name == ref || strings.EqualFold(d.UUID, ref) {
				return true
			}
		}
		det, err := o.libvirt.Details(ctx, ref)
		if err != nil {
			if !libvirtinspect.IsNotFound(err) {
				if lv.LookupErrors == nil {
					lv.LookupErrors = map[string]string{}
				}
				lv.LookupErrors[ref] = err.Error()
			}
			return false
		}
		if have[det.UUID] {
			return true
		}
		have[det.UUID] = true
		o.noteConsole(det)
		lv.Domains = append(lv.Domains, domainFacts(det, byUUID[det.UUID]))
		return true
	}
	if o.nics == nil {
		// Every domain: the stats gave each one's identity, state and
		// reason, so only its XML is read (one RPC each, pipelined).
		doms := make([]libvirtinspect.Domain, len(stats))
		for i := range stats {
			doms[i] = stats[i].Domain
		}
		dets, errs := o.libvirt.DetailsOf(ctx, doms)
		for i, det := range dets {
			switch {
			case errs[i] != nil && !libvirtinspect.IsNotFound(errs[i]):
				if lv.LookupErrors == nil {
					lv.LookupErrors = map[string]string{}
				}
				lv.LookupErrors[stats[i].Domain.UUID] = errs[i].Error()
			case errs[i] == nil:
				o.noteConsole(det)
				lv.Domains = append(lv.Domains, domainFacts(det, &stats[i]))
			}
		}
		return lv
	}
	for _, n := range o.nics {
		v := resolve(base, n.target, n.hint)
		tap := v.id.Tap
		if n.target.Domain != "" {
			if !add(n.target.Domain) && v.id.ServerID != "" && v.id.ServerID != n.target.Domain {
				add(v.id.ServerID)
			}
			continue
		}
		ref := ""
		if tap != "" {
			for _, s := range stats {
				for _, is := range s.Interfaces {
					if is.Name == tap {
						ref = s.Domain.UUID
					}
				}
			}
		}
		if ref != "" {
			add(ref)
			continue
		}
		// Not among the running domains' devices: look at each domain's
		// XML (a stopped domain keeps a Nova tap name as its target).
		var given hwaddr.MAC
		if n.target.MAC != nil {
			given = n.target.MAC
		} else if n.hint != nil && n.hint.port != nil {
			given = n.hint.port.MAC
		}
		for _, s := range stats {
			if tap != "" && s.Domain.State == libvirtinspect.StateRunning && len(s.Interfaces) > 0 {
				continue // its interfaces' devices are in the stats: not the tap
			}
			lv.Searched++
			if !add(s.Domain.UUID) {
				continue
			}
			d := lv.domainByRef(s.Domain.UUID)
			if i := pickInterface(d, tap, given, v.tap); i != nil && (tap == "" || i.Target == tap) {
				break
			}
		}
	}
	return lv
}

func domainFacts(det *libvirtinspect.Details, s *libvirtinspect.DomainStats) DomainFacts {
	d := DomainFacts{Name: det.Name, UUID: det.UUID, ID: det.ID, Type: det.Type, State: det.State, Reason: det.Reason.String(), Interfaces: det.Interfaces}
	if det.Nova != nil {
		d.Nova = &NovaFacts{InstanceUUID: det.Nova.InstanceUUID, Name: det.Nova.Name}
		for _, p := range det.Nova.Ports {
			d.Nova.Ports = append(d.Nova.Ports, p.UUID)
		}
	}
	if s != nil && len(s.Interfaces) > 0 {
		d.Stats, d.Running = s.Interfaces, true
	}
	return d
}

// resampleDomains takes the second counter sample of the domains read.
func (o *observer) resampleDomains(ctx context.Context) {
	lv := o.obs.Libvirt
	if len(lv.Domains) == 0 {
		return
	}
	all, err := o.libvirt.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsInterface, ActiveOnly: true})
	lv.StatsAfterAt = time.Now()
	if err != nil {
		lv.StatsAfterError = err.Error()
		return
	}
	for _, s := range all {
		if d := lv.domainByRef(s.Domain.UUID); d != nil {
			d.StatsAfter = s.Interfaces
		}
	}
}

// observeDHCP lists the qdhcp namespaces and reads the networks the
// request needs (every one in node mode).
func (o *observer) observeDHCP(ctx context.Context) error {
	d := &DHCPFacts{Namespaces: []string{}}
	o.obs.DHCP = d
	nss, err := o.dhcp.List(ctx)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return fmt.Errorf("trace: %w", cerr)
		}
		d.ListError = err.Error()
	}
	for _, ns := range nss {
		d.Namespaces = append(d.Namespaces, ns.NetworkID)
	}
	var want []string
	switch {
	case o.nics == nil && o.obs.Role == RoleNetwork:
		// The NICs are the hosts files' rows: every network.
		want = d.Namespaces
	case o.nics == nil:
		// The networks of the node's NICs (a qdhcp namespace no NIC here
		// uses belongs to no trace).
		for _, v := range o.views() {
			if v.id.NetworkID != "" && !slices.Contains(want, v.id.NetworkID) {
				want = append(want, v.id.NetworkID)
			}
		}
	default:
		var macs []hwaddr.MAC
		for _, n := range o.nics {
			v := resolve(o.obs, n.target, n.hint)
			var given hwaddr.MAC
			if n.target.MAC != nil {
				given = n.target.MAC
			} else if n.hint != nil && n.hint.port != nil && len(n.hint.port.MAC) == 6 {
				given = n.hint.port.MAC
			}
			if v.id.WantNetwork == "" && v.bridge == nil && given != nil {
				macs = append(macs, given)
			}
		}
		if len(macs) > 0 {
			d.HostsSearch = o.searchHosts(macs)
		}
		for _, n := range o.nics {
			v := resolve(o.obs, n.target, n.hint)
			if v.id.NetworkID != "" && !slices.Contains(want, v.id.NetworkID) {
				want = append(want, v.id.NetworkID)
			}
		}
	}
	d.Networks = make([]NetworkFacts, len(want))
	// One /proc scan for every network's dnsmasq, then the files.
	healths, herr := o.dhcp.CheckHealthAll(ctx, want)
	var wg sync.WaitGroup
	sem := make(chan struct{}, 16)
	for i, id := range want {
		if herr != nil {
			d.Networks[i] = NetworkFacts{NetworkID: id, HealthError: herr.Error()}
			continue
		}
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.Networks[i] = o.network(ctx, id, healths[i])
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return fmt.Errorf("trace: %w", err)
	}
	return nil
}

// probeDHCPServers starts, on wg, one probe for other DHCP servers per
// observed network with a serving interface (Config.ProbeDHCPServers),
// sixteen at a time (each listens the whole timeout); each fills in its
// network's DHCPServers.
func (o *observer) probeDHCPServers(ctx context.Context, wg *sync.WaitGroup) {
	if !o.c.ProbeDHCPServers || o.obs.DHCP == nil {
		return
	}
	opts := &dhcpns.DHCPProbeOptions{BridgeNetNSPath: o.c.BridgeNetNSPath, Timeout: o.c.DHCPServersTimeout}
	sem := make(chan struct{}, 16)
	for i := range o.obs.DHCP.Networks {
		n := &o.obs.DHCP.Networks[i]
		if n.ServingInterface == "" || n.HealthError != "" {
			continue
		}
		n.DHCPServers = &DHCPServersFacts{Timeout: opts.Timeout}
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			offers, err := o.dhcp.ProbeDHCPServers(ctx, n.NetworkID, opts)
			n.DHCPServers.Offers = offers
			if err != nil {
				n.DHCPServers.Error = err.Error()
			}
		})
	}
}

// network reads one network's DHCP facts from its health h (dhcpns's
// network-wide checks) and the hosts and lease files.
func (o *observer) network(ctx context.Context, id string, h *dhcpns.Health) NetworkFacts {
	n := NetworkFacts{NetworkID: id}
	for _, c := range h.Checks {
		if c.Name == dhcpns.CheckNamespace || c.Name == dhcpns.CheckDnsmasq || c.Name == dhcpns.CheckInterface {
			n.Checks = append(n.Checks, c)
		}
	}
	n.ServingInterface = h.ServingInterface
	if h.Snapshot != nil && n.ServingInterface != "" {
		n.ServingAddrs = []netip.Prefix{}
		for _, a := range h.Snapshot.AddrsOf(n.ServingInterface) {
			n.ServingAddrs = append(n.ServingAddrs, a.Prefix)
		}
	}
	o.readOpts(&n, h)
	o.readMetadata(ctx, &n, h)
	n.HostsPath = filepath.Join(o.c.StateDir, id, "host")
	n.LeasesPath = filepath.Join(o.c.StateDir, id, "leases")
	if h.Dnsmasq != nil {
		n.DnsmasqPID = h.Dnsmasq.PIDFromFile
		if conf := h.Dnsmasq.Config(); conf != nil {
			if conf.HostsFile != "" {
				n.HostsPath = conf.HostsFile
			}
			if conf.LeaseFile != "" {
				n.LeasesPath = conf.LeaseFile
			}
		}
	}
	if b, err := os.ReadFile(n.HostsPath); err != nil {
		n.HostsError = err.Error()
	} else {
		hosts, err := dhcpns.ParseHostsBytes(b)
		if err != nil {
			n.HostsNote = err.Error()
		}
		n.Hosts = hosts
	}
	ls, err := dhcpns.ReadLeaseFile(n.LeasesPath)
	switch {
	case ls == nil && errors.Is(err, fs.ErrNotExist):
		n.LeasesMissing = true
	case ls == nil:
		n.LeasesError = err.Error()
	default:
		if err != nil {
			n.LeasesNote = err.Error()
		}
		n.Leases = ls.Rows
	}
	return n
}

// searchHosts finds the networks of macs by the state directory's
// <network>/host files (Neutron writes "mac,host-…,ip" rows), in
// directory order.
func (o *observer) searchHosts(macs []hwaddr.MAC) *HostsSearch {
	s := &HostsSearch{}
	ents, err := os.ReadDir(o.c.StateDir)
	if err != nil {
		o.c.Logger.Debug("trace: cannot read the DHCP state directory", "dir", o.c.StateDir, "err", err)
		return s
	}
	for _, e := range ents {
		if !e.IsDir() {
			continue
		}
		path := filepath.Join(o.c.StateDir, e.Name(), "host")
		b, err := os.ReadFile(path)
		if err != nil {
			continue
		}
		s.Files++
		lower := bytes.ToLower(b)
		if !slices.ContainsFunc(macs, func(m hwaddr.MAC) bool { return bytes.Contains(lower, []byte(m.String())) }) {
			continue // most files: no need to parse them
		}
		hosts, err := dhcpns.ParseHostsBytes(b)
		if err != nil {
			continue
		}
		for _, m := range macs {
			for _, h := range hosts {
				if h.MAC != nil && h.MAC.Equal(m) {
					s.Rows = append(s.Rows, HostsHit{NetworkID: e.Name(), Path: path, Line: h.Line, MAC: m, IP: h.IP})
					break
				}
			}
		}
	}
	return s
}

// probePlan is what the probes of a set of NICs send: per network (in
// order), the addresses of its one ARP sweep and of its reachability
// probes.
type probePlan struct {
	order      []string
	arp, reach map[string][]netip.Addr
}

// planProbes plans the probes of views: each NIC's probe target in its
// network's ARP sweep, and (unless NoReach) each of its fixed IPv4
// addresses in the reachability probes.
func (o *observer) planProbes(views []*view) probePlan {
	p := probePlan{arp: map[string][]netip.Addr{}, reach: map[string][]netip.Addr{}}
	reach := !o.c.NoReach && o.fw != nil
	for _, v := range views {
		id, ip, ok := v.probeTarget()
		if !ok {
			continue
		}
		if _, seen := p.arp[id]; !seen {
			p.order = append(p.order, id)
		}
		if !slices.Contains(p.arp[id], ip) {
			p.arp[id] = append(p.arp[id], ip)
		}
		if !reach {
			continue
		}
		for _, ip := range v.fixedIPv4() {
			if !slices.Contains(p.reach[id], ip) {
				p.reach[id] = append(p.reach[id], ip)
			}
		}
	}
	return p
}

// equal tells whether p and q send the same probes.
func (p probePlan) equal(q probePlan) bool {
	eq := func(a, b map[string][]netip.Addr) bool {
		return maps.EqualFunc(a, b, func(x, y []netip.Addr) bool { return slices.Equal(x, y) })
	}
	return slices.Equal(p.order, q.order) && eq(p.arp, q.arp) && eq(p.reach, q.reach)
}

// sendProbes sends plan's ARP sweeps, one per qdhcp namespace, then its
// reachability probes (after the sweep: the neighbour entries are then
// warm).
func (o *observer) sendProbes(ctx context.Context, plan probePlan) {
	d := o.obs.DHCP
	var wg sync.WaitGroup
	for _, id := range plan.order {
		n := d.network(id)
		wg.Go(func() {
			ips := plan.arp[id]
			rs, err := o.dhcp.SweepARP(ctx, dhcpns.NamespaceName(id), n.ServingInterface, ips, &dhcpns.ARPOptions{Timeout: o.c.ARPTimeout, Attempts: 3, Settle: o.c.ARPSettle})
			for i, ip := range ips {
				a := ARPFacts{IP: ip, From: n.ServingInterface}
				if err != nil {
					a.Error = err.Error()
				} else {
					a.Replies = rs[i].Replies
				}
				n.ARP = append(n.ARP, a)
			}
		})
	}
	wg.Wait()
	o.probeReach(ctx, plan)
}

// clearProbes forgets every probe's result, before the probes are sent
// again.
func (o *observer) clearProbes() {
	for i := range o.obs.DHCP.Networks {
		n := &o.obs.DHCP.Networks[i]
		n.ARP, n.Reach, n.ReachError = nil, nil, ""
	}
}

// observeLinks looks up the interfaces the physical-port hops expect but
// did not find on a bridge.
func (o *observer) observeLinks(ctx context.Context, views []*view) {
	need := map[string]bool{}
	// The links a physical-port hop looks up depend on the bridge, the
	// network's provider attributes and the agent's mappings only: NICs
	// that share them need the same links (a node's many taps on one
	// network's bridge are judged once here).
	type key struct {
		bridge        *linuxbridge.Bridge
		netType, phys string
		segID         int
	}
	done := map[key]bool{}
	for _, v := range views {
		if v.bridge == nil {
			continue
		}
		k := key{v.bridge, v.id.NetType, v.id.PhysNet, v.id.SegID}
		if done[k] {
			continue
		}
		done[k] = true
		v.needLinks = need
		v.bridgeHops()
		// A second pass for the parent of a missing VLAN interface.
		o.lookupLinks(ctx, need)
		v.bridgeHops()
		v.needLinks = nil
	}
	o.lookupLinks(ctx, need)
}

func (o *observer) lookupLinks(ctx context.Context, need map[string]bool) {
	bf := o.obs.Bridges
	for name := range need {
		if slices.ContainsFunc(bf.Links, func(l LinkFacts) bool { return l.Name == name }) {
			continue
		}
		bf.Links = append(bf.Links, o.lookupLink(ctx, name))
	}
	slices.SortFunc(bf.Links, func(a, b LinkFacts) int { return strings.Compare(a.Name, b.Name) })
}

// lookupLink reads one interface in the bridges' namespace.
func (o *observer) lookupLink(ctx context.Context, name string) LinkFacts {
	st := LinkFacts{Name: name}
	l, err := o.bridges.Link(ctx, name)
	switch {
	case linuxbridge.IsNotFound(err):
		st.Missing = true
	case err != nil:
		st.Error = err.Error()
	default:
		st.Index, st.Up, st.LowerUp, st.OperState = l.Index, l.Up, l.LowerUp, l.OperState
	}
	return st
}

// observeHost reads bridge-nf-call-iptables in the bridges' namespace
// (the value is per network namespace since Linux 5.3) and
// NetworkManager's state.
func (o *observer) observeHost() {
	c, h := &o.c, &o.obs.Host
	h.BrNFPath = filepath.Join(c.ProcDir, "sys/net/bridge/bridge-nf-call-iptables")
	var b []byte
	var err error
	if c.BridgeNetNSPath == "" {
		b, err = os.ReadFile(h.BrNFPath)
	} else {
		err = netns.Do(c.BridgeNetNSPath, func() error {
			var e error
			b, e = os.ReadFile(h.BrNFPath)
			return e
		})
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.BrNFMissing = true
	case err != nil:
		h.BrNFError = err.Error()
	default:
		h.BrNF = string(b)
	}
	h.NM = readNM(c.NMRunDir, c.ProcDir)
}
