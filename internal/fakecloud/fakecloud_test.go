package fakecloud_test

import (
	"context"
	"errors"
	"net"
	"net/http"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/vifpath/vifpath/internal/fakecloud"
)

// clients authenticates with gophercloud against s (a real socket) and
// returns Nova (microversion 2.79, as launch sends) and Neutron clients.
func clients(t *testing.T, s *fakecloud.Server, password string) (*gophercloud.ServiceClient, *gophercloud.ServiceClient) {
	t.Helper()
	ctx := context.Background()
	pc, err := openstack.AuthenticatedClient(ctx, gophercloud.AuthOptions{
		IdentityEndpoint: s.AuthURL(), Username: fakecloud.Username, Password: password,
		DomainName: fakecloud.DomainName, TenantName: fakecloud.ProjectName,
	})
	if err != nil {
		t.Fatalf("authenticate: %v", err)
	}
	// The clients' keep-alive connections are the clients': drop them so
	// the goroutine count below sees only the fake's.
	t.Cleanup(func() { pc.HTTPClient.CloseIdleConnections() })
	nova, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	nova.Microversion = "2.79"
	neutron, err := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return nova, neutron
}

func start(t *testing.T, cfg *fakecloud.Config) *fakecloud.Server {
	t.Helper()
	s, err := fakecloud.Start(context.Background(), cfg)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { s.Close() })
	return s
}

func listNames(t *testing.T, nova *gophercloud.ServiceClient, name string) []string {
	t.Helper()
	pages, err := servers.List(nova, servers.ListOpts{Name: name}).AllPages(context.Background())
	if err != nil {
		t.Fatalf("list name=%q: %v", name, err)
	}
	l, err := servers.ExtractServers(pages)
	if err != nil {
		t.Fatal(err)
	}
	var names []string
	for _, s := range l {
		names = append(names, s.Name)
	}
	slices.Sort(names)
	return names
}

// TestServerNameFilterIsRegexp: Nova hands the name filter to the
// database as a regular expression searched anywhere in the name; the
// fake does the same (the recorded vm2 plus three added servers).
func TestServerNameFilterIsRegexp(t *testing.T) {
	s := start(t, nil)
	c := s.Cloud()
	for _, n := range []string{"vm1", "myvm", "provider-instance"} {
		if _, err := c.AddServer(fakecloud.ServerSpec{Name: n}); err != nil {
			t.Fatal(err)
		}
	}
	nova, _ := clients(t, s, "fake-secret-password")
	for _, tc := range []struct {
		filter string
		want   []string
	}{
		{"", []string{"myvm", "provider-instance", "vm1", "vm2"}},
		{"vm", []string{"myvm", "vm1", "vm2"}}, // a substring, not an exact name
		{"^vm", []string{"vm1", "vm2"}},
		{"^vm2$", []string{"vm2"}},
		{"^vm$", nil},
		{`^provider\-instance$`, []string{"provider-instance"}}, // launch's quoting
		{"[12]$", []string{"vm1", "vm2"}},
		{"nothing", nil},
	} {
		if got := listNames(t, nova, tc.filter); !slices.Equal(got, tc.want) {
			t.Errorf("name=%q: got %q, want %q", tc.filter, got, tc.want)
		}
	}
	// An invalid expression is the client's error, not an empty list.
	_, err := servers.List(nova, servers.ListOpts{Name: "vm("}).AllPages(context.Background())
	if !gophercloud.ResponseCodeIs(err, http.StatusBadRequest) {
		t.Errorf("name=vm(: err %v, want a 400", err)
	}
	// The simple list (GET /servers) filters the same and shows only
	// id, name and links.
	pages, err := servers.ListSimple(nova, servers.ListOpts{Name: "^vm1$"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l, err := servers.ExtractServers(pages)
	if err != nil || len(l) != 1 || l[0].Name != "vm1" || l[0].ID == "" || l[0].Status != "" {
		t.Errorf("simple list: %+v, %v", l, err)
	}
}

type state struct {
	Status     string `json:"status"`
	VMState    string `json:"OS-EXT-STS:vm_state"`
	PowerState int    `json:"OS-EXT-STS:power_state"`
}

func getState(t *testing.T, nova *gophercloud.ServiceClient, id string) state {
	t.Helper()
	var v state // ExtractInto unwraps {"server": …}
	if err := servers.Get(context.Background(), nova, id).ExtractInto(&v); err != nil {
		t.Fatal(err)
	}
	return v
}

// devicePorts lists the ports whose device_id is deviceID.
func devicePorts(t *testing.T, neutron *gophercloud.ServiceClient, deviceID string) []ports.Port {
	t.Helper()
	pages, err := ports.List(neutron, ports.ListOpts{DeviceID: deviceID}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	l, err := ports.ExtractPorts(pages)
	if err != nil {
		t.Fatal(err)
	}
	return l
}

func portStatus(t *testing.T, neutron *gophercloud.ServiceClient, deviceID string) []string {
	t.Helper()
	var st []string
	for _, p := range devicePorts(t, neutron, deviceID) {
		st = append(st, p.Status)
	}
	return st
}

// portUpdated returns the updated_at of the ports whose device_id is deviceID.
func portUpdated(t *testing.T, neutron *gophercloud.ServiceClient, deviceID string) []time.Time {
	t.Helper()
	var out []time.Time
	for _, p := range devicePorts(t, neutron, deviceID) {
		out = append(out, p.UpdatedAt)
	}
	return out
}

// TestStopStart drives os-stop and os-start through gophercloud: SHUTOFF
// with vm_state stopped and power_state 4 (SHUTDOWN), the port DOWN; then
// ACTIVE, running (1), the port ACTIVE; and Nova's 409 for a stop of a
// stopped server or a start of a running one.
func TestStopStart(t *testing.T) {
	s := start(t, nil)
	nova, neutron := clients(t, s, "fake-secret-password")
	const vm2 = "3fc516db-bae9-4e60-a58c-0d8beace5d6e" // recorded, ACTIVE
	ctx := context.Background()
	if got := getState(t, nova, vm2); got != (state{"ACTIVE", "active", 1}) {
		t.Fatalf("recorded vm2: %+v", got)
	}
	err := servers.Start(ctx, nova, vm2).ExtractErr()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) || !strings.Contains(err.Error(), "Cannot 'start' instance "+vm2+" while it is in vm_state active") {
		t.Errorf("start of an ACTIVE server: %v, want Nova's 409", err)
	}
	before := time.Now().Truncate(time.Second)
	if err := servers.Stop(ctx, nova, vm2).ExtractErr(); err != nil {
		t.Fatalf("stop: %v", err)
	}
	if got := getState(t, nova, vm2); got != (state{"SHUTOFF", "stopped", 4}) {
		t.Errorf("after os-stop: %+v", got)
	}
	if got := portStatus(t, neutron, vm2); !slices.Equal(got, []string{"DOWN"}) {
		t.Errorf("port after os-stop: %q", got)
	}
	// Neutron moves updated_at when the agent reports the port down.
	if got := portUpdated(t, neutron, vm2); len(got) != 1 || got[0].Before(before) {
		t.Errorf("port updated_at after os-stop: %v; want at or after %s", got, before)
	}
	err = servers.Stop(ctx, nova, vm2).ExtractErr()
	if !gophercloud.ResponseCodeIs(err, http.StatusConflict) || !strings.Contains(err.Error(), "vm_state stopped") {
		t.Errorf("stop of a SHUTOFF server: %v, want Nova's 409", err)
	}
	if err := servers.Start(ctx, nova, vm2).ExtractErr(); err != nil {
		t.Fatalf("start: %v", err)
	}
	if got := getState(t, nova, vm2); got != (state{"ACTIVE", "active", 1}) {
		t.Errorf("after os-start: %+v", got)
	}
	if got := portStatus(t, neutron, vm2); !slices.Equal(got, []string{"ACTIVE"}) {
		t.Errorf("port after os-start: %q", got)
	}
	err = servers.Stop(ctx, nova, "00000000-0000-4000-8000-000000000000").ExtractErr()
	if !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("stop of a missing server: %v, want 404", err)
	}
	if n := s.Cloud().Count(http.MethodPost, "/servers/"+vm2+"/action"); n != 4 {
		t.Errorf("%d action requests recorded, want 4", n)
	}
}

// TestAddServerPortsNetwork: the objects AddNetwork, AddPort and
// AddServer make are what Nova and Neutron show, in the recorded shapes.
func TestAddServerPortsNetwork(t *testing.T) {
	s := start(t, &fakecloud.Config{Fresh: true, Password: "p"})
	c := s.Cloud()
	n, err := c.AddNetwork(fakecloud.NetworkSpec{Name: "provider1", CIDR: netip.MustParsePrefix("192.168.31.64/27"),
		Gateway: netip.MustParseAddr("192.168.31.1"), PoolStart: netip.MustParseAddr("192.168.31.70"), PoolEnd: netip.MustParseAddr("192.168.31.79")})
	if err != nil {
		t.Fatal(err)
	}
	mac, _ := net.ParseMAC("fa:16:3e:aa:bb:cc")
	p, err := c.AddPort(fakecloud.PortSpec{ID: "11111111-2222-4333-8444-555555555555", NetworkID: n.ID, MAC: mac,
		IPs: []netip.Addr{netip.MustParseAddr("192.168.31.74")}, HostID: "compute1"})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddPort(fakecloud.PortSpec{NetworkID: n.ID, IPs: []netip.Addr{netip.MustParseAddr("192.168.31.74")}}); err == nil {
		t.Error("a second port with the same fixed IP was accepted")
	}
	if _, err := c.AddPort(fakecloud.PortSpec{NetworkID: n.ID, IPs: []netip.Addr{netip.MustParseAddr("10.0.0.1")}}); err == nil {
		t.Error("a port with an IP outside every subnet was accepted")
	}
	if _, err := c.AddPort(fakecloud.PortSpec{NetworkID: "nope"}); err == nil {
		t.Error("a port on a missing network was accepted")
	}
	dhcp, err := c.AddPort(fakecloud.PortSpec{NetworkID: n.ID, DeviceOwner: "network:dhcp", DeviceID: "dhcp-x-" + n.ID,
		IPs: []netip.Addr{netip.MustParseAddr("192.168.31.70")}, HostID: "compute1"})
	if err != nil {
		t.Fatal(err)
	}
	sv, err := c.AddServer(fakecloud.ServerSpec{Name: "provider-instance", Host: "compute1", InstanceName: "instance-00000001", PortIDs: []string{p.ID}})
	if err != nil {
		t.Fatal(err)
	}
	if _, err := c.AddServer(fakecloud.ServerSpec{Name: "other", PortIDs: []string{p.ID}}); err == nil {
		t.Error("a second server on the same port was accepted")
	}
	nova, neutron := clients(t, s, "p")
	g, err := servers.Get(context.Background(), nova, sv.ID).Extract()
	if err != nil {
		t.Fatal(err)
	}
	if g.ID != sv.ID || g.Name != "provider-instance" || g.Status != "ACTIVE" || g.Host != "compute1" || g.HypervisorHostname != "compute1" || g.InstanceName != "instance-00000001" {
		t.Errorf("server %+v", g)
	}
	addrs, _ := g.Addresses["provider1"].([]any)
	if len(addrs) != 1 || addrs[0].(map[string]any)["addr"] != "192.168.31.74" || addrs[0].(map[string]any)["OS-EXT-IPS-MAC:mac_addr"] != mac.String() {
		t.Errorf("addresses %v", g.Addresses)
	}
	pages, err := ports.List(neutron, ports.ListOpts{DeviceID: sv.ID}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pl, _ := ports.ExtractPorts(pages)
	if len(pl) != 1 || pl[0].ID != p.ID || pl[0].MACAddress != mac.String() || pl[0].NetworkID != n.ID || pl[0].Status != "ACTIVE" ||
		pl[0].DeviceOwner != "compute:nova" || len(pl[0].FixedIPs) != 1 || pl[0].FixedIPs[0].SubnetID != n.SubnetID {
		t.Errorf("server ports %+v", pl)
	}
	pages, err = ports.List(neutron, ports.ListOpts{DeviceOwner: "network:dhcp"}).AllPages(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	pl, _ = ports.ExtractPorts(pages)
	if len(pl) != 1 || pl[0].ID != dhcp.ID || pl[0].FixedIPs[0].IPAddress != "192.168.31.70" {
		t.Errorf("dhcp ports %+v", pl)
	}
}

// TestListenLoopbackOnly: the fake refuses any address but loopback.
func TestListenLoopbackOnly(t *testing.T) {
	c := fakecloud.New(nil)
	for _, a := range []string{"0.0.0.0:0", ":0", "[::]:0", "192.0.2.1:0", "localhost:0", "nonsense"} {
		if s, err := c.Listen(context.Background(), a); err == nil {
			s.Close()
			t.Errorf("Listen(%q) served", a)
		}
	}
}

// TestCloseJoinsGoroutines: Close (twice, and after ctx ended) leaves no
// goroutine of the fake behind and the port refuses connections, also
// while a client still holds a keep-alive connection.
func TestCloseJoinsGoroutines(t *testing.T) {
	before := runtime.NumGoroutine()
	ctx, cancel := context.WithCancel(context.Background())
	s, err := fakecloud.Start(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	tr := &http.Transport{}
	defer tr.CloseIdleConnections()
	resp, err := (&http.Client{Transport: tr}).Get(s.URL() + "/compute/v2.1/servers")
	if err != nil {
		t.Fatal(err)
	}
	resp.Body.Close()
	if resp.StatusCode != http.StatusUnauthorized {
		t.Errorf("unauthenticated GET: %d", resp.StatusCode)
	}
	cancel() // ctx's end closes the server
	deadline := time.Now().Add(5 * time.Second)
	for {
		_, err := net.DialTimeout("tcp", strings.TrimPrefix(s.URL(), "http://"), time.Second)
		if err != nil {
			break
		}
		if time.Now().After(deadline) {
			t.Fatal("still listening 5 s after ctx ended")
		}
		time.Sleep(10 * time.Millisecond)
	}
	if err := errors.Join(s.Close(), s.Close()); err != nil {
		t.Errorf("Close: %v", err)
	}
	tr.CloseIdleConnections()
	for deadline := time.Now().Add(5 * time.Second); runtime.NumGoroutine() > before; {
		if time.Now().After(deadline) {
			buf := make([]byte, 1<<16)
			t.Fatalf("%d goroutines before Start, %d after Close:\n%s", before, runtime.NumGoroutine(), buf[:runtime.Stack(buf, true)])
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// TestConfigHost: Config.Host moves the recorded node (services, agents,
// vm2 and its port) and every new server to another name; GET of a
// subnet and a port by ID answers the object or Neutron's 404.
func TestConfigHost(t *testing.T) {
	s := start(t, &fakecloud.Config{Host: "compute1"})
	nova, neutron := clients(t, s, "fake-secret-password")
	ctx := context.Background()
	svcs, agents := servicesAndAgents(t, nova, neutron)
	if len(svcs) == 0 || len(agents) == 0 {
		t.Fatalf("services %+v, agents %+v", svcs, agents)
	}
	for _, sv := range svcs {
		if sv.Host != "compute1" {
			t.Errorf("service %+v not on compute1", sv)
		}
	}
	for _, a := range agents {
		if a.Host != "compute1" {
			t.Errorf("agent %+v not on compute1", a)
		}
	}
	const vm2, vm2port = "3fc516db-bae9-4e60-a58c-0d8beace5d6e", "31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80"
	g, err := servers.Get(ctx, nova, vm2).Extract()
	if err != nil || g.Host != "compute1" || g.HypervisorHostname != "compute1" {
		t.Errorf("vm2: %+v, %v", g, err)
	}
	p, err := ports.Get(ctx, neutron, vm2port).Extract()
	if err != nil || p.DeviceID != vm2 {
		t.Errorf("GET port %s: %+v, %v", vm2port, p, err)
	}
	var binding struct {
		Host string `json:"binding:host_id"`
	}
	if err := ports.Get(ctx, neutron, vm2port).ExtractInto(&binding); err != nil || binding.Host != "compute1" {
		t.Errorf("vm2's port binding host %q, %v", binding.Host, err)
	}
	if _, err := ports.Get(ctx, neutron, "nope").Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("GET of a missing port: %v, want 404", err)
	}
	if _, err := subnets.Get(ctx, neutron, "nope").Extract(); !gophercloud.ResponseCodeIs(err, http.StatusNotFound) {
		t.Errorf("GET of a missing subnet: %v, want 404", err)
	}
	sn, err := subnets.Get(ctx, neutron, "d6eaa99d-3374-4c3a-ac7f-f88a035a0a8d").Extract()
	if err != nil || sn.CIDR != "192.168.31.64/27" {
		t.Errorf("GET of the recorded subnet: %+v, %v", sn, err)
	}
	sv, err := s.Cloud().AddServer(fakecloud.ServerSpec{Name: "new"})
	if err != nil || sv.Host != "compute1" {
		t.Errorf("AddServer: %+v, %v", sv, err)
	}
}

// TestConfigControllerHost: with Config.ControllerHost the cloud is two
// nodes, as launch.Preflight sees them: nova-compute, a Linux bridge
// agent and the only hypervisor on the compute host; nova-conductor,
// nova-scheduler, the DHCP and metadata agents and a Linux bridge agent
// of its own on the controller; servers on the compute host.
func TestConfigControllerHost(t *testing.T) {
	s := start(t, &fakecloud.Config{Host: "compute1", ControllerHost: "controller"})
	nova, neutron := clients(t, s, "fake-secret-password")
	ctx := context.Background()
	svcs, agents := servicesAndAgents(t, nova, neutron)
	got := map[string]string{}
	for _, sv := range svcs {
		got[sv.Binary] = sv.Host
	}
	ids := map[string]bool{}
	for _, a := range agents {
		got[a.Type+"@"+a.Host] = a.Host
		ids[a.ID] = true
	}
	want := map[string]string{
		"nova-compute": "compute1", "nova-conductor": "controller", "nova-scheduler": "controller",
		"Linux bridge agent@compute1": "compute1", "Linux bridge agent@controller": "controller",
		"DHCP agent@controller": "controller", "Metadata agent@controller": "controller",
	}
	for k, v := range want {
		if got[k] != v {
			t.Errorf("%s on %q, want %s (services and agents: %v)", k, got[k], v, got)
		}
	}
	if len(agents) != 4 || len(ids) != 4 {
		t.Errorf("%d agents with %d IDs, want 4 and 4: %+v", len(agents), len(ids), agents)
	}
	var hvs struct {
		Hypervisors []struct {
			Name string `json:"hypervisor_hostname"`
		} `json:"hypervisors"`
	}
	if _, err := nova.Get(ctx, nova.ServiceURL("os-hypervisors", "detail"), &hvs, nil); err != nil {
		t.Fatal(err)
	}
	if len(hvs.Hypervisors) != 1 || hvs.Hypervisors[0].Name != "compute1" {
		t.Errorf("hypervisors %+v, want compute1 only", hvs.Hypervisors)
	}
	if sv, err := s.Cloud().AddServer(fakecloud.ServerSpec{Name: "new"}); err != nil || sv.Host != "compute1" {
		t.Errorf("AddServer: %+v, %v", sv, err)
	}
}

type (
	novaService  struct{ Binary, Host string }
	neutronAgent struct {
		ID   string `json:"id"`
		Type string `json:"agent_type"`
		Host string `json:"host"`
	}
)

// servicesAndAgents lists Nova's services and Neutron's agents.
func servicesAndAgents(t *testing.T, nova, neutron *gophercloud.ServiceClient) ([]novaService, []neutronAgent) {
	t.Helper()
	ctx := context.Background()
	var svcs struct {
		Services []novaService `json:"services"`
	}
	if _, err := nova.Get(ctx, nova.ServiceURL("os-services"), &svcs, nil); err != nil {
		t.Fatal(err)
	}
	var agents struct {
		Agents []neutronAgent `json:"agents"`
	}
	if _, err := neutron.Get(ctx, neutron.ServiceURL("agents"), &agents, nil); err != nil {
		t.Fatal(err)
	}
	return svcs.Services, agents.Agents
}
