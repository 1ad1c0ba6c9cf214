package trace_test

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/trace"
)

// TestJudgeOtherDHCPServers judges the probe for other DHCP servers
// (Config.ProbeDHCPServers) on night 3's recording of the aio cloud with
// a rogue dnsmasq on the brq that the guest did not take its lease from
// (aio-night3-rogue-present.json: every hop OK, as the trace without the
// probe could not see the rogue), edited as the probe would have filled
// it in: the rogue's OFFER warns on the dnsmasq hop, naming its address,
// MAC and offer, and nothing fails (the VM's path works); no OFFER, an
// OFFER from the network's own DHCP port, or a probe that could not run
// leave the hop OK with the probe as evidence; a dnsmasq hop that already
// fails keeps failing, the rogue as evidence.
func TestJudgeOtherDHCPServers(t *testing.T) {
	const file = "aio-night3-rogue-present.json"
	rogueMAC := hwaddr.MAC{0x02, 0x00, 0x5e, 0x10, 0x00, 0x42}
	rogue := dhcpns.DHCPOffer{ClientMAC: hwaddr.MAC{0x06, 1, 2, 3, 4, 5}, IP: netip.MustParseAddr("192.168.31.88"),
		Server: netip.MustParseAddr("192.168.31.87"), ServerMAC: rogueMAC, LeaseTime: time.Hour,
		Routers: []netip.Addr{netip.MustParseAddr("192.168.31.87")}}
	judge := func(t *testing.T, ds *trace.DHCPServersFacts, edit func(*trace.NetworkFacts)) (*trace.Trace, trace.Hop) {
		t.Helper()
		obs, st := judgeRecorded(t, file)
		if st.Traces[0].Verdict != trace.OK || len(obs.DHCP.Networks) != 1 {
			t.Fatalf("%s as recorded: %s, %d networks; want ok, one", file, st.Traces[0].Verdict, len(obs.DHCP.Networks))
		}
		n := &obs.DHCP.Networks[0]
		n.DHCPServers = ds
		if edit != nil {
			edit(n)
		}
		st, err := trace.JudgeServer(obs)
		if err != nil {
			t.Fatal(err)
		}
		h, _ := st.Traces[0].Hop(trace.KindDnsmasq, "")
		return st.Traces[0], h
	}
	neutron := func(t *testing.T) netip.Addr {
		obs, _ := judgeRecorded(t, file)
		if len(obs.DHCP.Networks[0].ServingAddrs) == 0 {
			t.Fatal("the recording has no serving address")
		}
		return obs.DHCP.Networks[0].ServingAddrs[0].Addr()
	}

	tr, h := judge(t, &trace.DHCPServersFacts{Timeout: 4 * time.Second, Offers: []dhcpns.DHCPOffer{rogue}}, nil)
	if h.Verdict != trace.Warn || !strings.Contains(h.Summary, "another DHCP server answers on the network: 192.168.31.87 (02:00:5e:10:00:42) offered 192.168.31.88, router 192.168.31.87") ||
		!strings.Contains(h.Cause, "not Neutron's") || !strings.Contains(h.Next, "02:00:5e:10:00:42") {
		t.Errorf("rogue: dnsmasq %s %q (cause %q, next %q); want a warning naming the rogue", h.Verdict, h.Summary, h.Cause, h.Next)
	}
	if tr.Verdict != trace.Warn || firstFailing(tr) != nil {
		t.Errorf("rogue: trace %s, failing %+v; want warn, nothing failing (the VM's path works)", tr.Verdict, firstFailing(tr))
	}

	own := rogue
	own.Server, own.ServerMAC = neutron(t), hwaddr.MAC{0xfa, 0x16, 0x3e, 9, 9, 9}
	for name, ds := range map[string]*trace.DHCPServersFacts{
		"no offer":                 {Timeout: 4 * time.Second},
		"an offer from Neutron's":  {Timeout: 4 * time.Second, Offers: []dhcpns.DHCPOffer{own}},
		"the probe could not run":  {Timeout: 4 * time.Second, Error: "dhcpns: DHCP probe: no bridge brq0ed84132-72"},
		"not probed (older trace)": nil,
	} {
		tr, h := judge(t, ds, nil)
		if h.Verdict != trace.OK || tr.Verdict != trace.OK {
			t.Errorf("%s: dnsmasq %s %q, trace %s; want ok", name, h.Verdict, h.Summary, tr.Verdict)
		}
		got, _ := h.Get("dhcp_servers")
		switch name {
		case "no offer", "an offer from Neutron's":
			if !strings.Contains(got, "no other DHCP server offered an address to an unknown MAC within 4s") {
				t.Errorf("%s: dhcp_servers evidence %q", name, got)
			}
		case "the probe could not run":
			if !strings.HasPrefix(got, "not probed: ") {
				t.Errorf("%s: dhcp_servers evidence %q", name, got)
			}
		default:
			if got != "" {
				t.Errorf("%s: dhcp_servers evidence %q; want none", name, got)
			}
		}
	}

	// dnsmasq already failing (its serving address gone): still a
	// failure, the rogue as evidence.
	_, h = judge(t, &trace.DHCPServersFacts{Timeout: 4 * time.Second, Offers: []dhcpns.DHCPOffer{rogue}}, func(n *trace.NetworkFacts) {
		for i := range n.Checks {
			if n.Checks[i].Name == dhcpns.CheckDnsmasq {
				n.Checks[i].Status, n.Checks[i].Summary = dhcpns.StatusFail, "dnsmasq is not running"
			}
		}
	})
	if o, _ := h.Get("other_dhcp_server"); h.Verdict != trace.Fail || !strings.Contains(o, "192.168.31.87") {
		t.Errorf("dnsmasq failing with a rogue: %s, other_dhcp_server %q; want fail with the rogue as evidence", h.Verdict, o)
	}
}
