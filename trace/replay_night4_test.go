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
//   - isolated: the VM's tap and the DHCP port's tap both `isolated on`:
//     the trace fails at ARP (the bridge port flag is not read yet, so the
//     cause is the generic one), never OK.
func TestReplayNight4(t *testing.T) {
	for _, c := range []struct {
		file, kind, summary, cause string
	}{
		{"aio-night4-dhcp-tap-off.json", "dhcp-interface", "tapb8e8a37d-14, the DHCP port's end of ns-b8e8a37d-14, is not a port of brqd959d018-f8 (on no bridge)", "cut off from the network"},
		{"aio-night4-fdb-sticky.json", "fdb", "fa:16:3e:7c:14:5d has a static entry on eth2 of brqd959d018-f8, not on tapdc081d4c-3a", "static FDB entry someone added"},
		{"aio-night4-isolated.json", "arp", "no answer for 192.168.31.72", ""},
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
