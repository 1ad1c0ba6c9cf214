//go:build acceptance && linux

package acceptance

import (
	"bytes"
	"context"
	"errors"
	"net/netip"
	"os"
	"slices"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// The walkthrough's objects (seed: pike-launch-instance-walkthrough.md),
// plus a 128 MiB flavor: a stock Debian kernel cannot boot in m1.nano's
// 64 MiB, so the guest that must take a DHCP lease uses m1.micro.
const (
	flavorNano   = "m1.nano"
	flavorMicro  = "m1.micro"
	networkName  = "provider1"
	subnetName   = "provider1subnet"
	physnet      = "provider"
	serverName   = "vifpath-walkthrough"
	providerNIC  = "eth2"
	defaultImage = "cirros"
)

var (
	subnetCIDR = netip.MustParsePrefix("192.168.31.64/27")
	poolStart  = netip.MustParseAddr("192.168.31.70")
	poolEnd    = netip.MustParseAddr("192.168.31.79")
	gateway    = netip.MustParseAddr("192.168.31.1")
	dnsServer  = netip.MustParseAddr("8.8.4.4")
)

// cloud opens the launch client for the aio cloud: OS_CLOUD (default
// "vifpath-aio", the name aio/up.sh writes) from OS_CLIENT_CONFIG_FILE or
// the usual clouds.yaml places. Unreachable: skip, or fail under CI.
func cloud(t *testing.T) *launch.Client {
	t.Helper()
	testutil.RequireRoot(t)
	cfg := &launch.Config{Cloud: os.Getenv("OS_CLOUD")}
	if cfg.Cloud == "" && os.Getenv("OS_AUTH_URL") == "" {
		cfg.Cloud = "vifpath-aio"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 2*time.Minute)
	defer cancel()
	c, err := launch.Open(ctx, cfg)
	if err != nil {
		testutil.SkipOrFail(t, "no reachable cloud %q (bring one up with `sudo aio/up.sh`): %v", cfg.Cloud, err)
	}
	sweepOnce.Do(func() { sweepLeftovers(ctx, t, c) })
	// Whatever the test makes through c is deleted when it ends, even if a
	// check fails.
	t.Cleanup(func() {
		cctx, ccancel := context.WithTimeout(context.Background(), 5*time.Minute)
		defer ccancel()
		if err := c.Cleanup(cctx); err != nil {
			t.Errorf("cleanup of %v: %v", c.Created(), err)
		}
	})
	return c
}

var sweepOnce sync.Once

// sweepLeftovers deletes the servers of the suite's names that a run
// stopped before its cleanup left behind (seen: a run killed mid-test left
// vifpath-walkthrough, which went SHUTOFF when its qemu died, and every
// later run failed at launch; each leftover also holds one of the ten
// addresses of provider1's pool). Those are the fixed names, found by
// name, and TestAcceptanceNodeSeveral's nt-node-* servers, found through
// the ports bound on each compute host. Servers of other names are left
// alone.
func sweepLeftovers(ctx context.Context, t *testing.T, c *launch.Client) {
	t.Helper()
	stale := map[string]*launch.Server{}
	for _, name := range []string{serverName, "cirros1"} {
		s, err := c.Server(ctx, name)
		if errors.Is(err, launch.ErrNotFound) {
			continue
		}
		if err != nil {
			t.Fatalf("looking for a leftover server %s: %v", name, err)
		}
		stale[s.ID] = s
	}
	hvs, err := c.Hypervisors(ctx)
	if err != nil {
		t.Fatalf("listing the hypervisors to find leftover servers: %v", err)
	}
	for _, hv := range hvs {
		ports, err := c.PortsOnHost(ctx, hv.Host)
		if err != nil {
			t.Fatalf("listing the ports on %s to find leftover servers: %v", hv.Host, err)
		}
		for _, p := range ports {
			if !strings.HasPrefix(p.DeviceOwner, "compute:") || stale[p.DeviceID] != nil {
				continue
			}
			s, err := c.Server(ctx, p.DeviceID)
			if err != nil {
				continue // deleted meanwhile, or not this project's
			}
			if strings.HasPrefix(s.Name, nodeServerPrefix) {
				stale[s.ID] = s
			}
		}
	}
	for _, s := range stale {
		t.Logf("deleting server %s (%s, %s) left by an earlier run", s.Name, s.ID, s.Status)
		if err := c.DeleteServer(ctx, s.ID); err != nil {
			t.Fatalf("deleting the leftover server %s: %v", s.Name, err)
		}
	}
}

type pass struct {
	created map[string]bool
	network *launch.Network
	subnet  *launch.Subnet
	server  *launch.Server
}

// walkthrough runs the walkthrough's API steps once with launch's Ensure*
// calls, which find what exists and create what is missing. The server
// names no availability zone: the aio's default zone "nova" holds the
// controller only (compute1 is in zone "compute1"), so it boots there.
func walkthrough(ctx context.Context, t *testing.T, c *launch.Client, n int) pass {
	t.Helper()
	return walkthroughIn(ctx, t, c, n, "")
}

// walkthroughIn is walkthrough with the server booted in availability
// zone zone ("": Nova's default).
func walkthroughIn(ctx context.Context, t *testing.T, c *launch.Client, n int, zone string) pass {
	t.Helper()
	p := pass{created: map[string]bool{}}
	pf, err := c.Preflight(ctx, nil)
	if err != nil {
		t.Fatalf("pass %d: preflight: %v", n, err)
	}
	if !pf.Ready {
		t.Fatalf("pass %d: services and agents not all up:\n%s", n, pf)
	}
	hasAgent := func(binary string) bool {
		for _, a := range pf.Agents {
			if a.Binary == binary {
				return true
			}
		}
		return false
	}
	for _, b := range []string{"neutron-linuxbridge-agent", "neutron-dhcp-agent", "neutron-metadata-agent"} {
		if !hasAgent(b) {
			t.Errorf("pass %d: preflight lists no %s among %+v", n, b, pf.Agents)
		}
	}
	nano, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: flavorNano, ID: "0", VCPUs: 1, RAMMiB: 64, DiskGiB: 1})
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	p.created["flavor "+flavorNano] = nano.Created
	micro, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: flavorMicro, VCPUs: 1, RAMMiB: 128, DiskGiB: 1})
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	p.created["flavor "+flavorMicro] = micro.Created
	rules, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules())
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	if len(rules) != 2 {
		t.Errorf("pass %d: EnsureSecurityGroupRules returned %d rules, want ICMP and SSH", n, len(rules))
	}
	for _, r := range rules {
		p.created["rule "+r.Protocol] = r.Created
	}
	im, err := c.FindImage(ctx, imageName())
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	p.network, err = c.EnsureNetwork(ctx, launch.NetworkSpec{Name: networkName, Type: launch.NetworkFlat, PhysicalNetwork: physnet, Shared: true, External: true})
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	p.created["network"] = p.network.Created
	p.subnet, err = c.EnsureSubnet(ctx, launch.SubnetSpec{Name: subnetName, Network: p.network.ID, CIDR: subnetCIDR,
		PoolStart: poolStart, PoolEnd: poolEnd, Gateway: gateway, DNS: []netip.Addr{dnsServer}})
	if err != nil {
		t.Fatalf("pass %d: %v", n, err)
	}
	p.created["subnet"] = p.subnet.Created
	if p.subnet.CIDR != subnetCIDR || p.subnet.PoolStart != poolStart || p.subnet.PoolEnd != poolEnd ||
		p.subnet.Gateway != gateway || !slices.Equal(p.subnet.DNS, []netip.Addr{dnsServer}) || !p.subnet.DHCP {
		t.Errorf("pass %d: subnet = %+v, want the walkthrough's", n, p.subnet)
	}
	// The DHCP agent must host the network before the server's port asks for a lease.
	waitFor(ctx, t, "a live DHCP agent for provider1", func() (bool, string) {
		pf, err := c.Preflight(ctx, &launch.PreflightOptions{Network: p.network.ID})
		if err != nil {
			return false, err.Error()
		}
		return pf.Ready && pf.DHCPAlive, pf.String()
	})
	p.server, err = c.Launch(ctx, launch.ServerSpec{Name: serverName, Flavor: micro.ID, Image: im.ID, Network: p.network.ID, SecurityGroups: []string{"default"}, AvailabilityZone: zone})
	if err != nil {
		t.Fatalf("pass %d: launch: %v", n, err)
	}
	p.created["server"] = p.server.Created
	s := p.server
	if s.Status != launch.StatusActive || !strings.HasPrefix(s.InstanceName, "instance-") || len(s.Ports) != 1 ||
		s.Ports[0].VIFType != "bridge" || s.Ports[0].NetworkID != p.network.ID || len(s.Ports[0].FixedIPs) != 1 {
		t.Fatalf("pass %d: server = %+v; want ACTIVE, one port bound by linuxbridge (vif_type bridge) on provider1", n, s)
	}
	if ip := s.Ports[0].FixedIPs[0].Address; !subnetCIDR.Contains(ip) || ip.Less(poolStart) || poolEnd.Less(ip) {
		t.Errorf("pass %d: server address %s is outside the pool %s-%s", n, ip, poolStart, poolEnd)
	}
	return p
}

// TestAcceptanceWalkthrough replays the walkthrough twice (the second pass
// must create nothing) and checks, on this node, what each vifpath package
// sees of the server it launched.
func TestAcceptanceWalkthrough(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()

	first := walkthrough(ctx, t, c, 1)
	if !first.created["server"] {
		t.Errorf("first pass adopted an existing %s; the suite wants to launch it (delete it and rerun)", serverName)
	}
	t.Logf("first pass: created %v; server %s (%s) ACTIVE after %s, %d polls", first.created, first.server.ID, first.server.InstanceName, first.server.Waited, first.server.Polls)

	checkNode(ctx, t, first)
	checkNanoServer(ctx, t, c, first)

	second := walkthrough(ctx, t, c, 2)
	for what, created := range second.created {
		if created {
			t.Errorf("second pass created %s again", what)
		}
	}
	if second.server.ID != first.server.ID || second.network.ID != first.network.ID || second.subnet.ID != first.subnet.ID {
		t.Errorf("second pass found server %s network %s subnet %s; first pass had %s %s %s",
			second.server.ID, second.network.ID, second.subnet.ID, first.server.ID, first.network.ID, first.subnet.ID)
	}
}

// checkNode: the bridge, the DHCP namespace and dnsmasq, an ARP probe, the
// libvirt domain and its counters, all through vifpath.
func checkNode(ctx context.Context, t *testing.T, p pass) {
	t.Helper()
	netID := p.network.ID
	port := p.server.Ports[0]
	guestIP := port.FixedIPs[0].Address
	tapName := linuxbridge.PortTapName(port.ID)
	brName := linuxbridge.NetworkBridgeName(netID)

	// linuxbridge: brq<net> with eth2, the DHCP port's veth and the guest's tap.
	br := openBridge(t)
	var bridge *linuxbridge.Bridge
	waitFor(ctx, t, "bridge "+brName+" with "+providerNIC+" and "+tapName, func() (bool, string) {
		b, err := br.BridgeForNetwork(ctx, netID)
		if err != nil {
			return false, err.Error()
		}
		bridge = b
		_, nic := b.Port(providerNIC)
		_, tap := b.Port(tapName)
		return nic && tap, portNames(b)
	})
	if bridge.Name != brName || !bridge.Up || !bridge.Neutron.Matches(netID) {
		t.Errorf("bridge = %s up=%t neutron=%+v; want %s, up, naming network %s", bridge.Name, bridge.Up, bridge.Neutron, brName, netID)
	}
	tap, _ := bridge.Port(tapName)
	if tap.Kind != linuxbridge.PortTap || !bytes.Equal(tap.MAC, linuxbridge.TapMAC(hwaddr.MAC(port.MAC))) || !linuxbridge.SameNIC(tap.MAC, hwaddr.MAC(port.MAC)) || !tap.Neutron.Matches(port.ID) {
		t.Errorf("tap = %+v; want a tap with MAC %s naming port %s", tap, linuxbridge.TapMAC(hwaddr.MAC(port.MAC)), port.ID)
	}
	if nic, _ := bridge.Port(providerNIC); nic.Kind != linuxbridge.PortVeth || !nic.Up {
		t.Errorf("%s = %+v; want aio's veth, up", providerNIC, nic)
	}
	dhcpTaps := 0
	for _, pt := range bridge.Ports {
		if pt.Kind == linuxbridge.PortVeth && pt.Neutron.Kind != 0 && pt.Name != providerNIC {
			dhcpTaps++
		}
	}
	if dhcpTaps != 1 {
		t.Errorf("bridge ports %s: want exactly one tap veth for the DHCP port", portNames(bridge))
	}

	// dhcpns: namespace, ns- interface with the pool's first address, dnsmasq
	// alive inside it, the host entry and, once the guest booted, a renewed lease.
	var h *dhcpns.Health
	waitFor(ctx, t, "a healthy DHCP namespace with a renewed lease for "+port.MAC.String(), func() (bool, string) {
		var err error
		h, err = dhcpns.CheckHealth(ctx, nil, netID, hwaddr.MAC(port.MAC))
		if err != nil {
			return false, err.Error()
		}
		return h.Status == dhcpns.StatusOK && h.Lease != nil && h.Lease.Renewed(), healthSummary(h)
	})
	if h.Namespace == nil || h.Namespace.Name != dhcpns.NamespaceName(netID) || h.Namespace.Name != "qdhcp-"+netID {
		t.Errorf("namespace = %+v; want qdhcp-%s", h.Namespace, netID)
	}
	if h.Dnsmasq == nil || !h.Dnsmasq.Alive || !h.Dnsmasq.InsideNamespace || !h.Dnsmasq.CmdlineHasNetwork {
		t.Errorf("dnsmasq = %+v; want alive, inside the namespace, serving the network", h.Dnsmasq)
	}
	nsIf := h.ServingInterface
	if !strings.HasPrefix(nsIf, "ns-") || h.Snapshot == nil {
		t.Fatalf("serving interface %q, snapshot %v; want ns-<dhcp port>", nsIf, h.Snapshot != nil)
	}
	var has70 bool
	for _, a := range h.Snapshot.AddrsOf(nsIf) {
		has70 = has70 || a.Prefix == netip.PrefixFrom(poolStart, subnetCIDR.Bits())
	}
	if !has70 {
		t.Errorf("%s addresses %+v; want %s/%d (the DHCP port)", nsIf, h.Snapshot.AddrsOf(nsIf), poolStart, subnetCIDR.Bits())
	}
	if h.Host == nil || h.Host.IP != guestIP {
		t.Errorf("hosts entry = %+v; want %s for %s", h.Host, guestIP, port.MAC)
	}
	if h.Lease.IP != guestIP || !bytes.Equal(h.Lease.MAC, port.MAC) || !h.Lease.Expiry.After(time.Now()) {
		t.Errorf("lease = %+v; want a live renewed lease of %s for %s", h.Lease, guestIP, port.MAC)
	}

	// libvirtinspect: the domain (UUID = server ID), its interface on the
	// bridge, and counters that move while we ARP the guest.
	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	d, err := lv.Details(ctx, p.server.InstanceName)
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	if d.UUID != p.server.ID || d.State != libvirtinspect.StateRunning || d.Type != "qemu" {
		t.Errorf("domain = %+v; want UUID %s, running, type qemu (TCG)", d.Domain, p.server.ID)
	}
	if d.Nova == nil || d.Nova.Name != serverName || len(d.Nova.Ports) != 1 || d.Nova.Ports[0].UUID != port.ID ||
		len(d.Nova.Ports[0].IPs) != 1 || d.Nova.Ports[0].IPs[0].Address != guestIP || d.Nova.Flavor.Name != flavorMicro {
		t.Errorf("nova metadata = %+v; want %s, flavor %s, port %s with %s", d.Nova, serverName, flavorMicro, port.ID, guestIP)
	}
	if len(d.Interfaces) != 1 || d.Interfaces[0].Type != "bridge" || d.Interfaces[0].Bridge != brName ||
		d.Interfaces[0].Target != tapName || !bytes.Equal(d.Interfaces[0].MAC, port.MAC) {
		t.Errorf("interfaces = %+v; want one bridge interface on %s, target %s, MAC %s", d.Interfaces, brName, tapName, port.MAC)
	}
	before := ifStats(ctx, t, lv, p.server.InstanceName, tapName)

	// dhcpns ARP from the DHCP port's interface: answered by the port's MAC.
	prober, err := dhcpns.OpenARPProber(ctx, nil, h.Namespace.Name, nsIf)
	if err != nil {
		t.Fatalf("ARP prober in %s on %s: %v", h.Namespace.Name, nsIf, err)
	}
	defer prober.Close()
	res, err := prober.ProbeARP(ctx, guestIP, &dhcpns.ARPOptions{Timeout: 3 * time.Second, Attempts: 3})
	if err != nil {
		t.Fatalf("ARP probe of %s: %v", guestIP, err)
	}
	if !res.Answered() || res.Duplicate() || !bytes.Equal(res.Replies[0].MAC, port.MAC) {
		t.Errorf("ARP %s from %s = %+v; want one reply from %s", guestIP, nsIf, res, port.MAC)
	}
	after := ifStats(ctx, t, lv, p.server.InstanceName, tapName)
	if after.RxPackets <= before.RxPackets || after.TxPackets <= before.TxPackets {
		t.Errorf("counters of %s did not move across an answered ARP probe: before %+v after %+v", tapName, before, after)
	}

	// linuxbridge FDB: the guest's MAC was learned on its tap.
	entries, err := br.WhereIs(ctx, hwaddr.MAC(port.MAC))
	if err != nil {
		t.Fatalf("WhereIs(%s): %v", port.MAC, err)
	}
	if !slices.ContainsFunc(entries, func(e linuxbridge.FDBEntry) bool {
		return e.Bridge == brName && e.Port == tapName && e.Learned()
	}) {
		t.Errorf("FDB entries for %s = %+v; want learned on %s of %s", port.MAC, entries, tapName, brName)
	}
}

func openBridge(t *testing.T) *linuxbridge.Inspector {
	t.Helper()
	in, err := linuxbridge.Open(context.Background(), nil)
	if err != nil {
		t.Fatalf("linuxbridge: %v", err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}

func ifStats(ctx context.Context, t *testing.T, lv *libvirtinspect.Client, dom, tap string) libvirtinspect.InterfaceStats {
	t.Helper()
	all, err := lv.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsInterface, ActiveOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect stats: %v", err)
	}
	for _, s := range all {
		if s.Domain.Name != dom {
			continue
		}
		for _, i := range s.Interfaces {
			if i.Name == tap {
				return i
			}
		}
		t.Fatalf("stats of %s have no interface %s: %+v", dom, tap, s.Interfaces)
	}
	t.Fatalf("stats have no running domain %s", dom)
	return libvirtinspect.InterfaceStats{}
}

// waitFor polls cond every 2 s until it holds or ctx ends (then the last
// detail goes into the failure).
// waitRenewed waits (through waitFor) until the network's DHCP namespace
// is healthy and holds a lease row for mac that the guest renewed.
func waitRenewed(ctx context.Context, t *testing.T, what, netID string, mac hwaddr.MAC) {
	t.Helper()
	waitFor(ctx, t, what, func() (bool, string) {
		h, err := dhcpns.CheckHealth(ctx, nil, netID, mac)
		if err != nil {
			return false, err.Error()
		}
		return h.Status == dhcpns.StatusOK && h.Lease != nil && h.Lease.Renewed(), healthSummary(h)
	})
}

func waitFor(ctx context.Context, t *testing.T, what string, cond func() (bool, string)) {
	t.Helper()
	start := time.Now()
	last := ""
	for {
		ok, detail := cond()
		if ok {
			t.Logf("%s after %s", what, time.Since(start).Round(100*time.Millisecond))
			return
		}
		last = detail
		select {
		case <-ctx.Done():
			t.Fatalf("gave up waiting for %s after %s: %s", what, time.Since(start).Round(time.Second), last)
		case <-time.After(2 * time.Second):
		}
		if time.Since(start) > 5*time.Minute {
			t.Fatalf("gave up waiting for %s after 5m: %s", what, last)
		}
	}
}

func portNames(b *linuxbridge.Bridge) string {
	var names []string
	for _, p := range b.Ports {
		names = append(names, p.Name+"("+p.Kind.String()+")")
	}
	return b.Name + ": " + strings.Join(names, " ")
}

func healthSummary(h *dhcpns.Health) string {
	var s []string
	for _, c := range h.Checks {
		s = append(s, c.Name+"="+c.Status.String()+" ("+c.Summary+")")
	}
	return strings.Join(s, "; ")
}

// checkNanoServer launches the walkthrough's own server, cirros1 on m1.nano,
// and checks that it is ACTIVE with its domain running and its tap on the
// provider bridge. A stock Debian kernel cannot boot in 64 MiB (under TCG it
// resets in a loop and pins a core), so no lease is expected and the server
// is deleted right after the checks.
func checkNanoServer(ctx context.Context, t *testing.T, c *launch.Client, p pass) {
	t.Helper()
	s, err := c.Launch(ctx, launch.ServerSpec{Name: "cirros1", Flavor: flavorNano, Image: imageName(), Network: p.network.ID, SecurityGroups: []string{"default"}})
	if err != nil {
		t.Fatalf("launch cirros1 on %s: %v", flavorNano, err)
	}
	defer func() {
		if err := c.DeleteServer(ctx, s.ID); err != nil {
			t.Errorf("delete cirros1: %v", err)
		}
	}()
	if s.Status != launch.StatusActive || len(s.Ports) != 1 || s.Ports[0].VIFType != "bridge" {
		t.Fatalf("cirros1 = %+v; want ACTIVE with one port bound by linuxbridge", s)
	}
	tapName := linuxbridge.PortTapName(s.Ports[0].ID)
	br := openBridge(t)
	waitFor(ctx, t, "cirros1's "+tapName+" on the provider bridge", func() (bool, string) {
		b, err := br.BridgeForNetwork(ctx, p.network.ID)
		if err != nil {
			return false, err.Error()
		}
		_, ok := b.Port(tapName)
		return ok, portNames(b)
	})
	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	d, err := lv.Details(ctx, s.InstanceName)
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	if d.UUID != s.ID || d.State != libvirtinspect.StateRunning || d.Nova == nil || d.Nova.Flavor.Name != flavorNano ||
		len(d.Interfaces) != 1 || d.Interfaces[0].Target != tapName {
		t.Errorf("cirros1 domain = %+v nova=%+v interfaces=%+v; want running, flavor %s, target %s", d.Domain, d.Nova, d.Interfaces, flavorNano, tapName)
	}
}

func imageName() string {
	if v := os.Getenv("VIFPATH_ACCEPTANCE_IMAGE"); v != "" {
		return v
	}
	return defaultImage
}
