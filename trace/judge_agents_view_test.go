package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// TestAgentsHopFromRecordedList judges the agents hop of the demo's
// recorded server (demo-healthy.json: the fake cloud's agent list, read
// once for the observation) as recorded and with the list changed the
// ways an operator meets: each port's agents come from the one list.
func TestAgentsHopFromRecordedList(t *testing.T) {
	read := func(t *testing.T) *trace.Observation {
		t.Helper()
		obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", "demo-healthy.json"))
		if err != nil {
			t.Fatal(err)
		}
		if obs.API == nil || obs.API.Agents == nil || len(obs.API.Agents.Agents) != 3 || len(obs.API.Agents.Compute) != 1 {
			t.Fatalf("recorded agent list: %+v", obs.API)
		}
		return obs
	}
	agents := func(t *testing.T, obs *trace.Observation) trace.Hop {
		t.Helper()
		st, err := trace.JudgeServer(obs)
		if err != nil {
			t.Fatal(err)
		}
		tr := st.Traces[0]
		if len(tr.Hops) < 3 || tr.Hops[2].Kind != trace.KindAgents {
			t.Fatalf("hops %v: want the agents hop third, after the port hop", tr.Hops)
		}
		return tr.Hops[2]
	}
	setAgent := func(obs *trace.Observation, typ string, f func(*launch.NetworkAgent)) {
		for i := range obs.API.Agents.Agents {
			if obs.API.Agents.Agents[i].Type == typ {
				f(&obs.API.Agents.Agents[i])
			}
		}
	}
	cases := []struct {
		name    string
		change  func(*trace.Observation)
		verdict trace.Verdict
		summary string // substring
		cause   string // substring ("" none wanted)
	}{
		{"healthy", nil, trace.OK, "agents up: Linux bridge on compute1, 1 DHCP, 1 metadata; nova-compute up", ""},
		{"l2 dead", func(o *trace.Observation) {
			setAgent(o, launch.AgentLinuxBridge, func(a *launch.NetworkAgent) { a.Alive = false })
		}, trace.Warn, "Linux bridge agent on compute1 is dead", "the ports it wired keep working"},
		{"l2 dead, port not wired", func(o *trace.Observation) {
			setAgent(o, launch.AgentLinuxBridge, func(a *launch.NetworkAgent) { a.Alive = false })
			o.API.Servers[0].Ports[0].Status = "DOWN"
		}, trace.Fail, "Linux bridge agent on compute1 is dead", "vif_plugging_timeout"},
		{"l2 alive, port not wired", func(o *trace.Observation) { o.API.Servers[0].Ports[0].Status = "DOWN" }, trace.Fail,
			"has not reported port", "heartbeats but does not wire ports"},
		{"dhcp agent admin down", func(o *trace.Observation) {
			setAgent(o, launch.AgentDHCP, func(a *launch.NetworkAgent) { a.AdminUp = false })
		}, trace.Warn, "every DHCP agent of the network is down", "a dnsmasq already running keeps serving"},
		{"network hosted by no DHCP agent", func(o *trace.Observation) {
			for id := range o.API.Agents.DHCPNetworks {
				o.API.Agents.DHCPNetworks[id] = []string{}
			}
		}, trace.Fail, "no DHCP agent hosts the network", "no DHCP agent hosts network"},
		{"metadata agent dead", func(o *trace.Observation) {
			setAgent(o, launch.AgentMetadata, func(a *launch.NetworkAgent) { a.Alive = false })
		}, trace.Warn, "no live metadata agent", "has no SSH"},
		{"nova-compute down, server active", func(o *trace.Observation) { o.API.Agents.Compute[0].State = launch.StateDown }, trace.Warn,
			"nova-compute on compute1 is not up", "the running server's network is not affected"},
		{"nova-compute down, server building", func(o *trace.Observation) {
			o.API.Agents.Compute[0].State = launch.StateDown
			o.API.Servers[0].Status = string(launch.StatusBuild)
		}, trace.Fail, "nova-compute on compute1 is not up", "nothing on that host is built"},
		{"no nova-compute on the host", func(o *trace.Observation) { o.API.Agents.Compute = []launch.ComputeService{} }, trace.Fail,
			"no nova-compute on compute1", "runs no nova-compute service"},
		{"agents not readable", func(o *trace.Observation) {
			o.API.Agents, o.API.AgentsError = nil, "launch: list network agents: 403 Forbidden"
		}, trace.Unknown, "cannot read the agents", ""},
		{"older observation", func(o *trace.Observation) { o.API.Agents = nil }, trace.Unknown, "were not read", ""},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := read(t)
			if c.change != nil {
				c.change(obs)
			}
			h := agents(t, obs)
			if h.Verdict != c.verdict || !strings.Contains(h.Summary, c.summary) || !strings.Contains(h.Cause, c.cause) {
				t.Errorf("agents hop %s (%s), cause %q; want %s saying %q, cause %q", h.Verdict, h.Summary, h.Cause, c.verdict, c.summary, c.cause)
			}
			if (h.Verdict == trace.Fail || h.Verdict == trace.Warn) && h.Next == "" {
				t.Errorf("%s without a next step", h.Verdict)
			}
		})
	}

	// Without the API (a node's NICs, Run): unknown, saying how to get it.
	obs := read(t)
	obs.API, obs.Request = nil, trace.Request{Mode: trace.ModeNode}
	nt := trace.Judge(obs)
	if len(nt.Traces) == 0 {
		t.Fatal("no trace of the node's NIC without the API")
	}
	h, ok := nt.Traces[0].Hop(trace.KindAgents, "")
	if !ok || h.Verdict != trace.Unknown || !strings.Contains(h.Summary, "run with -cloud") {
		t.Errorf("agents hop without the API: %+v, want unknown saying run with -cloud", h)
	}
}

// TestAgentListPort derives one port's agents from a list read once: the
// L2 agent of the binding host (else the server's), the DHCP agents whose
// networks hold the port's, the metadata agents of those hosts and
// nova-compute of the server's host.
func TestAgentListPort(t *testing.T) {
	l := &launch.AgentList{
		Agents: []launch.NetworkAgent{
			{ID: "lb1", Type: launch.AgentLinuxBridge, Host: "c1", Alive: true, AdminUp: true},
			{ID: "lb2", Type: launch.AgentLinuxBridge, Host: "c2", Alive: true, AdminUp: true},
			{ID: "d1", Type: launch.AgentDHCP, Host: "n1", Alive: true, AdminUp: true},
			{ID: "d2", Type: launch.AgentDHCP, Host: "n2", Alive: false, AdminUp: true},
			{ID: "m1", Type: launch.AgentMetadata, Host: "n1", Alive: true, AdminUp: true},
			{ID: "m3", Type: launch.AgentMetadata, Host: "n3", Alive: true, AdminUp: true},
		},
		DHCPNetworks: map[string][]string{"d1": {"netA", "netB"}, "d2": {"netB"}},
		Compute:      []launch.ComputeService{{Binary: launch.BinaryNovaCompute, Host: "c1", State: launch.StateUp, Enabled: true}},
	}
	pa := l.Port(launch.Port{ID: "p", NetworkID: "netA", HostID: "c2"}, "c1", launch.StatusActive)
	if pa.L2 == nil || pa.L2.ID != "lb2" || len(pa.DHCP) != 1 || pa.DHCP[0].ID != "d1" || len(pa.Metadata) != 1 || pa.Metadata[0].ID != "m1" || pa.Compute == nil || pa.Compute.Host != "c1" {
		t.Errorf("port on netA bound to c2: %+v", pa)
	}
	pa = l.Port(launch.Port{ID: "p", NetworkID: "netB"}, "c1", launch.StatusBuild)
	if pa.L2 == nil || pa.L2.ID != "lb1" || len(pa.DHCP) != 2 || len(pa.Metadata) != 1 {
		t.Errorf("unbound port on netB of a server on c1: %+v", pa)
	}
	pa = l.Port(launch.Port{ID: "p", NetworkID: "netC"}, "", launch.StatusActive)
	if pa.L2 != nil || len(pa.DHCP) != 0 || len(pa.Metadata) != 2 || pa.Compute != nil {
		t.Errorf("port on a network no DHCP agent hosts, host unknown: %+v", pa)
	}
}
