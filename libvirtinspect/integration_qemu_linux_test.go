package libvirtinspect_test

import (
	"errors"
	"fmt"
	"os"
	"os/exec"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/google/go-cmp/cmp"
	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// TestIntegrationQemuGuest boots a real qemu guest under TCG (KVM guests
// crash on this machine) with a virtio NIC on a test bridge through a tap
// the test names. The guest has no disk and boots from the network, so
// qemu's iPXE ROM sends DHCP DISCOVERs by itself: the interface counters
// move. It checks interfaces, stats, addresses and state changes against
// virsh on the same daemon (a real ACPI shutdown is in
// TestIntegrationQemuACPIShutdown).
func TestIntegrationQemuGuest(t *testing.T) {
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	d := testutil.SystemLibvirtd(t)
	virshURI := d.URI("qemu")
	adm := admin(t, d.Socket, "qemu:///system")
	br := testutil.HostBridge(t, "lvbr")
	tap := testutil.RandName("lvtap")
	name := "lv-" + randHex(12)
	mac := fmt.Sprintf("52:54:00:%s:%s:%s", randHex(2), randHex(2), randHex(2))
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>64</memory>
  <vcpu>1</vcpu>
  <os><type arch='x86_64' machine='pc'>hvm</type><boot dev='network'/></os>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <interface type='bridge'>
      <source bridge='%s'/>
      <target dev='%s'/>
      <mac address='%s'/>
      <model type='virtio'/>
      <mtu size='1500'/>
    </interface>
    <memballoon model='virtio'/>
  </devices>
</domain>`, name, br, tap, mac)
	testutil.DeleteHostLinkAtEnd(t, tap)
	dom := defineTest(t, adm, xml, true)

	c := readOnlyClient(t, d.ReadOnlySocket)
	ctx := ctxT(t, 3*time.Minute)

	// Interfaces vs domiflist; the tap the test named is on the bridge.
	det, err := c.Details(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	want := []libvirtinspect.Interface{{Type: "bridge", Source: br, Bridge: br, Target: tap, MAC: mustMAC(t, mac), Model: "virtio", MTU: 1500, Alias: "net0"}}
	if diff := cmp.Diff(want, det.Interfaces); diff != "" {
		t.Errorf("Interfaces (-want +got):\n%s", diff)
	}
	vir := virshTable(testutil.Virsh(t, virshURI, "domiflist", name))
	if diff := cmp.Diff(vir, [][]string{domiflistRow(det.Interfaces[0])}); diff != "" {
		t.Errorf("domiflist (-virsh +ours):\n%s", diff)
	}
	if l, err := netlink.LinkByName(tap); err != nil || l.Attrs().MasterIndex == 0 {
		t.Errorf("tap %s: %v, master %v", tap, err, l)
	}
	if det.Type != "qemu" || det.State != libvirtinspect.StateRunning || det.Reason.String() != "booted" {
		t.Errorf("Details: type %q state %v (%v)", det.Type, det.State, det.Reason)
	}

	// Counters move as iPXE sends DHCP: tx (guest -> host) grows.
	statsOf := func() libvirtinspect.DomainStats {
		t.Helper()
		all, err := c.Stats(ctx, nil)
		if err != nil {
			t.Fatal(err)
		}
		for _, s := range all {
			if s.Domain.Name == name {
				return s
			}
		}
		t.Fatalf("Stats has no %s", name)
		return libvirtinspect.DomainStats{}
	}
	first := statsOf()
	var s1 libvirtinspect.DomainStats
	deadline := time.Now().Add(90 * time.Second)
	for {
		s1 = statsOf()
		if len(s1.Interfaces) == 1 && s1.Interfaces[0].RxPackets > 0 &&
			(len(first.Interfaces) == 0 || s1.Interfaces[0].RxPackets > first.Interfaces[0].RxPackets) {
			break
		}
		if time.Now().After(deadline) {
			t.Fatalf("guest sent nothing in 90s: %+v", s1.Interfaces)
		}
		time.Sleep(500 * time.Millisecond)
	}
	v := virshKV(testutil.Virsh(t, virshURI, "domstats", name))[name]
	s2 := statsOf()
	ni1, ni2 := s1.Interfaces[0], s2.Interfaces[0]
	if ni1.Name != tap || v["net.0.name"] != tap {
		t.Errorf("net.0.name ours %q virsh %q, want %q", ni1.Name, v["net.0.name"], tap)
	}
	between := func(key string, a, b uint64) {
		x, err := strconv.ParseUint(v[key], 10, 64)
		if err != nil || x < a || x > b {
			t.Errorf("%s: virsh %q not between our samples %d and %d", key, v[key], a, b)
		}
	}
	// libvirt counts from the guest's side, InterfaceStats from the tap's.
	between("net.0.tx.pkts", ni1.RxPackets, ni2.RxPackets)
	between("net.0.tx.bytes", ni1.RxBytes, ni2.RxBytes)
	between("net.0.rx.pkts", ni1.TxPackets, ni2.TxPackets)
	between("cpu.time", s1.CPU.TimeNs, s2.CPU.TimeNs)
	for key, got := range map[string]uint64{
		"balloon.maximum": s2.Balloon.MaximumKiB, "vcpu.maximum": uint64(s2.VCPU.Maximum),
		"state.state": uint64(s2.State.State), "state.reason": uint64(s2.State.Reason.Code),
	} {
		if v[key] != strconv.FormatUint(got, 10) {
			t.Errorf("%s: virsh %q ours %d", key, v[key], got)
		}
	}
	if s2.CPU == nil || s2.CPU.TimeNs == 0 || s2.VCPU == nil || len(s2.VCPU.VCPUs) != 1 {
		t.Errorf("cpu/vcpu groups missing: %+v %+v", s2.CPU, s2.VCPU)
	}
	t.Logf("guest tap %s: tx %d pkts/%d bytes, rx %d pkts; %d params kept in Extra", tap, ni2.TxPackets, ni2.TxBytes, ni2.RxPackets, len(s2.Extra))

	// Chosen groups only.
	only, err := c.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsInterface, ActiveOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	for _, s := range only {
		if s.Domain.Name == name && (s.CPU != nil || s.Balloon != nil || s.State != nil || len(s.Interfaces) != 1 || s.Interfaces[0].Name != tap) {
			t.Errorf("interface group only: %+v", s)
		}
	}

	// Addresses: libvirt cannot tell them for a type='bridge' interface.
	reps, err := c.InterfaceAddresses(ctx, name)
	if err != nil {
		t.Fatal(err)
	}
	for _, r := range reps {
		args := []string{"-c", virshURI, "domifaddr", name, "--source", r.Source.String()}
		out, verr := exec.Command("virsh", args...).CombinedOutput()
		t.Logf("%v: ours err=%v interfaces=%d note=%q | virsh: %v %s", r.Source, r.Err, len(r.Interfaces), r.Note, verr, strings.TrimSpace(string(out)))
		if (r.Err != nil) != (verr != nil) {
			t.Errorf("%v: ours failed=%v, virsh failed=%v", r.Source, r.Err != nil, verr != nil)
		}
		switch r.Source {
		case libvirtinspect.SourceLease:
			if r.Err != nil || len(r.Interfaces) != 0 || r.Note != libvirtinspect.NoteLeaseBridge {
				t.Errorf("lease: %+v, want empty with NoteLeaseBridge", r)
			}
		case libvirtinspect.SourceAgent:
			if r.Err == nil || r.Note == "" {
				t.Errorf("agent: %+v, want a failure with a note (no agent configured)", r)
			}
		case libvirtinspect.SourceARP:
			if r.Err != nil && strings.Contains(r.Error, "wrong nlmsg len") && r.Note != libvirtinspect.NoteARPNlmsg {
				t.Errorf("arp failed with %q but no note", r.Error)
			}
		}
	}

	// Over the read-write socket the agent source gets as far as qemu.
	rw, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: d.Socket})
	if err != nil {
		t.Fatal(err)
	}
	defer rw.Close()
	ag, err := rw.InterfaceAddresses(ctx, name, libvirtinspect.SourceAgent)
	if err != nil {
		t.Fatal(err)
	}
	if len(ag) != 1 || ag[0].Err == nil || ag[0].Note != libvirtinspect.NoteAgent {
		t.Errorf("agent over the read-write socket: %+v, want %q failure with NoteAgent", ag, "QEMU guest agent is not configured")
	}
	t.Logf("agent (read-write): %v", ag[0].Err)

	// NOWAIT: freeze the guest's qemu so a waiting stats call blocks inside
	// a monitor job; a second, default (NOWAIT) Stats must not stall behind
	// it and still return every domain.
	pidb, err := os.ReadFile("/run/libvirt/qemu/" + name + ".pid")
	if err != nil {
		t.Fatalf("qemu pid file: %v", err)
	}
	qpid, err := strconv.Atoi(strings.TrimSpace(string(pidb)))
	if err != nil {
		t.Fatal(err)
	}
	if err := syscall.Kill(qpid, syscall.SIGSTOP); err != nil {
		t.Fatal(err)
	}
	thawed := false
	thaw := func() {
		if !thawed {
			syscall.Kill(qpid, syscall.SIGCONT)
			thawed = true
		}
	}
	t.Cleanup(thaw)
	blocked := make(chan error, 1)
	go func() {
		_, err := rw.Stats(ctxT(t, 60*time.Second), &libvirtinspect.StatsRequest{Wait: true})
		blocked <- err
	}()
	time.Sleep(time.Second)
	select {
	case err := <-blocked:
		t.Fatalf("waiting Stats returned while qemu was frozen (%v): the NOWAIT check below would prove nothing", err)
	default:
		t.Logf("waiting Stats (no NOWAIT) is blocked behind the frozen qemu, as virsh domstats would be")
	}
	t0 := time.Now()
	nw, err := c.Stats(ctxT(t, 10*time.Second), nil)
	if err != nil {
		t.Fatalf("NOWAIT Stats with a frozen guest: %v", err)
	}
	if d := time.Since(t0); d > 5*time.Second {
		t.Errorf("NOWAIT Stats took %v with a frozen guest", d)
	}
	foundFrozen := false
	for _, s := range nw {
		if s.Domain.Name == name {
			foundFrozen = s.State != nil && s.State.State == libvirtinspect.StateRunning
		}
	}
	if !foundFrozen {
		t.Error("NOWAIT Stats lacks the frozen domain's state")
	}
	t.Logf("NOWAIT Stats with a frozen guest: %v, %d domains", time.Since(t0), len(nw))
	thaw()
	select {
	case err := <-blocked:
		if err != nil {
			t.Errorf("waiting Stats after thaw: %v", err)
		}
	case <-time.After(30 * time.Second):
		t.Error("waiting Stats still blocked 30s after qemu was thawed")
	}

	// State changes, each compared with virsh domstate --reason.
	check := func(step string, st libvirtinspect.State, reason string) {
		t.Helper()
		got, err := c.Lookup(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		vs := strings.TrimSpace(testutil.Virsh(t, virshURI, "domstate", "--reason", name))
		ours := got.State.String() + " (" + got.Reason.String() + ")"
		if ours != vs || got.State != st || (reason != "" && got.Reason.String() != reason) {
			t.Errorf("%s: ours %q, virsh %q, want %v (%s)", step, ours, vs, st, reason)
		}
		byUUID, err := c.Lookup(ctx, got.UUID)
		if err != nil || byUUID.Name != name {
			t.Errorf("%s: lookup by UUID: %v %+v", step, err, byUUID)
		}
	}
	must := func(err error) {
		t.Helper()
		if err != nil {
			t.Fatal(err)
		}
	}
	must(adm.DomainSuspend(dom))
	check("suspend", libvirtinspect.StatePaused, "user")
	must(adm.DomainResume(dom))
	check("resume", libvirtinspect.StateRunning, "unpaused")
	// iPXE ignores the ACPI power button, so a shutdown request leaves the
	// guest running: the state must still be reported as libvirt has it.
	// TestIntegrationQemuACPIShutdown (integration_shutdown_linux_test.go)
	// boots a Linux guest that honours the button and sees it end as
	// "shut off (shutdown)".
	if err := adm.DomainShutdown(dom); err != nil && !errors.Is(err, libvirt.ErrUnsupported) {
		t.Logf("shutdown request: %v", err)
	}
	time.Sleep(500 * time.Millisecond)
	check("shutdown requested", libvirtinspect.StateRunning, "")
	must(adm.DomainDestroy(dom))
	check("destroy", libvirtinspect.StateShutoff, "destroyed")
	doms, err := c.Domains(ctx)
	must(err)
	found := false
	for _, dm := range doms {
		if dm.Name == name {
			found = true
			if dm.ID != -1 || dm.State != libvirtinspect.StateShutoff {
				t.Errorf("destroyed domain listed as %+v", dm)
			}
		}
	}
	if !found {
		t.Error("destroyed (still defined) domain not listed")
	}
	if _, err := netlink.LinkByName(tap); err == nil {
		t.Errorf("tap %s still exists after destroy", tap)
	}
}

func mustMAC(t *testing.T, s string) hwaddr.MAC {
	t.Helper()
	m, err := parseMAC(s)
	if err != nil {
		t.Fatal(err)
	}
	return m
}
