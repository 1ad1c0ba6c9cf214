package launch_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// TestConsoleOutput reads a server's console log through Nova's
// os-getConsoleOutput, as `openstack console log show --lines N` does:
// the last lines, the whole log, a bad ID refused before any request, and
// an unknown server's 404 as an *APIError.
func TestConsoleOutput(t *testing.T) {
	fake := fakecloud.New(nil)
	c := openFake(t, fake, nil)
	ctx := context.Background()
	log := "Starting network...\nudhcpc: sending discover\nudhcpc: lease of 192.168.31.74 obtained from 192.168.31.70, lease time 86400\n"
	if !fake.SetConsoleOutput(vm2ID, log) {
		t.Fatalf("the fake has no server %s", vm2ID)
	}
	got, err := c.ConsoleOutput(ctx, vm2ID, 1)
	if err != nil {
		t.Fatalf("ConsoleOutput(1 line): %v", err)
	}
	if want := "udhcpc: lease of 192.168.31.74 obtained from 192.168.31.70, lease time 86400\n"; got != want {
		t.Errorf("last line = %q, want %q", got, want)
	}
	if got, err := c.ConsoleOutput(ctx, vm2ID, 0); err != nil || got != log {
		t.Errorf("whole log = %q, %v; want %q", got, err, log)
	}
	fake.ResetRequests()
	if _, err := c.ConsoleOutput(ctx, "vm2", 10); err == nil || !strings.Contains(err.Error(), "not a server ID") {
		t.Errorf("a name for an ID: err = %v, want it refused naming the fix", err)
	}
	if n := len(fake.Requests()); n != 0 {
		t.Errorf("a refused ID sent %d requests", n)
	}
	_, err = c.ConsoleOutput(ctx, "00000000-0000-0000-0000-000000000000", 10)
	var ae *launch.APIError
	if !errors.As(err, &ae) || ae.Status != 404 {
		t.Errorf("unknown server: err = %v (%T), want a 404 *launch.APIError", err, err)
	}
}
