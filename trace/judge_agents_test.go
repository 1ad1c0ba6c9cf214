package trace_test

import (
	"context"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// agentFacts reads the facts of the recorded server vm2's port from the
// fake cloud (bodies recorded on the project's Zed cloud), after setup
// changed the fake.
func agentFacts(t *testing.T, setup func(*fakecloud.Cloud)) launch.PortAgents {
	t.Helper()
	fake := fakecloud.New(nil)
	if setup != nil {
		setup(fake)
	}
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	c, err := launch.Open(ctx, &launch.Config{Cloud: "fake", CloudsFile: path, HTTPClient: &http.Client{Transport: fake.Transport()}})
	if err != nil {
		t.Fatal(err)
	}
	srv, err := c.Server(ctx, "vm2")
	if err != nil || len(srv.Ports) != 1 {
		t.Fatalf("server vm2: %+v, %v", srv, err)
	}
	pa, err := c.PortAgents(ctx, srv, srv.Ports[0])
	if err != nil {
		t.Fatal(err)
	}
	// The recorded heartbeats are from 2026-11-24 06:09: judge as of then.
	pa.ReadAt = pa.L2.Heartbeat.Add(5 * time.Second)
	return *pa
}

func TestJudgeAgents(t *testing.T) {
	for _, tc := range []struct {
		name    string
		setup   func(*fakecloud.Cloud)
		edit    func(*launch.PortAgents)
		verdict trace.Verdict
		summary string
		cause   string
		next    string
	}{
		{name: "healthy", verdict: trace.OK, summary: "agents up: Linux bridge on vm, 1 DHCP, 1 metadata; nova-compute up"},
		{name: "l2 dead", setup: func(f *fakecloud.Cloud) { f.SetAgent(launch.AgentLinuxBridge, "vm", false) }, verdict: trace.Warn,
			summary: "Linux bridge agent on vm is dead", cause: "the ports it wired keep working", next: "restart neutron-linuxbridge-agent on vm"},
		{name: "l2 dead, port down", setup: func(f *fakecloud.Cloud) { f.SetAgent(launch.AgentLinuxBridge, "vm", false) },
			edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN" }, verdict: trace.Fail,
			summary: "Linux bridge agent on vm is dead", cause: "new ports stay DOWN", next: "restart neutron-linuxbridge-agent on vm"},
		{name: "l2 alive, port not wired", edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN" }, verdict: trace.Fail,
			summary: "alive (heartbeat 5s ago) but has not reported port", cause: "heartbeats but does not wire ports", next: "ebtables or iptables"},
		// After `openstack port set` on an ACTIVE server the port sits in
		// BUILD for 10-20 s (seen on the aio cloud): a warning while its
		// update is recent, the same failure as before once it is old.
		{name: "port in BUILD 15 s after an update", edit: func(p *launch.PortAgents) {
			p.Port.Status = "BUILD"
			p.Port.UpdatedAt = p.ReadAt.Add(-15 * time.Second)
		}, verdict: trace.Warn,
			summary: "being rewired after an update at", cause: "10 to 20 s", next: "trace again in a minute"},
		{name: "port in BUILD 59 s after an update", edit: func(p *launch.PortAgents) {
			p.Port.Status = "BUILD"
			p.Port.UpdatedAt = p.ReadAt.Add(-59 * time.Second)
		}, verdict: trace.Warn,
			summary: "being rewired"},
		{name: "port in BUILD a minute after an update", edit: func(p *launch.PortAgents) { p.Port.Status = "BUILD"; p.Port.UpdatedAt = p.ReadAt.Add(-time.Minute) }, verdict: trace.Fail,
			summary: "has not reported port", cause: "stuck on a command it retries"},
		{name: "port in BUILD, updated_at unknown", edit: func(p *launch.PortAgents) { p.Port.Status = "BUILD"; p.Port.UpdatedAt = time.Time{} }, verdict: trace.Fail,
			summary: "has not reported port", cause: "stuck on a command it retries"},
		{name: "port in BUILD, updated_at far in the future", edit: func(p *launch.PortAgents) { p.Port.Status = "BUILD"; p.Port.UpdatedAt = p.ReadAt.Add(time.Hour) }, verdict: trace.Fail,
			cause: "stuck on a command it retries"},
		{name: "port DOWN just after an update is not rewiring", edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN"; p.Port.UpdatedAt = p.ReadAt.Add(-5 * time.Second) }, verdict: trace.Fail,
			cause: "stuck on a command it retries"},
		{name: "port in BUILD after an update, agent dead", setup: func(f *fakecloud.Cloud) { f.SetAgent(launch.AgentLinuxBridge, "vm", false) },
			edit: func(p *launch.PortAgents) { p.Port.Status = "BUILD"; p.Port.UpdatedAt = p.ReadAt.Add(-5 * time.Second) }, verdict: trace.Fail,
			summary: "Linux bridge agent on vm is dead"},
		{name: "building, port not wired yet", edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN"; p.ServerStatus = launch.StatusBuild }, verdict: trace.Warn,
			summary: "has not reported port", cause: "vif_plugging_timeout", next: "log on vm"},
		{name: "port disabled: the agent is not to blame", edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN"; p.Port.AdminDown = true }, verdict: trace.OK,
			summary: "agents up: Linux bridge on vm"},
		{name: "shut off, port down is normal", edit: func(p *launch.PortAgents) { p.Port.Status = "DOWN"; p.ServerStatus = launch.StatusShutoff }, verdict: trace.OK},
		{name: "no l2 agent on the host", edit: func(p *launch.PortAgents) { p.L2 = nil }, verdict: trace.Fail, summary: "no Linux bridge agent on vm", next: "start neutron-linuxbridge-agent on vm"},
		{name: "binding failed", edit: func(p *launch.PortAgents) { p.Port.VIFType = "binding_failed" }, verdict: trace.Fail, summary: "port binding failed on vm", cause: "physical_interface_mappings"},
		{name: "dhcp dead", setup: func(f *fakecloud.Cloud) { f.SetAgent(launch.AgentDHCP, "vm", false) }, verdict: trace.Warn, summary: "every DHCP agent of the network is down", cause: "keeps serving the leases it knows", next: "restart neutron-dhcp-agent on vm"},
		{name: "a warning found first does not hide the failure's cause", edit: func(p *launch.PortAgents) {
			p.Compute.State = launch.StateDown // server ACTIVE: a warning
			p.DHCP = nil
		}, verdict: trace.Fail, summary: "no DHCP agent hosts the network", cause: "no DHCP agent hosts network"},
		{name: "no dhcp agent", edit: func(p *launch.PortAgents) { p.DHCP = nil }, verdict: trace.Fail, summary: "no DHCP agent hosts the network", next: "openstack network agent add network --dhcp"},
		{name: "one of two dhcp down", edit: func(p *launch.PortAgents) {
			d := p.DHCP[0]
			d.Alive, d.Host = false, "net2"
			p.DHCP = append(p.DHCP, d)
		}, verdict: trace.Warn, summary: "1 of 2 DHCP agents of the network are down"},
		{name: "metadata dead", setup: func(f *fakecloud.Cloud) { f.SetAgent(launch.AgentMetadata, "vm", false) }, verdict: trace.Warn, summary: "no live metadata agent", cause: "cloud-init gets no SSH key"},
		{name: "compute down", setup: func(f *fakecloud.Cloud) { f.SetService("nova-compute", "vm", "down") }, verdict: trace.Warn, summary: "nova-compute on vm is not up and enabled", cause: "the running server's network is not affected", next: "openstack compute service list --host vm"},
		{name: "no compute on the server's host", edit: func(p *launch.PortAgents) { p.Compute = nil }, verdict: trace.Fail, summary: "no nova-compute on vm", next: "discover_hosts"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := agentFacts(t, tc.setup)
			if tc.edit != nil {
				tc.edit(&f)
			}
			h := trace.JudgeAgents(f)
			if h.Kind != trace.KindAgents || h.Name != f.Port.ID || h.Verdict != tc.verdict || !strings.Contains(h.Summary, tc.summary) || !strings.Contains(h.Cause, tc.cause) || !strings.Contains(h.Next, tc.next) {
				t.Errorf("hop = %+v\nwant %s, summary ~%q, cause ~%q, next ~%q", h, tc.verdict, tc.summary, tc.cause, tc.next)
			}
			if tc.verdict == trace.OK && (h.Cause != "" || h.Next != "") {
				t.Errorf("ok hop with cause/next: %+v", h)
			}
			if v, ok := h.Get("l2_agent"); f.L2 != nil && (!ok || !strings.Contains(v, f.L2.ID)) {
				t.Errorf("evidence l2_agent = %q, %t; want the agent's ID", v, ok)
			}
		})
	}
}

// JudgeAgents is pure: the same facts give the same hop.
func TestJudgeAgentsDeterministic(t *testing.T) {
	f := agentFacts(t, nil)
	a, b := trace.JudgeAgents(f), trace.JudgeAgents(f)
	if a.Summary != b.Summary || len(a.Evidence) != len(b.Evidence) {
		t.Errorf("%+v != %+v", a, b)
	}
}
