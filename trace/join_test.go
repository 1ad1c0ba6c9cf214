package trace_test

import (
	"encoding/json"
	"errors"
	"path/filepath"
	"reflect"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// readHalves reads testdata/join/NAME.{compute,network}.json.
func readHalves(t *testing.T, name string) (compute, network *trace.Observation) {
	t.Helper()
	var err error
	if compute, err = trace.ReadObservationFile(filepath.Join("testdata", "join", name+".compute.json")); err != nil {
		t.Fatal(err)
	}
	if network, err = trace.ReadObservationFile(filepath.Join("testdata", "join", name+".network.json")); err != nil {
		t.Fatal(err)
	}
	return compute, network
}

// The recorded halves of the two-node demo (testdata/join/README.md),
// joined without root: one verdict per path, the link's faults at the
// provider-link hop, one node's faults at that node's hop.
func TestJoinRecorded(t *testing.T) {
	for _, c := range []struct {
		name      string
		verdict   trace.Verdict
		firstFail trace.Kind
		node      string
		link      trace.Verdict
		says      string
		explained []trace.Kind
	}{
		{name: "healthy", verdict: trace.OK, link: trace.OK, says: "frames cross both ways"},
		{name: "provider-wire", verdict: trace.Fail, firstFail: trace.KindProviderLink, link: trace.Fail,
			says: "provider wire down: compute1's eth2 up but without carrier", explained: []trace.Kind{trace.KindPhysicalPort, trace.KindARP}},
		{name: "unknown-unicast", verdict: trace.Fail, firstFail: trace.KindProviderLink, link: trace.Fail,
			says: "unicast to the VM's MAC is dropped on the link"},
		{name: "wrong-mapping", verdict: trace.Fail, firstFail: trace.KindProviderLink, link: trace.Fail,
			says: "compute1's eth2 is wired and unused", explained: []trace.Kind{trace.KindARP}},
		{name: "tap-down", verdict: trace.Fail, firstFail: trace.KindTap, node: "compute1", link: trace.OK,
			says: "frames from controller reach compute1"},
		{name: "dnsmasq", verdict: trace.Fail, firstFail: trace.KindDnsmasq, node: "controller", link: trace.OK,
			says: "frames cross both ways"},
	} {
		t.Run(c.name, func(t *testing.T) {
			comp, netw := readHalves(t, c.name)
			nt, err := trace.Join(netw, comp) // any order
			if err != nil {
				t.Fatal(err)
			}
			if nt.Node != "compute1+controller" || nt.Role != trace.RoleAllInOne || len(nt.Traces) != 1 {
				t.Fatalf("joined %q role %s with %d traces, want compute1+controller, aio, 1", nt.Node, nt.Role, len(nt.Traces))
			}
			tr := nt.Traces[0]
			if tr.Verdict != c.verdict || nt.Verdict != c.verdict {
				t.Errorf("verdict %s (node %s), want %s", tr.Verdict, nt.Verdict, c.verdict)
			}
			link, ok := tr.Hop(trace.KindProviderLink, "")
			if !ok || link.Verdict != c.link || !strings.Contains(link.Summary, c.says) {
				t.Errorf("provider link %s %q, want %s saying %q", link.Verdict, link.Summary, c.link, c.says)
			}
			for _, h := range tr.Hops {
				if h.Verdict == trace.Fail {
					if h.Kind != c.firstFail {
						t.Errorf("first failing hop %s (%s), want %s", h.Kind, h.Summary, c.firstFail)
					}
					if node, _ := h.Get("node"); c.node != "" && node != c.node {
						t.Errorf("%s judged on %q, want %s", h.Kind, node, c.node)
					}
					break
				}
			}
			for _, k := range c.explained {
				h, _ := tr.Hop(k, "")
				if _, ok := h.Get("explained_by"); !ok || h.Verdict != trace.Warn {
					t.Errorf("%s: %s %q, want warn explained by the link", k, h.Verdict, h.Summary)
				}
			}
			// Every hop says which node judged it; the compute side
			// comes from compute1, the DHCP side from the controller.
			for _, h := range tr.Hops {
				node, _ := h.Get("node")
				want := map[trace.Kind]string{trace.KindTap: "compute1", trace.KindFDB: "compute1", trace.KindCounters: "compute1",
					trace.KindDnsmasq: "controller", trace.KindLease: "controller", trace.KindARP: "controller"}[h.Kind]
				if h.Kind != trace.KindProviderLink && node == "" || want != "" && node != want {
					t.Errorf("%s hop judged on %q, want %q", h.Kind, node, want)
				}
			}
			// Pure: the same halves join the same way, and survive JSON.
			again, _ := trace.Join(comp, netw)
			again.Node = nt.Node
			if !reflect.DeepEqual(again.Traces[0].Hops, tr.Hops) {
				t.Error("joining the same halves twice gave different hops")
			}
			b, err := json.Marshal(nt)
			if err != nil {
				t.Fatal(err)
			}
			var back trace.NodeTrace
			if err := json.Unmarshal(b, &back); err != nil {
				t.Fatal(err)
			}
			if !reflect.DeepEqual(back.Traces[0].Hops, tr.Hops) {
				t.Error("the joined trace does not round-trip through JSON")
			}
		})
	}
}

func TestJoinErrors(t *testing.T) {
	comp, netw := readHalves(t, "healthy")
	aio := *comp
	aio.Role = trace.RoleAllInOne
	old := *netw
	old.Version = 0
	for name, halves := range map[string][]*trace.Observation{
		"compute only": {comp},
		"network only": {netw},
		"aio":          {&aio, netw},
		"version":      {comp, &old},
		"none":         nil,
	} {
		if _, err := trace.Join(halves...); !errors.Is(err, trace.ErrJoin) {
			t.Errorf("%s: err %v, want ErrJoin", name, err)
		}
	}
}

// A compute half whose port no network half traced keeps its hops, with
// an unknown provider link saying so; the network half's own hops are
// not invented.
func TestJoinUnmatched(t *testing.T) {
	comp, _ := readHalves(t, "healthy")
	_, other := readHalves(t, "dnsmasq") // another demo: another port
	nt, err := trace.Join(comp, other)
	if err != nil {
		t.Fatal(err)
	}
	tr := nt.Traces[0]
	link, _ := tr.Hop(trace.KindProviderLink, "")
	if link.Verdict != trace.Unknown || !strings.Contains(link.Summary, "no network node's half") {
		t.Errorf("link %s %q", link.Verdict, link.Summary)
	}
	if h, _ := tr.Hop(trace.KindDnsmasq, ""); h.Verdict != trace.Unknown {
		t.Errorf("dnsmasq %s: judged from an unmatched half", h.Verdict)
	}
}

// A network half recorded before Observation.Provider existed joins,
// with the link not judged.
func TestJoinWithoutProviderFacts(t *testing.T) {
	comp, netw := readHalves(t, "healthy")
	n := *netw
	n.Provider = nil
	nt, err := trace.Join(comp, &n)
	if err != nil {
		t.Fatal(err)
	}
	link, _ := nt.Traces[0].Hop(trace.KindProviderLink, "")
	if link.Verdict != trace.Unknown || !strings.Contains(link.Summary, "no provider facts") {
		t.Errorf("link %s %q", link.Verdict, link.Summary)
	}
}

// ProviderFacts survive a recording: written and read back, a half's
// provider facts are the same.
func TestProviderFactsRoundTrip(t *testing.T) {
	_, netw := readHalves(t, "unknown-unicast")
	if netw.Provider == nil || netw.Provider.Bridges == nil || len(netw.Provider.DHCPPorts) != 1 || len(netw.Provider.Unicast) != 1 {
		t.Fatalf("the recorded network half lacks provider facts: %+v", netw.Provider)
	}
	var b strings.Builder
	if err := netw.Write(&b); err != nil {
		t.Fatal(err)
	}
	back, err := trace.ReadObservation(strings.NewReader(b.String()))
	if err != nil {
		t.Fatal(err)
	}
	if !reflect.DeepEqual(back.Provider, netw.Provider) {
		t.Error("Observation.Provider changed through Write and ReadObservation")
	}
}
