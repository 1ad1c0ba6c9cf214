package launch_test

import (
	"context"
	"errors"
	"net/http"
	"testing"
	"testing/synctest"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/servers"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// inBubble runs f in a testing/synctest bubble from a benchmark. synctest
// only takes a *testing.T, so the bubble runs as a one-test testing.RunTests.
//
// Time: the fake cloud reports ACTIVE after 60 s of ITS clock, which is
// time.Now inside the bubble; every client sleeps on real timers (ours, and
// gophercloud's fixed 1 s ticker in WaitFor), which the bubble advances as
// soon as every goroutine is blocked. Nothing is scaled: a 60 s build is
// 60 s of bubble time for every client, and takes microseconds of wall time.
// The fake is reached through its in-process Transport, so no goroutine
// waits on a socket (that would stop the bubble's clock).
func inBubble(b *testing.B, f func(t *testing.T)) {
	b.Helper()
	ok := testing.RunTests(func(string, string) (bool, error) { return true, nil },
		[]testing.InternalTest{{Name: b.Name() + "/bubble", F: func(t *testing.T) { synctest.Test(t, f) }}})
	if !ok {
		b.Fatal("bubble failed")
	}
}

// gophercloudClient authenticates a plain gophercloud compute client against
// the fake (for servers.WaitForStatus).
func gophercloudClient(t *testing.T, fake *fakecloud.Cloud) *gophercloud.ServiceClient {
	pc, err := openstack.NewClient(fake.AuthURL())
	if err != nil {
		t.Fatal(err)
	}
	pc.HTTPClient = http.Client{Transport: fake.Transport()}
	if err := openstack.Authenticate(context.Background(), pc, gophercloud.AuthOptions{IdentityEndpoint: fake.AuthURL(), Username: fakecloud.Username, Password: fake.Password(), TenantName: fakecloud.ProjectName, DomainName: fakecloud.DomainName}); err != nil {
		t.Fatal(err)
	}
	sc, err := openstack.NewComputeV2(pc, gophercloud.EndpointOpts{})
	if err != nil {
		t.Fatal(err)
	}
	return sc
}

// BenchmarkLaunchPolls launches one server against the fake cloud with a
// 60 s build and counts API requests and status polls per launch; in the
// same run, gophercloud's servers.WaitForStatus waits for a server with
// the same 60 s build on the same fake. Then a server that goes to ERROR
// 30 s in: how many polls each needs after the ERROR to stop
// (WaitForStatus never does: it spins to its deadline).
//
// The openstack CLI's figures come from BenchmarkCLIWaitPolls
// (bench_cli_test.go), which runs the real python-openstackclient against
// the fake on a socket in real time: a Python process cannot live in a
// synctest bubble.
func BenchmarkLaunchPolls(b *testing.B) {
	var (
		ourPolls, ourReqs, gcPolls        int
		ourErrPollsAfter, gcErrPollsAfter int
		ourErrNoticed, gcErrNoticed       time.Duration
	)
	for b.Loop() {
		inBubble(b, func(t *testing.T) {
			ctx := context.Background()
			fake := fakecloud.New(&fakecloud.Config{BuildTime: 60 * time.Second})
			c := openFake(t, fake, nil)
			fake.ResetRequests()
			s, err := c.Launch(ctx, launch.ServerSpec{Name: "cirros1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1", SecurityGroups: []string{"default"}})
			if err != nil {
				t.Fatal(err)
			}
			ourPolls, ourReqs = fake.ServerPolls(), len(fake.Requests())
			if s.Polls != ourPolls {
				t.Fatalf("Server.Polls %d, fake saw %d", s.Polls, ourPolls)
			}

			sc := gophercloudClient(t, fake)
			g, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "gc1", FlavorRef: "0", ImageRef: "b1199e44-960b-4c65-8287-bdf5454eb889", Networks: []servers.Network{{UUID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"}}}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			fake.ResetRequests()
			wctx, cancel := context.WithTimeout(ctx, 10*time.Minute)
			if err := servers.WaitForStatus(wctx, sc, g.ID, "ACTIVE"); err != nil {
				t.Fatal(err)
			}
			cancel()
			gcPolls = fake.ServerPolls()

			// ERROR 30 s into the build.
			const errAt = 30 * time.Second
			fake.FailServer("bad1", fakecloud.ServerFault{Code: 500, Message: "Exceeded maximum number of retries.", After: errAt})
			fake.FailServer("bad2", fakecloud.ServerFault{Code: 500, Message: "Exceeded maximum number of retries.", After: errAt})
			start := time.Now()
			_, err = c.Launch(ctx, launch.ServerSpec{Name: "bad1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
			var fe *launch.FaultError
			if !errors.As(err, &fe) {
				t.Fatalf("want FaultError, got %v", err)
			}
			ourErrNoticed = time.Since(start) - errAt
			// Polls strictly after the ERROR appeared: our schedule's polls
			// before 30 s are 2, 5, 9.5, 16.25, 26.4; the next sees ERROR.
			ourErrPollsAfter = fe.Polls - pollsBefore(2*time.Second, 10*time.Second, errAt)

			g2, err := servers.Create(ctx, sc, servers.CreateOpts{Name: "bad2", FlavorRef: "0", ImageRef: "b1199e44-960b-4c65-8287-bdf5454eb889", Networks: []servers.Network{{UUID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"}}}, nil).Extract()
			if err != nil {
				t.Fatal(err)
			}
			fake.ResetRequests()
			start = time.Now()
			wctx, cancel = context.WithTimeout(ctx, 5*time.Minute)
			err = servers.WaitForStatus(wctx, sc, g2.ID, "ACTIVE")
			cancel()
			if !errors.Is(err, context.DeadlineExceeded) {
				t.Fatalf("WaitForStatus on ERROR returned %v; expected it to spin to its deadline", err)
			}
			gcErrNoticed = time.Since(start) - errAt
			gcErrPollsAfter = fake.ServerPolls() - 31 // polls at 0..30 s saw BUILD
		})
	}
	if ourPolls > 10 {
		b.Errorf("launch made %d status polls for a 60 s build; the issue allows 10", ourPolls)
	}
	if ourErrPollsAfter != 1 {
		b.Errorf("launch needed %d polls after the ERROR; want 1", ourErrPollsAfter)
	}
	b.ReportMetric(float64(ourPolls), "polls/launch")
	b.ReportMetric(float64(ourReqs), "requests/launch")
	b.ReportMetric(float64(gcPolls), "gophercloud-WaitForStatus-polls")
	b.ReportMetric(float64(gcPolls)/float64(ourPolls), "x-fewer-polls-than-gophercloud")
	b.ReportMetric(float64(ourErrPollsAfter), "polls-after-ERROR")
	b.ReportMetric(ourErrNoticed.Seconds(), "s-to-notice-ERROR")
	b.ReportMetric(float64(gcErrPollsAfter), "gophercloud-polls-after-ERROR")
	b.ReportMetric(gcErrNoticed.Seconds(), "gophercloud-s-until-gives-up")
}

// pollsBefore counts the polls of launch's schedule (first after first,
// then ×1.5 up to max) made strictly before at.
func pollsBefore(first, max time.Duration, at time.Duration) int {
	n, t, d := 0, time.Duration(0), first
	for {
		t += d
		if t >= at {
			return n
		}
		n++
		d = min(time.Duration(float64(d)*1.5), max)
	}
}
