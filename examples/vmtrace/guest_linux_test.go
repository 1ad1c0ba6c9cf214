package main

import (
	"context"
	"encoding/json"
	"os/exec"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// TestIntegrationDemoGuest runs -demo -json with each -guest and checks the
// report says which guest ran, and that only the libvirt guest's trace
// judges the domain and its interface (ok, on the domain the report
// names); -guest auto with the image present runs the libvirt guest.
func TestIntegrationDemoGuest(t *testing.T) {
	requireDemo(t)
	testutil.RequireBinary(t, "libvirtd", "libvirt-daemon-system")
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	if out, err := exec.Command("bash", "../../scripts/guest-image.sh", demo.DefaultGuestImageDir).CombinedOutput(); err != nil {
		testutil.SkipOrFail(t, "scripts/guest-image.sh: %v: %s", err, out)
	}
	tmp := searchableTempDir(t)
	t.Setenv("TMPDIR", tmp)
	for _, c := range []struct {
		flag string
		want demo.GuestKind
	}{{"netns", demo.GuestNetNS}, {"libvirt", demo.GuestLibvirt}, {"auto", demo.GuestLibvirt}} {
		code, out, errs := runArgs(context.Background(), "-demo", "-json", "-guest", c.flag)
		if code != exitOK {
			t.Errorf("-demo -guest %s: exit %d\n%s", c.flag, code, errs)
			continue
		}
		var rep demoReport
		if err := json.Unmarshal([]byte(out), &rep); err != nil {
			t.Fatalf("-demo -guest %s -json: %v\n%s", c.flag, err, out)
		}
		g := rep.Topology.GuestInfo
		if g.GuestKind != c.want || !strings.Contains(errs, "the "+string(c.want)+" guest") {
			t.Errorf("-guest %s: report says guest %q, stderr %q; want %s", c.flag, g.GuestKind, errs, c.want)
		}
		dom, _ := rep.Healthy.Hop(trace.KindDomain, "")
		ifc, _ := rep.Healthy.Hop(trace.KindInterface, "")
		switch c.want {
		case demo.GuestLibvirt:
			if g.Domain == "" || g.LibvirtSocketRO == "" || g.GuestBoot <= 0 {
				t.Errorf("-guest %s: report %+v lacks the domain, socket or boot time", c.flag, g)
			}
			if dom.Verdict != trace.OK || dom.Name != g.Domain || ifc.Verdict != trace.OK || ifc.Name != g.Domain+"/"+rep.Topology.Tap {
				t.Errorf("-guest %s: domain hop %s %s, interface hop %s %s; want ok on %s", c.flag, dom.Name, dom.Verdict, ifc.Name, ifc.Verdict, g.Domain)
			}
		default:
			if g.Domain != "" || dom.Verdict != trace.Unknown || ifc.Verdict != trace.Unknown {
				t.Errorf("-guest %s: domain %q, domain hop %s, interface hop %s; want none, unknown, unknown", c.flag, g.Domain, dom.Verdict, ifc.Verdict)
			}
		}
		if rep.Healthy.Verdict != trace.OK || rep.Broken.Verdict != trace.Fail {
			t.Errorf("-guest %s: verdicts %s then %s, want ok then fail", c.flag, rep.Healthy.Verdict, rep.Broken.Verdict)
		}
		if left := demo.Residue(tmp, true); len(left) > 0 {
			t.Errorf("-guest %s left: %v", c.flag, left)
		}
	}
	code, out, _ := runArgs(context.Background(), "-demo", "-guest", "netns")
	if code != exitOK || !strings.Contains(out, "Guest: a network namespace on a veth (not a libvirt domain: -guest netns)") {
		t.Errorf("-demo -guest netns text: exit %d, output lacks the guest line:\n%s", code, out)
	}
	code, out, _ = runArgs(context.Background(), "-demo", "-guest", "libvirt")
	if code != exitOK || !strings.Contains(out, "Guest: libvirt TCG domain instance-") {
		t.Errorf("-demo -guest libvirt text: exit %d, output lacks the guest line:\n%s", code, out)
	}
}
