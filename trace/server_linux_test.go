package trace_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// fakeClient opens a launch.Client on the in-process fake cloud through
// a clouds.yaml (the real auth path), with quick polls.
func fakeClient(t *testing.T, fake *fakecloud.Cloud) *launch.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := launch.Open(context.Background(), &launch.Config{Cloud: "fake", CloudsFile: path,
		HTTPClient: &http.Client{Transport: fake.Transport()}, PollFirst: 10 * time.Millisecond, PollMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("launch.Open: %v", err)
	}
	return c
}

// launchFake boots a server on the fake's recorded provider1 network and
// returns it with its port (or the FaultError when the fake fails it).
func launchFake(t *testing.T, c *launch.Client, name string) (string, launch.Port, *launch.FaultError) {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	srv, err := c.Launch(ctx, launch.ServerSpec{Name: name, Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
	var fe *launch.FaultError
	switch {
	case errors.As(err, &fe):
		if len(fe.Ports) != 1 {
			t.Fatalf("fault %v with %d ports", fe, len(fe.Ports))
		}
		return fe.ServerID, fe.Ports[0], fe
	case err != nil:
		t.Fatalf("Launch: %v", err)
	}
	if len(srv.Ports) != 1 || len(srv.Ports[0].FixedIPs) != 1 {
		t.Fatalf("server %+v: want one port with one fixed IP", srv)
	}
	return srv.ID, srv.Ports[0], nil
}

// topoForPort builds the walkthrough topology with the port's identities
// (network, port ID, MAC, fixed IP) so the local hops match Neutron's.
func topoForPort(t *testing.T, p launch.Port) *topo {
	t.Helper()
	tp := newTopo(t, topoOpts{dhcp: true, netID: p.NetworkID, portID: p.ID, mac: net.HardwareAddr(p.MAC), ip: p.FixedIPs[0].Address})
	tp.cfg.NodeName = fakecloud.Host // this node plays the fake's compute host
	return tp
}

func runServer(t *testing.T, cfg *trace.Config, c *launch.Client, id string) *trace.ServerTrace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	st, err := trace.Server(ctx, cfg, c, id)
	if err != nil {
		t.Fatalf("Server(%s): %v", id, err)
	}
	var b strings.Builder
	st.WriteText(&b)
	t.Logf("\n%s", b.String())
	return st
}

// TestIntegrationServerHealthy traces a server of the fake cloud whose
// port's tap, bridge, qdhcp namespace, dnsmasq and guest exist locally
// (built with the port's IDs): server and port hops OK, then every local
// hop as in the no-API healthy trace.
func TestIntegrationServerHealthy(t *testing.T) {
	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	id, port, _ := launchFake(t, c, "trvm1")
	tp := topoForPort(t, port)
	st := runServer(t, tp.cfg, c, id)
	if st.ServerID != id || st.ServerName != "trvm1" || st.Status != "ACTIVE" || st.Host != fakecloud.Host || len(st.Traces) != 1 {
		t.Fatalf("server trace %+v", st)
	}
	tr := st.Traces[0]
	if len(tr.Hops) < 4 || tr.Hops[0].Kind != trace.KindServer || tr.Hops[1].Kind != trace.KindPort {
		t.Fatalf("hops: %+v", tr.Hops)
	}
	sh, ph := tr.Hops[0], tr.Hops[1]
	if sh.Verdict != trace.OK || sh.Name != "trvm1" {
		t.Errorf("server hop %+v", sh)
	}
	if v, _ := sh.Get("id"); v != id {
		t.Errorf("server hop id %q, want %s", v, id)
	}
	if ph.Verdict != trace.OK || ph.Name != port.ID {
		t.Errorf("port hop %+v", ph)
	}
	for k, want := range map[string]string{"network_id": port.NetworkID, "mac": port.MAC.String(), "vif_type": "bridge", "binding_host": fakecloud.Host, "tap": tp.tap, "bridge": tp.n.Bridge} {
		if v, _ := ph.Get(k); v != want {
			t.Errorf("port hop %s = %q, want %q", k, v, want)
		}
	}
	// The local part is the no-API trace of the port's tap: the same hops
	// and verdicts (no libvirt client here).
	local := &trace.Trace{Hops: tr.Hops[2:]}
	want(t, local, nil)
	if tr.Tap != tp.tap || tr.PortMAC.String() != port.MAC.String() || tr.NetworkID != port.NetworkID || tr.IP != port.FixedIPs[0].Address {
		t.Errorf("identities: tap %s mac %s network %s ip %s", tr.Tap, tr.PortMAC, tr.NetworkID, tr.IP)
	}
	if h, _ := tr.Hop(trace.KindHostsEntry, ""); !strings.Contains(func() string { v, _ := h.Get("port_mac"); return v }(), "Neutron port") {
		t.Errorf("hosts-entry hop does not say the MAC came from Neutron: %+v", h)
	}
	if st.Verdict != trace.OK || tr.Verdict != trace.OK {
		t.Errorf("verdicts: server trace %s, trace %s", st.Verdict, tr.Verdict)
	}

	// Traced from another node: the port hop warns that its tap is on the
	// binding host.
	elsewhere := *tp.cfg
	elsewhere.NodeName = "trnode2"
	st = runServer(t, &elsewhere, c, id)
	if ph := st.Traces[0].Hops[1]; ph.Verdict != trace.Warn || ph.Summary != "bound to "+fakecloud.Host+"; this trace runs on trnode2" || ph.Cause == "" {
		t.Errorf("traced elsewhere: port hop %+v", ph)
	}

	// The port's network is not the bridge the tap is on: the bridge hop
	// fails (the API knows which bridge it must be).
	tp.n.Host.Bridge(t, "brqtr00000000")
	tp.n.Host.Enslave(t, tp.tap, "brqtr00000000")
	waitOperUp(t, tp.n.Host, tp.tap)
	st = runServer(t, tp.cfg, c, id)
	if h, _ := st.Traces[0].Hop(trace.KindBridge, ""); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "the port's network bridge is "+tp.n.Bridge) {
		t.Errorf("tap on another network's bridge: bridge hop %+v", h)
	}

	// Not found is an error satisfying fs.ErrNotExist.
	if _, err := trace.Server(context.Background(), tp.cfg, c, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown server: %v, want fs.ErrNotExist", err)
	}
}

// TestIntegrationServerBindingFailed: Nova puts the server in ERROR and
// the port's binding failed; the server hop shows Nova's fault as
// evidence, the port hop fails with binding_failed, and the local trace
// finds no tap.
func TestIntegrationServerBindingFailed(t *testing.T) {
	fake := fakecloud.New(&fakecloud.Config{ErrorTime: time.Millisecond})
	msg := "Build of instance aborted: Failed to allocate the network(s), not rescheduling."
	fake.FailServer("trvm2", fakecloud.ServerFault{Code: 500, Message: msg, Details: "PortBindingFailed", After: time.Millisecond, BindingFailed: true})
	c := fakeClient(t, fake)
	id, port, fe := launchFake(t, c, "trvm2")
	if fe == nil || port.VIFType != "binding_failed" {
		t.Fatalf("the fake did not fail the binding: %v %+v", fe, port)
	}
	// The local side has the network (bridge, DHCP) but Nova never
	// plugged the guest: build the topology for another port and trace
	// this one.
	other := port
	other.ID = "0badc0de-0000-4000-8000-" + randHex(12)
	tp := topoForPort(t, other)
	st := runServer(t, tp.cfg, c, id)
	if st.Status != "ERROR" || len(st.Traces) != 1 || st.Verdict != trace.Fail {
		t.Fatalf("server trace %+v", st)
	}
	tr := st.Traces[0]
	sh, ph := tr.Hops[0], tr.Hops[1]
	if sh.Kind != trace.KindServer || sh.Verdict != trace.Fail || sh.Summary != "ERROR: "+msg || sh.Cause == "" || sh.Next == "" {
		t.Errorf("server hop %+v", sh)
	}
	for k, want := range map[string]string{"fault_message": msg, "fault_code": "500", "fault_details": "PortBindingFailed", "status": "ERROR"} {
		if v, _ := sh.Get(k); v != want {
			t.Errorf("server hop evidence %s = %q, want %q", k, v, want)
		}
	}
	if ph.Kind != trace.KindPort || ph.Verdict != trace.Fail || !strings.HasPrefix(ph.Summary, "binding failed") || ph.Cause == "" || ph.Next == "" {
		t.Errorf("port hop %+v", ph)
	}
	if v, _ := ph.Get("vif_type"); v != "binding_failed" {
		t.Errorf("port hop vif_type %q", v)
	}
	if h, _ := tr.Hop(trace.KindTap, ""); h.Verdict != trace.Fail || h.Name != tp.tap[:3]+port.ID[:11] {
		t.Errorf("tap hop %+v, want fail for tap%s", h, port.ID[:11])
	}
}

// TestServerError (no root: no local part): a server in ERROR for a reason other than
// the binding (no valid host): Nova's fault is the server hop's evidence;
// the scheduler never allocated a port, so the port hop fails with "no
// port".
func TestServerError(t *testing.T) {
	fake := fakecloud.New(&fakecloud.Config{ErrorTime: time.Millisecond, HostRAMMiB: 32})
	c := fakeClient(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	_, err := c.Launch(ctx, launch.ServerSpec{Name: "trvm3", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
	var fe *launch.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Launch: %v, want a FaultError", err)
	}
	st := runServer(t, &trace.Config{NoFirewall: true, NoReach: true, NMRunDir: t.TempDir()}, c, fe.ServerID)
	if st.Status != "ERROR" || len(st.Traces) != 1 {
		t.Fatalf("server trace %+v", st)
	}
	tr := st.Traces[0]
	if len(tr.Hops) != 2 {
		t.Fatalf("hops %+v, want server and port only", tr.Hops)
	}
	sh, ph := tr.Hops[0], tr.Hops[1]
	if v, _ := sh.Get("fault_message"); sh.Verdict != trace.Fail || !strings.HasPrefix(v, "No valid host was found") || sh.Summary != "ERROR: "+v {
		t.Errorf("server hop %+v", sh)
	}
	if ph.Verdict != trace.Fail || ph.Name != "(none)" || !strings.Contains(ph.Summary, fe.ServerID) {
		t.Errorf("port hop %+v", ph)
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("verdict %s", tr.Verdict)
	}
}

// TestIntegrationServerLibvirt adds the domain and interface hops to the
// API mode, with a domain of the system libvirtd's test driver (no qemu,
// no host device) whose UUID is the fake server's and whose interface is
// the port's tap on its network's bridge. The fake reports a recorded
// instance name that is no domain here, so the domain is found by the
// server's UUID. Then the domain is redefined with another port's MAC: the
// interface hop fails.
func TestIntegrationServerLibvirt(t *testing.T) {
	d := testutil.SystemLibvirtd(t)
	adm := testutil.LibvirtAdmin(t, d.Socket, "test:///default")

	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	id, port, _ := launchFake(t, c, "trvm4")
	tp := topoForPort(t, port)
	name := testutil.RandNameN("tr-", 15)
	define := func(mac string) {
		t.Helper()
		testutil.DefineDomain(t, adm, fmt.Sprintf(`<domain type='test'><name>%s</name><uuid>%s</uuid><memory unit='KiB'>8192</memory>
<os><type>hvm</type></os><devices><interface type='bridge'><mac address='%s'/><source bridge='%s'/><target dev='%s'/><model type='virtio'/></interface></devices></domain>`,
			name, id, mac, tp.n.Bridge, tp.tap), true)
	}
	define(port.MAC.String())
	lv, err := libvirtinspect.Dial(context.Background(), &libvirtinspect.Config{URI: d.URI("test")})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close()
	cfg := *tp.cfg
	cfg.Libvirt = lv

	st := runServer(t, &cfg, c, id)
	tr := st.Traces[0]
	dh, _ := tr.Hop(trace.KindDomain, "")
	ih, _ := tr.Hop(trace.KindInterface, "")
	if v, _ := dh.Get("found"); dh.Verdict != trace.OK || dh.Name != name || v != "its UUID is the server's" || tr.Domain != name {
		t.Errorf("domain hop %+v", dh)
	}
	if ih.Verdict != trace.OK || ih.Name != name+"/"+tp.tap {
		t.Errorf("interface hop %+v", ih)
	}
	for k, want := range map[string]string{"mac": port.MAC.String(), "source": tp.n.Bridge, "tap_bridge": tp.n.Bridge, "network_bridge": tp.n.Bridge} {
		if v, _ := ih.Get(k); v != want {
			t.Errorf("interface evidence %s = %q, want %q", k, v, want)
		}
	}
	if v, _ := ih.Get("port_mac"); !strings.Contains(v, "Neutron port") {
		t.Errorf("interface port_mac %q: not from Neutron", v)
	}
	if tr.Verdict != trace.OK {
		t.Errorf("verdict %s, want ok", tr.Verdict)
	}

	// The domain's NIC has another MAC than the Neutron port.
	dom, err := adm.DomainLookupByName(name)
	if err != nil {
		t.Fatal(err)
	}
	adm.DomainDestroy(dom)
	adm.DomainUndefine(dom)
	define("fa:16:3e:ab:cd:ef")
	st = runServer(t, &cfg, c, id)
	ih, _ = st.Traces[0].Hop(trace.KindInterface, "")
	if ih.Verdict != trace.Fail || ih.Summary != "guest MAC fa:16:3e:ab:cd:ef is not the port's "+port.MAC.String() {
		t.Errorf("other MAC: interface hop %+v", ih)
	}
}
