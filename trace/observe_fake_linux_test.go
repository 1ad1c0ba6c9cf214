package trace

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// fakeBridges serves a fixed first snapshot, then a second in which the
// probe's reply was learned (as the kernel does after the ARP probe).
type fakeBridges struct {
	snaps []*linuxbridge.Snapshot
	n     int
}

func (f *fakeBridges) Snapshot(context.Context) (*linuxbridge.Snapshot, error) {
	s := f.snaps[min(f.n, len(f.snaps)-1)]
	f.n++
	return s, nil
}

func (f *fakeBridges) Link(_ context.Context, name string) (*linuxbridge.Link, error) {
	return nil, fmt.Errorf("%w: no interface %s", linuxbridge.ErrNotFound, name)
}

type fakeLibvirt struct {
	doms []libvirtinspect.Details
	// gate, when set, holds DetailsOf until it is closed (a slow XML read).
	gate chan struct{}
}

func (f *fakeLibvirt) Stats(context.Context, *libvirtinspect.StatsRequest) ([]libvirtinspect.DomainStats, error) {
	var out []libvirtinspect.DomainStats
	for _, d := range f.doms {
		s := libvirtinspect.DomainStats{Domain: d.Domain}
		for _, i := range d.Interfaces {
			s.Interfaces = append(s.Interfaces, libvirtinspect.InterfaceStats{Name: i.Target, TxPackets: 1})
		}
		out = append(out, s)
	}
	return out, nil
}

func (f *fakeLibvirt) Details(_ context.Context, ref string) (*libvirtinspect.Details, error) {
	for i := range f.doms {
		if f.doms[i].Name == ref || f.doms[i].UUID == ref {
			return &f.doms[i], nil
		}
	}
	return nil, &os.PathError{Op: "lookup", Path: ref, Err: os.ErrNotExist}
}

func (f *fakeLibvirt) DetailsOf(ctx context.Context, doms []libvirtinspect.Domain) ([]*libvirtinspect.Details, []error) {
	if f.gate != nil {
		<-f.gate
	}
	dets, errs := make([]*libvirtinspect.Details, len(doms)), make([]error, len(doms))
	for i, d := range doms {
		dets[i], errs[i] = f.Details(ctx, d.UUID)
	}
	return dets, errs
}

type fakeDHCP struct {
	netID  string
	sweeps [][]netip.Addr
	answer hwaddr.MAC
	// swept, when set, is called after each sweep.
	swept func()
	// offers are what ProbeDHCPServers finds; serverProbes counts its
	// calls.
	offers       []dhcpns.DHCPOffer
	serverProbes int
}

func (f *fakeDHCP) ProbeDHCPServers(_ context.Context, id string, opts *dhcpns.DHCPProbeOptions) ([]dhcpns.DHCPOffer, error) {
	f.serverProbes++
	if id != f.netID || opts.Timeout <= 0 {
		return nil, fmt.Errorf("fake: DHCP servers probe of %s, timeout %s", id, opts.Timeout)
	}
	return f.offers, nil
}

func (f *fakeDHCP) List(context.Context) ([]dhcpns.NamespaceInfo, error) {
	return []dhcpns.NamespaceInfo{{Name: "qdhcp-" + f.netID, NetworkID: f.netID}}, nil
}

func (f *fakeDHCP) CheckHealthAll(_ context.Context, ids []string) ([]*dhcpns.Health, error) {
	out := make([]*dhcpns.Health, len(ids))
	for i, id := range ids {
		out[i] = f.health(id)
	}
	return out, nil
}

func (f *fakeDHCP) health(id string) *dhcpns.Health {
	return &dhcpns.Health{NetworkID: id, ServingInterface: "ns-0000000d-hc", Checks: []dhcpns.Check{
		{Name: dhcpns.CheckNamespace, Status: dhcpns.StatusOK, Summary: "present"},
		{Name: dhcpns.CheckDnsmasq, Status: dhcpns.StatusFail, Reason: dhcpns.ReasonDnsmasqStopped, Summary: "dnsmasq pid 7 is stopped"},
		{Name: dhcpns.CheckInterface, Status: dhcpns.StatusOK, Summary: "up"},
	}}
}

func (f *fakeDHCP) SweepARP(_ context.Context, ns, ifname string, ips []netip.Addr, _ *dhcpns.ARPOptions) ([]dhcpns.ARPResult, error) {
	f.sweeps = append(f.sweeps, ips)
	var out []dhcpns.ARPResult
	for _, ip := range ips {
		out = append(out, dhcpns.ARPResult{IP: ip, Replies: []dhcpns.ARPReply{{MAC: f.answer, RTT: 50 * time.Microsecond}}})
	}
	if f.swept != nil {
		f.swept()
	}
	return out, nil
}

// fakeNodeObserver is TestObserveNodeWithFakes's node: two VM taps
// (fa:16:3e:00:00:01 and :02, 10.0.0.5 and .6) on one bridge, one with a
// domain that also has a tapless interface, a network whose dnsmasq is
// stopped, and an ARP sweep answered by the first tap's MAC. No firewall
// source (o.fw nil).
func fakeNodeObserver(t *testing.T) (*observer, *fakeDHCP) {
	const netID = "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	br := linuxbridge.NetworkBridgeName(netID)
	mac1 := hwaddr.MustParse("fa:16:3e:00:00:01")
	mac2 := hwaddr.MustParse("fa:16:3e:00:00:02")
	port := func(name string, mac hwaddr.MAC) linuxbridge.Port {
		return linuxbridge.Port{Name: name, Kind: linuxbridge.PortTap, MAC: linuxbridge.TapMAC(mac), Up: true, LowerUp: true,
			OperState: linuxbridge.OperUp, STPState: linuxbridge.STPForwarding, Learning: true,
			Neutron: linuxbridge.DeviceName{Kind: linuxbridge.DeviceTap, IDPrefix: name[3:]}}
	}
	uplink := linuxbridge.Port{Name: "eth2", Kind: linuxbridge.PortVeth, Up: true, LowerUp: true, OperState: linuxbridge.OperUp, STPState: linuxbridge.STPForwarding}
	bridge := linuxbridge.Bridge{Name: br, Up: true, OperState: linuxbridge.OperUp, Neutron: linuxbridge.DeviceName{Kind: linuxbridge.DeviceBridge, IDPrefix: netID[:11]},
		Ports: []linuxbridge.Port{port("tap11111111-11", mac1), port("tap22222222-22", mac2), uplink}}
	before := &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{bridge}}
	after := &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{bridge}, FDB: []linuxbridge.FDBEntry{{MAC: mac1, Bridge: br, Port: "tap11111111-11", State: linuxbridge.FDBReachable}}}
	after.Bridges[0].Ports = append([]linuxbridge.Port(nil), bridge.Ports...)
	after.Bridges[0].Ports[0].Stats.RxPackets = 1

	dir := t.TempDir()
	state := filepath.Join(dir, "dhcp")
	os.MkdirAll(filepath.Join(state, netID), 0o755)
	os.WriteFile(filepath.Join(state, netID, "host"), []byte("fa:16:3e:00:00:01,host-10-0-0-5.openstacklocal,10.0.0.5\nfa:16:3e:00:00:02,host-10-0-0-6.openstacklocal,10.0.0.6\n"), 0o644)
	os.WriteFile(filepath.Join(state, netID, "leases"), []byte("1900000000 fa:16:3e:00:00:01 10.0.0.5 host-10-0-0-5 01:fa:16:3e:00:00:01\n"), 0o644)
	dom := libvirtinspect.Details{Domain: libvirtinspect.Domain{ID: 1, Name: "instance-00000001", UUID: "6b1e7b9e-0c1d-4b0e-9a43-3f3c2f4b1a10", State: libvirtinspect.StateRunning},
		Type: "kvm", Interfaces: []libvirtinspect.Interface{
			{Type: "bridge", Source: br, Target: "tap11111111-11", MAC: mac1, Model: "virtio"},
			{Type: "bridge", Source: br, Target: "tap33333333-33", MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0, 0, 3}, Model: "virtio"}}}

	c := (&Config{StateDir: state, NetNSDir: dir, ProcDir: dir, NMRunDir: dir, AgentConfig: "-", CounterInterval: -1, NodeName: "compute1"}).orDefault()
	fd := &fakeDHCP{netID: netID, answer: mac1}
	o := &observer{c: c, obs: newObservation(c, RoleAllInOne, Request{Mode: ModeNode}), bridges: &fakeBridges{snaps: []*linuxbridge.Snapshot{before, after}},
		libvirt: &fakeLibvirt{doms: []libvirtinspect.Details{dom}}, dhcp: fd}
	o.obs.Settings.Libvirt = true
	return o, fd
}

// TestObserveNodeWithFakes observes a node through fake sources (no root):
// two VM taps on one bridge, one of them without a domain, one libvirt
// domain whose interface's tap is on no bridge, a stopped dnsmasq. Node
// mode sends one sweep for the network, judges the FDB on the second
// snapshot, reports the orphans both ways and takes the dnsmasq cause from
// dhcpns's typed reason.
func TestObserveNodeWithFakes(t *testing.T) {
	o, fd := fakeNodeObserver(t)
	if err := o.observe(context.Background()); err != nil {
		t.Fatal(err)
	}
	if len(fd.sweeps) != 1 || len(fd.sweeps[0]) != 2 {
		t.Fatalf("ARP sweeps %v, want one sweep of both addresses", fd.sweeps)
	}
	nt := Judge(o.obs)
	byTap := map[string]*Trace{}
	for _, x := range nt.Traces {
		byTap[x.Tap] = x
	}
	t1, t2, t3 := byTap["tap11111111-11"], byTap["tap22222222-22"], byTap["tap33333333-33"]
	if t1 == nil || t2 == nil || t3 == nil || len(nt.Traces) != 3 {
		t.Fatalf("traces %v, want the two taps and the domain's tapless interface", byTap)
	}
	if h, _ := t1.Hop(KindFDB, ""); h.Verdict != OK {
		t.Errorf("tap1 fdb %s (%s): learned in the second snapshot", h.Verdict, h.Summary)
	}
	if h, _ := t1.Hop(KindDnsmasq, ""); h.Verdict != Fail || h.Cause != dhcpCause(KindDnsmasq, Fail, dhcpns.ReasonDnsmasqStopped) {
		t.Errorf("dnsmasq hop %s cause %q: want the stopped cause from the typed reason", h.Verdict, h.Cause)
	}
	if h, _ := t2.Hop(KindARP, ""); h.Verdict != Fail || h.Cause != "another host holds the port's IP (duplicate address)" {
		t.Errorf("tap2 arp %s (%s): the fake answers with tap1's MAC", h.Verdict, h.Summary)
	}
	if t1.Domain != "instance-00000001" || t2.Domain != "" {
		t.Errorf("domains %q, %q", t1.Domain, t2.Domain)
	}
	want := map[OrphanKind]string{OrphanTapNoDomain: "tap22222222-22", OrphanInterfaceNoTap: "instance-00000001/tap33333333-33"}
	if len(nt.Orphans) != len(want) {
		t.Errorf("orphans %+v, want %v", nt.Orphans, want)
	}
	for _, or := range nt.Orphans {
		if want[or.Kind] != or.Name || or.Detail == "" {
			t.Errorf("orphan %+v, want %v", or, want)
		}
	}
	if nt.Verdict != Fail {
		t.Errorf("node verdict %s", nt.Verdict)
	}
}

// TestObserveProbesAgainAfterSlowDomains: the probes go out before the
// domains' XML is read when that is slower than the DHCP side (node
// mode's usual order); when the XML then changes a probe target (here a
// domain for the second tap whose interface MAC, trusted over the tap's
// own, has another hosts row), every probe and the second bridge snapshot
// are taken again on the final NICs, and the first round's results are
// dropped.
func TestObserveProbesAgainAfterSlowDomains(t *testing.T) {
	o, fd := fakeNodeObserver(t)
	host := filepath.Join(o.c.StateDir, fd.netID, "host")
	b, _ := os.ReadFile(host)
	os.WriteFile(host, append(b, "fa:16:3e:00:00:04,host-10-0-0-8.openstacklocal,10.0.0.8\n"...), 0o644)
	lv := o.libvirt.(*fakeLibvirt)
	lv.doms = append(lv.doms, libvirtinspect.Details{Domain: libvirtinspect.Domain{ID: 2, Name: "instance-00000002", UUID: "0d6c1f4e-2a4b-4c1e-8f1a-2b3c4d5e6f70", State: libvirtinspect.StateRunning},
		Type: "kvm", Interfaces: []libvirtinspect.Interface{{Type: "bridge", Source: lv.doms[0].Interfaces[0].Source, Target: "tap22222222-22", MAC: hwaddr.MustParse("fa:16:3e:00:00:04"), Model: "virtio"}}})
	lv.gate = make(chan struct{})
	fd.swept = func() {
		if len(fd.sweeps) == 1 {
			close(lv.gate) // the XML arrives after the first round
		}
	}
	if err := o.observe(context.Background()); err != nil {
		t.Fatal(err)
	}
	a5, a6, a8 := netip.MustParseAddr("10.0.0.5"), netip.MustParseAddr("10.0.0.6"), netip.MustParseAddr("10.0.0.8")
	if len(fd.sweeps) != 2 || !slices.Equal(fd.sweeps[0], []netip.Addr{a5, a6}) || !slices.Equal(fd.sweeps[1], []netip.Addr{a5, a8}) {
		t.Fatalf("sweeps %v, want [.5 .6] before the XML, then [.5 .8]", fd.sweeps)
	}
	n := o.obs.DHCP.network(fd.netID)
	if len(n.ARP) != 2 || n.ARP[0].IP != a5 || n.ARP[1].IP != a8 {
		t.Errorf("ARP facts %+v: want the second round's .5 and .8 only", n.ARP)
	}
	if got := o.bridges.(*fakeBridges).n; got != 3 {
		t.Errorf("%d bridge snapshots, want 3: before, after the first round, after the second", got)
	}
	if o.obs.Bridges.After == nil || o.obs.Libvirt == nil || len(o.obs.Libvirt.Domains) != 2 {
		t.Fatalf("after snapshot %v, libvirt %+v", o.obs.Bridges.After != nil, o.obs.Libvirt)
	}
	for _, x := range Judge(o.obs).Traces {
		if x.Tap == "tap22222222-22" {
			if h, _ := x.Hop(KindARP, ""); !slices.ContainsFunc(h.Evidence, func(e Evidence) bool { return strings.Contains(e.Value, "10.0.0.8") }) && !strings.Contains(h.Summary, "10.0.0.8") {
				t.Errorf("tap2's ARP hop does not judge the XML MAC's address .8: %s %+v", h.Summary, h.Evidence)
			}
		}
	}
}

// fakeFirewall counts firewall reads and answers every reachability
// probe with one outcome.
type fakeFirewall struct {
	reads   atomic.Int32
	outcome dhcpns.ReachOutcome
	scoped  atomic.Int32 // reads asked for some taps only
}

func (f *fakeFirewall) Read(_ context.Context, taps []string) (*firewall.Snapshot, error) {
	f.reads.Add(1)
	if taps != nil {
		f.scoped.Add(1)
	}
	return &firewall.Snapshot{}, nil
}

func (f *fakeFirewall) ReadNamespace(context.Context, string) (*firewall.Snapshot, error) {
	return nil, errors.New("fake: no namespace firewall")
}

func (f *fakeFirewall) ProbeReach(_ context.Context, _ string, targets []netip.Addr) ([]dhcpns.ReachResult, error) {
	var out []dhcpns.ReachResult
	for _, t := range targets {
		out = append(out, dhcpns.ReachResult{Target: t, TCPPort: 22, ICMP: f.outcome, TCP: f.outcome})
	}
	return out, nil
}

// TestObserveFirewallAfterOnlyWhenSilent observes the fake node with a
// firewall: the firewall is read once before the probes, and a second
// time after them only when a reachability probe went unanswered (the
// only case whose judgement, the dropping rule's name, compares the two
// reads' counters); without the reachability probe (NoReach) never.
func TestObserveFirewallAfterOnlyWhenSilent(t *testing.T) {
	for _, tc := range []struct {
		name      string
		outcome   dhcpns.ReachOutcome
		noReach   bool
		wantReads int32
	}{
		{"answered", dhcpns.ReachAnswered, false, 1},
		{"refused", dhcpns.ReachRefused, false, 1},
		{"unreachable", dhcpns.ReachUnreachable, false, 1},
		{"silent", dhcpns.ReachSilent, false, 2},
		{"no-reach", dhcpns.ReachSilent, true, 1},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o, _ := fakeNodeObserver(t)
			fw := &fakeFirewall{outcome: tc.outcome}
			o.fw = fw
			o.c.NoReach = tc.noReach
			if err := o.observe(context.Background()); err != nil {
				t.Fatal(err)
			}
			f := o.obs.Firewall
			if got := fw.reads.Load(); got != tc.wantReads || f == nil || f.Before == nil || (f.After != nil) != (tc.wantReads == 2) {
				t.Fatalf("%d firewall reads, observation %+v; want %d reads, Before set, After set only for a second read", got, f, tc.wantReads)
			}
			if n := fw.scoped.Load(); n != 0 {
				t.Errorf("node mode read the firewall scoped to some taps %d time(s); it reads the whole node", n)
			}
			reached := 0
			for _, n := range o.obs.DHCP.Networks {
				reached += len(n.Reach)
			}
			if (reached == 0) != tc.noReach {
				t.Errorf("%d reachability results with NoReach %v", reached, tc.noReach)
			}
		})
	}
}

// TestFirewallTaps: a one-NIC or server observation scopes the firewall
// read to its NICs' taps (by tap or port ID); node mode, a NIC given by
// MAC, or no NIC reads the whole node.
func TestFirewallTaps(t *testing.T) {
	nic := func(tg Target) nicReq { return nicReq{target: tg} }
	for _, tc := range []struct {
		name string
		mode RequestMode
		nics []nicReq
		want []string
	}{
		{"tap", ModeNIC, []nicReq{nic(Target{Tap: "tap31f2d3e9-8d"})}, []string{"tap31f2d3e9-8d"}},
		{"port", ModeNIC, []nicReq{nic(Target{PortID: "31f2d3e9-8d4c-4b1a-9e2f-0a1b2c3d4e5f"})}, []string{"tap31f2d3e9-8d"}},
		{"mac", ModeNIC, []nicReq{nic(Target{MAC: hwaddr.MustParse("fa:16:3e:5c:21:0a")})}, nil},
		{"server", ModeServer, []nicReq{nic(Target{PortID: "31f2d3e9-8d4c-4b1a-9e2f-0a1b2c3d4e5f"}), nic(Target{PortID: "aa11bb22-cc33-4b1a-9e2f-0a1b2c3d4e5f"})}, []string{"tap31f2d3e9-8d", "tapaa11bb22-cc"}},
		{"server-no-port", ModeServer, []nicReq{}, nil},
		{"node", ModeNode, nil, nil},
	} {
		t.Run(tc.name, func(t *testing.T) {
			o := &observer{obs: &Observation{Request: Request{Mode: tc.mode}}, nics: tc.nics}
			if got := o.firewallTaps(); !slices.Equal(got, tc.want) || (got == nil) != (tc.want == nil) {
				t.Errorf("firewallTaps = %#v, want %#v", got, tc.want)
			}
		})
	}
}

// TestObserveDHCPServersWithFakes checks that the probe for other DHCP
// servers runs once per observed network only when Config asks for it,
// with the configured timeout, and that its OFFERs land in the network's
// facts and the settings say it ran.
func TestObserveDHCPServersWithFakes(t *testing.T) {
	for _, on := range []bool{false, true} {
		o, fd := fakeNodeObserver(t)
		o.c.ProbeDHCPServers = on
		o.obs.Settings.ProbeDHCPServers = on
		fd.offers = []dhcpns.DHCPOffer{{Server: netip.MustParseAddr("10.0.0.99"), IP: netip.MustParseAddr("10.0.0.50")}}
		if err := o.observe(context.Background()); err != nil {
			t.Fatal(err)
		}
		ds := o.obs.DHCP.Networks[0].DHCPServers
		switch {
		case !on && (fd.serverProbes != 0 || ds != nil):
			t.Errorf("off: %d probes, facts %+v; want none", fd.serverProbes, ds)
		case on && (fd.serverProbes != 1 || ds == nil || len(ds.Offers) != 1 || ds.Timeout != 4*time.Second || ds.Error != ""):
			t.Errorf("on: %d probes, facts %+v; want one probe, its offer, the 4 s default", fd.serverProbes, ds)
		}
	}
}
