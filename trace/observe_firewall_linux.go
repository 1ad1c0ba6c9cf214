package trace

import (
	"context"
	"net/netip"
	"path/filepath"
	"slices"
	"strings"
	"sync"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/launch"
)

// firewallSource is what the observation reads the compute node's
// firewall through (firewall.Read) and sends the reachability probes
// through (dhcpns.ProbeReach).
type firewallSource interface {
	// Read reads the firewall, scoped to taps unless that is nil (the
	// whole node).
	Read(ctx context.Context, taps []string) (*firewall.Snapshot, error)
	ProbeReach(ctx context.Context, namespace string, targets []netip.Addr) ([]dhcpns.ReachResult, error)
	// ReadNamespace reads the IPv4 iptables of the namespace at
	// netnsPath, whole (a qdhcp namespace's own filter table).
	ReadNamespace(ctx context.Context, netnsPath string) (*firewall.Snapshot, error)
}

// firewallPkg is firewallSource on the firewall and dhcpns packages.
type firewallPkg struct {
	fw   *firewall.Config
	dhcp *dhcpns.Config
	opts *dhcpns.ReachOptions
}

func (f firewallPkg) Read(ctx context.Context, taps []string) (*firewall.Snapshot, error) {
	if len(taps) == 0 || len(f.fw.Taps) > 0 {
		return firewall.Read(ctx, f.fw)
	}
	c := *f.fw
	c.Taps = taps
	return firewall.Read(ctx, &c)
}

func (f firewallPkg) ProbeReach(ctx context.Context, namespace string, targets []netip.Addr) ([]dhcpns.ReachResult, error) {
	return dhcpns.ProbeReach(ctx, f.dhcp, namespace, targets, f.opts)
}

func (f firewallPkg) ReadNamespace(ctx context.Context, netnsPath string) (*firewall.Snapshot, error) {
	c := *f.fw
	c.NetNSPath, c.Taps, c.SkipIPv6 = netnsPath, nil, true
	return firewall.Read(ctx, &c)
}

// readDHCPFirewalls reads the own iptables of each observed network's
// qdhcp namespace (NetworkFacts.Firewall): a rule there can drop DHCP,
// the probes or the metadata proxy's traffic while every process and
// file is fine (seen on the aio cloud). The reads run while the probes
// are sent and the counter interval passes; join waits for them and sets
// the facts (on no NetworkFacts before then: the probes read those).
func (o *observer) readDHCPFirewalls(ctx context.Context) (join func()) {
	d := o.obs.DHCP
	if o.fw == nil || o.c.NoFirewall || d == nil {
		return func() {}
	}
	type read struct {
		s   *firewall.Snapshot
		err error
		ok  bool
	}
	res := make([]read, len(d.Networks))
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range d.Networks {
		n := &d.Networks[i]
		if n.HealthError != "" || !slices.Contains(d.Namespaces, n.NetworkID) {
			continue
		}
		path := filepath.Join(o.c.NetNSDir, dhcpns.NamespaceName(n.NetworkID))
		wg.Go(func() {
			sem <- struct{}{}
			defer func() { <-sem }()
			s, err := o.fw.ReadNamespace(ctx, path)
			res[i] = read{s: s, err: err, ok: true}
		})
	}
	return func() {
		wg.Wait()
		for i, r := range res {
			switch {
			case !r.ok:
			case r.err != nil:
				d.Networks[i].FirewallError = r.err.Error()
			default:
				d.Networks[i].Firewall = r.s
			}
		}
	}
}

// newFirewallSource reads the firewall of the bridges' namespace.
func newFirewallSource(c Config) firewallPkg {
	fc := firewall.Config{}
	if c.Firewall != nil {
		fc = *c.Firewall
	}
	//lint:ignore SA1019 a caller's Firewall may still set the deprecated NetNS; it wins over the default as before
	if fc.NetNSPath == "" && fc.NetNS == "" {
		fc.NetNSPath = c.BridgeNetNSPath
	}
	return firewallPkg{fw: &fc,
		dhcp: &dhcpns.Config{NetNSDir: c.NetNSDir, ProcDir: c.ProcDir, StateDir: c.StateDir, Logger: c.Logger},
		opts: &dhcpns.ReachOptions{Timeout: c.ARPTimeout}}
}

// startFirewall sets obs.Firewall when the firewall is to be read, so
// readFirewall may run on another goroutine while the rest of the
// observation is read.
func (o *observer) startFirewall() {
	if o.c.NoFirewall || o.fw == nil || o.obs.Firewall != nil {
		return
	}
	o.obs.Firewall = &FirewallObs{}
}

// readFirewall reads the compute node's firewall, before the probes
// (after=false) or after them. It writes only obs.Firewall's fields
// (set by startFirewall).
func (o *observer) readFirewall(ctx context.Context, after bool) {
	o.startFirewall()
	f := o.obs.Firewall
	if f == nil {
		return
	}
	s, err := o.fw.Read(ctx, o.firewallTaps())
	switch {
	case after && err != nil:
		f.After, f.AfterError = nil, err.Error()
	case after:
		f.After, f.AfterError = s, ""
	case err != nil:
		f.BeforeError = err.Error()
	default:
		f.Before = s
	}
}

// firewallTaps are the taps a one-NIC or server trace's firewall read is
// scoped to (firewall.Config.Taps): each requested NIC's tap, named by
// its tap or port ID. nil, the whole node, in node mode, without the
// compute side, or when a NIC is given by MAC only (its tap is known only
// once the bridges are resolved, and the read runs alongside that). The
// after-probe read uses the same scope as the one before, so Moved
// compares like with like.
func (o *observer) firewallTaps() []string {
	if o.obs.Request.Mode == ModeNode || len(o.nics) == 0 {
		return nil
	}
	var taps []string
	for _, n := range o.nics {
		switch t := n.target; {
		case t.Tap != "":
			taps = append(taps, t.Tap)
		case t.PortID != "":
			taps = append(taps, firewall.TapName(t.PortID))
		default:
			return nil
		}
	}
	return taps
}

// needFirewallAfter reports whether the firewall must be read again after
// the probes. That second read serves one judgement only: naming the
// DROP rule whose counter grew (FirewallFacts.Moved) when a reachability
// probe went unanswered (dhcpns.ReachSilent). A probe answered, refused
// or unreachable needs no such lookup, and without reachability results
// (NoReach, NoARP, a compute node, no NIC with a network here, or the
// probe's error) there is nothing to explain: the read is skipped and
// FirewallObs.After stays nil, which the judges read as "no counter
// comparison" (as when it could not be read).
func (o *observer) needFirewallAfter() bool {
	if o.obs.Firewall == nil || o.obs.DHCP == nil {
		return false
	}
	for _, n := range o.obs.DHCP.Networks {
		for _, r := range n.Reach {
			if r.ICMP == dhcpns.ReachSilent || r.TCP == dhcpns.ReachSilent {
				return true
			}
		}
	}
	return false
}

// probeReach sends plan's reachability probes (each NIC's fixed IPv4
// addresses) from each network's qdhcp namespace, one call per namespace.
// (planProbes plans none without a firewall source.)
func (o *observer) probeReach(ctx context.Context, plan probePlan) {
	var wg sync.WaitGroup
	for _, id := range plan.order {
		ips := plan.reach[id]
		if len(ips) == 0 {
			continue
		}
		n := o.obs.DHCP.network(id)
		wg.Go(func() {
			rs, err := o.fw.ProbeReach(ctx, dhcpns.NamespaceName(id), ips)
			if err != nil {
				n.ReachError = err.Error()
				return
			}
			n.Reach = rs
		})
	}
	wg.Wait()
}

// readPolicies reads the security policy of every port in facts.
func readPolicies(ctx context.Context, c Config, api *launch.Client, facts *APIFacts) {
	if c.NoFirewall {
		return
	}
	for _, s := range facts.Servers {
		for _, p := range s.Ports {
			if p.ID == "" || facts.Policies[p.ID] != nil || facts.PolicyErrors[p.ID] != "" {
				continue
			}
			wctx, cancel := context.WithTimeout(ctx, c.ServerWait)
			pol, err := api.PortPolicy(wctx, p.ID)
			cancel()
			if err != nil {
				if facts.PolicyErrors == nil {
					facts.PolicyErrors = map[string]string{}
				}
				facts.PolicyErrors[p.ID] = strings.TrimPrefix(err.Error(), "launch: ")
				continue
			}
			if facts.Policies == nil {
				facts.Policies = map[string]*firewall.Policy{}
			}
			facts.Policies[p.ID] = pol
		}
	}
}
