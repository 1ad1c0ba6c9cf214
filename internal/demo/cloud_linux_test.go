package demo

import (
	"bytes"
	"context"
	"encoding/json"
	"log/slog"
	"net"
	"net/http"
	"os"
	"strings"
	"testing"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"

	"github.com/vifpath/vifpath/internal/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// buildCloud builds a Path in a test directory and starts its cloud.
func buildCloud(t *testing.T) (*Path, *Cloud, string) {
	t.Helper()
	requirePath(t)
	dir := searchableTempDir(t)
	p, err := BuildPath(context.Background(), &PathConfig{Dir: dir})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	c, err := p.StartCloud(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	return p, c, dir
}

// serverTrace opens a launch.Client through the Cloud's clouds.yaml (as
// vmtrace -cloud X -server NAME does) and traces the server by name.
func serverTrace(t *testing.T, p *Path, c *Cloud, log *slog.Logger) *trace.ServerTrace {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 30*time.Second)
	defer cancel()
	api, err := launch.Open(ctx, &launch.Config{Cloud: c.CloudName, CloudsFile: c.CloudsFile, Logger: log})
	if err != nil {
		t.Fatalf("launch.Open: %v", err)
	}
	st, err := trace.Server(ctx, &trace.Config{
		BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig,
		MetadataPIDDir: p.MetadataPIDDir, MetadataProxyDir: p.MetadataProxyDir, MetadataAgentSocket: p.MetadataAgentSocket,
		NodeName: c.NodeName, CounterInterval: 300 * time.Millisecond, ARPTimeout: 500 * time.Millisecond, Logger: log,
	}, api, c.ServerName)
	if err != nil {
		t.Fatalf("trace.Server(%s): %v", c.ServerName, err)
	}
	var b strings.Builder
	st.WriteText(&b)
	t.Logf("\n%s", b.String())
	if len(st.Traces) != 1 {
		t.Fatalf("%d traces, want one (one port)", len(st.Traces))
	}
	return st
}

// TestIntegrationCloudServerTrace builds the path, starts its cloud, and
// traces the server by name through launch.Open (the clouds.yaml) and
// trace.Server: the server and port hops are OK and name the Path's IDs,
// every local hop is OK; gophercloud sees the network, subnet and DHCP
// port as the kernel has them; only GETs reached the cloud; neither the
// password nor a token reached the logs or the output; Close stops the
// fake and removes its clouds.yaml.
func TestIntegrationCloudServerTrace(t *testing.T) {
	p, c, dir := buildCloud(t)
	if c.NodeName != "compute1" || c.ServerName != "cirros1" || c.InstanceName != "instance-00000002" || !strings.HasPrefix(c.AuthURL, "http://127.0.0.1:") {
		t.Errorf("cloud %+v", c)
	}
	if fi, err := os.Stat(c.CloudsFile); err != nil || fi.Mode().Perm() != 0o600 {
		t.Errorf("clouds.yaml %s: %v %v, want mode 0600", c.CloudsFile, fi, err)
	}
	var logs bytes.Buffer
	log := slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))
	// The demo itself opened ICMP and SSH in the default group (POSTs);
	// from here on only the trace talks to the cloud.
	setup := len(c.Server().Cloud().Requests())
	st := serverTrace(t, p, c, log)
	if st.ServerID != c.ServerID || st.ServerName != "cirros1" || st.Status != "ACTIVE" || st.Host != c.NodeName || st.InstanceName != c.InstanceName {
		t.Errorf("server trace %+v", st)
	}
	tr := st.Traces[0]
	if tr.Verdict != trace.OK || st.Verdict != trace.OK {
		t.Errorf("verdict %s/%s, want ok", tr.Verdict, st.Verdict)
	}
	if len(tr.Hops) < 2 || tr.Hops[0].Kind != trace.KindServer || tr.Hops[1].Kind != trace.KindPort {
		t.Fatalf("the trace does not start with the server and port hops: %+v", tr.Hops)
	}
	sh, ph := tr.Hops[0], tr.Hops[1]
	if sh.Verdict != trace.OK || sh.Name != "cirros1" {
		t.Errorf("server hop %+v", sh)
	}
	for k, want := range map[string]string{"id": c.ServerID, "status": "ACTIVE", "host": "compute1", "instance_name": "instance-00000002"} {
		if v, _ := sh.Get(k); v != want {
			t.Errorf("server hop %s = %q, want %q", k, v, want)
		}
	}
	if ph.Verdict != trace.OK || ph.Name != p.PortID {
		t.Errorf("port hop %+v, want ok on %s", ph, p.PortID)
	}
	for k, want := range map[string]string{"network_id": p.NetworkID, "bridge": p.Bridge, "mac": p.MAC.String(), "tap": p.Tap,
		"vif_type": "bridge", "binding_host": "compute1", "status": "ACTIVE", "fixed_ip": p.IP.String() + " (subnet " + c.SubnetID + ")"} {
		if v, _ := ph.Get(k); v != want {
			t.Errorf("port hop %s = %q, want %q", k, v, want)
		}
	}
	wantHops(t, tr, nil)
	if tr.Tap != p.Tap || tr.PortMAC.String() != p.MAC.String() || tr.NetworkID != p.NetworkID {
		t.Errorf("trace tap %s mac %s network %s", tr.Tap, tr.PortMAC, tr.NetworkID)
	}

	// The API side, as gophercloud reads it, against the kernel's objects.
	ctx := context.Background()
	pc := cloudClient(t, c)
	neutron, _ := openstack.NewNetworkV2(pc, gophercloud.EndpointOpts{})
	var nw struct {
		Name    string `json:"name"`
		Type    string `json:"provider:network_type"`
		PhysNet string `json:"provider:physical_network"`
	}
	if err := networks.Get(ctx, neutron, p.NetworkID).ExtractInto(&nw); err != nil || nw.Name != "provider1" || nw.Type != "flat" || nw.PhysNet != "provider" {
		t.Errorf("network %+v, %v", nw, err)
	}
	sn, err := subnets.Get(ctx, neutron, c.SubnetID).Extract()
	if err != nil || sn.CIDR != "192.168.31.64/27" || sn.GatewayIP != "192.168.31.1" || sn.NetworkID != p.NetworkID {
		t.Errorf("subnet %+v, %v", sn, err)
	}
	pages, err := ports.List(neutron, ports.ListOpts{DeviceOwner: "network:dhcp", NetworkID: p.NetworkID}).AllPages(ctx)
	if err != nil {
		t.Fatal(err)
	}
	dps, _ := ports.ExtractPorts(pages)
	nsLink := link(t, p.DHCP, p.DHCPIf) // iproute2's view of the ns- device
	if len(dps) != 1 || dps[0].ID != p.DHCPPortID || dps[0].MACAddress != nsLink["address"] || len(dps[0].FixedIPs) != 1 ||
		dps[0].FixedIPs[0].IPAddress != "192.168.31.70" || !hasAddr(nsLink, "192.168.31.70/27") {
		t.Errorf("DHCP ports %+v; ip -j says %s has %v %v", dps, p.DHCPIf, nsLink["address"], nsLink["addr_info"])
	}

	for _, r := range c.Server().Cloud().Requests()[setup:] {
		if r.Method != http.MethodGet && !(r.Method == http.MethodPost && strings.HasSuffix(r.Path, "/auth/tokens")) {
			t.Errorf("the trace sent %s %s: only GETs may reach the cloud", r.Method, r.Path)
		}
	}
	out, _ := json.Marshal(st)
	var text strings.Builder
	st.WriteText(&text)
	for _, secret := range append(c.Server().Cloud().Tokens(), c.password) {
		for what, s := range map[string]string{"logs": logs.String(), "JSON": string(out), "text": text.String()} {
			if strings.Contains(s, secret) {
				t.Errorf("the %s hold a secret of the fake cloud", what)
			}
		}
	}
	if !strings.Contains(logs.String(), c.AuthURL[:len("http://127.0.0.1:")]) {
		t.Errorf("the debug log shows no request to the fake (nothing checked?):\n%s", logs.String())
	}

	addr := strings.TrimPrefix(c.AuthURL, "http://")
	addr = addr[:strings.Index(addr, "/")]
	pid := p.DnsmasqPID
	if err := p.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if _, err := os.Stat(c.CloudsFile); !os.IsNotExist(err) {
		t.Errorf("clouds.yaml survived Close: %v", err)
	}
	if conn, err := net.DialTimeout("tcp", addr, time.Second); err == nil {
		conn.Close()
		t.Errorf("the fake still listens on %s after Close", addr)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	checkClean(t, p, dir, true, pid)
}

// TestIntegrationCloudBreak breaks the path (each of the local faults,
// and the server stopped through Nova's os-stop) and traces the server:
// the fault shows at its hop, through the server trace.
func TestIntegrationCloudBreak(t *testing.T) {
	for _, tc := range []struct {
		b    Breakage // "" : stop the server through Nova instead
		hop  trace.Kind
		want trace.Verdict
	}{
		{BreakDnsmasq, trace.KindDnsmasq, trace.Fail},
		{BreakTapDown, trace.KindTap, trace.Fail},
		{BreakUplink, trace.KindPhysicalPort, trace.Fail},
		{BreakHostsEntry, trace.KindHostsEntry, trace.Fail},
		{BreakAgentDown, trace.KindAgents, trace.Warn},
		{"", trace.KindServer, trace.Warn},
	} {
		name := string(tc.b)
		if name == "" {
			name = "os-stop"
		}
		t.Run(name, func(t *testing.T) {
			p, c, _ := buildCloud(t)
			if tc.b != "" {
				if err := p.Break(tc.b); err != nil {
					t.Fatal(err)
				}
			} else {
				ctx := context.Background()
				nova, _ := openstack.NewComputeV2(cloudClient(t, c), gophercloud.EndpointOpts{})
				if err := servers.Stop(ctx, nova, c.ServerID).ExtractErr(); err != nil {
					t.Fatal(err)
				}
			}
			st := serverTrace(t, p, c, nil)
			tr := st.Traces[0]
			h, ok := tr.Hop(tc.hop, "")
			if !ok || h.Verdict != tc.want || h.Cause == "" || h.Next == "" {
				t.Errorf("%s hop %+v, want %s with a cause and what to check next", tc.hop, h, tc.want)
			}
			if tr.Verdict != tc.want || st.Verdict != tc.want {
				t.Errorf("verdict %s/%s, want %s", tr.Verdict, st.Verdict, tc.want)
			}
			if tc.b != "" {
				// A local fault leaves the API side as it was.
				if tr.Hops[0].Verdict != trace.OK || tr.Hops[1].Verdict != trace.OK {
					t.Errorf("server/port hops %s/%s, want ok/ok: the fault is local", tr.Hops[0].Verdict, tr.Hops[1].Verdict)
				}
				return
			}
			if st.Status != "SHUTOFF" {
				t.Errorf("status %s after os-stop", st.Status)
			}
			// Neutron reports the port DOWN once the tap is gone.
			if ph := tr.Hops[1]; ph.Verdict != trace.Warn || !strings.Contains(ph.Summary, "DOWN") {
				t.Errorf("port hop after os-stop %+v, want warn DOWN", ph)
			}
		})
	}
}

// cloudClient authenticates against the demo's fake cloud as the demo's
// user; its idle connections are closed when the test ends.
func cloudClient(t *testing.T, c *Cloud) *gophercloud.ProviderClient {
	t.Helper()
	pc, err := openstack.AuthenticatedClient(context.Background(), gophercloud.AuthOptions{IdentityEndpoint: c.AuthURL,
		Username: fakecloud.Username, Password: c.password, DomainName: fakecloud.DomainName, TenantName: fakecloud.ProjectName})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(pc.HTTPClient.CloseIdleConnections)
	return pc
}
