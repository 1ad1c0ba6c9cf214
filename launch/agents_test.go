package launch_test

import (
	"context"
	"encoding/json"
	"errors"
	"os"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

func problems(r *launch.PreflightReport, c launch.Check) []launch.Problem {
	var out []launch.Problem
	for _, p := range r.Problems {
		if p.Check == c {
			out = append(out, p)
		}
	}
	return out
}

func TestPreflightPlacementHealthy(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		r, err := c.Preflight(context.Background(), &launch.PreflightOptions{Network: "provider1", Flavor: "m1.nano"})
		if err != nil {
			t.Fatal(err)
		}
		if !r.Ready || len(r.Problems) != 0 || r.Placement == nil || !r.Placement.Reachable || !cmp.Equal(r.Placement.Fits, []string{"vm"}) {
			t.Fatalf("preflight = %s (%+v)", r, r.Placement)
		}
		if len(r.DHCPAgents) != 1 || r.DHCPAgents[0].Type != launch.AgentDHCP || !r.DHCPAgents[0].Up() {
			t.Errorf("DHCP agents = %+v; want the recorded one, up", r.DHCPAgents)
		}
		rp := r.Placement.Providers[0]
		// As recorded: VCPU 2 × 16, and MEMORY_MB the fake's 8192.
		if rp.Name != "vm" || rp.Inventories[launch.ClassVCPU].Capacity() != 32 || rp.Inventories[launch.ClassVCPU].AllocationRatio != 16 || rp.Inventories[launch.ClassMemoryMB].Total != 8192 {
			t.Errorf("provider = %+v", rp)
		}
		if len(r.Placement.Hypervisors) != 1 || r.Placement.Hypervisors[0].Host != "vm" || r.Placement.Hypervisors[0].Hostname != "vm" {
			t.Errorf("hypervisors = %+v", r.Placement.Hypervisors)
		}
	})
}

func TestPreflightPlacementProblems(t *testing.T) {
	for _, tc := range []struct {
		name   string
		flavor launch.FlavorSpec
		setup  func(*fakecloud.Cloud)
		check  launch.Check
		detail string
		fix    string
	}{
		{"ram", launch.FlavorSpec{Name: "big", VCPUs: 1, RAMMiB: 10000, DiskGiB: 1}, nil, launch.CheckInventory, "flavor big asks 10000 MiB RAM; vm's MEMORY_MB: total 8192", "ram_allocation_ratio"},
		{"vcpus", launch.FlavorSpec{Name: "wide", VCPUs: 4, RAMMiB: 64, DiskGiB: 1}, nil, launch.CheckInventory, "flavor wide asks 4 vCPU; vm's VCPU: total 2, reserved 0, allocation ratio 16, used 1: 31 free, at most 2 per server", "cpu_allocation_ratio"},
		{"disk", launch.FlavorSpec{Name: "deep", VCPUs: 1, RAMMiB: 64, DiskGiB: 1000}, nil, launch.CheckInventory, "asks 1000 GiB disk; vm's DISK_GB: total 251", "disk_allocation_ratio"},
		{"provider", launch.FlavorSpec{Name: "nano2", VCPUs: 1, RAMMiB: 64, DiskGiB: 1}, func(f *fakecloud.Cloud) { f.DeleteResourceProvider("vm") }, launch.CheckResourceProvider, "placement has no resource provider for compute node vm of host vm", "restart nova-compute on vm"},
		{"hypervisor", launch.FlavorSpec{Name: "nano3", VCPUs: 1, RAMMiB: 64, DiskGiB: 1}, func(f *fakecloud.Cloud) { f.RemoveHypervisor("vm") }, launch.CheckHypervisor, "host vm runs nova-compute but is not in Nova's hypervisor list", "nova-manage cell_v2 discover_hosts --verbose"},
		{"unreachable", launch.FlavorSpec{Name: "nano4", VCPUs: 1, RAMMiB: 64, DiskGiB: 1}, func(f *fakecloud.Cloud) {
			f.Inject(fakecloud.Fault{Path: "/placement/", Status: 503, Times: 100})
		}, launch.CheckPlacementReachable, "placement did not answer: launch: list resource providers: GET", "openstack endpoint list --service placement"},
		{"compute-down", launch.FlavorSpec{Name: "nano5", VCPUs: 1, RAMMiB: 64, DiskGiB: 1}, func(f *fakecloud.Cloud) { f.SetService("nova-compute", "vm", "down") }, launch.CheckComputeUp, "nova-compute on vm is down", "start nova-compute on vm"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := fakecloud.New(nil)
				c := openFake(t, fake, &launch.Config{RetryBase: time.Millisecond})
				ctx := context.Background()
				if _, err := c.EnsureFlavor(ctx, tc.flavor); err != nil {
					t.Fatal(err)
				}
				if tc.setup != nil {
					tc.setup(fake)
				}
				r, err := c.Preflight(ctx, &launch.PreflightOptions{Flavor: tc.flavor.Name})
				if err != nil {
					t.Fatal(err)
				}
				ps := problems(r, tc.check)
				if r.Ready || len(ps) != 1 || !strings.Contains(ps[0].Detail, tc.detail) || !strings.Contains(ps[0].Fix, tc.fix) {
					t.Fatalf("preflight = %s\nproblems %+v; want one %s problem with %q, fix %q", r, r.Problems, tc.check, tc.detail, tc.fix)
				}
				if !strings.Contains(r.String(), tc.fix) {
					t.Errorf("String() = %q lacks the fix", r)
				}
			})
		})
	}
}

// A server on the host uses the inventory: the next one no longer fits.
func TestPlacementCountsUsage(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{HostRAMMiB: 4096})
		c := openFake(t, fake, nil)
		ctx := context.Background()
		fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "half", VCPUs: 1, RAMMiB: 2500, DiskGiB: 1})
		if err != nil {
			t.Fatal(err)
		}
		r, err := c.Placement(ctx, fl)
		if err != nil || !r.Ready() {
			t.Fatalf("before: %v %v", r, err)
		}
		if _, err := c.Launch(ctx, launch.ServerSpec{Name: "a", Flavor: "half", Image: "aio-tiny", Network: "provider1"}); err != nil {
			t.Fatal(err)
		}
		r, err = c.Placement(ctx, fl)
		if err != nil || r.Ready() || r.Providers[0].Inventories[launch.ClassMemoryMB].Used != 128+2500 {
			t.Fatalf("after one server: %v %+v %v", r, r.Providers, err)
		}
		_, err = c.Launch(ctx, launch.ServerSpec{Name: "b", Flavor: "half", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) || fe.Kind != launch.FaultNoValidHost || fe.Placement == nil || !strings.Contains(strings.Join(fe.Explain(), ";"), "used 2628: 1468 free") {
			t.Fatalf("second server: %v; explain %q", err, fe.Explain())
		}
	})
}

func TestInventoryFits(t *testing.T) {
	inv := launch.Inventory{Total: 24105, Reserved: 512, MinUnit: 1, MaxUnit: 24105, StepSize: 1, AllocationRatio: 1.5, Used: 0}
	if got := inv.Capacity(); got != 35389 {
		t.Errorf("capacity = %d; want floor((24105-512)*1.5) = 35389", got)
	}
	for _, tc := range []struct {
		inv  launch.Inventory
		n    int
		want bool
	}{
		{inv, 0, true},
		{inv, 24105, true},
		{inv, 24106, false}, // over max_unit though capacity is larger
		{launch.Inventory{Total: 2, MaxUnit: 2, AllocationRatio: 16, MinUnit: 1, StepSize: 1, Used: 31}, 1, true},
		{launch.Inventory{Total: 2, MaxUnit: 2, AllocationRatio: 16, MinUnit: 1, StepSize: 1, Used: 32}, 1, false},
		{launch.Inventory{Total: 100, MaxUnit: 100, AllocationRatio: 1, MinUnit: 10, StepSize: 5}, 5, false},  // below min_unit
		{launch.Inventory{Total: 100, MaxUnit: 100, AllocationRatio: 1, MinUnit: 10, StepSize: 5}, 12, false}, // not a step
		{launch.Inventory{Total: 100, MaxUnit: 100, AllocationRatio: 1, MinUnit: 10, StepSize: 5}, 15, true},
	} {
		if got := tc.inv.Fits(tc.n); got != tc.want {
			t.Errorf("%+v.Fits(%d) = %t; want %t", tc.inv, tc.n, got, tc.want)
		}
	}
}

// recordedFault reads a server's fault from a body recorded on the real cloud.
func recordedFault(t *testing.T, path string) launch.Fault {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var m struct {
		Server struct {
			Fault launch.Fault `json:"fault"`
		} `json:"server"`
	}
	if err := json.Unmarshal(b, &m); err != nil {
		t.Fatal(err)
	}
	return m.Server.Fault
}

func TestKindOf(t *testing.T) {
	nvh := recordedFault(t, "../internal/fakecloud/testdata/recorded/nova-server-error-fault.json")
	if got := launch.KindOf(nvh); got != launch.FaultNoValidHost {
		t.Errorf("recorded No valid host fault %q: kind %q", nvh.Message, got)
	}
	vif := recordedFault(t, "../internal/fakecloud/testdata/recorded/nova-server-vif-timeout-fault.json")
	if got := launch.KindOf(vif); got != launch.FaultNetworkAllocation {
		t.Errorf("recorded VIF plugging timeout %q: kind %q", vif.Message, got)
	}
	if got := launch.KindOf(launch.Fault{Code: 500, Message: "Image 1234 could not be found."}); got != launch.FaultOther {
		t.Errorf("other fault: kind %q", got)
	}
}

// The case: an agent that heartbeats but never wires the port.
// Nova aborts the build after its vif_plugging_timeout, clears the host
// and deletes the port; the explanation must name the agent and host and
// must not blame scheduling.
func TestVIFPluggingTimeoutExplained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		fake.FailServer("stuck", fakecloud.VIFPluggingTimeout(300*time.Second))
		c := openFake(t, fake, nil)
		_, err := c.Launch(context.Background(), launch.ServerSpec{Name: "stuck", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) {
			t.Fatalf("err = %v", err)
		}
		if fe.Kind != launch.FaultNetworkAllocation || fe.Host != "" || fe.LastHost != "vm" || len(fe.Ports) != 0 || fe.Placement != nil {
			t.Errorf("fault error = %+v; want network-allocation, host cleared, last seen on vm, no port left, no placement read", fe)
		}
		ex := strings.Join(fe.Explain(), "; ")
		for _, want := range []string{"not a scheduling failure", "VIF plugging timed out on host vm", "Linux bridge agent there (3107de16-693f-4254-9646-ead49f47c72e) is alive", "neutron-linuxbridge-agent's log on vm"} {
			if !strings.Contains(ex, want) {
				t.Errorf("Explain lacks %q:\n%s", want, ex)
			}
		}
		for _, bad := range []string{"never scheduled", "never placed", "free RAM", "flavor"} {
			if strings.Contains(ex, bad) {
				t.Errorf("Explain blames scheduling (%q):\n%s", bad, ex)
			}
		}
	})
}

func TestVIFPluggingTimeoutAgentDown(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		fake.FailServer("stuck", fakecloud.VIFPluggingTimeout(300*time.Second))
		fake.SetAgent(launch.AgentLinuxBridge, "vm", false)
		c := openFake(t, fake, nil)
		_, err := c.Launch(context.Background(), launch.ServerSpec{Name: "stuck", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) {
			t.Fatalf("err = %v", err)
		}
		ex := strings.Join(fe.Explain(), "; ")
		if !strings.Contains(ex, "Linux bridge agent on vm is not alive") || !strings.Contains(ex, "because the Linux bridge agent there (3107de16-693f-4254-9646-ead49f47c72e) is down") {
			t.Errorf("Explain = %s", ex)
		}
	})
}

// Explain is pure: a FaultError built by hand (as trace does, without the
// host Nova cleared) still names the only Linux bridge agent's host.
func TestExplainFromFactsOnly(t *testing.T) {
	hb := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	fe := &launch.FaultError{
		ServerName: "s", ServerID: "id",
		Fault:  launch.Fault{Code: 500, Message: "Build of instance id aborted: Failed to allocate the network(s), not rescheduling.", Created: hb.Add(4 * time.Second)},
		Agents: []launch.NetworkAgent{{ID: "a1", Type: launch.AgentLinuxBridge, Host: "compute1", Alive: true, AdminUp: true, Heartbeat: hb}},
	}
	ex := strings.Join(fe.Explain(), "; ")
	if !strings.Contains(ex, "VIF plugging timed out on host compute1") || !strings.Contains(ex, "last heartbeat 4s before the fault") {
		t.Errorf("Explain = %s", ex)
	}
	fe.Fault.Message = "No valid host was found. "
	if ex := strings.Join(fe.Explain(), "; "); !strings.Contains(ex, "run Client.Preflight with the flavor") {
		t.Errorf("No valid host without a placement report: %s", ex)
	}
	fe.Placement = &launch.PlacementReport{Reachable: true, Fits: []string{"compute1"}, Flavor: &launch.Flavor{Name: "m1.nano"}}
	if ex := strings.Join(fe.Explain(), "; "); !strings.Contains(ex, "placement has room for flavor m1.nano on compute1") || !strings.Contains(ex, "nova-scheduler's log") {
		t.Errorf("No valid host with room in placement: %s", ex)
	}
}

func TestNoValidHostMissingProviderExplained(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		fake.DeleteResourceProvider("vm")
		c := openFake(t, fake, nil)
		_, err := c.Launch(context.Background(), launch.ServerSpec{Name: "nowhere", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) || fe.Kind != launch.FaultNoValidHost || fe.Placement == nil {
			t.Fatalf("err = %v (%+v)", err, fe)
		}
		ex := strings.Join(fe.Explain(), "; ")
		if !strings.Contains(ex, "no resource provider for compute node vm") || !strings.Contains(ex, "restart nova-compute on vm") || fe.Flavor == nil || fe.Flavor.Name != "m1.nano" {
			t.Errorf("Explain = %s (flavor %+v)", ex, fe.Flavor)
		}
	})
}

func TestDHCPAgentsAndPortAgents(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		ctx := context.Background()
		srv, err := c.Server(ctx, "vm2")
		if err != nil || len(srv.Ports) != 1 {
			t.Fatalf("server = %+v, %v", srv, err)
		}
		pa, err := c.PortAgents(ctx, srv, srv.Ports[0])
		if err != nil {
			t.Fatal(err)
		}
		if pa.L2 == nil || pa.L2.Host != "vm" || len(pa.DHCP) != 1 || len(pa.Metadata) != 1 || pa.Compute == nil || !pa.Compute.Up() || pa.ServerStatus != launch.StatusActive {
			t.Errorf("port agents = %+v", pa)
		}
		if _, err := c.DHCPAgents(ctx, ""); err == nil {
			t.Error("DHCPAgents(\"\") = nil error")
		}
		none, err := c.DHCPAgents(ctx, "00000000-0000-4000-8000-000000000000")
		if err != nil || none == nil || len(none) != 0 {
			t.Errorf("DHCP agents of an unknown network = %#v, %v; want empty", none, err)
		}
	})
}

// New must not change the caller's service clients.
func TestNewKeepsCallersClients(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		compute := gophercloudClient(t, fake)
		compute.Microversion = "2.1"
		network, err := openstack.NewNetworkV2(compute.ProviderClient, gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		before := compute.Microversion
		c, err := launch.New(compute, network, nil, &launch.Config{ComputeMicroversion: "2.60"})
		if err != nil {
			t.Fatal(err)
		}
		// The copy carries the client's microversion, and New found
		// placement in the provider's catalog.
		if _, err := c.ComputeServices(context.Background(), ""); err != nil {
			t.Fatal(err)
		}
		if rps, err := c.ResourceProviders(context.Background()); err != nil || len(rps) != 1 {
			t.Errorf("resource providers through New = %v, %v", rps, err)
		}
		if compute.Microversion != before {
			t.Errorf("caller's compute client microversion %q -> %q", before, compute.Microversion)
		}
	})
}

func TestNewResultsRoundTripJSON(t *testing.T) {
	hb := time.Date(2026, 12, 6, 12, 0, 0, 0, time.UTC)
	iso, nets := true, 3
	ag := launch.NetworkAgent{ID: "a", Type: launch.AgentDHCP, Host: "vm", Alive: true, AdminUp: true, Heartbeat: hb, Started: hb, Config: launch.AgentConfig{IsolatedMetadata: &iso, Networks: &nets}}
	cs := launch.ComputeService{Binary: "nova-compute", Host: "vm", Enabled: true, State: launch.StateUp, Updated: hb}
	pr := &launch.PlacementReport{Reachable: true, Providers: []launch.ResourceProvider{{UUID: "u", Name: "vm", Generation: 2, Inventories: map[string]launch.Inventory{"VCPU": {Total: 2, MaxUnit: 2, MinUnit: 1, StepSize: 1, AllocationRatio: 16, Used: 1}}}},
		Hypervisors: []launch.Hypervisor{{ID: "h", Hostname: "vm", Host: "vm", State: "up", Status: "enabled", Type: "QEMU"}}, Flavor: &launch.Flavor{Name: "f", VCPUs: 1}, Fits: []string{"vm"},
		Problems: []launch.Problem{{Check: launch.CheckInventory, Host: "vm", Detail: "d", Fix: "f"}}}
	for _, v := range []any{
		pr,
		&launch.FaultError{ServerID: "s", Kind: launch.FaultNoValidHost, LastHost: "vm", Fault: launch.Fault{Code: 500, Message: "m", Created: hb}, Ports: []launch.Port{}, Compute: []launch.ComputeService{cs}, Agents: []launch.NetworkAgent{ag}, Placement: pr, Flavor: &launch.Flavor{Name: "f"}},
		&launch.PortAgents{Port: launch.Port{ID: "p", FixedIPs: []launch.FixedIP{}}, ServerHost: "vm", ServerStatus: launch.StatusActive, L2: &ag, DHCP: []launch.NetworkAgent{ag}, Metadata: []launch.NetworkAgent{}, Compute: &cs, ReadAt: hb},
		&launch.AgentList{Agents: []launch.NetworkAgent{ag}, DHCPNetworks: map[string][]string{"a": {"n"}}, Compute: []launch.ComputeService{cs}, ReadAt: hb},
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := newLike(v)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		if d := cmp.Diff(v, back, cmp.AllowUnexported(launch.FaultError{})); d != "" {
			t.Errorf("%T round trip (-want +got):\n%s", v, d)
		}
	}
}

func newLike(v any) any {
	switch v.(type) {
	case *launch.PlacementReport:
		return new(launch.PlacementReport)
	case *launch.FaultError:
		return new(launch.FaultError)
	case *launch.PortAgents:
		return new(launch.PortAgents)
	case *launch.AgentList:
		return new(launch.AgentList)
	}
	panic("newLike")
}
