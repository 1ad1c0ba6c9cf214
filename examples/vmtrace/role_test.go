package main

import (
	"context"
	"encoding/json"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/trace"
)

// TestUsageRole: bad combinations of -role, -skip-dhcp, -agent-config and
// -interface-mappings exit 2 with a message, before anything is inspected.
func TestUsageRole(t *testing.T) {
	for _, c := range []struct {
		args []string
		msg  string
	}{
		{[]string{"-role", "controller", "-tap", "t"}, `-role "controller": want aio, compute or network`},
		{[]string{"-role", "network", "-tap", "t"}, "-tap with -role network: the tap is on the compute node; give -mac"},
		{[]string{"-role", "network", "-port", "31f2d3e9-8d9d"}, "-port with -role network: Neutron's hosts files hold mac,host-…,ip, not the port ID; give -mac or use -server"},
		{[]string{"-role", "network", "-skip-dhcp", "-mac", "fa:16:3e:00:00:01"}, "-skip-dhcp means -role compute"},
		{[]string{"-role", "aio", "-skip-dhcp", "-tap", "t"}, "-skip-dhcp means -role compute"},
		{[]string{"-role", "network", "-server", "vm2", "-interface-mappings", "provider"}, `-interface-mappings: invalid mapping "provider"`},
		{[]string{"-role", "network", "-server", "vm2", "-libvirt-uri", "qemu:///system"}, "the domain is on the compute node"},
		{[]string{"-tap", "t", "-agent-config", "/x.ini", "-interface-mappings", "provider:eth2"}, "exclude each other"},
		{[]string{"-tap", "t", "-interface-mappings", "provider"}, `-interface-mappings: invalid mapping "provider"`},
		{[]string{"-tap", "t", "-interface-mappings", "a:eth2,b:eth2"}, "mapped twice"},
		{[]string{"-demo", "-role", "compute"}, "drop -role, -agent-config and -interface-mappings"},
		{[]string{"-demo", "-agent-config", "/x.ini"}, "drop -role, -agent-config and -interface-mappings"},
	} {
		code, out, errs := runArgs(context.Background(), c.args...)
		if code != exitUsage || out != "" || !strings.Contains(errs, c.msg) || !strings.Contains(errs, "Usage of vmtrace") {
			t.Errorf("%q: exit %d, stdout %q, stderr %q; want exit 2, the usage and %q", c.args, code, out, errs, c.msg)
		}
	}
}

// TestIntegrationRoles runs vmtrace on the demo path as a network node (by
// MAC, the compute side unknown), as a compute node (the DHCP side
// unknown), and with -interface-mappings naming the uplink and then a
// missing NIC.
func TestIntegrationRoles(t *testing.T) {
	requireDemo(t)
	p, err := demo.BuildPath(context.Background(), &demo.PathConfig{Dir: searchableTempDir(t)})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { p.Close() })
	common := []string{"-netns-dir", p.NetNSDir, "-state-dir", p.StateDir, "-nm-run-dir", p.NMRunDir, "-interval", "200ms", "-json"}
	traced := func(want int, args ...string) *trace.Trace {
		t.Helper()
		code, out, errs := runArgs(context.Background(), append(args, common...)...)
		var tr trace.Trace
		if err := json.Unmarshal([]byte(out), &tr); err != nil {
			t.Fatalf("%q: exit %d, %v\n%s%s", args, code, err, out, errs)
		}
		if code != want {
			t.Errorf("%q: exit %d, want %d (verdict %s)\n%s", args, code, want, tr.Verdict, errs)
		}
		return &tr
	}
	hop := func(tr *trace.Trace, k trace.Kind) trace.Hop { h, _ := tr.Hop(k, ""); return h }

	tr := traced(exitOK, "-role", "network", "-mac", p.MAC.String())
	if tr.Role != trace.RoleNetwork || tr.NetworkID != p.NetworkID || tr.IP != p.IP {
		t.Errorf("network role: role %s network %s ip %s; want network %s ip %s", tr.Role, tr.NetworkID, tr.IP, p.NetworkID, p.IP)
	}
	for _, k := range []trace.Kind{trace.KindTap, trace.KindBridge, trace.KindPhysicalPort, trace.KindFDB, trace.KindCounters} {
		if h := hop(tr, k); h.Verdict != trace.Unknown || h.Summary != "compute side not on this node (role network)" {
			t.Errorf("network role: %s hop %+v", k, h)
		}
	}
	for _, k := range []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindARP} {
		if h := hop(tr, k); h.Verdict != trace.OK {
			t.Errorf("network role: %s hop %+v", k, h)
		}
	}

	// A compute node: the counters may warn (nothing makes the guest
	// send without the probe), so only the DHCP side is asserted.
	code, out, _ := runArgs(context.Background(), append([]string{"-role", "compute", "-tap", p.Tap, "-netns", p.HostPath}, common...)...)
	if err := json.Unmarshal([]byte(out), tr); err != nil || (code != exitOK && code != exitWarn) || tr.Role != trace.RoleCompute {
		t.Fatalf("compute role: exit %d, role %s, %v", code, tr.Role, err)
	}
	for _, k := range []trace.Kind{trace.KindDHCPNS, trace.KindDnsmasq, trace.KindHostsEntry, trace.KindLease, trace.KindARP} {
		if h := hop(tr, k); h.Verdict != trace.Unknown || !strings.HasPrefix(h.Summary, "DHCP side not on this node (role compute)") {
			t.Errorf("compute role: %s hop %+v", k, h)
		}
	}

	tr = traced(exitOK, "-tap", p.Tap, "-netns", p.HostPath, "-interface-mappings", "provider:"+p.Uplink)
	if h := hop(tr, trace.KindPhysicalPort); h.Verdict != trace.OK || h.Name != p.Uplink || !strings.Contains(h.Summary, "physical_interface_mappings provider:"+p.Uplink) {
		t.Errorf("mapped uplink: %+v", h)
	}
	tr = traced(exitFail, "-tap", p.Tap, "-netns", p.HostPath, "-interface-mappings", "provider:eth9")
	if h := hop(tr, trace.KindPhysicalPort); h.Verdict != trace.Fail || h.Name != "eth9" || h.Summary != "eth9 missing from "+p.Bridge+": no such interface on this node" {
		t.Errorf("unmapped uplink: %+v", h)
	}
}
