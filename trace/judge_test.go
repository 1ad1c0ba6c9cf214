package trace

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/libvirtinspect"
)

func readFixture(t *testing.T, path string) []byte {
	t.Helper()
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return b
}

// wantHop checks a judged hop's kind, verdict and summary, and that a
// warn or fail carries a cause and a next step and every hop evidence.
func wantHop(t *testing.T, h Hop, kind Kind, v Verdict, summaryHas string) {
	t.Helper()
	if h.Kind != kind || h.Verdict != v || !strings.Contains(h.Summary, summaryHas) {
		b, _ := json.MarshalIndent(h, "", "  ")
		t.Errorf("hop = %s %s %q; want %s %s containing %q\n%s", h.Kind, h.Verdict, h.Summary, kind, v, summaryHas, b)
	}
	if (v == Warn || v == Fail) && (h.Cause == "" || h.Next == "") {
		t.Errorf("%s hop %s without cause or next: %+v", kind, v, h)
	}
	if len(h.Evidence) == 0 {
		t.Errorf("%s hop without evidence: %+v", kind, h)
	}
	b, err := json.Marshal(h)
	if err != nil {
		t.Fatal(err)
	}
	var back Hop
	if err := json.Unmarshal(b, &back); err != nil || back.Summary != h.Summary || back.Verdict != h.Verdict {
		t.Errorf("hop does not round-trip through JSON: %v", err)
	}
}

func guestFacts(t *testing.T, file string) GuestFacts {
	b := readFixture(t, filepath.Join("..", "guestlog", "testdata", file))
	return GuestFacts{Domain: "instance-00000002", ConsolePath: file, ConsoleBytes: len(b), Events: guestlog.Parse(b)}
}

func TestJudgeGuest(t *testing.T) {
	a := netip.MustParseAddr
	withIPs := func(f GuestFacts, port, srv string) GuestFacts {
		f.PortIP, f.DHCPServer = a(port), a(srv)
		return f
	}
	tests := []struct {
		name    string
		facts   GuestFacts
		verdict Verdict
		has     string
	}{
		{"demo guest leased", withIPs(guestFacts(t, "demo-guest-leased.log"), "192.168.31.74", "192.168.31.70"), OK, "leased 192.168.31.74 from 192.168.31.70"},
		{"aio guest (Nova's console.log) leased", withIPs(guestFacts(t, "aio-guest-leased.log"), "192.168.31.78", "192.168.31.70"), OK, "leased 192.168.31.78 from 192.168.31.70"},
		{"demo guest, dnsmasq killed before boot", guestFacts(t, "demo-guest-no-offer.log"), Fail, "DISCOVERs and got no offer"},
		{"cirros 0.4 no offer", guestFacts(t, "cirros-0.4-udhcpc-no-offer.log"), Fail, "sent 3 DISCOVERs and got no offer"},
		{"dhclient no offer", guestFacts(t, "dhclient-no-offer.log"), Fail, "sent 3 DISCOVERs"},
		{"dhclient leased", withIPs(guestFacts(t, "dhclient-leased.log"), "192.168.31.72", "192.168.31.70"), OK, "leased 192.168.31.72"},
		{"lease of another address", withIPs(guestFacts(t, "dhclient-leased.log"), "192.168.31.80", "192.168.31.70"), Fail, "but its port has 192.168.31.80"},
		{"lease from a rogue server", withIPs(guestFacts(t, "cirros-0.6-udhcpc.log"), "192.168.31.72", "192.168.31.66"), Warn, "not from the network's DHCP port"},
		{"networkd lost carrier", guestFacts(t, "networkd-cloudinit-metadata-failed.log"), Fail, "lost its link"},
		{"no DHCP client", GuestFacts{ConsoleBytes: 40, Events: guestlog.Parse([]byte("Starting dropbear sshd: OK\nlogin: "))}, Warn, "never started a DHCP client"},
		{"empty console", GuestFacts{ConsolePath: "/var/lib/nova/instances/x/console.log"}, Unknown, "no console output yet"},
		{"no log file", GuestFacts{Missing: ConsoleNoLogFile}, Unknown, "declares no console log file"},
		{"not permitted", GuestFacts{Missing: ConsoleNotPermitted, ConsoleError: "permission denied"}, Unknown, "not readable"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantHop(t, JudgeGuest(tt.facts), KindGuest, tt.verdict, tt.has)
		})
	}
}

// metadataFixture reads an observation TestIntegrationMetadataProxy
// (dhcpns) recorded from the real haproxy.
func metadataFixture(t *testing.T, name string) MetadataFacts {
	var rec struct {
		Proxy *dhcpns.MetadataProxy       `json:"proxy"`
		Probe *dhcpns.MetadataProbeResult `json:"probe"`
	}
	if err := json.Unmarshal(readFixture(t, filepath.Join("testdata", name)), &rec); err != nil {
		t.Fatal(err)
	}
	return MetadataFacts{NetworkID: rec.Proxy.NetworkID, Proxy: rec.Proxy, Probe: rec.Probe}
}

func TestJudgeMetadata(t *testing.T) {
	yes, no := true, false
	with := func(f MetadataFacts, fn func(*MetadataFacts)) MetadataFacts { fn(&f); return f }
	tests := []struct {
		name    string
		facts   MetadataFacts
		verdict Verdict
		has     string
	}{
		{"alive", with(metadataFixture(t, "metadata-alive.json"), func(f *MetadataFacts) {
			f.AddrKnown, f.AddrLink, f.SubnetHasGateway, f.RouteVia, f.AgentAlive = true, "ns-10a8e6a2-5d", &yes, netip.MustParseAddr("192.168.31.70"), &yes
		}), OK, "answered GET / with 200 OK"},
		{"agent gone", metadataFixture(t, "metadata-agent-gone.json"), Fail, "answered 503 Service Unavailable"},
		{"killed", metadataFixture(t, "metadata-dead.json"), Fail, "is not running"},
		{"not listening", metadataFixture(t, "metadata-not-listening.json"), Fail, "does not listen on 169.254.169.254:80"},
		{"isolated metadata off", with(metadataFixture(t, "metadata-none.json"), func(f *MetadataFacts) { f.IsolatedMetadata = &no }), OK, "isolated metadata is off"},
		{"isolated metadata on, no proxy", with(metadataFixture(t, "metadata-none.json"), func(f *MetadataFacts) { f.IsolatedMetadata = &yes }), Fail, "spawned no metadata proxy"},
		{"unknown config, no proxy", metadataFixture(t, "metadata-none.json"), Unknown, "no metadata proxy is configured"},
		{"address missing", with(metadataFixture(t, "metadata-alive.json"), func(f *MetadataFacts) { f.AddrKnown = true }), Fail, "169.254.169.254 is not on any interface"},
		{"agent down in the API", with(metadataFixture(t, "metadata-alive.json"), func(f *MetadataFacts) { f.AgentAlive, f.AgentHost = &no, "controller" }), Fail, "metadata agent is down"},
		{"no option 121 with a gateway", with(metadataFixture(t, "metadata-alive.json"), func(f *MetadataFacts) { f.SubnetHasGateway = &yes }), Warn, "no 169.254.169.254/32 route"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantHop(t, JudgeMetadata(tt.facts), KindMetadata, tt.verdict, tt.has)
		})
	}
	if h := JudgeMetadata(MetadataFacts{NetworkID: "n"}); h.Verdict != Unknown || !strings.Contains(h.Next, "network node") {
		t.Errorf("no proxy facts: %+v, want unknown pointing to the network node", h)
	}
}

// zedMTUFacts builds the MTU facts of the Zed cloud's recorded server:
// the network from the API, dnsmasq's command line and opts file, the
// domain XML's <mtu>, and the bridge ports from `bridge -j link show`.
func zedMTUFacts(t *testing.T) MTUFacts {
	var nets struct {
		Networks []struct {
			ID   string `json:"id"`
			MTU  int    `json:"mtu"`
			Type string `json:"provider:network_type"`
		} `json:"networks"`
	}
	if err := json.Unmarshal(readFixture(t, "testdata/zed-aio-neutron-networks.json"), &nets); err != nil {
		t.Fatal(err)
	}
	n := nets.Networks[0]
	f := MTUFacts{NetworkID: n.ID, NetworkType: n.Type, NetworkMTU: n.MTU}
	c, err := dhcpns.ParseCmdline(readFixture(t, "testdata/zed-aio-dnsmasq-cmdline.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.DHCPCmdlineMTU, _ = dhcpns.OptionMTUValue(c.DHCPOptions())
	opts, err := dhcpns.ParseOptsBytes(readFixture(t, "testdata/zed-aio-opts.txt"))
	if err != nil {
		t.Fatal(err)
	}
	f.DHCPOptsMTU, _ = dhcpns.OptionMTUValue(opts)
	x, err := libvirtinspect.ParseDomainXML(readFixture(t, "testdata/zed-aio-domain.xml"))
	if err != nil {
		t.Fatal(err)
	}
	f.Elements = append(f.Elements, MTUElement{Role: MTULibvirt, Name: x.Name + "/" + x.Interfaces[0].Target, MTU: x.Interfaces[0].MTU})
	var links []struct {
		Name string `json:"ifname"`
		MTU  int    `json:"mtu"`
	}
	if err := json.Unmarshal(readFixture(t, "testdata/zed-aio-bridge-link.json"), &links); err != nil {
		t.Fatal(err)
	}
	for _, l := range links {
		switch l.Name {
		case x.Interfaces[0].Target:
			f.Elements = append(f.Elements, MTUElement{Role: MTUTap, Name: l.Name, MTU: l.MTU})
		case "eth2":
			f.Elements = append(f.Elements, MTUElement{Role: MTUPhysical, Name: l.Name, MTU: l.MTU, Overhead: EncapOverhead(n.Type, false)})
		}
	}
	f.Elements = append(f.Elements, MTUElement{Role: MTUBridge, Name: "brqc3e375fb-0a"}) // not in `bridge link`: unknown
	return f
}

func TestJudgeMTU(t *testing.T) {
	with := func(fn func(*MTUFacts)) MTUFacts { f := zedMTUFacts(t); fn(&f); return f }
	set := func(f *MTUFacts, role MTURole, mtu int) {
		for i := range f.Elements {
			if f.Elements[i].Role == role {
				f.Elements[i].MTU = mtu
			}
		}
	}
	tests := []struct {
		name    string
		facts   MTUFacts
		verdict Verdict
		has     string
	}{
		{"zed cloud", zedMTUFacts(t), OK, "every element carries the MTU 1500"},
		{"physical NIC lowered", with(func(f *MTUFacts) { set(f, MTUPhysical, 1400) }), Fail, "physical eth2 (MTU 1400)"},
		{"tap lowered", with(func(f *MTUFacts) { set(f, MTUTap, 1450) }), Fail, "tap tap31f2d3e9-8d (MTU 1450)"},
		{"vxlan underlay at 1500", with(func(f *MTUFacts) {
			f.NetworkType = "vxlan"
			f.Elements = append(f.Elements, MTUElement{Role: MTUUnderlay, Name: "eth1", MTU: 1500, Overhead: EncapOverhead("vxlan", false)})
		}), Fail, "underlay eth1 (MTU 1500 - 50 = 1450)"},
		{"DHCP advertises more than the network", with(func(f *MTUFacts) { f.NetworkMTU = 1450 }), Fail, "the network's MTU is 1450"},
		{"command line and opts disagree", with(func(f *MTUFacts) { f.DHCPOptsMTU = 1500; f.DHCPCmdlineMTU = 1550 }), Warn, "opts file 1500"},
		{"nothing read", MTUFacts{NetworkID: "n"}, Unknown, "no element's MTU was read"},
	}
	for _, tt := range tests {
		t.Run(tt.name, func(t *testing.T) {
			wantHop(t, JudgeMTU(tt.facts), KindMTU, tt.verdict, tt.has)
		})
	}
	if EncapOverhead("vlan", false) != 0 || EncapOverhead("VXLAN", true) != 70 || EncapOverhead("gre", false) != 42 {
		t.Error("EncapOverhead")
	}
}

// The judges' inputs (and the dhcpns and guestlog values inside them)
// round-trip through JSON, so recorded facts replay exactly.
func TestJudgeFactsJSONRoundTrip(t *testing.T) {
	yes := true
	for _, v := range []any{
		metadataFixture(t, "metadata-alive.json"),
		metadataFixture(t, "metadata-not-listening.json"),
		func() MetadataFacts {
			f := metadataFixture(t, "metadata-alive.json")
			f.IsolatedMetadata, f.SubnetHasGateway, f.AgentAlive, f.RouteVia = &yes, &yes, &yes, netip.MustParseAddr("192.168.31.70")
			return f
		}(),
		zedMTUFacts(t),
		guestFacts(t, "dhclient-leased.log"),
	} {
		b, err := json.Marshal(v)
		if err != nil {
			t.Fatal(err)
		}
		back := reflectNew(v)
		if err := json.Unmarshal(b, back); err != nil {
			t.Fatalf("%T: %v", v, err)
		}
		b2, err := json.Marshal(back)
		if err != nil {
			t.Fatal(err)
		}
		if string(b) != string(b2) {
			t.Errorf("%T does not round-trip:\n%s\n%s", v, b, b2)
		}
	}
}

func reflectNew(v any) any {
	switch v.(type) {
	case MetadataFacts:
		return new(MetadataFacts)
	case MTUFacts:
		return new(MTUFacts)
	case GuestFacts:
		return new(GuestFacts)
	}
	panic("unknown type")
}
