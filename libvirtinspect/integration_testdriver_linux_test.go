package libvirtinspect_test

import (
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"slices"
	"strconv"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vifpath/vifpath/internal/sandbox"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// TestIntegrationTestDriver checks list, state, lookup, interfaces (hostdev
// included), stats and the one-RPC promise against libvirtd's test driver,
// field by field against virsh on the same daemon.
func TestIntegrationTestDriver(t *testing.T) {
	d := testutil.SystemLibvirtd(t)
	virshURI := d.URI("test")
	adm := admin(t, d.Socket, "test:///default")
	prefix := "lv-" + randHex(6) + "-"

	bridgeIf := func(i int) string {
		return fmt.Sprintf(`<interface type='bridge'><mac address='52:54:00:00:10:%02x'/><source bridge='lvbr%s'/>
<target dev='lvtap%s%02d'/><model type='virtio'/><mtu size='1450'/></interface>`, i, randHex(4), randHex(2), i)
	}
	names := map[string]bool{}
	for i := 0; i < 6; i++ {
		name := prefix + strconv.Itoa(i)
		names[name] = true
		defineTest(t, adm, testDomainXML(name, bridgeIf(i)), i%2 == 0)
	}
	// A paused one and a hostdev (SR-IOV style) interface. (The test driver
	// invents a target "testnetN" even for hostdev; the no-target case is in
	// the unit tests with real hostdev XML.)
	paused, _ := adm.DomainLookupByName(prefix + "0")
	if err := adm.DomainSuspend(paused); err != nil {
		t.Fatal(err)
	}
	hostdev := prefix + "hostdev"
	names[hostdev] = true
	defineTest(t, adm, testDomainXML(hostdev, `<interface type='hostdev' managed='yes'><mac address='fa:16:3e:00:00:99'/>
<source><address type='pci' domain='0x0000' bus='0x06' slot='0x10' function='0x2'/></source></interface>`+bridgeIf(7)), false) // inactive: no target assigned

	// A Nova-style domain: the metadata block of the recorded Zed domain,
	// a random UUID (the Nova instance UUID).
	novaName := prefix + "nova"
	novaUUID := fmt.Sprintf("%s-%s-%s-%s-%s", randHex(8), randHex(4), randHex(4), randHex(4), randHex(12))
	names[novaName] = true
	defineTest(t, adm, fmt.Sprintf(`<domain type='test'><name>%s</name><uuid>%s</uuid><metadata>
<nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1">
  <nova:package version="26.2.2"/><nova:name>vm2</nova:name><nova:creationTime>2026-11-24 06:01:42</nova:creationTime>
  <nova:flavor name="m1.micro"><nova:memory>128</nova:memory><nova:disk>1</nova:disk><nova:swap>0</nova:swap><nova:ephemeral>0</nova:ephemeral><nova:vcpus>1</nova:vcpus></nova:flavor>
  <nova:owner><nova:user uuid="127f18415e5140cca7070c7ec85ed0f0">admin</nova:user><nova:project uuid="0e28594ddbe7463188629949de692f18">admin</nova:project></nova:owner>
  <nova:root type="image" uuid="b1199e44-960b-4c65-8287-bdf5454eb889"/>
  <nova:ports><nova:port uuid="31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80"><nova:ip type="fixed" address="192.168.31.72" ipVersion="4"/></nova:port></nova:ports>
</nova:instance></metadata><memory unit='KiB'>8192</memory><os><type>hvm</type></os><devices>%s</devices></domain>`, novaName, novaUUID, bridgeIf(8)), true)

	// Connected; then count exactly what Domains sends.
	counter, c := countedClient(t, d.Socket)
	ctx := ctxT(t, 60e9)
	counter.reset()
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if got := counter.reset(); !cmp.Equal(got, map[uint32]int{procConnectGetAllDomainStats: 1}) {
		t.Errorf("Domains sent RPCs %v, want exactly one ConnectGetAllDomainStats (%d)", got, procConnectGetAllDomainStats)
	}

	// virsh list --all on the same daemon and driver.
	virshRows := map[string][]string{}
	for _, r := range virshTable(testutil.Virsh(t, virshURI, "list", "--all")) {
		if len(r) >= 3 && names[r[1]] {
			virshRows[r[1]] = []string{r[0], r[1], strings.Join(r[2:], " ")}
		}
	}
	seen := 0
	for _, dm := range doms {
		if !names[dm.Name] {
			continue
		}
		seen++
		id := "-"
		if dm.ID >= 0 {
			id = strconv.Itoa(dm.ID)
		}
		if diff := cmp.Diff(virshRows[dm.Name], []string{id, dm.Name, dm.State.String()}); diff != "" {
			t.Errorf("%s: (-virsh list +ours):\n%s", dm.Name, diff)
		}
		want := strings.TrimSpace(testutil.Virsh(t, virshURI, "domstate", "--reason", dm.Name))
		if got := dm.State.String() + " (" + dm.Reason.String() + ")"; got != want {
			t.Errorf("%s: domstate --reason: virsh %q, ours %q", dm.Name, want, got)
		}
		if uuid := strings.TrimSpace(testutil.Virsh(t, virshURI, "domuuid", dm.Name)); uuid != dm.UUID {
			t.Errorf("%s: uuid virsh %q ours %q", dm.Name, uuid, dm.UUID)
		}
		// Lookup by name and by UUID give the same domain.
		refs := []string{dm.Name, dm.UUID, strings.ToUpper(dm.UUID)}
		if dm.ID > 0 {
			refs = append(refs, strconv.Itoa(dm.ID)) // virsh accepts running ids too
		}
		for _, ref := range refs {
			got, err := c.Lookup(ctx, ref)
			if err != nil {
				t.Fatalf("Lookup(%q): %v", ref, err)
			}
			if diff := cmp.Diff(dm, got); diff != "" {
				t.Errorf("Lookup(%q) (-Domains +Lookup):\n%s", ref, diff)
			}
		}
	}
	if seen != len(names) || len(virshRows) != len(names) {
		t.Fatalf("saw %d of our %d domains (virsh %d)", seen, len(names), len(virshRows))
	}
	if p, _ := c.Lookup(ctx, prefix+"0"); p.State != libvirtinspect.StatePaused || p.Reason.String() != "user" {
		t.Errorf("paused domain: %v (%v)", p.State, p.Reason)
	}

	// Interfaces vs virsh domiflist, hostdev included (no target: "-").
	for name := range names {
		ifs, err := c.Interfaces(ctx, name)
		if err != nil {
			t.Fatalf("Interfaces(%s): %v", name, err)
		}
		var ours [][]string
		for _, i := range ifs {
			ours = append(ours, domiflistRow(i))
		}
		vir := virshTable(testutil.Virsh(t, virshURI, "domiflist", name))
		if diff := cmp.Diff(vir, ours); diff != "" {
			t.Errorf("%s: domiflist (-virsh +ours):\n%s", name, diff)
		}
	}
	det, err := c.Details(ctx, hostdev)
	if err != nil {
		t.Fatal(err)
	}
	if len(det.Interfaces) != 2 || det.Interfaces[0].Type != "hostdev" || det.Interfaces[0].PCI != "0000:06:10.2" {
		t.Errorf("hostdev domain interfaces: %+v", det.Interfaces)
	}
	if det.Nova != nil || det.Type != "test" {
		t.Errorf("Details: type %q nova %+v", det.Type, det.Nova)
	}

	// Nova metadata through the daemon, found by the Nova instance UUID.
	nd, err := c.Details(ctx, novaUUID)
	if err != nil {
		t.Fatalf("Details(nova instance uuid): %v", err)
	}
	if nd.Name != novaName || nd.Nova == nil || nd.Nova.InstanceUUID != novaUUID || nd.Nova.Name != "vm2" ||
		nd.Nova.Flavor.Name != "m1.micro" || nd.Nova.Flavor.MemoryMiB != 128 || nd.Nova.ProjectName != "admin" ||
		nd.Nova.ProjectUUID != "0e28594ddbe7463188629949de692f18" || nd.Nova.UserName != "admin" ||
		len(nd.Nova.Ports) != 1 || nd.Nova.Ports[0].IPs[0].Address != netip.MustParseAddr("192.168.31.72") {
		t.Errorf("Nova metadata via libvirtd: %+v %+v", nd.Domain, nd.Nova)
	}

	// Stats: the test driver has only the state group; compare with virsh.
	// The first Stats opens the stats connection; count the second.
	warmStats(t, c, counter)
	stats, err := c.Stats(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	if got := counter.reset(); !cmp.Equal(got, map[uint32]int{procConnectGetAllDomainStats: 1}) {
		t.Errorf("Stats sent %v, want one ConnectGetAllDomainStats", got)
	}
	vstats := virshKV(testutil.Virsh(t, virshURI, "domstats"))
	n := 0
	for _, s := range stats {
		if !names[s.Domain.Name] {
			continue
		}
		n++
		v := vstats[s.Domain.Name]
		if s.State == nil || v["state.state"] != strconv.Itoa(int(s.State.State)) || v["state.reason"] != strconv.Itoa(s.State.Reason.Code) {
			t.Errorf("%s: stats state %+v, virsh %v", s.Domain.Name, s.State, v)
		}
	}
	if n != len(names) {
		t.Errorf("Stats returned %d of our %d domains", n, len(names))
	}
	active, err := c.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState, ActiveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range active {
		if s.Domain.ID < 0 {
			t.Errorf("ActiveOnly returned inactive %s", s.Domain.Name)
		}
	}

	// Addresses: the test driver fakes them; every source answers or fails
	// with a reason, and the call itself succeeds.
	reps, err := c.InterfaceAddresses(ctx, prefix+"2")
	if err != nil {
		t.Fatal(err)
	}
	if len(reps) != 3 {
		t.Fatalf("InterfaceAddresses returned %d reports", len(reps))
	}
	for _, r := range reps {
		if r.Err == nil && r.Interfaces == nil {
			t.Errorf("%v: neither answer nor error", r.Source)
		}
		t.Logf("addresses via %v: %d interfaces, err=%v, note=%q", r.Source, len(r.Interfaces), r.Err, r.Note)
	}

	// Not found, and undefined between list and lookup.
	if _, err := c.Lookup(ctx, prefix+"missing"); !errors.Is(err, fs.ErrNotExist) || !libvirtinspect.IsNotFound(err) {
		t.Errorf("Lookup(missing) = %v, want fs.ErrNotExist", err)
	}
	listed, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	gone := prefix + "1"
	if !slices.ContainsFunc(listed, func(d libvirtinspect.Domain) bool { return d.Name == gone }) {
		t.Fatalf("%s not listed", gone)
	}
	gd, _ := adm.DomainLookupByName(gone)
	sandbox.RemoveDomain(adm, gd)
	for _, f := range []func() error{
		func() error { _, err := c.Lookup(ctx, gone); return err },
		func() error { _, err := c.Details(ctx, gone); return err },
		func() error { _, err := c.Interfaces(ctx, gone); return err },
		func() error { _, err := c.InterfaceAddresses(ctx, gone); return err },
	} {
		if err := f(); !errors.Is(err, fs.ErrNotExist) {
			t.Errorf("after undefine: %v, want fs.ErrNotExist", err)
		} else {
			t.Logf("undefined between list and lookup: %v", err)
		}
	}

	// The read-only socket is enough for all of it.
	ro, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: "test:///default", Socket: d.ReadOnlySocket})
	if err != nil {
		t.Fatalf("read-only socket: %v", err)
	}
	defer ro.Close()
	rodoms, err := ro.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if !slices.ContainsFunc(rodoms, func(d libvirtinspect.Domain) bool { return d.Name == hostdev }) {
		t.Error("read-only connection does not see the test domains")
	}
	if _, err := ro.Details(ctx, hostdev); err != nil {
		t.Errorf("Details over the read-only socket: %v", err)
	}
}

func domiflistRow(i libvirtinspect.Interface) []string {
	dash := func(s string) string {
		if s == "" {
			return "-"
		}
		return s
	}
	return []string{dash(i.Target), i.Type, dash(i.Source), dash(i.Model), i.MAC.String()}
}
