package trace_test

import (
	"context"
	"fmt"
	"strconv"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// virshKV parses `virsh domstats` output into key -> value.
func virshKV(s string) map[string]string {
	m := map[string]string{}
	for _, line := range strings.Split(s, "\n") {
		if k, v, ok := strings.Cut(strings.TrimSpace(line), "="); ok {
			m[k] = v
		}
	}
	return m
}

// counterPair parses "a -> b (+d, …)" evidence.
func counterPair(t *testing.T, s string) (uint64, uint64) {
	t.Helper()
	var a, b uint64
	if _, err := fmt.Sscanf(s, "%d -> %d", &a, &b); err != nil {
		t.Fatalf("evidence %q: %v", s, err)
	}
	return a, b
}

// TestIntegrationTraceLibvirtQemu boots a real qemu guest under TCG on a
// host test bridge through a tap the test names (no disk: qemu's iPXE ROM
// sends DHCP by itself, so the guest's counters move), and traces it with
// a libvirt client: healthy domain and interface hops compared with virsh;
// the domain named by the caller; the tap moved to another bridge (the
// interface hop fails); the domain destroyed (the domain hop fails, found
// through its inactive XML); a tap no domain owns.
func TestIntegrationTraceLibvirtQemu(t *testing.T) {
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	testutil.RequireBinary(t, "virsh", "libvirt-clients")
	d := testutil.SystemLibvirtd(t)
	uri := d.URI("qemu")
	adm := testutil.LibvirtAdmin(t, d.Socket, string(libvirt.QEMUSystem))
	br := testutil.HostBridge(t, "trbr")
	br2 := testutil.HostBridge(t, "trbr")
	tap := testutil.RandName("trtap")
	name := testutil.RandNameN("tr-", 15)
	portID := "7c1f0c4e-0b7e-4f57-9d2a-" + randHex(12)
	mac := fmt.Sprintf("fa:16:3e:%s:%s:%s", randHex(2), randHex(2), randHex(2))
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <metadata>
    <nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
      <nova:name>trvm</nova:name>
      <nova:ports><nova:port uuid="%s"/></nova:ports>
    </nova:instance>
  </metadata>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <source bridge='%s'/>
      <target dev='%s'/>
      <mac address='%s'/>
      <model type='virtio'/>
    </interface>
  </devices>
</domain>`, name, portID, br, tap, mac)
	testutil.DeleteHostLinkAtEnd(t, tap)
	dom := testutil.DefineDomain(t, adm, xml, true)
	uuid := strings.TrimSpace(testutil.Virsh(t, uri, "domuuid", name))

	ctx, cancel := context.WithTimeout(context.Background(), 3*time.Minute)
	defer cancel()
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: d.ReadOnlySocket, ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close()
	cfg := &trace.Config{NoFirewall: true, NoReach: true, Libvirt: lv, Role: trace.RoleCompute, NoARP: true, NMRunDir: t.TempDir(), CounterInterval: 3 * time.Second}

	// Wait for iPXE to send its first DHCP request (guest tx > 0).
	deadline := time.Now().Add(90 * time.Second)
	for {
		v := virshKV(testutil.Virsh(t, uri, "domstats", "--interface", name))
		if n, _ := strconv.ParseUint(v["net.0.tx.pkts"], 10, 64); n > 0 {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest sent nothing in 90 s: %v", v)
		}
		time.Sleep(500 * time.Millisecond)
	}

	runT := func(target trace.Target) *trace.Trace {
		t.Helper()
		tr, err := runRec(t, ctx, cfg, target)
		if err != nil {
			t.Fatalf("Run(%s): %v", target, err)
		}
		t.Logf("\n%s", tr)
		return tr
	}
	hop := func(tr *trace.Trace, k trace.Kind) trace.Hop {
		t.Helper()
		h, ok := tr.Hop(k, "")
		if !ok {
			t.Fatalf("no %s hop", k)
		}
		return h
	}
	ev := func(h trace.Hop, key string) string {
		v, _ := h.Get(key)
		return v
	}

	// Healthy: found by the tap among the running domains' devices.
	before := virshKV(testutil.Virsh(t, uri, "domstats", "--interface", name))
	tr := runT(trace.Target{Tap: tap})
	after := virshKV(testutil.Virsh(t, uri, "domstats", "--interface", name))
	dh, ih := hop(tr, trace.KindDomain), hop(tr, trace.KindInterface)
	if tr.Hops[0].Kind != trace.KindAgents || tr.Hops[1].Kind != trace.KindDomain || tr.Hops[2].Kind != trace.KindInterface {
		t.Errorf("first hops %s, %s, %s; want agents, domain, interface", tr.Hops[0].Kind, tr.Hops[1].Kind, tr.Hops[2].Kind)
	}
	if dh.Verdict != trace.OK || dh.Name != name || ev(dh, "uuid") != uuid || !strings.HasPrefix(ev(dh, "state"), "running") ||
		ev(dh, "nova_name") != "trvm" || ev(dh, "nova_ports") != portID || tr.Domain != name {
		t.Errorf("domain hop %+v (virsh domuuid %s)", dh, uuid)
	}
	state := strings.TrimSpace(testutil.Virsh(t, uri, "domstate", "--reason", name))
	if ev(dh, "state") != state {
		t.Errorf("domain state evidence %q, virsh domstate --reason %q", ev(dh, "state"), state)
	}
	// domiflist: Interface Type Source Model MAC.
	var row []string
	for _, line := range strings.Split(testutil.Virsh(t, uri, "domiflist", name), "\n") {
		if f := strings.Fields(line); len(f) == 5 && f[0] == tap {
			row = f
		}
	}
	if row == nil {
		t.Fatalf("virsh domiflist has no %s", tap)
	}
	if ih.Verdict != trace.OK || ih.Name != name+"/"+tap || ev(ih, "target") != row[0] || ev(ih, "type") != row[1] ||
		ev(ih, "source") != row[2] || ev(ih, "model") != row[3] || ev(ih, "mac") != row[4] || ev(ih, "tap_bridge") != br {
		t.Errorf("interface hop %+v, virsh domiflist %v", ih, row)
	}
	// The trace took the port MAC from libvirt and says so.
	if tr.PortMAC.String() != mac || !strings.Contains(ev(ih, "port_mac"), "libvirt interface of "+name) {
		t.Errorf("port MAC %s (%q), want %s from libvirt", tr.PortMAC, ev(ih, "port_mac"), mac)
	}
	// Domain counters: both samples between virsh's before and after.
	ch := hop(tr, trace.KindCounters)
	for _, c := range []struct{ key, virsh string }{{"domain_tx_packets", "net.0.tx.pkts"}, {"domain_rx_packets", "net.0.rx.pkts"}} {
		a, b := counterPair(t, ev(ch, c.key))
		lo, _ := strconv.ParseUint(before[c.virsh], 10, 64)
		hi, _ := strconv.ParseUint(after[c.virsh], 10, 64)
		if a < lo || b < a || b > hi {
			t.Errorf("%s: samples %d, %d not within virsh's %d..%d", c.key, a, b, lo, hi)
		}
	}
	if a, b := counterPair(t, ev(ch, "domain_tx_packets")); b > a && ch.Verdict != trace.OK {
		t.Errorf("domain tx moved (%d -> %d) but counters hop is %s", a, b, ch.Verdict)
	} else {
		t.Logf("domain tx %d -> %d over the interval; counters %s", a, b, ch.Verdict)
	}

	// The domain named by the caller (Nova's instance name, or its UUID).
	for _, ref := range []string{name, uuid} {
		tr := runT(trace.Target{Tap: tap, Domain: ref})
		if h := hop(tr, trace.KindDomain); h.Verdict != trace.OK || h.Name != name || ev(h, "found") != "named by the caller" {
			t.Errorf("Domain %q: domain hop %+v", ref, h)
		}
	}
	tr = runT(trace.Target{Tap: tap, Domain: "tr-no-such-domain"})
	if h := hop(tr, trace.KindDomain); h.Verdict != trace.Fail || !strings.Contains(h.Summary, `no domain "tr-no-such-domain"`) || h.Cause == "" || h.Next == "" {
		t.Errorf("unknown Domain: domain hop %+v", h)
	}

	// A tap nobody owns: the domain hop fails.
	tr = runT(trace.Target{Tap: "trnosuchtap0"})
	if h := hop(tr, trace.KindDomain); h.Verdict != trace.Fail || h.Name != "(none)" || h.Cause == "" {
		t.Errorf("tap without domain: domain hop %+v", h)
	}
	if h := hop(tr, trace.KindInterface); h.Verdict != trace.Unknown {
		t.Errorf("tap without domain: interface hop %+v", h)
	}

	// Wrong bridge: the tap moved to br2 behind libvirt's back.
	tl, err := netlink.LinkByName(tap)
	if err != nil {
		t.Fatal(err)
	}
	b2, err := netlink.LinkByName(br2)
	if err != nil {
		t.Fatal(err)
	}
	if err := netlink.LinkSetMaster(tl, b2); err != nil {
		t.Fatal(err)
	}
	tr = runT(trace.Target{Tap: tap})
	ih = hop(tr, trace.KindInterface)
	if ih.Verdict != trace.Fail || ev(ih, "source") != br || ev(ih, "tap_bridge") != br2 ||
		ih.Summary != fmt.Sprintf("libvirt says %s is on %s, but it is a port of %s", tap, br, br2) || ih.Cause == "" || ih.Next == "" {
		t.Errorf("wrong bridge: interface hop %+v", ih)
	}
	if h := hop(tr, trace.KindDomain); h.Verdict != trace.OK {
		t.Errorf("wrong bridge: domain hop %+v", h)
	}
	if tr.Verdict != trace.Fail {
		t.Errorf("wrong bridge: overall %s", tr.Verdict)
	}

	// Not running: destroyed, the tap is gone; the domain is found through
	// its inactive XML (which keeps the target name).
	if err := adm.DomainDestroy(dom); err != nil {
		t.Fatal(err)
	}
	tr = runT(trace.Target{Tap: tap})
	dh = hop(tr, trace.KindDomain)
	state = strings.TrimSpace(testutil.Virsh(t, uri, "domstate", "--reason", name))
	if dh.Verdict != trace.Fail || dh.Name != name || ev(dh, "state") != state || !strings.Contains(dh.Summary, "not running") ||
		ev(dh, "found") != "its XML has an interface on "+tap {
		t.Errorf("destroyed: domain hop %+v (virsh domstate --reason %q)", dh, state)
	}
	if h := hop(tr, trace.KindInterface); h.Verdict != trace.Unknown || ev(h, "source") != br {
		t.Errorf("destroyed: interface hop %+v", h)
	}
	if h := hop(tr, trace.KindTap); h.Verdict != trace.Fail {
		t.Errorf("destroyed: tap hop %+v", h)
	}
}
