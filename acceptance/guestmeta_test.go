//go:build acceptance && linux

package acceptance

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// guestFacts reads the server's console (Nova's console.log, declared in
// the domain XML) on this node and parses it.
func guestFacts(ctx context.Context, t *testing.T, lv *libvirtinspect.Client, p pass, dhcpIP netip.Addr) trace.GuestFacts {
	t.Helper()
	f := trace.GuestFacts{Domain: p.server.InstanceName, PortIP: p.server.Ports[0].FixedIPs[0].Address, DHCPServer: dhcpIP}
	l, err := lv.ConsoleLog(ctx, p.server.InstanceName, 0)
	switch {
	case errors.Is(err, libvirtinspect.ErrNoConsoleLog):
		f.Missing = trace.ConsoleNoLogFile
	case errors.Is(err, fs.ErrNotExist):
		f.Missing = trace.ConsoleFileMissing
	case errors.Is(err, fs.ErrPermission):
		f.Missing = trace.ConsoleNotPermitted
	case err != nil:
		t.Fatalf("ConsoleLog(%s): %v", p.server.InstanceName, err)
	default:
		f.ConsolePath, f.ConsoleBytes, f.ConsoleModTime, f.Events = l.Path, len(l.Data), l.ModTime, guestlog.Parse(l.Data)
	}
	if err != nil {
		f.ConsoleError = err.Error()
	}
	return f
}

// metadataFacts observes the network's metadata side with dhcpns's
// defaults (Neutron's paths) and the metadata agent from the API.
func metadataFacts(ctx context.Context, t *testing.T, netID string, agentAlive bool) trace.MetadataFacts {
	t.Helper()
	m, err := dhcpns.FindMetadataProxy(ctx, nil, netID)
	if err != nil {
		t.Fatal(err)
	}
	pr, err := dhcpns.ProbeMetadata(ctx, nil, netID, nil)
	if err != nil {
		t.Fatal(err)
	}
	yes := true
	f := trace.MetadataFacts{NetworkID: netID, Proxy: m, Probe: pr, SubnetHasGateway: &yes, AgentAlive: &agentAlive}
	ns, err := dhcpns.OpenNetwork(ctx, nil, netID)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	if s, err := ns.Inspect(ctx); err == nil {
		f.AddrLink, _ = s.MetadataAddrLink()
		f.AddrKnown = true
	}
	if b, err := os.ReadFile(filepath.Join("/var/lib/neutron/dhcp", netID, "opts")); err == nil {
		opts, _ := dhcpns.ParseOptsBytes(b)
		f.RouteVia, _ = dhcpns.MetadataRoute(opts)
	}
	return f
}

// mtuFacts reads the MTU chain: the network (API), dnsmasq's command line
// and opts file, the domain interface's <mtu>, the tap, brq and eth2.
func mtuFacts(ctx context.Context, t *testing.T, lv *libvirtinspect.Client, p pass) trace.MTUFacts {
	t.Helper()
	netID := p.network.ID
	f := trace.MTUFacts{NetworkID: netID, NetworkType: string(p.network.Type), NetworkMTU: p.network.MTU}
	d, err := dhcpns.FindDnsmasq(ctx, nil, netID)
	if err != nil {
		t.Fatal(err)
	}
	f.DHCPCmdlineMTU, _ = dhcpns.OptionMTUValue(d.Config().DHCPOptions())
	if b, err := os.ReadFile(filepath.Join("/var/lib/neutron/dhcp", netID, "opts")); err == nil {
		opts, _ := dhcpns.ParseOptsBytes(b)
		f.DHCPOptsMTU, _ = dhcpns.OptionMTUValue(opts)
	}
	ifs, err := lv.Interfaces(ctx, p.server.InstanceName)
	if err != nil {
		t.Fatal(err)
	}
	tapName := linuxbridge.PortTapName(p.server.Ports[0].ID)
	for _, i := range ifs {
		if i.Target == tapName {
			f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTULibvirt, Name: p.server.InstanceName + "/" + tapName, MTU: i.MTU})
		}
	}
	br := openBridge(t)
	b, err := br.BridgeForNetwork(ctx, netID)
	if err != nil {
		t.Fatal(err)
	}
	for _, pt := range b.Ports {
		switch pt.Name {
		case tapName:
			f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUTap, Name: pt.Name, MTU: pt.MTU})
		case providerNIC:
			f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUPhysical, Name: pt.Name, MTU: pt.MTU, Overhead: trace.EncapOverhead(string(p.network.Type), false)})
		}
	}
	f.Elements = append(f.Elements, trace.MTUElement{Role: trace.MTUBridge, Name: b.Name, MTU: b.MTU})
	return f
}

func logHop(t *testing.T, step string, h trace.Hop) {
	t.Helper()
	var ev []string
	for _, e := range h.Evidence {
		ev = append(ev, e.Key+"="+e.Value)
	}
	t.Logf("%s: %s %s %s: %s [%s] cause=%q next=%q", step, h.Kind, h.Name, h.Verdict, h.Summary, strings.Join(ev, "; "), h.Cause, h.Next)
}

// TestAcceptanceGuestMetadataMTU launches the walkthrough's server and
// judges, from live facts on this all-in-one node, its guest hop (Nova's
// console.log: the guest leased its port's address from the DHCP port),
// its metadata hop (haproxy in the qdhcp namespace answering a GET from
// inside it) and its mtu hop, all ok. Then it kills the metadata proxy
// (fail; the DHCP agent's process monitor respawns it, or the test starts
// it again with its own command line: ok), and lowers the tap's MTU to
// 1400 (fail naming the tap; restored: ok).
func TestAcceptanceGuestMetadataMTU(t *testing.T) {
	c := cloud(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	p := walkthrough(ctx, t, c, 1)
	netID := p.network.ID
	tapName := linuxbridge.PortTapName(p.server.Ports[0].ID)
	lv, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		t.Fatal(err)
	}
	defer lv.Close()
	pf, err := c.Preflight(ctx, nil)
	if err != nil {
		t.Fatal(err)
	}
	agentAlive := false
	for _, a := range pf.Agents {
		if a.Binary == "neutron-metadata-agent" {
			agentAlive = a.Alive
		}
	}

	// The guest: wait until its console says it leased (TCG boots slowly).
	var g trace.Hop
	waitFor(ctx, t, "the guest's console showing its lease", func() (bool, string) {
		g = trace.JudgeGuest(guestFacts(ctx, t, lv, p, poolStart))
		return g.Verdict == trace.OK || g.Verdict == trace.Fail && strings.Contains(g.Summary, "but its port has"), g.Summary
	})
	logHop(t, "healthy", g)
	if g.Verdict != trace.OK {
		t.Errorf("guest hop of the walkthrough's server: %s %q, want ok", g.Verdict, g.Summary)
	}
	m := trace.JudgeMetadata(metadataFacts(ctx, t, netID, agentAlive))
	logHop(t, "healthy", m)
	// What Neutron wrote, logged as the fixture it is (recorded from the
	// real cloud): the proxy's configuration and pid file.
	if mp0, err := dhcpns.FindMetadataProxy(ctx, nil, netID); err == nil {
		conf, _ := os.ReadFile(mp0.ConfigFile)
		pidb, _ := os.ReadFile(mp0.PIDFile)
		t.Logf("recorded %s:\n%s\nrecorded %s: %q", mp0.ConfigFile, conf, mp0.PIDFile, pidb)
	}
	if l, err := lv.ConsoleLog(ctx, p.server.InstanceName, 0); err == nil {
		t.Logf("recorded %s (%d bytes):\n%s", l.Path, len(l.Data), l.Data)
	}
	if m.Verdict != trace.OK {
		t.Errorf("metadata hop: %s %q, want ok", m.Verdict, m.Summary)
	}
	u := trace.JudgeMTU(mtuFacts(ctx, t, lv, p))
	logHop(t, "healthy", u)
	if u.Verdict != trace.OK {
		t.Errorf("mtu hop: %s %q, want ok", u.Verdict, u.Summary)
	}

	// Fault 1: kill the metadata proxy.
	mp, err := dhcpns.FindMetadataProxy(ctx, nil, netID)
	if err != nil {
		t.Fatal(err)
	}
	if mp.Process == nil || !mp.Alive {
		t.Fatalf("no live metadata proxy to kill: %+v", mp)
	}
	args := mp.Process.Args
	pid := mp.Process.PID
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	killedAt := time.Now()
	restart := func() {
		// Undo if the DHCP agent has not respawned it: the same command
		// line in the namespace (haproxy -f <conf> daemonizes).
		cur, err := dhcpns.FindMetadataProxy(context.Background(), nil, netID)
		if err == nil && cur.Alive {
			return
		}
		out, err := exec.Command("ip", append([]string{"netns", "exec", dhcpns.NamespaceName(netID)}, args...)...).CombinedOutput()
		if err != nil {
			t.Errorf("restart the metadata proxy (%v): %v: %s", args, err, out)
		}
	}
	defer restart()
	var mk trace.Hop
	// SIGKILL takes haproxy's threads a moment: until then the probe is
	// reset (fail, but not yet "not running").
	// The DHCP agent's process monitor may respawn it before a poll sees
	// it dead (seen once: the next poll found a new pid answering): kill
	// each respawned proxy again, so the dead proxy is judged for sure.
	waitFor(ctx, t, "the killed proxy seen dead", func() (bool, string) {
		mk = trace.JudgeMetadata(metadataFacts(ctx, t, netID, agentAlive))
		if mk.Verdict == trace.Fail && strings.Contains(mk.Summary, "is not running") {
			return true, mk.Summary
		}
		if cur, err := dhcpns.FindMetadataProxy(ctx, nil, netID); err == nil && cur.Alive && cur.Process != nil && cur.Process.PID != pid {
			t.Logf("the DHCP agent respawned haproxy as pid %d before it was seen dead: killing that one too", cur.Process.PID)
			pid = cur.Process.PID
			if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
				t.Logf("kill %d: %v", pid, err)
			}
			killedAt = time.Now()
		}
		return false, mk.Summary
	})
	logHop(t, "haproxy killed", mk)
	if !strings.Contains(mk.Summary, "is not running") {
		t.Errorf("metadata hop with haproxy killed: %q, want it to say the proxy is not running", mk.Summary)
	}
	// Does the DHCP agent respawn it (check_child_processes_interval)?
	respawned := false
	for time.Since(killedAt) < 100*time.Second {
		cur, err := dhcpns.FindMetadataProxy(ctx, nil, netID)
		if err == nil && cur.Alive && cur.PIDFromFile != pid {
			respawned = true
			t.Logf("the DHCP agent respawned haproxy as pid %d after %v", cur.PIDFromFile, time.Since(killedAt).Round(time.Second))
			break
		}
		time.Sleep(2 * time.Second)
	}
	if !respawned {
		t.Logf("the DHCP agent did not respawn haproxy within 100 s: starting it again with %v", args)
		restart()
	}
	waitFor(ctx, t, "the metadata hop healthy again", func() (bool, string) {
		mk = trace.JudgeMetadata(metadataFacts(ctx, t, netID, agentAlive))
		return mk.Verdict == trace.OK, mk.Summary
	})
	logHop(t, "proxy back", mk)

	// Fault 2: lower the tap's MTU.
	orig := 0
	for _, e := range mtuFacts(ctx, t, lv, p).Elements {
		if e.Role == trace.MTUTap {
			orig = e.MTU
		}
	}
	if orig == 0 {
		t.Fatalf("tap %s MTU not read", tapName)
	}
	ipLink(t, "set", tapName, "mtu", "1400")
	defer ipLink(t, "set", tapName, "mtu", strconv.Itoa(orig))
	u = trace.JudgeMTU(mtuFacts(ctx, t, lv, p))
	logHop(t, "tap at 1400", u)
	if u.Verdict != trace.Fail || !strings.Contains(u.Summary, "tap "+tapName+" (MTU 1400)") {
		t.Errorf("mtu hop with the tap at 1400: %s %q, want fail naming %s", u.Verdict, u.Summary, tapName)
	}
	ipLink(t, "set", tapName, "mtu", strconv.Itoa(orig))
	u = trace.JudgeMTU(mtuFacts(ctx, t, lv, p))
	logHop(t, "tap restored", u)
	if u.Verdict != trace.OK {
		t.Errorf("mtu hop after restoring the tap: %s %q, want ok", u.Verdict, u.Summary)
	}
}
