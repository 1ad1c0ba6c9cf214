package launch

import (
	"encoding/json"
	"testing"
)

// TestAgentConfigOf reads the settings vifpath uses from an agent's
// configurations as Neutron returns them: the recorded DHCP agent reports
// no enable_isolated_metadata (nil: read dhcp_agent.ini instead); one
// that reports it, or force_metadata, is read.
func TestAgentConfigOf(t *testing.T) {
	for _, c := range []struct {
		body     string
		iso      *bool
		networks *int
	}{
		{`{"dhcp_driver": "neutron.agent.linux.dhcp.Dnsmasq", "dhcp_lease_duration": 86400, "log_agent_heartbeats": false, "networks": 1, "ports": 2, "subnets": 1}`, nil, ptr(1)},
		{`{"enable_isolated_metadata": true}`, ptr(true), nil},
		{`{"enable_isolated_metadata": false, "force_metadata": false}`, ptr(false), nil},
		{`{"enable_isolated_metadata": "False", "force_metadata": "True"}`, ptr(true), nil},
		{`{"interface_mappings": {"provider": "eth2"}}`, nil, nil},
	} {
		var m map[string]any
		if err := json.Unmarshal([]byte(c.body), &m); err != nil {
			t.Fatal(err)
		}
		got := agentConfigOf(m)
		if !eqPtr(got.IsolatedMetadata, c.iso) || !eqPtr(got.Networks, c.networks) {
			t.Errorf("%s: %+v", c.body, got)
		}
	}
}

func ptr[T any](v T) *T { return &v }

func eqPtr[T comparable](a, b *T) bool {
	if a == nil || b == nil {
		return a == b
	}
	return *a == *b
}
