package libvirtinspect

import (
	"bufio"
	"net/netip"

	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/hwaddr"
)

// novaDomainXML parses testdata/domain-instance-00000002.xml, the XML of
// a Nova-created domain.
func novaDomainXML(t *testing.T) *DomainXML {
	t.Helper()
	b, err := os.ReadFile("testdata/domain-instance-00000002.xml")
	if err != nil {
		t.Fatal(err)
	}
	x, err := ParseDomainXML(b)
	if err != nil {
		t.Fatal(err)
	}
	return x
}

func TestParseDomainXMLNova(t *testing.T) {
	x := novaDomainXML(t)
	want := &DomainXML{
		Type: "qemu", Name: "instance-00000002", UUID: "3fc516db-bae9-4e60-a58c-0d8beace5d6e",
		Nova: &NovaInstance{
			InstanceUUID: "3fc516db-bae9-4e60-a58c-0d8beace5d6e",
			Name:         "vm2",
			Package:      "26.2.2",
			CreationTime: time.Date(2026, 11, 24, 6, 1, 42, 0, time.UTC),
			Flavor:       NovaFlavor{Name: "m1.micro", MemoryMiB: 128, DiskGiB: 1, VCPUs: 1},
			UserUUID:     "127f18415e5140cca7070c7ec85ed0f0", UserName: "admin",
			ProjectUUID: "0e28594ddbe7463188629949de692f18", ProjectName: "admin",
			RootType: "image", RootUUID: "b1199e44-960b-4c65-8287-bdf5454eb889",
			Ports: []NovaPort{{UUID: "31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80",
				IPs: []NovaIP{{Type: "fixed", Address: netip.MustParseAddr("192.168.31.72"), Version: 4}}}},
		},
		Interfaces: []Interface{{
			Type: "bridge", Source: "brqc3e375fb-0a", Bridge: "brqc3e375fb-0a", Target: "tap31f2d3e9-8d",
			MAC: mac(t, "fa:16:3e:57:19:35"), Model: "virtio", MTU: 1500, Alias: "net0",
		}},
		Serials: []Serial{{Type: "pty", SourcePath: "/dev/pts/0", LogFile: "/var/lib/nova/instances/3fc516db-bae9-4e60-a58c-0d8beace5d6e/console.log"}},
	}
	if d := cmp.Diff(want, x, cmpopts.EquateComparable(netip.Addr{})); d != "" {
		t.Errorf("ParseDomainXML (-want +got):\n%s", d)
	}
	// And the virsh domiflist rows recorded from the same domain.
	rows := domiflistRows(t, "testdata/domiflist.txt")
	if len(rows) != len(x.Interfaces) {
		t.Fatalf("domiflist has %d rows, XML %d interfaces", len(rows), len(x.Interfaces))
	}
	for i, r := range rows {
		if d := cmp.Diff(r, DomiflistRow(x.Interfaces[i])); d != "" {
			t.Errorf("row %d (-virsh +ours):\n%s", i, d)
		}
	}
}

func mac(t testing.TB, s string) hwaddr.MAC {
	m, err := hwaddr.Parse(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}

// DomiflistRow renders an Interface as virsh domiflist's five columns.
func DomiflistRow(i Interface) []string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return []string{dash(i.Target), i.Type, dash(i.Source), dash(i.Model), i.MAC.String()}
}

func domiflistRows(t testing.TB, path string) [][]string {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	return parseDomiflist(string(b))
}

func parseDomiflist(s string) [][]string {
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(s))
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) != 5 || f[0] == "Interface" {
			continue
		}
		rows = append(rows, f)
	}
	return rows
}

func TestParseDomainXMLHostdev(t *testing.T) {
	const x = `<domain type='kvm'><name>sriov</name><uuid>11111111-2222-3333-4444-555555555555</uuid>
<devices>
 <interface type='hostdev' managed='yes'>
  <mac address='fa:16:3e:00:00:01'/>
  <source><address type='pci' domain='0x0000' bus='0x06' slot='0x10' function='0x2'/></source>
  <vlan><tag id='42'/></vlan>
 </interface>
 <interface type='direct'><mac address='fa:16:3e:00:00:02'/><source dev='eth0' mode='passthrough'/><model type='virtio'/></interface>
 <interface type='network'><mac address='52:54:00:00:00:03'/><source network='default'/><target dev='vnet3'/></interface>
</devices></domain>`
	got, err := ParseDomainXML([]byte(x))
	if err != nil {
		t.Fatal(err)
	}
	want := []Interface{
		{Type: "hostdev", MAC: mac(t, "fa:16:3e:00:00:01"), PCI: "0000:06:10.2"},
		{Type: "direct", Source: "eth0", Dev: "eth0", MAC: mac(t, "fa:16:3e:00:00:02"), Model: "virtio"},
		{Type: "network", Source: "default", Network: "default", Target: "vnet3", MAC: mac(t, "52:54:00:00:00:03")},
	}
	if d := cmp.Diff(want, got.Interfaces); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
	if got.Nova != nil {
		t.Errorf("Nova = %+v for a domain without Nova metadata", got.Nova)
	}
}

func TestParseDomainXMLMalformed(t *testing.T) {
	for _, s := range []string{"", "<domain", "<domain><devices><interface type='bridge'>", "not xml at all", "<other/>"} {
		if _, err := ParseDomainXML([]byte(s)); err == nil {
			t.Errorf("ParseDomainXML(%q): no error", s)
		}
	}
	// Bad values inside well-formed XML are left zero, not errors.
	x, err := ParseDomainXML([]byte(`<domain><devices><interface type='bridge'><mac address='zz'/><mtu size='big'/></interface></devices></domain>`))
	if err != nil {
		t.Fatal(err)
	}
	if len(x.Interfaces) != 1 || x.Interfaces[0].MAC != nil || x.Interfaces[0].MTU != 0 {
		t.Errorf("got %+v", x.Interfaces)
	}
}

// readDomstats parses `virsh domstats` text into params the way libvirt
// types them (strings for names/paths/modes, numbers otherwise).
func readDomstats(t testing.TB, path string) (string, []Param) {
	b, err := os.ReadFile(path)
	if err != nil {
		t.Fatal(err)
	}
	var name string
	var ps []Param
	for _, line := range strings.Split(string(b), "\n") {
		line = strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(line, "Domain: "); ok {
			name = strings.Trim(n, "'")
			continue
		}
		k, v, ok := strings.Cut(line, "=")
		if !ok {
			continue
		}
		if n, err := strconv.ParseUint(v, 10, 64); err == nil {
			ps = append(ps, Param{Field: k, Value: n})
		} else {
			ps = append(ps, Param{Field: k, Value: v})
		}
	}
	return name, ps
}

func TestDecodeStatsFixture(t *testing.T) {
	name, ps := readDomstats(t, "testdata/domstats.txt")
	got := DecodeStats(Domain{Name: name, ID: 7}, ps)
	want := DomainStats{
		Domain:  Domain{Name: "instance-00000002", ID: 7, State: StateRunning, Reason: Reason{State: StateRunning, Code: 5}},
		State:   &StateStats{State: StateRunning, Reason: Reason{State: StateRunning, Code: 5}},
		CPU:     &CPUStats{TimeNs: 5702209000, UserNs: 4727997000, SystemNs: 974211000},
		Balloon: &BalloonStats{CurrentKiB: 131072, MaximumKiB: 131072, RSSKiB: 215496},
		VCPU:    &VCPUStats{Current: 1, Maximum: 1, VCPUs: []VCPUStat{{State: 1, TimeNs: 5160000000, DelayNs: 364336818}}},
		// virsh domstats: net.0.rx.bytes=2280 rx.pkts=24 (the guest received), tx.bytes=2028 tx.pkts=21 (sent); seen from the tap they swap.
		Interfaces: []InterfaceStats{{Name: "tap31f2d3e9-8d", RxBytes: 2028, RxPackets: 21, TxBytes: 2280, TxPackets: 24}},
		Blocks: []BlockStats{{Name: "vda", Path: "/var/lib/nova/instances/3fc516db-bae9-4e60-a58c-0d8beace5d6e/disk",
			BackingIndex: 1, RdReqs: 1, RdBytes: 512, RdTimesNs: 193939, Capacity: 1073741824, Physical: 204800}},
		Extra: map[string]any{
			"cpu.cache.monitor.count":   uint64(0),
			"cpu.haltpoll.success.time": uint64(0),
			"cpu.haltpoll.fail.time":    uint64(0),
			"dirtyrate.calc_status":     uint64(0),
			"dirtyrate.calc_start_time": uint64(0),
			"dirtyrate.calc_period":     uint64(0),
			"dirtyrate.calc_mode":       "page-sampling",
		},
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("DecodeStats (-want +got):\n%s", d)
	}
	if got.Domain.Reason.String() != "unpaused" || got.Domain.State.String() != "running" {
		t.Errorf("state %q reason %q", got.Domain.State, got.Domain.Reason)
	}
}

func TestDecodeStatsTypes(t *testing.T) {
	got := DecodeStats(Domain{}, []Param{
		{"state.state", int32(3)}, {"state.reason", int32(1)},
		{"net.count", uint32(2)}, {"net.1.name", "vnet1"}, {"net.1.tx.pkts", uint64(9)},
		{"perf.cmt", uint64(5)}, {"vm.halt_poll_success_ns", int64(-1)}, {"x.flag", true}, {"net.bogus", uint64(1)},
	})
	if got.State.State != StatePaused || got.State.Reason.String() != "user" {
		t.Errorf("state = %+v", got.State)
	}
	if len(got.Interfaces) != 2 || got.Interfaces[1].Name != "vnet1" || got.Interfaces[1].RxPackets != 9 {
		t.Errorf("interfaces = %+v", got.Interfaces)
	}
	wantExtra := map[string]any{"perf.cmt": uint64(5), "vm.halt_poll_success_ns": int64(-1), "x.flag": true, "net.bogus": uint64(1)}
	if d := cmp.Diff(wantExtra, got.Extra); d != "" {
		t.Errorf("Extra (-want +got):\n%s", d)
	}
	if _, err := json.Marshal(got); err != nil {
		t.Fatal(err)
	}
}

func TestStateStrings(t *testing.T) {
	for _, tc := range []struct {
		s    State
		r    int
		want string
	}{
		{StateRunning, 1, "running (booted)"}, {StatePaused, 1, "paused (user)"},
		{StateShutoff, 2, "shut off (destroyed)"}, {StateShutoff, 1, "shut off (shutdown)"},
		{StateNoState, 0, "no state (unknown)"}, {State(42), 7, "state 42 (reason 7)"},
	} {
		got := tc.s.String() + " (" + Reason{State: tc.s, Code: tc.r}.String() + ")"
		if got != tc.want {
			t.Errorf("got %q want %q", got, tc.want)
		}
	}
}

func TestErrors(t *testing.T) {
	err := error(&OpError{Op: "look up domain", Domain: "x", URI: "test:///default", Err: ErrNotFound})
	if !errors.Is(err, fs.ErrNotExist) || !IsNotFound(err) || IsConnectionLost(err) {
		t.Errorf("not-found predicates wrong for %v", err)
	}
	err = &OpError{Op: "domain stats", Err: ErrConnectionLost}
	if !IsConnectionLost(err) || IsNotFound(err) || !strings.Contains(err.Error(), "reconnects") {
		t.Errorf("connection-lost predicates wrong for %v", err)
	}
}

func TestOpenURIs(t *testing.T) {
	for _, tc := range []struct{ uri, remote string }{
		{"", "qemu:///system"},
		{"qemu:///system", "qemu:///system"},
		{"test:///default", "test:///default"},
		{"qemu+unix:///system?socket=/tmp/s", "qemu:///system"},
		{"qemu+tcp://h:16509/system", "qemu:///system"},
		{"qemu+tls://h/system?pkipath=/p", "qemu:///system"},
		{"qemu+ssh://root@h/system?keyfile=/k&no_verify=1", "qemu:///system"},
	} {
		c, err := NewFromConfig(&Config{URI: tc.uri})
		if err != nil {
			t.Errorf("NewFromConfig(%q): %v", tc.uri, err)
			continue
		}
		if string(c.remoteURI) != tc.remote {
			t.Errorf("NewFromConfig(%q) asks libvirtd for %q, want %q", tc.uri, c.remoteURI, tc.remote)
		}
		c.Close()
		c.Close()
	}
	if _, err := NewFromConfig(&Config{URI: "qemu+bogus:///system"}); err == nil {
		t.Error("unsupported transport accepted")
	}
}

func FuzzParseDomainXML(f *testing.F) {
	b, _ := os.ReadFile("testdata/domain-instance-00000002.xml")
	f.Add(b)
	f.Add([]byte(`<domain><devices><interface type='hostdev'><source><address bus='0x06'/></source></interface></devices></domain>`))
	f.Add([]byte(`<domain><metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:ports><nova:port/></nova:ports></nova:instance></metadata></domain>`))
	f.Fuzz(func(t *testing.T, b []byte) {
		x, err := ParseDomainXML(b)
		if err != nil {
			return
		}
		if _, err := json.Marshal(x); err != nil {
			t.Fatal(err)
		}
		for _, i := range x.Interfaces {
			_ = DomiflistRow(i)
		}
	})
}

func FuzzDecodeStats(f *testing.F) {
	f.Add("net.0.rx.bytes", uint64(5), "")
	f.Add("vcpu.99999.time", uint64(1), "")
	f.Add("block.1.name", uint64(0), "vda")
	f.Fuzz(func(t *testing.T, k string, n uint64, s string) {
		_ = DecodeStats(Domain{}, []Param{{k, n}, {k, s}, {k, int32(n)}})
	})
}

func TestInterfaceJSON(t *testing.T) {
	in := Interface{Type: "bridge", Source: "br0", Bridge: "br0", Target: "tap0", MAC: mac(t, "fa:16:3e:57:19:35"), MTU: 1500}
	b, err := json.Marshal(in)
	if err != nil {
		t.Fatal(err)
	}
	if !strings.Contains(string(b), `"mac":"fa:16:3e:57:19:35"`) {
		t.Errorf("JSON %s lacks the MAC as text", b)
	}
	var out Interface
	if err := json.Unmarshal(b, &out); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(in, out); d != "" {
		t.Errorf("round trip (-in +out):\n%s", d)
	}
	b, _ = json.Marshal(IfAddrs{Name: "tap0", MAC: mac(t, "52:54:00:00:00:01")})
	if !strings.Contains(string(b), `"mac":"52:54:00:00:00:01"`) {
		t.Errorf("IfAddrs JSON %s", b)
	}
}

func TestSortDomainsLikeVirsh(t *testing.T) {
	ds := []Domain{{ID: -1, Name: "b"}, {ID: 7, Name: "z"}, {ID: -1, Name: "a"}, {ID: 2, Name: "y"}}
	sortDomains(ds)
	var got []string
	for _, d := range ds {
		got = append(got, d.Name)
	}
	if d := cmp.Diff([]string{"y", "z", "a", "b"}, got); d != "" {
		t.Errorf("(-want +got):\n%s", d)
	}
}
