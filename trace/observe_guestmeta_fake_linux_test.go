package trace

import (
	"context"
	"os"
	"path/filepath"
	"strings"
	"sync"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

type fakeConsole struct {
	mu   sync.Mutex
	refs []string
	data []byte
}

func (f *fakeConsole) ConsoleLog(_ context.Context, ref string, _ int) (*libvirtinspect.ConsoleLog, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.refs = append(f.refs, ref)
	return &libvirtinspect.ConsoleLog{Path: "/var/lib/nova/instances/" + ref + "/console.log", Data: f.data}, nil
}

// fakeMeta serves the real haproxy's recorded observation (alive) and
// records when the probe came: after how many ARP sweeps.
type fakeMeta struct {
	mu          sync.Mutex
	proxy       *dhcpns.MetadataProxy
	probe       *dhcpns.MetadataProbeResult
	dhcp        *fakeDHCP
	finds       []string
	probes      []string
	sweepsFirst []int
}

func (f *fakeMeta) FindMetadataProxy(_ context.Context, id string) (*dhcpns.MetadataProxy, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.finds = append(f.finds, id)
	return f.proxy, nil
}

func (f *fakeMeta) ProbeMetadata(_ context.Context, id string) (*dhcpns.MetadataProbeResult, error) {
	f.mu.Lock()
	defer f.mu.Unlock()
	f.probes = append(f.probes, id)
	f.sweepsFirst = append(f.sweepsFirst, len(f.dhcp.sweeps))
	return f.probe, nil
}

// TestObserveGuestMetadataWithFakes observes a node through fake sources
// (no root): the console is read once per domain, the metadata proxy
// once per network and probed once per namespace after the ARP sweep;
// the hops are judged from those facts. With NoConsole and
// NoMetadataProbe nothing is read or sent.
func TestObserveGuestMetadataWithFakes(t *testing.T) {
	const netID = "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	br := linuxbridge.NetworkBridgeName(netID)
	mac1 := hwaddr.MustParse("fa:16:3e:00:00:01")
	tap := linuxbridge.Port{Name: "tap11111111-11", Kind: linuxbridge.PortTap, MAC: linuxbridge.TapMAC(mac1), Up: true, LowerUp: true, MTU: 1500,
		OperState: linuxbridge.OperUp, STPState: linuxbridge.STPForwarding, Learning: true,
		Neutron: linuxbridge.DeviceName{Kind: linuxbridge.DeviceTap, IDPrefix: "11111111-11"}}
	uplink := linuxbridge.Port{Name: "eth2", Kind: linuxbridge.PortVeth, Up: true, LowerUp: true, MTU: 1500, OperState: linuxbridge.OperUp, STPState: linuxbridge.STPForwarding}
	bridge := linuxbridge.Bridge{Name: br, Up: true, MTU: 1500, OperState: linuxbridge.OperUp, Neutron: linuxbridge.DeviceName{Kind: linuxbridge.DeviceBridge, IDPrefix: netID[:11]},
		Ports: []linuxbridge.Port{tap, uplink}}
	snap := &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{bridge}}
	dom := libvirtinspect.Details{Domain: libvirtinspect.Domain{ID: 1, Name: "instance-00000001", UUID: "6b1e7b9e-0c1d-4b0e-9a43-3f3c2f4b1a10", State: libvirtinspect.StateRunning},
		Type: "kvm", Interfaces: []libvirtinspect.Interface{{Type: "bridge", Source: br, Target: tap.Name, MAC: mac1, Model: "virtio"}}}
	m := metadataFixture(t, "metadata-alive.json")
	// The guest's console: the demo guest leasing 192.168.31.74.
	console := readFixture(t, filepath.Join("..", "guestlog", "testdata", "demo-guest-leased.log"))

	for _, off := range []bool{false, true} {
		dir := t.TempDir()
		state := filepath.Join(dir, "dhcp")
		os.MkdirAll(filepath.Join(state, netID), 0o755)
		os.WriteFile(filepath.Join(state, netID, "host"), []byte("fa:16:3e:00:00:01,host-192-168-31-74.openstacklocal,192.168.31.74\n"), 0o644)
		os.WriteFile(filepath.Join(state, netID, "opts"), readFixture(t, filepath.Join("testdata", "zed-aio-opts.txt")), 0o644)
		c := (&Config{StateDir: state, NetNSDir: dir, ProcDir: dir, NMRunDir: dir, AgentConfig: "-", CounterInterval: -1, NodeName: "compute1",
			NoConsole: off, NoMetadataProbe: off}).orDefault()
		fd := &fakeDHCP{netID: netID, answer: mac1}
		fc := &fakeConsole{data: console}
		fm := &fakeMeta{proxy: m.Proxy, probe: m.Probe, dhcp: fd}
		o := &observer{c: c, obs: newObservation(c, RoleAllInOne, Request{Mode: ModeNode}), bridges: &fakeBridges{snaps: []*linuxbridge.Snapshot{snap}},
			libvirt: &fakeLibvirt{doms: []libvirtinspect.Details{dom}}, dhcp: fd, meta: fm}
		if !off {
			o.console = fc // as Observe: no console source with NoConsole
		}
		o.obs.Settings.Libvirt = true
		if err := o.observe(context.Background()); err != nil {
			t.Fatal(err)
		}
		nt := Judge(o.obs)
		if len(nt.Traces) != 1 {
			t.Fatalf("%d traces, want 1", len(nt.Traces))
		}
		tr := nt.Traces[0]
		g, md, mtu := hop(tr, KindGuest), hop(tr, KindMetadata), hop(tr, KindMTU)
		if len(fm.finds) != 1 || fm.finds[0] != netID {
			t.Errorf("off=%t: FindMetadataProxy calls %v, want one for %s", off, fm.finds, netID)
		}
		if off {
			if len(fc.refs) != 0 || len(fm.probes) != 0 {
				t.Errorf("NoConsole/NoMetadataProbe: consoles read %v, probes %v; want none", fc.refs, fm.probes)
			}
			if g.Verdict != Unknown || md.Verdict != OK || !strings.Contains(md.Summary, "listening on 169.254.169.254:80") {
				t.Errorf("off: guest %s (%s), metadata %s (%s); want unknown, ok on the listener", g.Verdict, g.Summary, md.Verdict, md.Summary)
			}
			continue
		}
		if len(fc.refs) != 1 || fc.refs[0] != dom.UUID {
			t.Errorf("consoles read %v, want the one domain once", fc.refs)
		}
		if len(fm.probes) != 1 || fm.sweepsFirst[0] != 1 {
			t.Errorf("metadata probes %v after %v ARP sweeps, want one, after the sweep", fm.probes, fm.sweepsFirst)
		}
		if g.Verdict != OK || !strings.Contains(g.Summary, "leased 192.168.31.74 from 192.168.31.70") {
			t.Errorf("guest hop %s (%s)", g.Verdict, g.Summary)
		}
		if md.Verdict != OK || !strings.Contains(md.Summary, "answered GET / with 200 OK") {
			t.Errorf("metadata hop %s (%s)", md.Verdict, md.Summary)
		}
		if v, _ := md.Get("dhcp_route"); !strings.Contains(v, "via 192.168.31.70") {
			t.Errorf("metadata hop's route %q: the opts file's option 121", v)
		}
		if mtu.Verdict != OK {
			t.Errorf("mtu hop %s (%s)", mtu.Verdict, mtu.Summary)
		}
	}
}
