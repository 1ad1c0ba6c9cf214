package trace

import (
	"context"
	"errors"
	"os/exec"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationJudgeMTU builds a node in throwaway namespaces (a brq
// bridge with a tap to a guest namespace and an eth2 uplink to a gateway
// namespace, names prefixed gm), reads the links' MTUs with linuxbridge,
// and judges them with JudgeMTU: ok at 1500; then eth2 lowered to 1400
// and the tap lowered to 1450, each failing and named, while a
// don't-fragment ping of 1500 bytes from the guest to the gateway really
// stops passing. Undone, ok again.
func TestIntegrationJudgeMTU(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "ping", "iputils-ping")
	dir := t.TempDir()
	node := testutil.NewNetNSAt(t, dir, testutil.RandNameN("gmnode-", 16))
	guest := testutil.NewNetNSAt(t, dir, testutil.RandNameN("gmguest-", 16))
	gw := testutil.NewNetNSAt(t, dir, testutil.RandNameN("gmgw-", 16))
	id := testutil.RandNameN("", 8) + "-" + testutil.RandNameN("", 2)
	br, tap := "brq"+id, "tap"+id
	node.Bridge(t, br)
	node.Veth(t, tap, guest, "eth0")
	node.Veth(t, "eth2", gw, "eth0")
	for _, l := range []string{tap, "eth2"} {
		node.Enslave(t, l, br)
		node.SetUp(t, l)
	}
	node.SetUp(t, br)
	guest.SetUp(t, "eth0")
	gw.SetUp(t, "eth0")
	guest.AddAddr(t, "eth0", "192.168.31.74/27")
	gw.AddAddr(t, "eth0", "192.168.31.65/27")
	node.WaitOperUp(t, tap)
	node.WaitOperUp(t, "eth2")

	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: node.Path})
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	facts := func() MTUFacts {
		t.Helper()
		ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
		defer cancel()
		b, err := in.Bridge(ctx, br)
		if err != nil {
			t.Fatal(err)
		}
		f := MTUFacts{NetworkID: "gm-" + id, NetworkType: "flat", NetworkMTU: 1500, DHCPCmdlineMTU: 1500,
			Elements: []MTUElement{{Role: MTULibvirt, Name: "instance-gm/" + tap, MTU: 1500}}}
		for _, p := range b.Ports {
			switch p.Name {
			case tap:
				f.Elements = append(f.Elements, MTUElement{Role: MTUTap, Name: p.Name, MTU: p.MTU})
			case "eth2":
				f.Elements = append(f.Elements, MTUElement{Role: MTUPhysical, Name: p.Name, MTU: p.MTU, Overhead: EncapOverhead("flat", false)})
			}
		}
		f.Elements = append(f.Elements, MTUElement{Role: MTUBridge, Name: br, MTU: b.MTU})
		return f
	}
	// bigPing sends one 1500-byte IPv4 packet with DF from the guest to
	// the gateway; it reports whether a reply came.
	bigPing := func() bool {
		out, err := guest.Command("ping", "-c", "1", "-W", "1", "-M", "do", "-s", "1472", "192.168.31.65").CombinedOutput()
		if err != nil {
			var ee *exec.ExitError
			if !errors.As(err, &ee) {
				t.Fatalf("ping: %v: %s", err, out)
			}
			return false
		}
		return true
	}
	check := func(step string, want Verdict, has string, pingPasses bool) {
		t.Helper()
		h := JudgeMTU(facts())
		t.Logf("%s: %s %s", step, h.Verdict, h.Summary)
		if h.Verdict != want || !strings.Contains(h.Summary, has) {
			t.Errorf("%s: %s %q, want %s containing %q (evidence %v)", step, h.Verdict, h.Summary, want, has, h.Evidence)
		}
		if got := bigPing(); got != pingPasses {
			t.Errorf("%s: a 1500-byte DF ping passes=%v, want %v (the judge must match the wire)", step, got, pingPasses)
		}
	}
	check("healthy", OK, "every element carries the MTU 1500", true)
	node.Run(t, "ip", "link", "set", "eth2", "mtu", "1400")
	check("eth2 lowered", Fail, "physical eth2 (MTU 1400)", false)
	node.Run(t, "ip", "link", "set", "eth2", "mtu", "1500")
	node.Run(t, "ip", "link", "set", tap, "mtu", "1450")
	check("tap lowered", Fail, "tap "+tap+" (MTU 1450)", false)
	node.Run(t, "ip", "link", "set", tap, "mtu", "1500")
	check("undone", OK, "every element carries", true)
}
