package trace_test

import (
	"context"
	"errors"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// On a network node a tap or a bare port ID cannot be traced without the
// API: Run says to give the MAC, before touching any namespace (no root
// needed).
func TestRunNetworkRoleTargets(t *testing.T) {
	cfg := &trace.Config{Role: trace.RoleNetwork, NetNSDir: t.TempDir(), StateDir: t.TempDir()}
	for _, target := range []trace.Target{{PortID: "31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80"}, {Tap: "tap31f2d3e9-8d"}} {
		tr, err := trace.Run(context.Background(), cfg, target)
		if !errors.Is(err, trace.ErrRole) || tr != nil || !strings.Contains(err.Error(), "-mac") || !strings.Contains(err.Error(), "-server") {
			t.Errorf("Run(%s) on a network node = %v, %v; want ErrRole saying -mac or -server", target, tr, err)
		}
	}
	if _, err := trace.Run(context.Background(), &trace.Config{Role: trace.RoleNetwork, SkipDHCP: true}, trace.Target{Tap: "tap0"}); !errors.Is(err, trace.ErrRole) {
		t.Errorf("SkipDHCP with the network role: %v", err)
	}
}
