package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestPortAdminDown judges the demo's recorded server with its port
// disabled (`openstack port set --disable`), as found on the project's
// cloud: the agent keeps the tap down and Neutron reports the port DOWN.
// The port hop names the disabled port as the first failure; the agents
// hop does not blame the (alive) Linux bridge agent for the DOWN status.
func TestPortAdminDown(t *testing.T) {
	obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", "demo-healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	if obs.API == nil || len(obs.API.Servers) != 1 || len(obs.API.Servers[0].Ports) != 1 {
		t.Fatalf("recorded API facts: %+v", obs.API)
	}
	p := &obs.API.Servers[0].Ports[0]
	p.AdminDown, p.Status = true, "DOWN"
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	tr := st.Traces[0]
	if tr.Verdict != trace.Fail {
		t.Fatalf("verdict %s, want fail:\n%s", tr.Verdict, tr)
	}
	first := tr.Failing()[0]
	if first.Kind != trace.KindPort || !strings.Contains(first.Summary, "administratively down") || !strings.Contains(first.Next, "openstack port set --enable "+p.ID) {
		t.Errorf("first failing hop %+v; want the port hop naming the disabled port and the command that enables it", first)
	}
	if v, ok := first.Get("admin_state_up"); !ok || v != "false" {
		t.Errorf("port hop evidence admin_state_up = %q, %t", v, ok)
	}
	if h, _ := tr.Hop(trace.KindAgents, ""); h.Verdict != trace.OK {
		t.Errorf("agents hop %s: %s (%s); want ok: the agent keeps a disabled port's tap down on purpose", h.Verdict, h.Summary, h.Cause)
	}
}
