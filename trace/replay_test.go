package trace_test

import (
	"bytes"
	"encoding/json"
	"errors"
	"os"
	"path/filepath"
	"reflect"
	"regexp"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// The observations under testdata/observations were recorded from the
// demo (see testdata/observations/README.md): one healthy, and one per
// -break fault. Each is judged here without root, a node or a cloud.
func TestReplayDemoObservations(t *testing.T) {
	type hopWant struct {
		kind    trace.Kind
		verdict trace.Verdict
		cause   string // substring of the hop's cause
	}
	cases := []struct {
		file    string
		verdict trace.Verdict
		hops    []hopWant
		okay    []trace.Kind // hops that must be OK: the fault is elsewhere
	}{
		{"demo-healthy.json", trace.OK, nil, []trace.Kind{trace.KindServer, trace.KindPort, trace.KindAgents, trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB,
			trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP, trace.KindCounters}},
		{"demo-agent-down.json", trace.Warn, []hopWant{{trace.KindAgents, trace.Warn, "the Linux bridge agent on compute1 is dead"}},
			[]trace.Kind{trace.KindServer, trace.KindPort, trace.KindTap, trace.KindBridge, trace.KindFDB, trace.KindDnsmasq, trace.KindLease, trace.KindMetadata, trace.KindARP}},
		{"demo-dnsmasq.json", trace.Fail, []hopWant{{trace.KindDnsmasq, trace.Fail, "no live dnsmasq serves the network"}, {trace.KindDHCPIf, trace.Warn, "subnet it serves"}},
			[]trace.Kind{trace.KindTap, trace.KindFDB, trace.KindDHCPNS, trace.KindARP}},
		{"demo-tap-down.json", trace.Fail, []hopWant{{trace.KindTap, trace.Fail, "the tap was set down"}, {trace.KindFDB, trace.Fail, "no frame from the guest"},
			{trace.KindARP, trace.Fail, "does not hold"}, {trace.KindCounters, trace.Warn, "nothing reaches the tap"}},
			[]trace.Kind{trace.KindBridge, trace.KindDnsmasq, trace.KindHostsEntry}},
		{"demo-uplink.json", trace.Fail, []hopWant{{trace.KindPhysicalPort, trace.Fail, "does not exist"}},
			[]trace.Kind{trace.KindTap, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease, trace.KindARP}},
		{"demo-hosts-entry.json", trace.Fail, []hopWant{{trace.KindHostsEntry, trace.Fail, "no row for the port's MAC"}},
			[]trace.Kind{trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq}},
		{"demo-wrong-bridge.json", trace.Fail, []hopWant{{trace.KindTap, trace.Fail, "wrong bridge"}, {trace.KindBridge, trace.Fail, "wrong L2 segment"},
			{trace.KindPhysicalPort, trace.Fail, "enslaved to another bridge"}, {trace.KindARP, trace.Fail, "does not hold"}},
			[]trace.Kind{trace.KindDnsmasq, trace.KindHostsEntry}},
		{"demo-lease-seeded.json", trace.Warn, []hopWant{{trace.KindLease, trace.Warn, "has not completed DHCP"}},
			[]trace.Kind{trace.KindTap, trace.KindFDB, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindARP}},
		{"demo-dup-ip.json", trace.Fail, []hopWant{{trace.KindARP, trace.Fail, "duplicate address"}},
			[]trace.Kind{trace.KindTap, trace.KindFDB, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease}},
		{"demo-libvirt-healthy.json", trace.OK, nil, []trace.Kind{trace.KindServer, trace.KindPort, trace.KindDomain, trace.KindInterface, trace.KindTap, trace.KindBridge,
			trace.KindPhysicalPort, trace.KindFDB, trace.KindDHCPNS, trace.KindDnsmasq, trace.KindDHCPIf, trace.KindHostsEntry, trace.KindLease, trace.KindARP, trace.KindCounters}},
		{"demo-libvirt-tap-down.json", trace.Fail, []hopWant{{trace.KindTap, trace.Fail, "the tap was set down"}, {trace.KindARP, trace.Fail, "does not hold"}},
			[]trace.Kind{trace.KindDomain, trace.KindInterface, trace.KindBridge, trace.KindDnsmasq, trace.KindHostsEntry}},
		{"demo-fdb-never-learned.json", trace.Fail, []hopWant{{trace.KindFDB, trace.Fail, "learning is off"}},
			[]trace.Kind{trace.KindTap, trace.KindBridge, trace.KindDnsmasq, trace.KindHostsEntry}},
	}
	for _, c := range cases {
		t.Run(c.file, func(t *testing.T) {
			obs, st := judgeRecorded(t, c.file)
			if st.Verdict != c.verdict || len(st.Traces) != 1 {
				t.Fatalf("verdict %s with %d traces, want %s with 1", st.Verdict, len(st.Traces), c.verdict)
			}
			tr := st.Traces[0]
			for _, w := range c.hops {
				h, ok := tr.Hop(w.kind, "")
				if !ok || h.Verdict != w.verdict || !strings.Contains(h.Cause, w.cause) || h.Next == "" {
					t.Errorf("%s: %s (%s), cause %q; want %s with a cause saying %q and a next step", w.kind, h.Verdict, h.Summary, h.Cause, w.verdict, w.cause)
				}
			}
			for _, k := range c.okay {
				if h, _ := tr.Hop(k, ""); h.Verdict != trace.OK {
					t.Errorf("%s: %s (%s), want ok: the fault is elsewhere", k, h.Verdict, h.Summary)
				}
			}
			// Judging is pure: a second judgment and one after a JSON
			// round trip of the observation are the same.
			again, _ := trace.JudgeServer(obs)
			if !reflect.DeepEqual(st, again) {
				t.Error("two judgments of one observation differ")
			}
			var buf bytes.Buffer
			if err := obs.Write(&buf); err != nil {
				t.Fatal(err)
			}
			back, err := trace.ReadObservation(&buf)
			if err != nil {
				t.Fatal(err)
			}
			rt, _ := trace.JudgeServer(back)
			a, _ := json.Marshal(st)
			b, _ := json.Marshal(rt)
			if !bytes.Equal(a, b) {
				t.Errorf("judged after a write/read round trip:\n%s\nwant\n%s", b, a)
			}
			// The same observation judged as a node: the server's NIC is
			// the node's, with the same hops (host checks apart).
			node := *obs
			node.Request = trace.Request{Mode: trace.ModeNode}
			nt := trace.Judge(&node)
			var got *trace.Trace
			for _, x := range nt.Traces {
				if x.Tap == tr.Tap {
					got = x
				}
			}
			if got == nil {
				t.Fatalf("node judgment has no trace of %s", tr.Tap)
			}
			if got.Verdict > st.Verdict || kinds(got) != kinds(tr) {
				t.Errorf("node judgment of %s: %s %s, server's %s %s", tr.Tap, got.Verdict, kinds(got), st.Verdict, kinds(tr))
			}
		})
	}
}

// judgeRecorded reads the recorded observation testdata/observations/file
// and judges it (trace.JudgeServer).
func judgeRecorded(t *testing.T, file string) (*trace.Observation, *trace.ServerTrace) {
	t.Helper()
	obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", file))
	if err != nil {
		t.Fatal(err)
	}
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	return obs, st
}

func kinds(t *trace.Trace) string {
	var ks []string
	for _, h := range t.Hops {
		if h.Kind != trace.KindHostCheck {
			ks = append(ks, string(h.Kind)+"="+h.Verdict.String())
		}
	}
	return strings.Join(ks, ",")
}

// TestRecordingsHoldNoSecrets checks no recorded observation holds
// anything credential-like, and that Write removes tokens and passwords
// an error text carried.
func TestRecordingsHoldNoSecrets(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "observations", "*.json"))
	if len(files) == 0 {
		t.Fatal("no recorded observations")
	}
	bad := regexp.MustCompile(`(?i)(x-auth-token|password|passwd|secret|gAAAAA|"token")`)
	for _, f := range files {
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		if m := bad.Find(b); m != nil {
			t.Errorf("%s holds %q", f, m)
		}
	}
	obs := &trace.Observation{Version: trace.ObservationVersion, Request: trace.Request{Mode: trace.ModeServer, Server: "vm1"},
		API: &trace.APIFacts{Error: `launch: GET https://keystone:5000/v3: X-Auth-Token: gAAAAABlongtoken; {"password": "hunter2", "application_credential_secret": "s3cr3t"}`}}
	var buf bytes.Buffer
	if err := obs.Write(&buf); err != nil {
		t.Fatal(err)
	}
	for _, s := range []string{"gAAAAABlongtoken", "hunter2", "s3cr3t"} {
		if strings.Contains(buf.String(), s) {
			t.Errorf("recording keeps %q:\n%s", s, buf.String())
		}
	}
	if !strings.Contains(buf.String(), "[redacted]") {
		t.Errorf("recording does not say what it removed:\n%s", buf.String())
	}
	if _, err := trace.ReadObservation(strings.NewReader(`{"version": 99}`)); !errors.Is(err, trace.ErrReplay) {
		t.Errorf("version 99: %v, want ErrReplay", err)
	}
}
