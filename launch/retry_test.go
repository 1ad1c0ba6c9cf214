package launch_test

import (
	"context"
	"errors"
	"net/http"
	"sync"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// A Client made by New retries through gophercloud's hooks on its own copy
// of the caller's provider: a 503 and a 409 on create server, then
// success, make one server; the caller's provider has no hook afterwards
// (its own requests are still not retried) and still holds its token.
func TestNewRetriesWithoutTouchingCallersProvider(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{BuildTime: 10 * time.Second})
		compute := gophercloudClient(t, fake)
		provider := compute.ProviderClient
		network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		image, err := openstack.NewImageV2(provider, gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		token := provider.Token()
		c, err := launch.New(compute, network, image, &launch.Config{RetryBase: time.Millisecond, PollFirst: time.Second})
		if err != nil {
			t.Fatal(err)
		}
		if compute.ProviderClient != provider || network.ProviderClient != provider {
			t.Fatal("New replaced the caller's service clients' provider")
		}

		fake.Inject(fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Status: 503})
		fake.Inject(fakecloud.Fault{Method: "POST", Path: "/compute/v2.1/servers", Status: 409})
		fake.ResetRequests()
		s, err := c.Launch(context.Background(), launch.ServerSpec{Name: "cirros1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
		if err != nil {
			t.Fatalf("Launch after a 503 and a 409: %v", err)
		}
		if s.Status != launch.StatusActive || !s.Created {
			t.Errorf("server %s created=%v; want ACTIVE, created", s.Status, s.Created)
		}
		if n := fake.Count("POST", "/compute/v2.1/servers"); n != 3 {
			t.Errorf("%d POSTs to /servers; want 3 (503, 409, 202)", n)
		}
		if n := countName(fake.Names("servers"), "cirros1"); n != 1 {
			t.Errorf("%d servers named cirros1; want 1", n)
		}

		if provider.RetryFunc != nil || provider.RetryBackoffFunc != nil || provider.MaxBackoffRetries != 0 {
			t.Errorf("caller's provider got hooks: RetryFunc %v, RetryBackoffFunc %v, MaxBackoffRetries %d", provider.RetryFunc != nil, provider.RetryBackoffFunc != nil, provider.MaxBackoffRetries)
		}
		if got := provider.Token(); got != token {
			t.Error("caller's provider token changed without an expiry")
		}
		// The caller's own requests are still tried once.
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 503})
		fake.ResetRequests()
		if _, err := flavors.ListDetail(compute, nil).AllPages(context.Background()); !gophercloud.ResponseCodeIs(err, 503) {
			t.Errorf("caller's list flavors with a 503 injected: %v; want the 503, not retried", err)
		}
		if n := fake.Count("GET", "/flavors/detail"); n != 1 {
			t.Errorf("caller's request tried %d times; want 1", n)
		}
	})
}

// A 429 goes through RetryBackoffFunc and honours Retry-After; MaxAttempts
// bounds it as it bounds other failures.
func TestRetryBackoffHonoursRetryAfterAndMaxAttempts(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		c := openFake(t, fake, &launch.Config{MaxAttempts: 3})
		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 429, RetryAfter: "4"})
		fake.ResetRequests()
		start := time.Now()
		if _, err := c.FindFlavor(context.Background(), "m1.nano"); err != nil {
			t.Fatalf("after one 429: %v", err)
		}
		if el := time.Since(start); el < 4*time.Second {
			t.Errorf("retried after %s; Retry-After asked for 4s", el)
		}

		fake.Inject(fakecloud.Fault{Method: "GET", Path: "/flavors/detail", Status: 429, RetryAfter: "1", Times: 10})
		fake.ResetRequests()
		_, err := c.FindFlavor(context.Background(), "m1.nano")
		var ae *launch.APIError
		if !errors.As(err, &ae) || ae.Status != 429 || ae.Attempts != 3 {
			t.Fatalf("err = %v; want an *APIError with status 429 after 3 attempts", err)
		}
		if n := fake.Count("GET", "/flavors/detail"); n != 3 {
			t.Errorf("%d tries; want 3 (MaxAttempts)", n)
		}
	})
}

// A token expiry seen through New's copy re-authenticates once, through
// the caller's provider, and both then hold the new token.
func TestNewSharesReauthenticationWithCaller(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(nil)
		provider, err := openstack.NewClient(fake.AuthURL())
		if err != nil {
			t.Fatal(err)
		}
		provider.HTTPClient = http.Client{Transport: fake.Transport()}
		provider.UseTokenLock()
		if err := openstack.Authenticate(context.Background(), provider, gophercloud.AuthOptions{IdentityEndpoint: fake.AuthURL(), Username: fakecloud.Username, Password: fake.Password(), TenantName: fakecloud.ProjectName, DomainName: fakecloud.DomainName, AllowReauth: true}); err != nil {
			t.Fatal(err)
		}
		compute, err := openstack.NewComputeV2(provider, gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		network, err := openstack.NewNetworkV2(provider, gophercloud.EndpointOpts{})
		if err != nil {
			t.Fatal(err)
		}
		c, err := launch.New(compute, network, nil, nil)
		if err != nil {
			t.Fatal(err)
		}
		before := provider.Token()
		fake.ExpireTokens()
		if _, err := c.FindFlavor(context.Background(), "m1.nano"); err != nil {
			t.Fatalf("after token expiry: %v", err)
		}
		if n := len(fake.Tokens()); n != 2 {
			t.Errorf("%d tokens issued; want 2 (one re-authentication)", n)
		}
		if provider.Token() == before {
			t.Error("the caller's provider kept the expired token")
		}
		// The caller's provider already has the new token: its request
		// succeeds without another login.
		if _, err := flavors.ListDetail(compute, nil).AllPages(context.Background()); err != nil {
			t.Fatalf("caller's request after the copy re-authenticated: %v", err)
		}
		if _, err := c.FindFlavor(context.Background(), "m1.nano"); err != nil {
			t.Fatal(err)
		}
		if n := len(fake.Tokens()); n != 2 {
			t.Errorf("%d tokens issued; want still 2", n)
		}

		// A second expiry met at once by the Client and by the caller,
		// from several goroutines: one login between them.
		fake.ExpireTokens()
		var wg sync.WaitGroup
		errs := make(chan error, 8)
		for i := range 8 {
			wg.Go(func() {
				var err error
				if i%2 == 0 {
					_, err = c.FindFlavor(context.Background(), "m1.nano")
				} else {
					_, err = flavors.ListDetail(compute, nil).AllPages(context.Background())
				}
				errs <- err
			})
		}
		wg.Wait()
		close(errs)
		for err := range errs {
			if err != nil {
				t.Errorf("concurrent request after the second expiry: %v", err)
			}
		}
		if n := len(fake.Tokens()); n != 3 {
			t.Errorf("%d tokens issued; want 3 (one login per expiry)", n)
		}
	})
}
