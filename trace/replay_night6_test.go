package trace_test

import (
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestReplayNight6 judges the two checks of session 8 on their recordings
// from the real aio cloud (aio-night6-*.json, see
// testdata/observations/README.md), each on the server n8vm1 that traced
// OK before and after:
//   - rogue-probed: a rogue dnsmasq with a dynamic pool on the brq,
//     traced with -probe-dhcp-servers: the dnsmasq hop warns, naming the
//     rogue's address, MAC and offer, and nothing fails (the guest kept
//     its lease from Neutron's dnsmasq);
//   - network-dhcp-tap-off: the DHCP port's tap off the brq, traced on
//     the network side (-role network): the DHCP interface hop fails
//     first, naming the tap, before ARP and reachability (which only said
//     the guest was silent).
func TestReplayNight6(t *testing.T) {
	_, st := judgeRecorded(t, "aio-night6-rogue-probed.json")
	tr := st.Traces[0]
	h, _ := tr.Hop(trace.KindDnsmasq, "")
	if tr.Verdict != trace.Warn || firstFailing(tr) != nil || h.Verdict != trace.Warn ||
		!strings.Contains(h.Summary, "another DHCP server answers on the network: 192.168.31.87 (96:3a:e5:78:f1:64) offered 192.168.31.90") {
		t.Errorf("rogue: trace %s, failing %+v, dnsmasq %s %q; want warn, nothing failing, the rogue named", tr.Verdict, firstFailing(tr), h.Verdict, h.Summary)
	}
	for _, x := range tr.Hops {
		if x.Verdict == trace.Warn && x.Kind != trace.KindDnsmasq && x.Kind != trace.KindHostCheck {
			t.Errorf("rogue: %s hop warns too (%q): only dnsmasq should", x.Kind, x.Summary)
		}
	}

	obs, st := judgeRecorded(t, "aio-night6-network-dhcp-tap-off.json")
	if obs.Role != trace.RoleNetwork {
		t.Fatalf("role %s, want network", obs.Role)
	}
	tr = st.Traces[0]
	f := firstFailing(tr)
	if tr.Verdict != trace.Fail || f == nil || f.Kind != trace.KindDHCPIf ||
		!strings.Contains(f.Summary, "tap067ad8e6-ff, the DHCP port's end of ns-067ad8e6-ff, is not a port of brqd959d018-f8 (on no bridge)") {
		t.Errorf("network DHCP tap off: trace %s, first failing %+v; want the dhcp-interface hop naming the tap", tr.Verdict, f)
	}
}
