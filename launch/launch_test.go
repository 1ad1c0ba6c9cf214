package launch_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"testing/synctest"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// Every test runs in a synctest bubble: the fake's clock and the client's
// timers are the bubble's, so a 60 s build takes microseconds.

func TestWalkthroughTwiceCreatesNothingTheSecondTime(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{Fresh: true, BuildTime: 20 * time.Second})
		c := openFake(t, fake, nil)
		key := filepath.Join(t.TempDir(), "mykey")
		ctx := context.Background()

		r1, err := walk(ctx, c, key)
		if err != nil {
			t.Fatalf("first run: %v", err)
		}
		if !r1.Preflight.Ready || len(r1.Preflight.Down) != 0 {
			t.Errorf("preflight: %s", r1.Preflight)
		}
		created := []bool{r1.Flavor.Created, r1.Keypair.Created, r1.Rules[0].Created, r1.Rules[1].Created, r1.Network.Created, r1.Subnet.Created, r1.Server.Created}
		if diff := cmp.Diff([]bool{true, true, true, true, true, true, true}, created); diff != "" {
			t.Errorf("first run created (-want +got):\n%s", diff)
		}
		st, err := os.Stat(key)
		if err != nil || st.Mode().Perm() != 0o600 {
			t.Errorf("private key file: %v, mode %v; want 0600", err, st.Mode())
		}
		s := r1.Server
		if s.Status != launch.StatusActive || s.Host != fakecloud.Host || !strings.HasPrefix(s.InstanceName, "instance-") || len(s.Ports) != 1 {
			t.Errorf("server = %+v", s)
		}
		if len(s.Ports) == 1 {
			p := s.Ports[0]
			if p.MAC.String()[:8] != "fa:16:3e" || len(p.FixedIPs) != 1 || p.FixedIPs[0].Address.String() != "203.0.113.101" || p.NetworkID != r1.Network.ID || p.VIFType != "bridge" {
				t.Errorf("port = %+v", p)
			}
			if len(s.Addresses) != 1 || s.Addresses[0].Addr != p.FixedIPs[0].Address || s.Addresses[0].MAC.String() != p.MAC.String() {
				t.Errorf("addresses %+v do not match port %+v", s.Addresses, p)
			}
		}
		if !strings.Contains(r1.Console, "vnc_auto.html") {
			t.Errorf("console URL = %q", r1.Console)
		}
		if s.Polls > 10 || s.Polls < 2 {
			t.Errorf("polls = %d for a 20 s build; want 2..10", s.Polls)
		}

		fake.ResetRequests()
		r2, err := walk(ctx, c, key+"-unused")
		if err != nil {
			t.Fatalf("second run: %v", err)
		}
		for _, rq := range fake.Requests() {
			if rq.Method != http.MethodGet && !strings.HasSuffix(rq.Path, "/remote-consoles") {
				t.Errorf("second run made %s %s", rq.Method, rq.Path)
			}
		}
		created2 := []bool{r2.Flavor.Created, r2.Keypair.Created, r2.Rules[0].Created, r2.Rules[1].Created, r2.Network.Created, r2.Subnet.Created, r2.Server.Created}
		if diff := cmp.Diff(make([]bool, 7), created2); diff != "" {
			t.Errorf("second run created (-want +got):\n%s", diff)
		}
		if r2.Server.ID != r1.Server.ID || r2.Rules[0].ID != r1.Rules[0].ID || r2.Network.ID != r1.Network.ID {
			t.Errorf("second run found other objects: %+v vs %+v", r2.Server, r1.Server)
		}
		if _, err := os.Stat(key + "-unused"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("second run wrote a key file: %v", err)
		}

		if err := c.Cleanup(ctx); err != nil {
			t.Fatalf("Cleanup: %v", err)
		}
		for _, kind := range []string{"flavors", "keypairs", "servers", "networks", "subnets"} {
			if n := fake.Names(kind); len(n) != 0 {
				t.Errorf("after Cleanup, %s left: %v", kind, n)
			}
		}
		if _, err := os.Stat(key); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("Cleanup left the private key it wrote: %v", err)
		}
	})
}

func TestRetriesTransientErrors(t *testing.T) {
	for _, tc := range []struct {
		name  string
		fault fakecloud.Fault
		path  string
		// minWait is the least fake time the retry must have waited.
		minWait time.Duration
	}{
		{"503 twice on list flavors", fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 503, Times: 2}, "/flavors/detail", 0},
		{"500 on create server", fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Status: 500}, "/compute/v2.1/servers", 0},
		{"409 on create server", fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Status: 409}, "/compute/v2.1/servers", 0},
		{"429 Retry-After 7 on find network", fakecloud.Fault{Method: "GET", Path: "/v2.0/networks", Status: 429, RetryAfter: "7"}, "/v2.0/networks", 7 * time.Second},
		{"connection reset on create server", fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Reset: true}, "/compute/v2.1/servers", 0},
		{"connection reset on status poll", fakecloud.Fault{Method: "GET", Path: "/compute/v2.1/servers/fa", Reset: true}, "/compute/v2.1/servers/fa", 0},
	} {
		t.Run(tc.name, func(t *testing.T) {
			synctest.Test(t, func(t *testing.T) {
				fake := fakecloud.New(&fakecloud.Config{BuildTime: 10 * time.Second})
				c := openFake(t, fake, nil)
				fake.Inject(tc.fault)
				fake.ResetRequests()
				start := time.Now()
				s, err := c.Launch(context.Background(), launch.ServerSpec{Name: "cirros1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
				if err != nil {
					t.Fatalf("Launch: %v", err)
				}
				if s.Status != launch.StatusActive {
					t.Errorf("status %s", s.Status)
				}
				if n := countName(fake.Names("servers"), "cirros1"); n != 1 {
					t.Errorf("%d servers named cirros1; want 1", n)
				}
				if el := time.Since(start); el < tc.minWait {
					t.Errorf("Launch took %s; the Retry-After asked for %s", el, tc.minWait)
				}
				failed := 0
				for _, r := range fake.Requests() {
					if r.Status == 0 || r.Status >= 409 {
						failed++
					}
				}
				if want := max(tc.fault.Times, 1); failed != want {
					t.Errorf("%d failed requests seen; want %d: %+v", failed, want, fake.Requests())
				}
			})
		})
	}
}

func countName(names []string, n string) int {
	k := 0
	for _, x := range names {
		if x == n {
			k++
		}
	}
	return k
}

func TestPermanentErrorsNameTheRequest(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 503, Times: 100})
		fake.ResetRequests()
		_, err := c.FindFlavor(context.Background(), "m1.nano")
		var ae *launch.APIError
		if !errors.As(err, &ae) {
			t.Fatalf("err = %v; want *APIError", err)
		}
		if ae.Method != "GET" || !strings.Contains(ae.URL, "/compute/v2.1/flavors/detail") || ae.Status != 503 || ae.Attempts != 5 {
			t.Errorf("APIError = %+v", ae)
		}
		if n := fake.Count("GET", "/flavors/detail"); n != 5 {
			t.Errorf("%d tries; want 5 (MaxAttempts)", n)
		}

		// A 400 is not retried, and the service's message reaches the caller.
		fake2 := fakecloud.New(nil)
		c2 := openFake(t, fake2, nil)
		fake2.SetConsole(false)
		_, err = c2.ConsoleURL(context.Background(), "3fc516db-bae9-4e60-a58c-0d8beace5d6e")
		if !errors.As(err, &ae) || ae.Status != 400 || ae.Method != "POST" || !strings.Contains(err.Error(), "Unavailable console type novnc.") {
			t.Errorf("console err = %v", err)
		}
		if n := fake2.Count("POST", "remote-consoles"); n != 1 {
			t.Errorf("400 tried %d times; want 1", n)
		}
	})
}

func TestServerErrorStopsAtOnceWithFault(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{BuildTime: 60 * time.Second})
		c := openFake(t, fake, nil)
		fake.FailServer("cirros1", fakecloud.ServerFault{Code: 500, Message: "Build of instance aborted: Failed to allocate the network(s), not rescheduling.", Details: "PortBindingFailed", After: 30 * time.Second, BindingFailed: true})
		fake.SetAgent("Linux bridge agent", fakecloud.Host, false)
		start := time.Now()
		_, err := c.Launch(context.Background(), launch.ServerSpec{Name: "cirros1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		el := time.Since(start)
		var fe *launch.FaultError
		if !errors.As(err, &fe) || !errors.Is(err, launch.ErrServerError) {
			t.Fatalf("err = %v; want *FaultError", err)
		}
		if fe.Fault.Code != 500 || !strings.Contains(fe.Fault.Message, "Failed to allocate the network") || fe.Fault.Details != "PortBindingFailed" {
			t.Errorf("fault = %+v", fe.Fault)
		}
		if len(fe.Ports) != 1 || fe.Ports[0].VIFType != "binding_failed" || fe.Ports[0].HostID != fakecloud.Host {
			t.Errorf("ports = %+v", fe.Ports)
		}
		if len(fe.Compute) != 1 || fe.Compute[0].State != launch.StateUp {
			t.Errorf("compute = %+v", fe.Compute)
		}
		msg := err.Error()
		for _, want := range []string{"Failed to allocate the network", "binding:vif_type=binding_failed", "Linux bridge agent on vm is not alive"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error %q lacks %q", msg, want)
			}
		}
		// ERROR at 30 s must be noticed by the first poll after it: the
		// poll interval is at most PollMax (10 s).
		if el < 30*time.Second || el > 40*time.Second {
			t.Errorf("ERROR at 30 s noticed after %s; want within one poll (≤ 40 s)", el)
		}
	})
}

func TestFlavorTooLargeReachesCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{HostRAMMiB: 2048})
		c := openFake(t, fake, nil)
		ctx := context.Background()
		if _, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "huge", VCPUs: 1, RAMMiB: 1 << 20, DiskGiB: 1}); err != nil {
			t.Fatal(err)
		}
		_, err := c.Launch(ctx, launch.ServerSpec{Name: "toobig", Flavor: "huge", Image: "aio-tiny", Network: "provider1"})
		var fe *launch.FaultError
		if !errors.As(err, &fe) || !strings.Contains(err.Error(), "No valid host was found") || fe.Polls != 2 {
			t.Fatalf("err = %v (%+v)", err, fe)
		}
		ex := strings.Join(fe.Explain(), ";")
		if fe.Kind != launch.FaultNoValidHost || !strings.Contains(ex, "flavor huge asks 1048576 MiB RAM") || !strings.Contains(ex, "MEMORY_MB: total 2048") || !strings.Contains(ex, "ram_allocation_ratio") {
			t.Errorf("Kind %q, Explain() = %q", fe.Kind, fe.Explain())
		}
	})
}

func TestContextCancelledMidWait(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{BuildTime: 60 * time.Second})
		c := openFake(t, fake, nil)
		ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
		defer cancel()
		start := time.Now()
		_, err := c.Launch(ctx, launch.ServerSpec{Name: "slow", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		if !errors.Is(err, context.DeadlineExceeded) || !strings.Contains(err.Error(), `server "slow"`) || !strings.Contains(err.Error(), "last status BUILD") {
			t.Fatalf("err = %v", err)
		}
		if el := time.Since(start); el != 20*time.Second {
			t.Errorf("returned after %s; want exactly the 20 s deadline", el)
		}
		if c.Created()[0][:6] != "server" {
			t.Errorf("Created() = %v; the server must be known for Cleanup", c.Created())
		}
		// Cancel (not deadline) in the middle of a back-off sleep.
		ctx2, cancel2 := context.WithCancel(context.Background())
		go func() { time.Sleep(7 * time.Second); cancel2() }()
		_, err = c.WaitActive(ctx2, strings.Fields(c.Created()[0])[2][1:37])
		if !errors.Is(err, context.Canceled) {
			t.Errorf("err = %v; want context.Canceled", err)
		}
	})
}

func TestAmbiguousAndMismatch(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		ctx := context.Background()
		id2 := fake.AddImage("aio-tiny")
		_, err := c.FindImage(ctx, "aio-tiny")
		if !errors.Is(err, launch.ErrAmbiguous) || !strings.Contains(err.Error(), id2) || !strings.Contains(err.Error(), "b1199e44-960b-4c65-8287-bdf5454eb889") {
			t.Errorf("FindImage = %v; want ErrAmbiguous listing both IDs", err)
		}
		if _, err := c.Launch(ctx, launch.ServerSpec{Name: "x", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"}); !errors.Is(err, launch.ErrAmbiguous) {
			t.Errorf("Launch with ambiguous image = %v", err)
		}
		if _, err := c.FindImage(ctx, "nope"); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("FindImage(nope) = %v; want fs.ErrNotExist", err)
		}
		// m1.nano exists with 64 MiB.
		if _, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "m1.nano", VCPUs: 1, RAMMiB: 128, DiskGiB: 1}); !errors.Is(err, launch.ErrMismatch) {
			t.Errorf("EnsureFlavor with other RAM = %v; want ErrMismatch", err)
		}
		if _, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: "provider1", Type: launch.NetworkVLAN, PhysicalNetwork: "provider", SegmentationID: 100}); !errors.Is(err, launch.ErrMismatch) {
			t.Errorf("EnsureNetwork vlan over flat = %v; want ErrMismatch", err)
		}
		// A key file that exists is never overwritten.
		path := filepath.Join(t.TempDir(), "id")
		os.WriteFile(path, []byte("precious"), 0o600)
		if _, err := c.EnsureKeypair(ctx, launch.KeypairSpec{Name: "k", PrivateKeyPath: path}); !errors.Is(err, launch.ErrFileExists) {
			t.Errorf("EnsureKeypair over a file = %v; want ErrFileExists", err)
		}
		if b, _ := os.ReadFile(path); string(b) != "precious" {
			t.Errorf("key file overwritten")
		}
		if len(fake.Names("keypairs")) != 0 {
			t.Errorf("keypair created although the key could not be written")
		}
	})
}

func TestSecurityGroupRule409IsSuccess(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil) // recorded default group already has ICMP and SSH
		c := openFake(t, fake, nil)
		ctx := context.Background()
		// A rule that is not in the listing but that Neutron says exists
		// (created concurrently): Neutron's 409 counts as success.
		before := len(fake.Names("security-group-rules"))
		fake.Inject(fakecloud.Fault{Method: "POST", Path: "/security-group-rules", Status: 409})
		rules, err := c.EnsureSecurityGroupRules(ctx, "default", []launch.Rule{{Protocol: "udp", PortMin: 53}})
		if err != nil || len(rules) != 1 || rules[0].Created {
			t.Fatalf("rules = %+v, %v", rules, err)
		}
		rules, err = c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules())
		if err != nil || rules[0].Created || rules[1].Created || rules[0].ID == "" {
			t.Errorf("walkthrough rules on the recorded group = %+v, %v; want found", rules, err)
		}
		if after := len(fake.Names("security-group-rules")); after != before {
			t.Errorf("rules %d -> %d", before, after)
		}
	})
}

func TestPreflightVerdict(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		ctx := context.Background()
		r, err := c.Preflight(ctx, &launch.PreflightOptions{Host: "vm", Network: "provider1"})
		if err != nil || !r.Ready || !r.DHCPAlive || !r.ComputeUp["vm"] || !r.LinuxBridgeUp["vm"] || len(r.Services) != 3 || len(r.Agents) != 3 {
			t.Fatalf("healthy preflight = %+v, %v", r, err)
		}
		fake.SetService("nova-compute", "vm", "down")
		fake.SetAgent("DHCP agent", "vm", false)
		r, err = c.Preflight(ctx, &launch.PreflightOptions{Host: "vm", Network: "provider1"})
		if err != nil || r.Ready || r.DHCPAlive || r.ComputeUp["vm"] || !r.LinuxBridgeUp["vm"] {
			t.Fatalf("degraded preflight = %+v, %v", r, err)
		}
		s := r.String()
		for _, want := range []string{"nova-compute on vm is down", "DHCP agent on vm is not alive", "no live DHCP agent hosts network provider1"} {
			if !strings.Contains(s, want) {
				t.Errorf("%q lacks %q", s, want)
			}
		}
	})
}

func TestReauthenticatesOnTokenExpiry(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, nil)
		fake.ExpireTokens()
		if _, err := c.FindFlavor(context.Background(), "m1.nano"); err != nil {
			t.Fatalf("after token expiry: %v", err)
		}
		if n := len(fake.Tokens()); n != 2 {
			t.Errorf("%d tokens issued; want 2 (one re-authentication)", n)
		}
	})
}

func TestWrongPasswordSaysWhatToDo(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		dir := t.TempDir()
		path := filepath.Join(dir, "clouds.yaml")
		os.WriteFile(path, []byte(strings.Replace(fake.CloudsYAML("fake"), fake.Password(), "wrong-password-xyz", 1)), 0o600)
		_, err := launch.Open(context.Background(), &launch.Config{Cloud: "fake", CloudsFile: path, HTTPClient: &http.Client{Transport: fake.Transport()}})
		if err == nil || !strings.Contains(err.Error(), "HTTP 401") || !strings.Contains(err.Error(), "secure.yaml") || strings.Contains(err.Error(), "wrong-password-xyz") {
			t.Errorf("err = %v", err)
		}
	})
}

// TestOverRealHTTP drives the fake over a real socket: TLS-less HTTP, a
// real TCP reset, and Open building its own HTTP client (no HTTPClient).
func TestOverRealHTTP(t *testing.T) {
	fake := fakecloud.New(&fakecloud.Config{BuildTime: 30 * time.Millisecond})
	fake.Start(t)
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600)
	t.Setenv("OS_CLOUD", "fake")
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	c, err := launch.Open(context.Background(), &launch.Config{PollFirst: 5 * time.Millisecond, PollMax: 20 * time.Millisecond, RetryBase: time.Millisecond})
	if err != nil {
		t.Fatal(err)
	}
	fake.Inject(fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Reset: true})
	s, err := c.Launch(context.Background(), launch.ServerSpec{Name: "net1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
	if err != nil || s.Status != launch.StatusActive {
		t.Fatalf("Launch over a reset: %v", err)
	}
	if n := countName(fake.Names("servers"), "net1"); n != 1 {
		t.Errorf("%d servers; want 1", n)
	}
	if err := c.DeleteServer(context.Background(), s.ID); err != nil {
		t.Fatal(err)
	}
	if n := countName(fake.Names("servers"), "net1"); n != 0 {
		t.Errorf("server still listed after DeleteServer")
	}
}
