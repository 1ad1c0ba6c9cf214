package trace_test

import (
	"slices"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// firstFailing is the first hop of tr that fails (nil: none).
func firstFailing(tr *trace.Trace) *trace.Hop {
	for i := range tr.Hops {
		if tr.Hops[i].Verdict == trace.Fail {
			return &tr.Hops[i]
		}
	}
	return nil
}

// wantFirstFailing judges the recording file and wants one trace that
// fails, first at a hop of kind whose summary and cause contain summary
// and cause.
func wantFirstFailing(t *testing.T, file, kind, summary, cause string) {
	t.Helper()
	_, st := judgeRecorded(t, file)
	if len(st.Traces) != 1 {
		t.Fatalf("%d traces, want 1", len(st.Traces))
	}
	tr := st.Traces[0]
	h := firstFailing(tr)
	if tr.Verdict != trace.Fail || h == nil {
		t.Fatalf("verdict %s; want fail:\n%s", tr.Verdict, tr)
	}
	if string(h.Kind) != kind || !strings.Contains(h.Summary, summary) || !strings.Contains(h.Cause, cause) {
		t.Errorf("first failing hop %s %q (cause %q); want %s %q (cause with %q)", h.Kind, h.Summary, h.Cause, kind, summary, cause)
	}
}

// TestReplayNight4 judges the faults of a fourth night on the real aio
// cloud (aio-night4-*.json, see testdata/observations/README.md), each on
// the server n7vm1 that traced OK before and after:
//   - dhcp-tap-off: the DHCP port's tap taken off the brq (`ip link set
//     tap<dhcp port> nomaster`): every hop was OK but ARP and ping; the
//     DHCP interface hop now fails first, naming the tap;
//   - fdb-sticky: a static sticky FDB entry sending the VM's MAC to eth2
//     (`bridge fdb replace <MAC> dev eth2 master static sticky`): the FDB
//     hop fails first and names the static entry (ARP is answered: the
//     reply does not need the entry; ping is not);
//   - isolated (server n7vm2): the VM's tap and the DHCP port's tap both
//     `isolated on`: the tap hop fails first, naming the DHCP port's tap
//     (before linuxbridge read the flag, only ARP and reachability
//     failed, with a generic cause);
//   - isolated-vm-only: the VM's tap alone isolated: the path works, the
//     tap hop warns (Neutron never sets the flag) and nothing fails.
func TestReplayNight4(t *testing.T) {
	for _, c := range []struct {
		file, kind, summary, cause string
	}{
		{"aio-night4-dhcp-tap-off.json", "dhcp-interface", "tapb8e8a37d-14, the DHCP port's end of ns-b8e8a37d-14, is not a port of brqd959d018-f8 (on no bridge)", "cut off from the network"},
		{"aio-night4-fdb-sticky.json", "fdb", "fa:16:3e:7c:14:5d has a static entry on eth2 of brqd959d018-f8, not on tapdc081d4c-3a", "static FDB entry someone added"},
		{"aio-night4-isolated.json", "tap", "tapb6ead055-d3 and tapb8e8a37d-14 are isolated ports of brqd959d018-f8", "cuts the VM off from tapb8e8a37d-14"},
	} {
		t.Run(c.file, func(t *testing.T) { wantFirstFailing(t, c.file, c.kind, c.summary, c.cause) })
	}
	_, st := judgeRecorded(t, "aio-night4-isolated-vm-only.json")
	if tr := st.Traces[0]; tr.Verdict != trace.Warn || firstFailing(tr) != nil {
		t.Errorf("the VM's tap alone isolated: %s, failing %+v; want warn, nothing failing", tr.Verdict, firstFailing(tr))
	} else if h, _ := tr.Hop(trace.KindTap, ""); h.Verdict != trace.Warn || !strings.Contains(h.Summary, "is an isolated port") {
		t.Errorf("tap hop %s %q; want the isolation warning", h.Verdict, h.Summary)
	}

	// The same DHCP-tap facts with the tap back on the bridge: the DHCP
	// interface hop is OK again (the check fails only what it should).
	obs, _ := judgeRecorded(t, "aio-night4-dhcp-tap-off.json")
	br := &obs.Bridges.Before.Bridges[0]
	for i := range obs.Bridges.Before.Bridges {
		if obs.Bridges.Before.Bridges[i].Name == "brqd959d018-f8" {
			br = &obs.Bridges.Before.Bridges[i]
		}
	}
	vm, ok := br.Port("tapdc081d4c-3a")
	if !ok {
		t.Fatal("the VM's tap is not in the recording")
	}
	vm.Name, vm.Index = "tapb8e8a37d-14", 427
	br.Ports = append(br.Ports, vm)
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Traces[0].Hop(trace.KindDHCPIf, ""); h.Verdict != trace.OK {
		t.Errorf("with the DHCP tap on the bridge: dhcp-interface %s %q; want ok", h.Verdict, h.Summary)
	}
	vm.Up = false
	br.Ports[len(br.Ports)-1] = vm
	st, _ = trace.JudgeServer(obs)
	if h, _ := st.Traces[0].Hop(trace.KindDHCPIf, ""); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "is down on") {
		t.Errorf("with the DHCP tap down: dhcp-interface %s %q; want fail, down", h.Verdict, h.Summary)
	}
}

// TestReplayNight4NetworkRole judges night 4's DHCP-tap faults on a
// network node, where the VM's tap is not: the recorded network half of
// a two-node trace (aio-night2-remote-group-network.json, controller
// traced with -role network, its DHCP side healthy; its provider facts
// hold the node's bridges), edited as the faults left the aio node's
// bridges. The DHCP interface hop fails first when the DHCP port's tap
// is off the network's brq, down, or not forwarding; it stays OK when
// the tap is on the brq, when the agent maps the network to a bridge of
// another name that holds the tap, and without provider facts (an older
// vmtrace), so earlier recordings judge as before.
func TestReplayNight4NetworkRole(t *testing.T) {
	const (
		file   = "aio-night2-remote-group-network.json"
		tap    = "tapbbff1b75-89"
		bridge = "brq0ed84132-72"
	)
	judge := func(t *testing.T, edit func(*trace.Observation)) (*trace.Trace, trace.Hop) {
		t.Helper()
		obs, _ := judgeRecorded(t, file)
		if obs.Role != trace.RoleNetwork || obs.Provider == nil || obs.Provider.Bridges == nil {
			t.Fatalf("%s: role %s, provider %v: not a network node's recording with its bridges", file, obs.Role, obs.Provider)
		}
		edit(obs)
		st, err := trace.JudgeServer(obs)
		if err != nil {
			t.Fatal(err)
		}
		if len(st.Traces) != 1 {
			t.Fatalf("%d traces, want 1", len(st.Traces))
		}
		h, ok := st.Traces[0].Hop(trace.KindDHCPIf, "")
		if !ok {
			t.Fatalf("no dhcp-interface hop:\n%s", st.Traces[0])
		}
		return st.Traces[0], h
	}
	port := func(obs *trace.Observation) *linuxbridge.Port {
		for i := range obs.Provider.Bridges.Bridges {
			b := &obs.Provider.Bridges.Bridges[i]
			for j := range b.Ports {
				if b.Name == bridge && b.Ports[j].Name == tap {
					return &b.Ports[j]
				}
			}
		}
		t.Fatalf("%s is not on %s in the recording", tap, bridge)
		return nil
	}
	for _, c := range []struct {
		name    string
		edit    func(*trace.Observation)
		summary string // "" wants OK
	}{
		{"as recorded", func(*trace.Observation) {}, ""},
		{"off the bridge", func(obs *trace.Observation) {
			b := &obs.Provider.Bridges.Bridges[0]
			port(obs)
			b.Ports = slices.DeleteFunc(b.Ports, func(p linuxbridge.Port) bool { return p.Name == tap })
		}, tap + ", the DHCP port's end of ns-bbff1b75-89, is not a port of " + bridge + " (on no bridge)"},
		{"down", func(obs *trace.Observation) { port(obs).Up = false }, "is down on " + bridge},
		{"not forwarding", func(obs *trace.Observation) { port(obs).STPState = linuxbridge.STPBlocking }, "is blocking on " + bridge + ", not forwarding"},
		{"on a mapped bridge of another name", func(obs *trace.Observation) {
			port(obs)
			obs.Provider.Bridges.Bridges[0].Name = "br-provider"
		}, ""},
		{"no provider facts", func(obs *trace.Observation) { obs.Provider = nil }, ""},
	} {
		t.Run(c.name, func(t *testing.T) {
			tr, h := judge(t, c.edit)
			if c.summary == "" {
				if h.Verdict != trace.OK {
					t.Errorf("dhcp-interface %s %q; want ok\n%s", h.Verdict, h.Summary, tr)
				}
				return
			}
			if f := firstFailing(tr); h.Verdict != trace.Fail || f == nil || f.Kind != trace.KindDHCPIf || !strings.Contains(h.Summary, c.summary) || !strings.Contains(h.Cause, "cut off from the network") {
				t.Errorf("dhcp-interface %s %q (cause %q), first failing %+v; want it to fail first with %q\n%s", h.Verdict, h.Summary, h.Cause, f, c.summary, tr)
			}
		})
	}
}
