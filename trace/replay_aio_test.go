package trace_test

import (
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestReplayCloudObservations judges the observations recorded on the
// project's real all-in-one cloud (Zed, linuxbridge, libvirt; aio-*.json,
// see testdata/observations/README.md) without root or the cloud: the
// healthy server, each injected fault at its own hop with its cause, the
// two roles, and the node mode.
func TestReplayCloudObservations(t *testing.T) {
	path := []trace.Kind{trace.KindServer, trace.KindPort, trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort,
		trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP, trace.KindCounters}
	for _, c := range []struct {
		file    string
		verdict trace.Verdict
		kind    trace.Kind // the first failing hop ("" none)
		cause   string
	}{
		{"aio-healthy.json", trace.OK, "", ""},
		{"aio-after-tap-up.json", trace.OK, "", ""},
		{"aio-after-eth2-re-enslaved.json", trace.OK, "", ""},
		{"aio-after-dnsmasq-respawned.json", trace.OK, "", ""},
		{"aio-tap-down.json", trace.Fail, trace.KindTap, "the tap was set down"},
		{"aio-eth2-released.json", trace.Fail, trace.KindPhysicalPort, "the provider NIC is not on the bridge"},
		{"aio-dnsmasq-killed.json", trace.Fail, trace.KindDnsmasq, "no live dnsmasq serves the network"},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			if st.Verdict != c.verdict || len(st.Traces) != 1 || st.Status != "ACTIVE" {
				t.Fatalf("verdict %s, %d traces, status %s; want %s, 1, ACTIVE", st.Verdict, len(st.Traces), st.Status, c.verdict)
			}
			tr := st.Traces[0]
			if c.kind == "" {
				for _, k := range path {
					if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
						t.Errorf("%s: %s (%s), want ok", k, h.Verdict, h.Summary)
					}
				}
				return
			}
			h, ok := tr.FirstFailing()
			if !ok || h.Kind != c.kind || !strings.Contains(h.Cause, c.cause) || h.Next == "" {
				t.Errorf("first failing hop %s %s (%s, cause %q), want %s with a cause saying %q", h.Kind, h.Verdict, h.Summary, h.Cause, c.kind, c.cause)
			}
		})
	}
	for _, c := range []struct {
		file            string
		role            trace.Role
		judged, offNode []trace.Kind
	}{
		{"aio-role-compute.json", trace.RoleCompute, []trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB},
			[]trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP}},
		{"aio-role-network.json", trace.RoleNetwork, []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP},
			[]trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindCounters}},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			tr := st.Traces[0]
			if tr.Role != c.role || st.Verdict == trace.Fail {
				t.Errorf("role %s verdict %s", tr.Role, st.Verdict)
			}
			for _, k := range c.judged {
				if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
					t.Errorf("%s: %s (%s), want ok", k, h.Verdict, h.Summary)
				}
			}
			for _, k := range c.offNode {
				if h, _ := tr.Hop(k, ""); h.Verdict != trace.Unknown || !strings.Contains(h.Summary, "role "+string(c.role)) {
					t.Errorf("%s: %s (%s), want unknown naming the role", k, h.Verdict, h.Summary)
				}
			}
		})
	}
	t.Run("aio-node-healthy.json", func(t *testing.T) {
		obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", "aio-node-healthy.json"))
		if err != nil {
			t.Fatal(err)
		}
		nt := trace.Judge(obs)
		if nt.Verdict != trace.OK || len(nt.Traces) != 1 || len(nt.Orphans) != 0 {
			t.Fatalf("node %s, %d NICs, orphans %+v; want ok, 1, none", nt.Verdict, len(nt.Traces), nt.Orphans)
		}
		tr := nt.Traces[0]
		if tr.ServerName != "vifpath-walkthrough" || tr.PortID == "" || tr.Domain == "" {
			t.Errorf("node NIC names server %q port %q domain %q", tr.ServerName, tr.PortID, tr.Domain)
		}
		for _, k := range path {
			if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
				t.Errorf("%s: %s (%s), want ok", k, h.Verdict, h.Summary)
			}
		}
	})
}
