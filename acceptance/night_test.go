//go:build acceptance && linux

package acceptance

import (
	"context"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// TestAcceptanceNight replays, on the real cloud, three faults of an
// operator's night that once sent the trace to the wrong hop or failed a
// working path: the brq bridge set down (the bridge hop is the first
// failure; the tap, disabled by the kernel with its bridge, only warns),
// only the bridge device's MTU lowered (bridged frames still cross: no
// failure), and a DROP in iptables-legacy's FORWARD chain for the tap
// while Neutron's chains are in iptables-nft (the security-group hop
// names the rule; so does the reachability hop, by its counter). Each is
// undone in t.Cleanup and followed by a healthy trace.
func TestAcceptanceNight(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	p := walkthrough(ctx, t, c, 1)
	port := p.server.Ports[0]
	tap := linuxbridge.PortTapName(port.ID)
	brq := linuxbridge.NetworkBridgeName(p.network.ID)
	waitRenewed(ctx, t, "a renewed lease for "+port.MAC.String(), p.network.ID, hwaddr.MAC(port.MAC))
	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect: %v", err)
	}
	defer lv.Close()
	cfg := &trace.Config{Libvirt: lv}
	traceHealthyAgain(ctx, t, c, cfg, p, "night healthy")

	t.Run("bridge-down", func(t *testing.T) {
		t.Cleanup(func() { ipLink(t, "set", brq, "up") })
		ipLink(t, "set", brq, "down")
		tr := traceServer(ctx, t, c, cfg, p.server.ID, "bridge down").Traces[0]
		h, ok := tr.FirstFailing()
		if !ok || h.Kind != trace.KindBridge || h.Name != brq || h.Cause == "" {
			t.Errorf("first failing hop %s %s %q; want the bridge hop naming %s", h.Kind, h.Name, h.Summary, brq)
		}
		if th, _ := tr.Hop(trace.KindTap, ""); th.Verdict != trace.Warn || !strings.Contains(th.Summary, "because its bridge "+brq+" is administratively down") {
			t.Errorf("tap hop %s %q; want a warning pointing at the down bridge", th.Verdict, th.Summary)
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after bridge up")

	t.Run("bridge-mtu", func(t *testing.T) {
		t.Cleanup(func() { ipLink(t, "set", brq, "mtu", "1500") })
		ipLink(t, "set", brq, "mtu", "1400")
		st := traceServer(ctx, t, c, cfg, p.server.ID, "bridge MTU 1400")
		h, _ := st.Traces[0].Hop(trace.KindMTU, "")
		if ev, _ := h.Get("bridge_mtu"); h.Verdict != trace.OK || !strings.Contains(ev, brq+" (MTU 1400)") {
			t.Errorf("mtu hop %s %q (bridge_mtu %q); want ok, the bridge's MTU noted", h.Verdict, h.Summary, ev)
		}
		if st.Verdict != trace.OK {
			t.Errorf("verdict %s with only the bridge device's MTU lowered: %s", st.Verdict, failingSummary(st))
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after bridge MTU 1500")

	t.Run("legacy-forward-drop", func(t *testing.T) {
		rule := []string{"FORWARD", "-m", "physdev", "--physdev-out", tap, "--physdev-is-bridged", "-j", "DROP"}
		legacy := "/usr/sbin/iptables-legacy"
		if out, err := exec.Command(legacy, append([]string{"-I"}, rule...)...).CombinedOutput(); err != nil {
			t.Fatalf("iptables-legacy -I: %v: %s", err, out)
		}
		t.Cleanup(func() {
			if out, err := exec.Command(legacy, append([]string{"-D"}, rule...)...).CombinedOutput(); err != nil {
				t.Errorf("iptables-legacy -D: %v: %s", err, out)
			}
		})
		tr := traceServer(ctx, t, c, cfg, p.server.ID, "legacy FORWARD DROP").Traces[0]
		h := wantFirstFailure(t, tr, trace.KindSecurityGroup, "")
		if !strings.Contains(h.Summary, "iptables-legacy FORWARD#1") {
			t.Errorf("security-group hop %q; want the iptables-legacy FORWARD rule named", h.Summary)
		}
		if r, _ := tr.Hop(trace.KindReachability, ""); r.Verdict != trace.Fail || !strings.Contains(r.Summary, "dropped by iptables-legacy FORWARD#1") {
			t.Errorf("reachability hop %s %q; want the legacy rule named by its counter", r.Verdict, r.Summary)
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after the legacy DROP is deleted")
}
