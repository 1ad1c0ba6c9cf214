package launch_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"net/netip"
	"slices"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// The recorded cloud's vm2 (fakecloud's testdata/nova-server.json).
const (
	vm2ID  = "3fc516db-bae9-4e60-a58c-0d8beace5d6e"
	vm2MAC = "fa:16:3e:57:19:35"
)

// onlyGETs fails the test if the fake saw anything but GETs (and the
// Keystone token POST) since ResetRequests.
func onlyGETs(t *testing.T, fake *fakecloud.Cloud) {
	t.Helper()
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet && !strings.HasPrefix(r.Path, "/identity/") {
			t.Errorf("a read-only call sent %s %s", r.Method, r.Path)
		}
	}
}

func TestServerByIDAndName(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		ctx := context.Background()
		fake.ResetRequests()
		byID, err := c.Server(ctx, vm2ID)
		if err != nil {
			t.Fatalf("Server(id): %v", err)
		}
		byName, err := c.Server(ctx, "vm2")
		if err != nil {
			t.Fatalf("Server(name): %v", err)
		}
		if diff := cmp.Diff(byID, byName, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("by ID and by name differ (-id +name):\n%s", diff)
		}
		onlyGETs(t, fake)
		s := byID
		if s.ID != vm2ID || s.Name != "vm2" || s.Status != launch.StatusActive || s.Host != fakecloud.Host || s.InstanceName != "instance-00000002" || s.Fault != nil || s.TaskState != "" {
			t.Errorf("server = %+v", s)
		}
		if len(s.Ports) != 1 || s.Ports[0].MAC.String() != vm2MAC || s.Ports[0].VIFType != "bridge" || s.Ports[0].HostID != fakecloud.Host || s.Ports[0].DeviceID != s.ID {
			t.Fatalf("ports = %+v", s.Ports)
		}
		if len(s.Addresses) != 1 || s.Addresses[0].Addr.String() != "192.168.31.72" || s.Addresses[0].Addr != s.Ports[0].FixedIPs[0].Address {
			t.Errorf("addresses = %+v, port %+v", s.Addresses, s.Ports[0])
		}
		if s.Polls != 0 || s.Waited != 0 || s.Created {
			t.Errorf("a get reports polls %d, waited %s, created %v", s.Polls, s.Waited, s.Created)
		}
		ports, err := c.Ports(ctx, vm2ID)
		if err != nil {
			t.Fatal(err)
		}
		if diff := cmp.Diff(s.Ports, ports, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
			t.Errorf("Ports(vm2) differs from Server's ports (-server +ports):\n%s", diff)
		}
	})
}

func TestServerNotFound(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := openFake(t, fakecloud.New(nil), nil)
		for _, ref := range []string{"no-such-vm", "00000000-0000-4000-8000-000000000000", "vm"} {
			s, err := c.Server(context.Background(), ref)
			if !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, launch.ErrNotFound) || s != nil {
				t.Errorf("Server(%q) = %v, %v; want ErrNotFound", ref, s, err)
			}
			if err != nil && !strings.Contains(err.Error(), ref) {
				t.Errorf("error %q does not name %q", err, ref)
			}
		}
		if _, err := c.Server(context.Background(), ""); err == nil {
			t.Error("Server(\"\") succeeded")
		}
	})
}

func TestPorts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := openFake(t, fakecloud.New(nil), nil)
		ctx := context.Background()
		ports, err := c.Ports(ctx, "00000000-0000-4000-8000-000000000000")
		if err != nil || ports == nil || len(ports) != 0 {
			t.Errorf("Ports(unknown device) = %v, %v; want an empty slice", ports, err)
		}
		if _, err := c.Ports(ctx, ""); err == nil {
			t.Error("Ports(\"\") listed every port")
		}
	})
}

// TestPortsOnHost lists the ports bound to the fake cloud's host: each VM
// port's DeviceID (on the embedded Port) names a server whose own ports
// include it, with the same Port as Client.Server reads.
func TestPortsOnHost(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		c := openFake(t, fakecloud.New(nil), nil)
		ctx := context.Background()
		hps, err := c.PortsOnHost(ctx, fakecloud.Host)
		if err != nil {
			t.Fatal(err)
		}
		vms := 0
		for _, hp := range hps {
			if !strings.HasPrefix(hp.DeviceOwner, "compute:") {
				continue
			}
			vms++
			s, err := c.Server(ctx, hp.DeviceID)
			if err != nil {
				t.Fatalf("server %s of port %s: %v", hp.DeviceID, hp.ID, err)
			}
			i := slices.IndexFunc(s.Ports, func(p launch.Port) bool { return p.ID == hp.ID })
			if i < 0 {
				t.Fatalf("server %s has ports %+v, not %s", s.ID, s.Ports, hp.ID)
			}
			if diff := cmp.Diff(s.Ports[i], hp.Port, cmpopts.EquateComparable(netip.Addr{})); diff != "" {
				t.Errorf("port %s (-Server +PortsOnHost):\n%s", hp.ID, diff)
			}
		}
		if vms == 0 {
			t.Errorf("no VM port among %d ports bound to %s", len(hps), fakecloud.Host)
		}
		if hps, err := c.PortsOnHost(ctx, "no-such-host"); err != nil || hps == nil || len(hps) != 0 {
			t.Errorf("PortsOnHost(unknown host) = %v, %v; want an empty slice", hps, err)
		}
		if _, err := c.PortsOnHost(ctx, ""); err == nil {
			t.Error("PortsOnHost(\"\") listed every port")
		}
	})
}

// TestServerBuildAndError reads a server still in BUILD (a launch that
// gave up waiting) and one in ERROR: no wait, no error, the status and
// Nova's fault in the result.
func TestServerBuildAndError(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{BuildTime: time.Hour, ErrorTime: time.Second})
		c := openFake(t, fake, &launch.Config{PollFirst: time.Second, PollMax: time.Second})
		ctx := context.Background()
		wctx, cancel := context.WithTimeout(ctx, 5*time.Second)
		_, err := c.Launch(wctx, launch.ServerSpec{Name: "slow1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		cancel()
		if !errors.Is(err, context.DeadlineExceeded) {
			t.Fatalf("Launch of a 1 h build: %v", err)
		}
		fake.ResetRequests()
		start := time.Now()
		s, err := c.Server(ctx, "slow1")
		if err != nil {
			t.Fatalf("Server(BUILD): %v", err)
		}
		if time.Since(start) != 0 {
			t.Errorf("Server waited %s", time.Since(start))
		}
		if s.Status != launch.StatusBuild || s.TaskState != "spawning" || s.Fault != nil || len(s.Ports) != 1 || s.Ports[0].Status != "DOWN" {
			t.Errorf("BUILD server = %+v", s)
		}
		onlyGETs(t, fake)

		const msg = "Build of instance aborted: Failed to allocate the network(s), not rescheduling."
		fake.FailServer("broken1", fakecloud.ServerFault{Code: 500, Message: msg, Details: "VirtualInterfaceCreateException", BindingFailed: true})
		_, err = c.Launch(ctx, launch.ServerSpec{Name: "broken1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) {
			t.Fatalf("Launch(broken1): %v", err)
		}
		s, err = c.Server(ctx, fe.ServerID)
		if err != nil {
			t.Fatalf("Server(ERROR): %v", err)
		}
		if s.Status != launch.StatusError || s.Fault == nil || s.Fault.Code != 500 || s.Fault.Message != msg || s.Fault.Details != "VirtualInterfaceCreateException" || s.Fault.Created.IsZero() {
			t.Fatalf("ERROR server = %+v fault %+v", s, s.Fault)
		}
		if len(s.Ports) != 1 || s.Ports[0].VIFType != "binding_failed" {
			t.Errorf("ERROR server ports = %+v", s.Ports)
		}
		// By name: Nova's list has no fault, Server reads it by ID.
		s, err = c.Server(ctx, "broken1")
		if err != nil || s.Fault == nil || s.Fault.Message != msg {
			t.Fatalf("Server(broken1) by name = %+v, %v; want the fault %q", s, err, msg)
		}
	})
}

func TestServerShutoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, &launch.Config{HTTPClient: &http.Client{Transport: fakecloud.ShutoffTransport{RT: fake.Transport()}}})
		s, err := c.Server(context.Background(), "vm2")
		if err != nil {
			t.Fatal(err)
		}
		if s.Status != launch.StatusShutoff || s.ID != vm2ID || len(s.Ports) != 1 || s.Ports[0].MAC.String() != vm2MAC {
			t.Errorf("SHUTOFF server = %+v", s)
		}
	})
}

// TestServerAmbiguous creates a second server named like the first one
// directly through Nova's API (Launch adopts by name, so it never does)
// and wants the name refused with both candidates, while each ID works.
func TestServerAmbiguous(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		ctx := context.Background()
		if err := fake.PostServer("vm2", "m1.nano", "aio-tiny", "provider1"); err != nil {
			t.Fatalf("second vm2: %v", err)
		}
		_, err := c.Server(ctx, "vm2")
		if !errors.Is(err, launch.ErrAmbiguous) || !strings.Contains(err.Error(), vm2ID) || strings.Count(err.Error(), "(") < 2 {
			t.Errorf("Server(vm2) with two vm2: %v; want ErrAmbiguous listing both", err)
		}
		if s, err := c.Server(ctx, vm2ID); err != nil || s.ID != vm2ID {
			t.Errorf("Server(id) with two vm2: %v, %v", s, err)
		}
	})
}

// TestLaunchAdoptsShutoff wants Launch, finding a SHUTOFF server of the
// spec's name, to say so at once and name what to do, not wait for a
// status that never comes nor claim it changed while waiting.
func TestLaunchAdoptsShutoff(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, &launch.Config{HTTPClient: &http.Client{Transport: fakecloud.ShutoffTransport{RT: fake.Transport()}}})
		_, err := c.Launch(context.Background(), launch.ServerSpec{Name: "vm2", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		if err == nil || !strings.Contains(err.Error(), "already exists and is SHUTOFF") || !strings.Contains(err.Error(), "openstack server start "+vm2ID) {
			t.Errorf("Launch over a SHUTOFF vm2: %v; want it to say the server exists SHUTOFF and how to start it", err)
		}
		if got := c.Created(); len(got) != 0 {
			t.Errorf("Launch over a SHUTOFF vm2 created %v", got)
		}
	})
}
