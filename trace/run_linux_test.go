package trace

import (
	"context"
	"net"
	"strings"
	"testing"
)

func TestRunRejectsBadTargets(t *testing.T) {
	mac, _ := net.ParseMAC("fa:16:3e:57:19:35")
	for _, tc := range []struct {
		target Target
		want   string
	}{
		{Target{}, "set exactly one"},
		{Target{Tap: "tap1", MAC: MAC(mac)}, "set exactly one"},
		{Target{PortID: "31f2d3e9"}, "shorter than the 11 characters"},
		{Target{MAC: MAC{1, 2, 3}}, "not a 6-byte"},
	} {
		_, err := Run(context.Background(), nil, tc.target)
		if err == nil || !strings.Contains(err.Error(), tc.want) || !strings.HasPrefix(err.Error(), "trace: ") {
			t.Errorf("Run(%+v) = %v, want an error containing %q", tc.target, err, tc.want)
		}
	}
}
