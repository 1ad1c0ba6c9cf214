package trace_test

import (
	"strings"
	"testing"

	"github.com/vifpath/vifpath/trace"
)

// TestReplayNight5 judges the faults of a fifth night on the real aio
// cloud (aio-night5-*.json, see testdata/observations/README.md), each on
// the server n5vm1 (192.168.31.78) that traced OK before and after:
//   - learn-flood-off: `bridge link set dev <tap> learning off flood off`:
//     ARP (a broadcast) was answered, ping and SSH were not; the tap hop
//     now fails first, naming both flags (before, the FDB hop failed
//     first with a cause saying the bridge floods to the VM);
//   - learning-off: learning alone off: the bridge floods, ping and SSH
//     were answered; the FDB hop warns (it failed a working path);
//   - flood-off: flooding alone off: the path works while the MAC is
//     learned; the tap hop warns (it said OK);
//   - brnf-off: `sysctl net.bridge.bridge-nf-call-iptables=0`: the path
//     works, the security-group hop warns that its chains are not applied
//     (it said OK);
//   - sg-no-icmp: only the ICMP ingress rule deleted from the port's
//     group, SSH still admitted: the security-group and reachability hops
//     warn (they failed a VM reachable on tcp/22);
//   - net-disabled: `openstack network set --disable`: the DHCP agent
//     removed the qdhcp namespace; the dhcp-namespace hop fails naming the
//     disabled network (its cause said no DHCP agent serves the network);
//   - port-disabled: `openstack port set --disable`: the port hop fails
//     first; the tap hop, down, names the disabled port as why;
//   - qdhcp-input-dhcp-drop: `iptables -I INPUT -p udp --dport 67 -j
//     DROP` in the qdhcp namespace: the dnsmasq hop fails naming the rule
//     (every hop was OK: the guest held its lease);
//   - qdhcp-output-drop: `iptables -I OUTPUT -j DROP` there: the dnsmasq
//     hop fails first naming the rule (the metadata hop failed first,
//     blaming the proxy), the metadata and reachability hops name it too;
//   - eb-filter-fwd-drop: `ebtables -A FORWARD -s <VM MAC> -j DROP` (the
//     filter table, not Neutron's nat) and nft-bridge-drop: a native `nft`
//     bridge table whose forward-hook chain drops the VM's MAC: the ARP
//     hop fails first, as before, but its cause now names the chain
//     (firewall.Snapshot.BridgeHooks) instead of only the guest;
//   - tc-root-drop (server n5vm2, 192.168.31.71): `tc qdisc replace dev
//     <tap> root pfifo limit 0` (every frame to the VM dropped; this
//     kernel has no tc actions, so no ingress drop nor netem): the ARP hop
//     fails first, as before, its cause now naming the tap's qdisc and its
//     drops during the probes (linuxbridge.Port.Qdiscs) instead of the
//     guest.
func TestReplayNight5(t *testing.T) {
	for _, c := range []struct {
		file, kind, summary, cause string
	}{
		{"aio-night5-learn-flood-off.json", "tap", "learning and flooding are off on tapd987bcdf-07", "unicast to the VM is dropped"},
		{"aio-night5-net-disabled.json", "dhcp-namespace", "the network is administratively down", "the network is disabled (admin_state_up false)"},
		{"aio-night5-port-disabled.json", "port", "administratively down (admin_state_up false)", ""},
		{"aio-night5-qdhcp-input-dhcp-drop.json", "dnsmasq", "a DHCP request (broadcast): dropped by INPUT#1 (-p udp -m udp --dport 67 -j DROP)", "filter table"},
		{"aio-night5-qdhcp-output-drop.json", "dnsmasq", "dnsmasq's reply to 192.168.31.78: dropped by OUTPUT#1 (-j DROP)", "filter table"},
		{"aio-night5-eb-filter-fwd-drop.json", "arp", "no answer for 192.168.31.78", "table filter chain FORWARD (forward hook, 1 rule)"},
		{"aio-night5-nft-bridge-drop.json", "arp", "no answer for 192.168.31.78", "table n5 chain n5f (forward hook, 1 rule)"},
		{"aio-night5-tc-root-drop.json", "arp", "on tapb297156c-9a the root qdisc pfifo dropped 7 packets during the probes", "traffic control on the VM's tap drops the frames to the VM"},
	} {
		t.Run(c.file, func(t *testing.T) { wantFirstFailing(t, c.file, c.kind, c.summary, c.cause) })
	}
	_, st := judgeRecorded(t, "aio-night5-learn-flood-off.json")
	if h, _ := st.Traces[0].Hop(trace.KindFDB, ""); h.Verdict != trace.Fail || !strings.Contains(h.Cause, "learning and flooding are off") {
		t.Errorf("learning and flooding off: fdb %s, cause %q; want fail naming both", h.Verdict, h.Cause)
	}
	_, st = judgeRecorded(t, "aio-night5-port-disabled.json")
	if h, _ := st.Traces[0].Hop(trace.KindTap, ""); h.Verdict != trace.Fail || !strings.Contains(h.Cause, "the port is disabled") || !strings.Contains(h.Next, "openstack port set --enable") {
		t.Errorf("port disabled: tap %s, cause %q, next %q; want fail naming the disabled port", h.Verdict, h.Cause, h.Next)
	}

	// The namespace's OUTPUT DROP: the metadata and reachability hops,
	// failing too, name the rule instead of the proxy or the path.
	_, st = judgeRecorded(t, "aio-night5-qdhcp-output-drop.json")
	for _, k := range []trace.Kind{trace.KindMetadata, trace.KindReachability} {
		if h, _ := st.Traces[0].Hop(k, ""); h.Verdict != trace.Fail || !strings.Contains(h.Summary, "dropped by OUTPUT#1 (-j DROP)") || !strings.Contains(h.Cause, "filter table") {
			t.Errorf("namespace OUTPUT DROP: %s %s %q (cause %q); want fail naming the rule", k, h.Verdict, h.Summary, h.Cause)
		}
	}

	// The same tap without the drops moving: the generic cause, as before.
	obs, _ := judgeRecorded(t, "aio-night5-tc-root-drop.json")
	for i := range obs.Bridges.Before.Bridges {
		for j := range obs.Bridges.Before.Bridges[i].Ports {
			if p := &obs.Bridges.Before.Bridges[i].Ports[j]; p.Name == "tapb297156c-9a" {
				p.Qdiscs = nil
			}
		}
	}
	for i := range obs.Bridges.After.Bridges {
		for j := range obs.Bridges.After.Bridges[i].Ports {
			if p := &obs.Bridges.After.Bridges[i].Ports[j]; p.Name == "tapb297156c-9a" {
				p.Qdiscs = nil
			}
		}
	}
	st, err := trace.JudgeServer(obs)
	if err != nil {
		t.Fatal(err)
	}
	if h, _ := st.Traces[0].Hop(trace.KindARP, ""); h.Verdict != trace.Fail || strings.Contains(h.Cause, "traffic control") {
		t.Errorf("no qdisc read: arp %s, cause %q; want fail with the generic cause", h.Verdict, h.Cause)
	}

	// Working paths: each warns at one hop, nothing fails.
	for _, c := range []struct {
		file    string
		kinds   []trace.Kind
		summary string
	}{
		{"aio-night5-learning-off.json", []trace.Kind{trace.KindFDB}, "learning is off on tapd987bcdf-07, the bridge floods"},
		{"aio-night5-flood-off.json", []trace.Kind{trace.KindTap}, "flooding is off on tapd987bcdf-07"},
		{"aio-night5-brnf-off.json", []trace.Kind{trace.KindSecurityGroup}, "are not applied: 0: bridged IPv4 bypasses iptables"},
		{"aio-night5-sg-no-icmp.json", []trace.Kind{trace.KindSecurityGroup, trace.KindReachability}, "admit no ICMP"},
	} {
		t.Run(c.file, func(t *testing.T) {
			_, st := judgeRecorded(t, c.file)
			tr := st.Traces[0]
			if tr.Verdict != trace.Warn || firstFailing(tr) != nil {
				t.Fatalf("verdict %s, failing %+v; want warn, nothing failing:\n%s", tr.Verdict, firstFailing(tr), tr)
			}
			for _, k := range c.kinds {
				if h, _ := tr.Hop(k, ""); h.Verdict != trace.Warn || !strings.Contains(h.Summary, c.summary) || h.Cause == "" || h.Next == "" {
					t.Errorf("%s hop %s %q (cause %q); want warn with %q, a cause and a next step", k, h.Verdict, h.Summary, h.Cause, c.summary)
				}
			}
		})
	}

	// The same facts with the fault's distinguishing fact removed judge
	// as before the fix: the checks fail only what they should.
	obs, _ = judgeRecorded(t, "aio-night5-sg-no-icmp.json")
	for _, n := range obs.DHCP.Networks {
		for i := range n.Reach {
			n.Reach[i].TCP = "silent" // SSH not answered either
		}
	}
	st, _ = trace.JudgeServer(obs)
	if h, _ := st.Traces[0].Hop(trace.KindReachability, ""); h.Verdict != trace.Fail {
		t.Errorf("ICMP out of the groups and SSH silent: reachability %s %q; want fail", h.Verdict, h.Summary)
	}
	obs, _ = judgeRecorded(t, "aio-night5-learning-off.json")
	for i := range obs.DHCP.Networks {
		obs.DHCP.Networks[i].Reach = nil // no proof the path works
	}
	st, _ = trace.JudgeServer(obs)
	if h, _ := st.Traces[0].Hop(trace.KindFDB, ""); h.Verdict != trace.Fail || !strings.Contains(h.Cause, "learning is off") {
		t.Errorf("learning off, no reachability answer: fdb %s %q; want fail", h.Verdict, h.Cause)
	}
	obs, _ = judgeRecorded(t, "aio-night5-qdhcp-input-dhcp-drop.json")
	fw := obs.DHCP.Networks[0].Firewall
	for i := range fw.Tables {
		for j := range fw.Tables[i].Chains {
			if c := &fw.Tables[i].Chains[j]; c.Name == "INPUT" {
				c.Rules = c.Rules[1:] // the rule deleted: the namespace's own chains admit DHCP
			}
		}
	}
	st, _ = trace.JudgeServer(obs)
	if h, _ := st.Traces[0].Hop(trace.KindDnsmasq, ""); h.Verdict != trace.OK {
		t.Errorf("the INPUT DROP deleted: dnsmasq %s %q; want ok", h.Verdict, h.Summary)
	}
	obs, _ = judgeRecorded(t, "aio-night5-brnf-off.json")
	obs.Host.BrNF = "1"
	st, _ = trace.JudgeServer(obs)
	if h, _ := st.Traces[0].Hop(trace.KindSecurityGroup, ""); h.Verdict != trace.OK {
		t.Errorf("bridge-nf-call-iptables 1: security-group %s %q; want ok", h.Verdict, h.Summary)
	}
}
