package trace_test

import (
	"strings"
	"testing"

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
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			if len(st.Traces) != 1 {
				t.Fatalf("%d traces, want 1", len(st.Traces))
			}
			tr := st.Traces[0]
			h := firstFailing(tr)
			if tr.Verdict != trace.Fail || h == nil {
				t.Fatalf("verdict %s; want fail:\n%s", tr.Verdict, tr)
			}
			if string(h.Kind) != c.kind || !strings.Contains(h.Summary, c.summary) || !strings.Contains(h.Cause, c.cause) {
				t.Errorf("first failing hop %s %q (cause %q); want %s %q (cause with %q)", h.Kind, h.Summary, h.Cause, c.kind, c.summary, c.cause)
			}
		})
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
