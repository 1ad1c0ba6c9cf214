package trace_test

import (
	"context"
	"errors"
	"io/fs"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"sync/atomic"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

func fakeClientRT(t *testing.T, fake *fakecloud.Cloud, rt http.RoundTripper) *launch.Client {
	t.Helper()
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		t.Fatal(err)
	}
	c, err := launch.Open(context.Background(), &launch.Config{Cloud: "fake", CloudsFile: path,
		HTTPClient: &http.Client{Transport: rt}, PollFirst: 10 * time.Millisecond, PollMax: 50 * time.Millisecond})
	if err != nil {
		t.Fatalf("launch.Open: %v", err)
	}
	return c
}

// TestIntegrationServerShutoffByName traces a stopped server given by
// name: the server hop warns with its status, and its port is still traced
// through the local hops.
func TestIntegrationServerShutoffByName(t *testing.T) {
	fake := fakecloud.New(nil)
	var stopped atomic.Bool
	c := fakeClientRT(t, fake, fakecloud.ShutoffTransport{RT: fake.Transport(), On: &stopped})
	id, port, _ := launchFake(t, c, "trvm5")
	tp := topoForPort(t, port)
	stopped.Store(true)
	fake.ResetRequests()
	st := runServer(t, tp.cfg, c, "trvm5")
	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet && !strings.HasPrefix(r.Path, "/identity/") {
			t.Errorf("the trace sent %s %s", r.Method, r.Path)
		}
	}
	if st.ServerID != id || st.ServerName != "trvm5" || st.Status != "SHUTOFF" || len(st.Traces) != 1 {
		t.Fatalf("server trace %+v", st)
	}
	tr := st.Traces[0]
	sh, ph := tr.Hops[0], tr.Hops[1]
	if v, _ := sh.Get("status"); sh.Verdict != trace.Warn || v != "SHUTOFF" || !strings.HasPrefix(sh.Summary, "SHUTOFF on ") || !strings.Contains(sh.Cause, "SHUTOFF") || !strings.Contains(sh.Next, "openstack server start "+id) {
		t.Errorf("server hop %+v", sh)
	}
	if ph.Kind != trace.KindPort || ph.Name != port.ID || ph.Verdict != trace.OK {
		t.Errorf("port hop %+v", ph)
	}
	if h, ok := tr.Hop(trace.KindTap, ""); !ok || h.Name != tp.tap || h.Verdict != trace.OK {
		t.Errorf("the stopped server's port was not traced locally: tap hop %+v (found %v)", h, ok)
	}
	if st.Verdict != trace.Warn {
		t.Errorf("verdict %s, want warn (the local path itself is healthy)", st.Verdict)
	}
}

// TestIntegrationServerBuild traces a server still in BUILD without
// waiting for it.
func TestIntegrationServerBuild(t *testing.T) {
	fake := fakecloud.New(&fakecloud.Config{BuildTime: time.Hour})
	c := fakeClient(t, fake)
	ctx, cancel := context.WithTimeout(context.Background(), 1500*time.Millisecond)
	_, err := c.Launch(ctx, launch.ServerSpec{Name: "trvm6", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
	cancel()
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("Launch of a 1 h build: %v", err)
	}
	srv, err := c.Server(context.Background(), "trvm6")
	if err != nil || len(srv.Ports) != 1 {
		t.Fatalf("Server(trvm6) = %+v, %v", srv, err)
	}
	tp := topoForPort(t, srv.Ports[0])
	start := time.Now()
	st := runServer(t, tp.cfg, c, "trvm6")
	if d := time.Since(start); d > 10*time.Second {
		t.Errorf("the trace took %s: it waited for the build", d)
	}
	sh := st.Traces[0].Hops[0]
	if st.Status != "BUILD" || sh.Verdict != trace.Warn || !strings.Contains(sh.Summary, "task spawning") || sh.Cause == "" {
		t.Errorf("status %s, server hop %+v", st.Status, sh)
	}
	if v, _ := sh.Get("task_state"); v != "spawning" {
		t.Errorf("task_state evidence %q", v)
	}
	if ph := st.Traces[0].Hops[1]; ph.Verdict != trace.Warn || !strings.HasPrefix(ph.Summary, "status DOWN") {
		t.Errorf("port hop %+v, want warn (DOWN)", ph)
	}
}

// TestServerNameErrors (no root: nothing local runs): an unknown name is
// fs.ErrNotExist, an ambiguous one launch.ErrAmbiguous naming both IDs.
func TestServerNameErrors(t *testing.T) {
	fake := fakecloud.New(nil)
	c := fakeClient(t, fake)
	ctx := context.Background()
	if _, err := trace.Server(ctx, nil, c, "no-such-vm"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("unknown name: %v, want fs.ErrNotExist", err)
	}
	// A second "vm2" (the recorded server's name), created through Nova's
	// API directly: Launch would adopt the first one.
	if err := fake.PostServer("vm2", "m1.nano", "aio-tiny", "provider1"); err != nil {
		t.Fatalf("second vm2: %v", err)
	}
	_, err := trace.Server(ctx, nil, c, "vm2")
	if !errors.Is(err, launch.ErrAmbiguous) || !strings.Contains(err.Error(), "3fc516db-bae9-4e60-a58c-0d8beace5d6e") {
		t.Errorf("ambiguous name: %v", err)
	}
}
