package linuxbridge_test

import (
	"encoding/json"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
)

// Real IDs from the Zed all-in-one cloud in /work/shared/fixtures/zed-aio
// (copied to testdata/): network c3e375fb-…, the guest's port 31f2d3e9-…,
// its DHCP port 10a8e6a2-5d….
const (
	zedNetwork = "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	zedPort    = "31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80"
)

func TestNames(t *testing.T) {
	for _, tc := range []struct{ got, want string }{
		{linuxbridge.NetworkBridgeName(zedNetwork), "brqc3e375fb-0a"},
		{linuxbridge.PortTapName(zedPort), "tap31f2d3e9-8d"},
		{linuxbridge.PortNSName(zedPort), "ns-31f2d3e9-8d"},
		{linuxbridge.PortTapName("short"), "tapshort"},
	} {
		if tc.got != tc.want {
			t.Errorf("got %q, want %q", tc.got, tc.want)
		}
	}
}

func TestParseDeviceName(t *testing.T) {
	for _, tc := range []struct {
		name string
		want linuxbridge.DeviceName
	}{
		{"brqc3e375fb-0a", linuxbridge.DeviceName{Kind: linuxbridge.DeviceBridge, IDPrefix: "c3e375fb-0a"}},
		{"tap31f2d3e9-8d", linuxbridge.DeviceName{Kind: linuxbridge.DeviceTap, IDPrefix: "31f2d3e9-8d"}},
		{"ns-10a8e6a2-5d", linuxbridge.DeviceName{Kind: linuxbridge.DeviceNS, IDPrefix: "10a8e6a2-5d"}},
		{"tap31F2D3E9-8D", linuxbridge.DeviceName{Kind: linuxbridge.DeviceTap, IDPrefix: "31f2d3e9-8d"}},
		{"eth2", linuxbridge.DeviceName{}},
		{"tap0", linuxbridge.DeviceName{}},             // libvirt's default tap names
		{"brq59fe11c2-2", linuxbridge.DeviceName{}},    // too short
		{"brq59fe11c2x21", linuxbridge.DeviceName{}},   // no dash
		{"brq59fe11g2-21", linuxbridge.DeviceName{}},   // not hex
		{"qr-59fe11c2-21", linuxbridge.DeviceName{}},   // a router port, not ours
		{"vxlan-1234567890", linuxbridge.DeviceName{}}, // too long
		{"", linuxbridge.DeviceName{}},
	} {
		if got := linuxbridge.ParseDeviceName(tc.name); got != tc.want {
			t.Errorf("ParseDeviceName(%q) = %+v, want %+v", tc.name, got, tc.want)
		}
	}
	d := linuxbridge.ParseDeviceName("brqc3e375fb-0a")
	if !d.Matches(zedNetwork) || !d.Matches("C3E375FB-0A") || d.Matches(zedPort) || d.Matches("c3e375fb") {
		t.Errorf("Matches misbehaves for %+v", d)
	}
	if (linuxbridge.DeviceName{}).Matches(zedNetwork) {
		t.Error("DeviceOther matches an ID")
	}
}

func TestMACJoin(t *testing.T) {
	port := hwaddr.MAC{0xfa, 0x16, 0x3e, 0x57, 0x19, 0x35}
	tap := linuxbridge.TapMAC(port)
	if tap.String() != "fe:16:3e:57:19:35" {
		t.Errorf("TapMAC(%s) = %s, want fe:16:3e:57:19:35", port, tap)
	}
	if port[0] != 0xfa {
		t.Error("TapMAC modified its argument")
	}
	if !linuxbridge.SameNIC(tap, port) || !linuxbridge.SameNIC(port, port) {
		t.Error("SameNIC(tap, port) = false")
	}
	other := hwaddr.MAC{0xfe, 0x16, 0x3e, 0x57, 0x19, 0x36}
	if linuxbridge.SameNIC(other, port) || linuxbridge.SameNIC(nil, port) || linuxbridge.SameNIC(tap[:5], port[:5]) {
		t.Error("SameNIC matched different NICs")
	}
	if linuxbridge.TapMAC(hwaddr.MAC{1, 2, 3}) != nil {
		t.Error("TapMAC of a 3-byte address is not nil")
	}
}

// TestFixtureFDB joins the real cloud's `bridge -j fdb show` with its
// Neutron port: the guest's MAC was learned on the port's tap, whose own
// MAC is the fe: form.
func TestFixtureFDB(t *testing.T) {
	var fdb []struct {
		MAC, IfName, Master, State string
	}
	b, err := os.ReadFile("testdata/zed-aio-bridge-fdb.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &fdb); err != nil {
		t.Fatal(err)
	}
	var ports []struct {
		ID  string
		MAC string `json:"MAC Address"`
	}
	b, err = os.ReadFile("testdata/zed-aio-ports.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &ports); err != nil {
		t.Fatal(err)
	}
	if len(ports) != 1 {
		t.Fatalf("%d ports in fixture, want 1", len(ports))
	}
	pmac, _ := hwaddr.Parse(ports[0].MAC)
	tap := linuxbridge.PortTapName(ports[0].ID)
	var learned, own bool
	for _, e := range fdb {
		m, _ := hwaddr.Parse(e.MAC)
		if e.IfName != tap || e.Master != linuxbridge.NetworkBridgeName(zedNetwork) {
			continue
		}
		switch {
		case e.State == "" && m.String() == pmac.String():
			learned = true
		case e.State == "permanent" && m.String() == linuxbridge.TapMAC(pmac).String() && linuxbridge.SameNIC(m, pmac):
			own = true
		}
	}
	if !learned || !own {
		t.Errorf("fixture: guest MAC learned on %s: %v; tap's own fe: MAC permanent: %v", tap, learned, own)
	}
}

func TestEnumsText(t *testing.T) {
	type all struct {
		O linuxbridge.OperState
		S linuxbridge.STPState
		K linuxbridge.PortKind
		F linuxbridge.FDBState
		D linuxbridge.DeviceKind
	}
	in := all{linuxbridge.OperLowerLayerDown, linuxbridge.STPBlocking, linuxbridge.PortVeth, linuxbridge.FDBPermanent, linuxbridge.DeviceNS}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if want := `{"O":"lowerlayerdown","S":"blocking","K":"veth","F":"permanent","D":"ns"}`; string(b) != want {
		t.Errorf("JSON %s, want %s", b, want)
	}
	var out all
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(in, out); diff != "" {
		t.Errorf("round trip (-want +got):\n%s", diff)
	}
	var zero all
	if got := []string{zero.O.String(), zero.S.String(), zero.K.String(), zero.F.String()}; !cmp.Equal(got, []string{"unknown", "unknown", "unknown", "unknown"}) {
		t.Errorf("zero values are %v, want unknown", got)
	}
	if err := json.Unmarshal([]byte(`{"S":"sideways"}`), &out); err == nil {
		t.Error("unknown STP state accepted")
	}
	// iproute2 prints LOWERLAYERDOWN, vishvananda/netlink lower-layer-down.
	for _, s := range []string{"LOWERLAYERDOWN", "lower-layer-down"} {
		var o linuxbridge.OperState
		if err := o.UnmarshalText([]byte(s)); err != nil || o != linuxbridge.OperLowerLayerDown {
			t.Errorf("oper state %q read as %s, %v; want lowerlayerdown", s, o, err)
		}
	}
	if linuxbridge.STPState(42).String() != "stpstate(42)" {
		t.Errorf("out of range: %s", linuxbridge.STPState(42))
	}
}

func TestFDBEntryJSON(t *testing.T) {
	e := linuxbridge.FDBEntry{MAC: hwaddr.MAC{0xfa, 0x16, 0x3e, 0x57, 0x19, 0x35}, Bridge: "brqc3e375fb-0a", Port: "tap31f2d3e9-8d", State: linuxbridge.FDBReachable}
	b, err := json.Marshal(e)
	if err != nil {
		t.Fatal(err)
	}
	var back linuxbridge.FDBEntry
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if diff := cmp.Diff(e, back); diff != "" {
		t.Errorf("round trip of %s (-want +got):\n%s", b, diff)
	}
	if got, want := e.String(), "fa:16:3e:57:19:35 dev tap31f2d3e9-8d master brqc3e375fb-0a"; got != want {
		t.Errorf("String() = %q, want %q", got, want)
	}
	if !e.Learned() || e.Local() {
		t.Errorf("Learned/Local of a reachable entry: %v %v", e.Learned(), e.Local())
	}
}

func FuzzParseDeviceName(f *testing.F) {
	for _, s := range []string{"brqc3e375fb-0a", "tap31f2d3e9-8d", "ns-10a8e6a2-5d", "eth2", "", "tap\x00\xff", "brq--------------"} {
		f.Add(s)
	}
	f.Fuzz(func(t *testing.T, name string) {
		d := linuxbridge.ParseDeviceName(name)
		if d.Kind == linuxbridge.DeviceOther {
			if d.IDPrefix != "" {
				t.Fatalf("%q: other with prefix %q", name, d.IDPrefix)
			}
			return
		}
		if len(d.IDPrefix) != linuxbridge.NeutronIDPrefixLen {
			t.Fatalf("%q: prefix %q", name, d.IDPrefix)
		}
		// Round trip: the name built from the prefix parses the same.
		var again string
		switch d.Kind {
		case linuxbridge.DeviceBridge:
			again = linuxbridge.NetworkBridgeName(d.IDPrefix)
		case linuxbridge.DeviceTap:
			again = linuxbridge.PortTapName(d.IDPrefix)
		case linuxbridge.DeviceNS:
			again = linuxbridge.PortNSName(d.IDPrefix)
		}
		if got := linuxbridge.ParseDeviceName(again); got != d {
			t.Fatalf("%q -> %+v -> %q -> %+v", name, d, again, got)
		}
		if !d.Matches(d.IDPrefix + "-rest-of-uuid") {
			t.Fatalf("%+v does not match its own prefix", d)
		}
	})
}
