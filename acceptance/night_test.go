//go:build acceptance && linux

package acceptance

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
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
// undone in t.Cleanup and followed by a healthy trace. Two faults of a
// third night follow: another namespace on the bridge holding the VM's
// address (the ARP hop names it a duplicate) and a stale pid in
// dnsmasq's pid file under a live dnsmasq (the dnsmasq hop warns, named
// by the pid file, not as if that pid were dnsmasq's).
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

	// A third night's faults (a few seconds each): another namespace on
	// the brq holding the VM's address, and a stale pid in dnsmasq's pid
	// file with dnsmasq alive.
	t.Run("duplicate-address", func(t *testing.T) {
		ns := testutil.NewNetNS(t)
		host, peer := testutil.RandName("n3dp"), testutil.RandName("n3dq")
		ipLink(t, "add", host, "type", "veth", "peer", "name", peer, "netns", ns.Name)
		t.Cleanup(func() { ipLink(t, "del", host) })
		ipLink(t, "set", host, "master", brq, "up")
		ipIn(t, ns.Name, "link", "set", peer, "up")
		ipIn(t, ns.Name, "addr", "add", port.FixedIPs[0].Address.String()+"/32", "dev", peer)
		tr := traceServer(ctx, t, c, cfg, p.server.ID, "duplicate address").Traces[0]
		h := wantFirstFailure(t, tr, trace.KindARP, "")
		if !strings.Contains(h.Summary, "not (only) by the port's") || !strings.Contains(h.Cause, "duplicate address") {
			t.Errorf("arp hop %q (cause %q); want the other MAC named as a duplicate address", h.Summary, h.Cause)
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after the duplicate address is gone")

	t.Run("stale-pid-file", func(t *testing.T) {
		pidFile := filepath.Join("/var/lib/neutron/dhcp", p.network.ID, "pid")
		live := readPID(t, pidFile)
		gone := exec.Command("true")
		if err := gone.Run(); err != nil {
			t.Fatal(err)
		}
		dead := strconv.Itoa(gone.Process.Pid)
		if err := os.WriteFile(pidFile, []byte(dead), 0o644); err != nil {
			t.Fatal(err)
		}
		t.Cleanup(func() {
			// Unless the DHCP agent has rewritten it meanwhile.
			if pidOf(pidFile) == "pid "+dead {
				if err := os.WriteFile(pidFile, []byte(strconv.Itoa(live)), 0o644); err != nil {
					t.Errorf("restore %s: %v", pidFile, err)
				}
			}
		})
		st := traceServer(ctx, t, c, cfg, p.server.ID, "stale dnsmasq pid file")
		h, _ := st.Traces[0].Hop(trace.KindDnsmasq, "")
		if h.Verdict != trace.Warn || h.Name != "dnsmasq (pid file: "+dead+")" || !strings.Contains(h.Summary, fmt.Sprintf("dnsmasq pid %d runs in the namespace", live)) || h.Cause == "" {
			t.Errorf("dnsmasq hop %s %q %q (cause %q); want a warning naming the live dnsmasq %d", h.Verdict, h.Name, h.Summary, h.Cause, live)
		}
		if st.Verdict != trace.Warn {
			t.Errorf("verdict %s with dnsmasq serving: %s", st.Verdict, failingSummary(st))
		}
	})
	traceHealthyAgain(ctx, t, c, cfg, p, "after the pid file is restored")
}
