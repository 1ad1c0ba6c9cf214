package trace

import (
	"bytes"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// guestMetaObs is the demo's recorded libvirt observation
// (testdata/observations/demo-libvirt-healthy.json, recorded with vmtrace
// -demo -guest libvirt before the guest, metadata and mtu hops existed)
// given those hops' facts from recordings: the demo guest's real console
// (guestlog/testdata), the real haproxy observed alive
// (testdata/metadata-*.json, dhcpns's TestIntegrationMetadataProxy) and
// the Zed cloud's opts file (testdata/zed-aio-opts.txt).
func guestMetaObs(t *testing.T, console, metadata string) *Observation {
	t.Helper()
	obs, err := ReadObservationFile(filepath.Join("testdata", "observations", "demo-libvirt-healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	d := &obs.Libvirt.Domains[0]
	d.Console = consoleFacts(&libvirtinspect.ConsoleLog{Path: "/var/lib/nova/instances/x/console.log",
		ModTime: time.Date(2026, 12, 6, 10, 0, 0, 0, time.UTC), Data: readFixture(t, filepath.Join("..", "guestlog", "testdata", console))}, nil)
	n := &obs.DHCP.Networks[0]
	m := metadataFixture(t, metadata)
	n.Metadata = &MetadataObs{Proxy: m.Proxy, Probe: m.Probe, AddrKnown: true, AddrLink: n.ServingInterface}
	n.OptsPath = "testdata/zed-aio-opts.txt"
	n.Opts, err = dhcpns.ParseOptsBytes(readFixture(t, n.OptsPath))
	if err != nil {
		t.Fatal(err)
	}
	// Neutron's dnsmasq command line hands out the network's MTU.
	mtu, ok := dhcpns.ParseDHCPOption("option:mtu,1500")
	if !ok {
		t.Fatal("option:mtu,1500 does not parse")
	}
	n.CmdlineOpts = []dhcpns.DHCPOption{mtu}
	obs.API.Networks[n.NetworkID].MTU = 1500
	return obs
}

func judgeOne(t *testing.T, obs *Observation) *Trace {
	t.Helper()
	st, err := JudgeServer(obs)
	if err != nil || len(st.Traces) != 1 {
		t.Fatalf("JudgeServer: %v, %+v", err, st)
	}
	return st.Traces[0]
}

// hopAfter checks kind comes right after prev in tr.
func hopAfter(t *testing.T, tr *Trace, prev, kind Kind) {
	t.Helper()
	for i, h := range tr.Hops {
		if h.Kind == kind {
			if i == 0 || tr.Hops[i-1].Kind != prev {
				t.Errorf("%s hop at %d after %v, want right after %s", kind, i, tr.Hops[max(i-1, 0)].Kind, prev)
			}
			return
		}
	}
	t.Errorf("no %s hop", kind)
}

func TestJudgeGuestMetadataMTUHops(t *testing.T) {
	healthy := judgeOne(t, guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json"))
	for _, c := range []struct {
		kind Kind
		has  string
	}{
		{KindGuest, "the guest leased 192.168.31.74 from 192.168.31.70"},
		{KindMetadata, "answered GET / with 200 OK"},
		{KindMTU, "every element carries the MTU 1500"},
	} {
		h, _ := healthy.Hop(c.kind, "")
		if h.Verdict != OK || !strings.Contains(h.Summary, c.has) {
			t.Errorf("healthy %s: %s (%s), want ok saying %q", c.kind, h.Verdict, h.Summary, c.has)
		}
	}
	if healthy.Verdict != OK {
		t.Errorf("healthy trace %s: %v", healthy.Verdict, healthy.Failing())
	}
	hopAfter(t, healthy, KindInterface, KindGuest)
	hopAfter(t, healthy, KindPhysicalPort, KindMTU)
	hopAfter(t, healthy, KindLease, KindMetadata)
	if h, _ := healthy.Hop(KindMTU, ""); !strings.Contains(fmt.Sprint(h.Evidence), "physical eth2") || !strings.Contains(fmt.Sprint(h.Evidence), "network_mtu") {
		t.Errorf("mtu evidence %v lacks eth2 or the API's network MTU", h.Evidence)
	}

	// Faults, each from its own facts; the others stay ok.
	noOffer := judgeOne(t, guestMetaObs(t, "demo-guest-no-offer.log", "metadata-alive.json"))
	wantHop(t, hop(noOffer, KindGuest), KindGuest, Fail, "DISCOVERs and got no offer")
	dead := judgeOne(t, guestMetaObs(t, "demo-guest-leased.log", "metadata-dead.json"))
	wantHop(t, hop(dead, KindMetadata), KindMetadata, Fail, "is not running")
	if h := hop(dead, KindGuest); h.Verdict != OK {
		t.Errorf("guest hop %s with the proxy dead: it is not on the frame path", h.Verdict)
	}
	small := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
	for i := range small.Bridges.Before.Bridges[0].Ports {
		if p := &small.Bridges.Before.Bridges[0].Ports[i]; p.Name == "eth2" {
			p.MTU = 1400
		}
	}
	wantHop(t, hop(judgeOne(t, small), KindMTU), KindMTU, Fail, "physical eth2 (MTU 1400)")
	// The guest's lease of another address than its port's.
	other := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
	for i := range other.API.Servers[0].Ports[0].FixedIPs {
		other.API.Servers[0].Ports[0].FixedIPs[i].Address = other.API.Servers[0].Ports[0].FixedIPs[i].Address.Next()
	}
	if h := hop(judgeOne(t, other), KindGuest); h.Verdict != Fail || !strings.Contains(h.Summary, "but its port has") {
		t.Errorf("guest hop %s (%s), want fail: the port's address differs", h.Verdict, h.Summary)
	}

	// A console not read says why, from the typed error.
	missing := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
	missing.Libvirt.Domains[0].Console = consoleFacts(nil, fmt.Errorf("libvirtinspect: read console log: %w", fs.ErrNotExist))
	wantHop(t, hop(judgeOne(t, missing), KindGuest), KindGuest, Unknown, "does not exist")

	// Config.NoConsole and NoMetadataProbe.
	off := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
	off.Settings.NoConsole, off.Settings.NoMetadataProbe = true, true
	off.DHCP.Networks[0].Metadata.Probe = nil
	tr := judgeOne(t, off)
	wantHop(t, hop(tr, KindGuest), KindGuest, Unknown, "Config.NoConsole")
	if h := hop(tr, KindMetadata); h.Verdict != OK || !strings.Contains(fmt.Sprint(h.Evidence), "Config.NoMetadataProbe") {
		t.Errorf("metadata hop without the probe: %s (%s) %v, want ok on the listener, saying it was not probed", h.Verdict, h.Summary, h.Evidence)
	}

	// The recording without these facts: the guest and metadata hops
	// are unknown; the mtu hop has the libvirt interface's <mtu> (what
	// the guest is told) and the bridge's MTUs, so it is judged; without
	// that <mtu> nor DHCP's options it is unknown.
	old, err := ReadObservationFile(filepath.Join("testdata", "observations", "demo-libvirt-healthy.json"))
	if err != nil {
		t.Fatal(err)
	}
	for _, k := range []Kind{KindGuest, KindMetadata} {
		if h := hop(judgeOne(t, old), k); h.Verdict != Unknown {
			t.Errorf("%s judged %s (%s) without its facts, want unknown", k, h.Verdict, h.Summary)
		}
	}
	wantHop(t, hop(judgeOne(t, old), KindMTU), KindMTU, OK, "every element carries the MTU 1500")
	for i := range old.Libvirt.Domains[0].Interfaces {
		old.Libvirt.Domains[0].Interfaces[i].MTU = 0
	}
	wantHop(t, hop(judgeOne(t, old), KindMTU), KindMTU, Unknown, "what the guest is told was not observed")

	// Node mode judges the same hops; the observation round-trips.
	obs := guestMetaObs(t, "demo-guest-no-offer.log", "metadata-dead.json")
	var buf bytes.Buffer
	if err := obs.Write(&buf); err != nil {
		t.Fatal(err)
	}
	back, err := ReadObservation(&buf)
	if err != nil {
		t.Fatal(err)
	}
	a, _ := json.Marshal(judgeOne(t, obs))
	b, _ := json.Marshal(judgeOne(t, back))
	if !bytes.Equal(a, b) {
		t.Errorf("judged after a JSON round trip:\n%s\nwant\n%s", b, a)
	}
	node := *back
	node.Request = Request{Mode: ModeNode}
	nt := Judge(&node)
	for _, x := range nt.Traces {
		if x.Tap == judgeOne(t, obs).Tap {
			wantHop(t, hop(x, KindGuest), KindGuest, Fail, "no offer")
			wantHop(t, hop(x, KindMetadata), KindMetadata, Fail, "is not running")
		}
	}
}

func hop(tr *Trace, k Kind) Hop {
	h, _ := tr.Hop(k, "")
	return h
}

// TestGuestMetadataMTUOffNode: on a compute node the metadata hop is off
// node, on a network node the guest and mtu hops (the Zed cloud's
// recordings in both roles).
func TestGuestMetadataMTUOffNode(t *testing.T) {
	for file, kinds := range map[string][]Kind{
		"aio-role-compute.json": {KindMetadata},
		"aio-role-network.json": {KindGuest, KindMTU},
	} {
		obs, err := ReadObservationFile(filepath.Join("testdata", "observations", file))
		if err != nil {
			t.Fatal(err)
		}
		tr := judgeOne(t, obs)
		for _, k := range kinds {
			if h := hop(tr, k); h.Verdict != Unknown || !strings.Contains(h.Summary, "not on this node") {
				t.Errorf("%s: %s hop %s (%s), want off node", file, k, h.Verdict, h.Summary)
			}
		}
	}
}

func TestConsoleFactsReasons(t *testing.T) {
	for _, c := range []struct {
		err  error
		want ConsoleMissing
	}{
		{&libvirtinspect.OpError{Op: "read console log", Err: libvirtinspect.ErrNoConsoleLog}, ConsoleNoLogFile},
		{fmt.Errorf("read: %w", fs.ErrNotExist), ConsoleFileMissing},
		{fmt.Errorf("read: %w", fs.ErrPermission), ConsoleNotPermitted},
		{errors.New("libvirtinspect: it is a pipe"), ConsoleReadFailed},
	} {
		if f := consoleFacts(nil, c.err); f.Missing != c.want || f.Error == "" {
			t.Errorf("%v: %+v, want %s", c.err, f, c.want)
		}
	}
}
