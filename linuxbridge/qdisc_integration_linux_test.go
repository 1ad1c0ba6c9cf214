package linuxbridge_test

import (
	"context"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationQdiscs puts, in a fresh namespace, two veths on a bridge:
// one with a root `pfifo limit 0` (night 5 on the aio cloud: every frame
// to the VM dropped) and an ingress qdisc, one left with noqueue. After a
// ping from the bridge's address floods ARP requests out of both, a
// Snapshot reports the first port's two qdiscs with the kind and parent
// `tc -s -j qdisc show` prints, and counters between its reads before
// and after (drops moved), none for the
// second, and Bridges (no qdisc dump) none at all; without Config.Qdiscs
// a Snapshot reports none either.
func TestIntegrationQdiscs(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "tc", "iproute2")
	ns := testutil.NewNetNS(t)
	noIPv6(t, ns)
	br, a, b := "n5br0", "n5qa", "n5qb"
	ns.Run(t, "ip", "link", "add", br, "type", "bridge")
	for _, v := range []string{a, b} {
		ns.Run(t, "ip", "link", "add", v, "type", "veth", "peer", "name", v+"p")
		ns.Run(t, "ip", "link", "set", v, "master", br, "up")
		ns.Run(t, "ip", "link", "set", v+"p", "up")
	}
	ns.Run(t, "ip", "addr", "add", "10.55.0.1/24", "dev", br)
	ns.Run(t, "ip", "link", "set", br, "up")
	ns.Run(t, "tc", "qdisc", "replace", "dev", a, "root", "pfifo", "limit", "0")
	ns.Run(t, "tc", "qdisc", "add", "dev", a, "ingress")
	ns.Run(t, "sh", "-c", "ping -c 2 -i 0.2 -W 1 10.55.0.2 >/dev/null 2>&1; true")

	if s, err := inspectorIn(t, ns).Snapshot(context.Background()); err != nil {
		t.Fatal(err)
	} else if b := s.Bridges[0]; b.Ports[0].Qdiscs != nil {
		t.Errorf("without Config.Qdiscs: %s has qdiscs %+v, want none", b.Ports[0].Name, b.Ports[0].Qdiscs)
	}
	in, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: ns.Dir, Qdiscs: true}, ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	defer in.Close()
	type tcQdisc struct {
		Kind   string `json:"kind"`
		Parent string `json:"parent"`
		Root   bool   `json:"root"`
		Drops  uint64 `json:"drops"`
		Pkts   uint64 `json:"packets"`
	}
	// tc before and after, ours in between: the neighbour code may still
	// send ARP after ping returns, so the counters must lie between.
	before := runJSON[[]tcQdisc](t, ns, "tc", "-s", "-j", "qdisc", "show", "dev", a)
	snap, err := in.Snapshot(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	want := runJSON[[]tcQdisc](t, ns, "tc", "-s", "-j", "qdisc", "show", "dev", a)
	var bridge *linuxbridge.Bridge
	for i := range snap.Bridges {
		if snap.Bridges[i].Name == br {
			bridge = &snap.Bridges[i]
		}
	}
	if bridge == nil {
		t.Fatalf("no bridge %s in the snapshot", br)
	}
	pa, _ := bridge.Port(a)
	pb, _ := bridge.Port(b)
	if len(pb.Qdiscs) != 0 {
		t.Errorf("%s (noqueue): qdiscs %+v, want none", b, pb.Qdiscs)
	}
	if len(pa.Qdiscs) != len(want) || len(want) != 2 || len(before) != 2 {
		t.Fatalf("%s: qdiscs %+v; tc shows %+v (want 2)", a, pa.Qdiscs, want)
	}
	for i, w := range want {
		g := pa.Qdiscs[i]
		parent := w.Parent
		if w.Root {
			parent = "root"
		}
		if w.Kind == "ingress" {
			parent = "ingress"
		}
		b := before[i]
		if g.Kind != w.Kind || g.Parent != parent || g.Drops < b.Drops || g.Drops > w.Drops || g.Packets < b.Pkts || g.Packets > w.Pkts {
			t.Errorf("%s qdisc %d: %+v; tc shows %+v before, %+v after", a, i, g, b, w)
		}
	}
	if pa.Qdiscs[0].Kind != "pfifo" || pa.Qdiscs[0].Drops == 0 {
		t.Errorf("%s root: %+v, want pfifo with drops (the test proves nothing otherwise)", a, pa.Qdiscs[0])
	}
	bs, err := in.Bridges(context.Background())
	if err != nil {
		t.Fatal(err)
	}
	for _, x := range bs {
		for _, p := range x.Ports {
			if p.Qdiscs != nil {
				t.Errorf("Bridges: %s has qdiscs %+v, want none (only Snapshot reads them)", p.Name, p.Qdiscs)
			}
		}
	}
}
