package trace_test

import (
	"net/netip"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// TestJudgeDHCPOff judges the recorded healthy aio server with what the
// API says of its port's subnet changed: with DHCP off, a missing hosts
// row, lease, FDB entry or ARP answer is by design (a warning, or OK
// when the guest holds its address), while with DHCP on, or the subnet
// not read (older recordings), the same facts fail as they always did.
// Every other hop is judged the same whatever the subnet says.
func TestJudgeDHCPOff(t *testing.T) {
	const file = "aio-night-mtu-bridge.json" // healthy but for the bridge device's MTU, with reachability probes
	type edit func(*trace.Observation)
	subnet := func(dhcp bool) edit {
		return func(o *trace.Observation) {
			p := o.API.Servers[0].Ports[0]
			id := p.FixedIPs[0].SubnetID
			o.API.Subnets = map[string]*launch.Subnet{id: {ID: id, Name: "n3-nodhcp", NetworkID: p.NetworkID, CIDR: netip.MustParsePrefix("192.168.31.64/27"), DHCP: dhcp}}
		}
	}
	noRows := func(o *trace.Observation) {
		n := &o.DHCP.Networks[0]
		n.Hosts, n.Leases = nil, nil
	}
	noARP := func(o *trace.Observation) {
		n := &o.DHCP.Networks[0]
		for i := range n.ARP {
			n.ARP[i].Replies = nil
		}
		for i := range n.Reach {
			n.Reach[i].ICMP, n.Reach[i].TCP, n.Reach[i].ICMPRTT, n.Reach[i].Errno = dhcpns.ReachSilent, dhcpns.ReachSilent, 0, ""
		}
	}
	noFDB := func(o *trace.Observation) { o.Bridges.After.FDB = nil; o.Bridges.Before.FDB = nil }
	for _, tc := range []struct {
		name   string
		subnet edit // what the API says of the port's subnet (nil: not read)
		edits  []edit
		want   map[trace.Kind]trace.Verdict
		has    map[trace.Kind]string // in the hop's summary
		trace  trace.Verdict         // the trace's verdict (Unknown: not checked)
	}{
		{name: "dhcp on, no hosts row or lease: still failures", subnet: subnet(true), edits: []edit{noRows},
			want: map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.Fail, trace.KindLease: trace.Fail}},
		{name: "subnet not read, no hosts row or lease: still failures", edits: []edit{noRows},
			want: map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.Fail, trace.KindLease: trace.Fail}},
		{name: "dhcp on, guest silent: still failures", subnet: subnet(true), edits: []edit{noRows, noARP, noFDB},
			want: map[trace.Kind]trace.Verdict{trace.KindFDB: trace.Fail, trace.KindARP: trace.Fail, trace.KindHostsEntry: trace.Fail, trace.KindReachability: trace.Fail}},
		{name: "dhcp off, guest holds its address", subnet: subnet(false), edits: []edit{noRows},
			want: map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK, trace.KindARP: trace.OK, trace.KindFDB: trace.OK, trace.KindReachability: trace.OK},
			has:  map[trace.Kind]string{trace.KindHostsEntry: "not needed: DHCP is off on subnet n3-nodhcp", trace.KindLease: "answered ARP"}},
		{name: "dhcp off, guest silent", subnet: subnet(false), edits: []edit{noRows, noARP, noFDB},
			want: map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.Warn, trace.KindLease: trace.Warn, trace.KindARP: trace.Fail, trace.KindFDB: trace.Warn, trace.KindReachability: trace.Fail},
			has: map[trace.Kind]string{trace.KindHostsEntry: "the guest needs a static address or config drive", trace.KindLease: "DHCP is off on subnet n3-nodhcp",
				trace.KindFDB: "the guest sends nothing until it has an address", trace.KindARP: "the guest sent no frame", trace.KindReachability: "it holds no address"},
			// Nothing answers at the port's address: the VM is unreachable
			// there, so the trace fails, first at ARP, naming DHCP off.
			trace: trace.Fail},
		// The guest sends (the bridge learned it) but does not answer ARP:
		// the path or the guest is at fault, DHCP off or not.
		{name: "dhcp off, guest sends but does not answer ARP", subnet: subnet(false), edits: []edit{noRows, noARP},
			want: map[trace.Kind]trace.Verdict{trace.KindARP: trace.Fail, trace.KindFDB: trace.OK, trace.KindHostsEntry: trace.Warn, trace.KindReachability: trace.Fail}},
		// A hosts row and a lease where DHCP is off are left as judged.
		{name: "dhcp off, rows present", subnet: subnet(false),
			want: map[trace.Kind]trace.Verdict{trace.KindHostsEntry: trace.OK, trace.KindLease: trace.OK}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			judge := func(es []edit) *trace.Trace {
				obs, err := trace.ReadObservationFile(filepath.Join("testdata", "observations", file))
				if err != nil {
					t.Fatal(err)
				}
				for _, e := range es {
					if e != nil {
						e(obs)
					}
				}
				st, err := trace.JudgeServer(obs)
				if err != nil {
					t.Fatal(err)
				}
				return st.Traces[0]
			}
			got := judge(append([]edit{tc.subnet}, tc.edits...))
			if tc.trace != trace.Unknown && got.Verdict != tc.trace {
				t.Errorf("trace verdict %s; want %s", got.Verdict, tc.trace)
			}
			for k, v := range tc.want {
				h, _ := got.Hop(k, "")
				if h.Verdict != v || !strings.Contains(h.Summary, tc.has[k]) {
					t.Errorf("%s hop %s %q; want %s containing %q", k, h.Verdict, h.Summary, v, tc.has[k])
				}
				if v != trace.OK && (h.Cause == "" || h.Next == "") {
					t.Errorf("%s hop %s without cause or next: %+v", k, v, h)
				}
			}
			// The same facts without the subnet: only the DHCP-off hops
			// may differ.
			if tc.subnet != nil {
				ref := judge(tc.edits)
				for i, h := range got.Hops {
					switch h.Kind {
					case trace.KindHostsEntry, trace.KindLease, trace.KindFDB, trace.KindARP, trace.KindReachability:
						continue
					}
					if r := ref.Hops[i]; r.Kind != h.Kind || r.Verdict != h.Verdict || r.Summary != h.Summary {
						t.Errorf("hop %d %s %s %q; without the subnet %s %s %q", i, h.Kind, h.Verdict, h.Summary, r.Kind, r.Verdict, r.Summary)
					}
				}
			}
		})
	}
}
