//go:build acceptance && linux

package acceptance

import (
	"context"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// TestAcceptanceAgentsHop traces the walkthrough's server with the agents
// hop OK, stops the Linux bridge agent of the port's binding host (the way
// aio/lib.sh's svc_stop does: the daemon up.sh started), waits until
// Neutron reports it dead (agent_down_time, 75 s) and traces again: the
// agents hop fails naming the agent and the host. aio/restart-agent.sh
// brings it back (2–3 min) and the trace is healthy again. It is
// host-agnostic in that it takes the host from the port's binding, and
// stops that host's agent only when it is this machine's (aio's pid file):
// a server scheduled onto another node fails the test saying so.
func TestAcceptanceAgentsHop(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Minute)
	defer cancel()
	p := walkthrough(ctx, t, c, 1)
	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	cfg := &trace.Config{Libvirt: lv}
	// The guest may still be booting: wait (bounded) for its lease and ARP.
	healthy := traceHealthyAgain(ctx, t, c, cfg, p, "agents healthy")
	ah, _ := healthy.Traces[0].Hop(trace.KindAgents, "")
	if ah.Verdict != trace.OK || !strings.HasPrefix(ah.Summary, "agents up") {
		t.Fatalf("agents hop of the healthy server: %s %q", ah.Verdict, ah.Summary)
	}
	host, _ := ah.Get("binding_host")
	me, _ := os.Hostname()
	if host != me {
		t.Fatalf("the server's port is bound to %s, not this node (%s): its Linux bridge agent cannot be stopped from here", host, me)
	}

	root, err := filepath.Abs(filepath.Join("..", "aio"))
	if err != nil {
		t.Fatal(err)
	}
	restarted := false
	restart := func() {
		if restarted {
			return
		}
		restarted = true
		out, err := exec.CommandContext(context.Background(), filepath.Join(root, "restart-agent.sh"), "neutron-linuxbridge-agent").CombinedOutput()
		t.Logf("aio/restart-agent.sh: %s", out)
		if err != nil {
			t.Errorf("aio/restart-agent.sh: %v", err)
		}
	}
	defer restart() // the cloud is shared: the agent comes back whatever happens
	out, err := exec.CommandContext(ctx, "bash", "-c", `. "$1/lib.sh" && svc_stop neutron-linuxbridge-agent`, "bash", root).CombinedOutput()
	if err != nil {
		t.Fatalf("stop neutron-linuxbridge-agent: %v\n%s", err, out)
	}
	t.Logf("stopped neutron-linuxbridge-agent: %s", out)
	waitFor(ctx, t, "Neutron reporting the Linux bridge agent on "+host+" dead", func() (bool, string) {
		as, err := c.NetworkAgents(ctx, host)
		if err != nil {
			return false, err.Error()
		}
		for _, a := range as {
			if a.Type == launch.AgentLinuxBridge {
				return !a.Alive, "alive=" + map[bool]string{true: "true", false: "false"}[a.Alive]
			}
		}
		return false, "no Linux bridge agent listed on " + host
	})
	st := traceServer(ctx, t, c, cfg, p.server.ID, "agent stopped")
	h, _ := st.Traces[0].Hop(trace.KindAgents, "")
	// The port it wired keeps working: a warning, not a failure (a dead
	// agent under a DOWN port fails, see JudgeAgents).
	if h.Verdict != trace.Warn || !strings.Contains(h.Summary, "Linux bridge agent on "+host+" is dead") || !strings.Contains(h.Next, host) {
		t.Errorf("agents hop with the Linux bridge agent stopped: %s %q (next %q), want warn naming the agent and %s", h.Verdict, h.Summary, h.Next, host)
	}
	restart()
	traceHealthyAgain(ctx, t, c, cfg, p, "agent restarted")
}
