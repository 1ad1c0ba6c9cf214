package linuxbridge_test

import (
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"slices"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// randUUID returns a random UUID-shaped ID, like Neutron's.
func randUUID(t testing.TB) string {
	b := make([]byte, 16)
	if _, err := rand.Read(b); err != nil {
		t.Fatal(err)
	}
	h := hex.EncodeToString(b)
	return h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:]
}

// noIPv6 turns IPv6 off in a namespace, so its interfaces send no MLD or
// router solicitations that bridges would learn while the test compares.
func noIPv6(t testing.TB, ns *testutil.NetNS) {
	t.Helper()
	ns.Run(t, "sh", "-c", "echo 1 > /proc/sys/net/ipv6/conf/default/disable_ipv6; echo 1 > /proc/sys/net/ipv6/conf/all/disable_ipv6")
}

// topo is the integration topology, in throwaway namespaces:
//
//	host: brq<net1>  192.0.2.1/24, ports: eth (veth to gw, "eth2"),
//	      tap<port1> (attached tap, up), tap<port2> (tap, no guest, down),
//	      tap<dhcp> (veth to ns-<dhcp> in the dhcp namespace, hairpin on)
//	      lbstp… (STP on, forward delay 30 s): lbva… (veth to lbvb… in host,
//	      down, learning off), lbtp… (attached tap, up, flood off, isolated)
//	      brq<net3> (no ports, down)
type topo struct {
	host, gw, dhcp              *testutil.NetNS
	net1, net3                  string
	br1, br2, br3               string
	eth, gwEth                  string
	port1, port2, dhcpPort      string
	tap1, tap2, tapDHCP, nsDHCP string
	va, vb, tp                  string
	guestMAC                    hwaddr.MAC
	tap1File                    *os.File
}

func newTopo(t *testing.T) *topo {
	t.Helper()
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "bridge", "iproute2")
	testutil.RequireBinary(t, "nsenter", "util-linux")
	tp := &topo{host: testutil.NewNetNS(t), gw: testutil.NewNetNS(t), dhcp: testutil.NewNetNS(t)}
	noIPv6(t, tp.gw)
	noIPv6(t, tp.dhcp)
	tp.net1, tp.net3 = randUUID(t), randUUID(t)
	tp.port1, tp.port2, tp.dhcpPort = randUUID(t), randUUID(t), randUUID(t)
	tp.br1 = linuxbridge.NetworkBridgeName(tp.net1)
	tp.br2 = testutil.RandName("lbstp")
	tp.br3 = linuxbridge.NetworkBridgeName(tp.net3)
	tp.eth, tp.gwEth = testutil.RandName("lbeth"), testutil.RandName("lbgw")
	tp.tap1, tp.tap2 = linuxbridge.PortTapName(tp.port1), linuxbridge.PortTapName(tp.port2)
	tp.tapDHCP, tp.nsDHCP = linuxbridge.PortTapName(tp.dhcpPort), linuxbridge.PortNSName(tp.dhcpPort)
	tp.va, tp.vb, tp.tp = testutil.RandName("lbva"), testutil.RandName("lbvb"), testutil.RandName("lbtp")
	tp.guestMAC = hwaddr.MAC{0xfa, 0x16, 0x3e, 0x12, 0x34, 0x56}

	h := tp.host
	h.Bridge(t, tp.br1)
	h.AddAddr(t, tp.br1, "192.0.2.1/24")
	h.Veth(t, tp.eth, tp.gw, tp.gwEth)
	h.Enslave(t, tp.eth, tp.br1)
	h.SetUp(t, tp.eth)
	tp.gw.SetUp(t, tp.gwEth)
	tp.tap1File = h.AttachTap(t, tp.tap1)
	h.SetMAC(t, tp.tap1, net.HardwareAddr(linuxbridge.TapMAC(tp.guestMAC)))
	h.Enslave(t, tp.tap1, tp.br1)
	h.SetUp(t, tp.tap1)
	h.Tap(t, tp.tap2)
	h.Enslave(t, tp.tap2, tp.br1)
	h.Veth(t, tp.tapDHCP, tp.dhcp, tp.nsDHCP)
	h.Enslave(t, tp.tapDHCP, tp.br1)
	h.SetUp(t, tp.tapDHCP)
	tp.dhcp.SetUp(t, tp.nsDHCP)
	h.Run(t, "bridge", "link", "set", "dev", tp.tapDHCP, "hairpin", "on")

	h.Bridge(t, tp.br2)
	h.Run(t, "ip", "link", "set", tp.br2, "type", "bridge", "forward_delay", "3000", "stp_state", "1")
	h.Veth(t, tp.va, h, tp.vb)
	h.Enslave(t, tp.va, tp.br2)
	h.Run(t, "bridge", "link", "set", "dev", tp.va, "learning", "off")
	h.AttachTap(t, tp.tp)
	h.Enslave(t, tp.tp, tp.br2)
	h.SetUp(t, tp.tp)
	h.Run(t, "bridge", "link", "set", "dev", tp.tp, "flood", "off")
	h.Run(t, "bridge", "link", "set", "dev", tp.tp, "isolated", "on")

	h.Bridge(t, tp.br3)
	h.SetDown(t, tp.br3)
	return tp
}

// learn sends frames from the gateway, the DHCP namespace and the guest's
// tap until br1 has learned all three MACs.
func (tp *topo) learn(t *testing.T, in *linuxbridge.Inspector) {
	t.Helper()
	gwMAC := tp.gw.Link(t, tp.gwEth).Attrs().HardwareAddr
	nsMAC := tp.dhcp.Link(t, tp.nsDHCP).Attrs().HardwareAddr
	frame := make([]byte, testutil.VnetHdrLen+60)
	eth := frame[testutil.VnetHdrLen:]
	copy(eth[0:6], net.HardwareAddr{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(eth[6:12], tp.guestMAC)
	binary.BigEndian.PutUint16(eth[12:], testutil.EtherTypeTest)
	deadline := time.Now().Add(10 * time.Second)
	for {
		tp.gw.SendFrames(t, tp.gwEth, 2)
		tp.dhcp.SendFrames(t, tp.nsDHCP, 2)
		if _, err := tp.tap1File.Write(frame); err != nil {
			t.Fatalf("write frame to %s: %v", tp.tap1, err)
		}
		ok := true
		for _, m := range []hwaddr.MAC{hwaddr.MAC(gwMAC), hwaddr.MAC(nsMAC), tp.guestMAC} {
			if _, err := in.WhereIs(context.Background(), m); err != nil {
				ok = false
			}
		}
		if ok {
			return
		}
		if time.Now().After(deadline) {
			t.Fatalf("%s did not learn %s, %s and %s in 10 s", tp.br1, gwMAC, nsMAC, tp.guestMAC)
		}
		time.Sleep(100 * time.Millisecond)
	}
}

func TestIntegrationInspect(t *testing.T) {
	tp := newTopo(t)
	ctx := context.Background()
	in := inspectorIn(t, tp.host)
	tp.learn(t, in)

	// Twice on one Inspector: the first snapshot makes the full link dump,
	// the second uses the light dumps and the cached static part
	// (fastlinks_linux.go). Both must match iproute2 field by field.
	for round, path := range []string{"full link dump", "light dumps"} {
		t.Run(path, func(t *testing.T) {
			req0 := linuxbridge.Requests(in)
			// iproute2 before and after, ours in between: the counters may move
			// (the bridge itself sends IPv6 multicast), so ours must lie between.
			ipBefore := ipLinks(t, tp.host)
			snap, err := in.Snapshot(ctx)
			if err != nil {
				t.Fatal(err)
			}
			ipAfter := ipLinks(t, tp.host)
			// The full path is 3 dumps (links, addresses, FDB); the light one
			// 5 (bridges, ports, counters, addresses, FDB).
			if reqs, want := linuxbridge.Requests(in)-req0, []uint32{3, 5}[round]; reqs != want {
				t.Errorf("%s: %d netlink requests, want %d", path, reqs, want)
			}
			ipAddrs := ipAddrs(t, tp.host)
			brLinks := bridgeLinks(t, tp.host)
			brFDB := bridgeFDB(t, tp.host)

			// What the test built, checked directly.
			byName := map[string]linuxbridge.Bridge{}
			for _, b := range snap.Bridges {
				byName[b.Name] = b
			}
			for _, name := range []string{tp.br1, tp.br2, tp.br3} {
				if _, ok := byName[name]; !ok {
					t.Fatalf("bridge %s missing from snapshot: %v", name, snap.Bridges)
				}
			}
			if got := len(snap.Bridges); got != 3 {
				t.Errorf("got %d bridges, want 3", got)
			}
			b1, b2, b3 := byName[tp.br1], byName[tp.br2], byName[tp.br3]
			if b1.Neutron.Kind != linuxbridge.DeviceBridge || !b1.Neutron.Matches(tp.net1) {
				t.Errorf("%s: Neutron = %+v, want bridge of %s", tp.br1, b1.Neutron, tp.net1)
			}
			if b1.STP || !b2.STP || b3.STP {
				t.Errorf("STP: %s=%v %s=%v %s=%v, want false true false", b1.Name, b1.STP, b2.Name, b2.STP, b3.Name, b3.STP)
			}
			if b3.Up || b3.OperState != linuxbridge.OperDown || len(b3.Ports) != 0 {
				t.Errorf("%s: up=%v oper=%v ports=%d, want down, down, 0", b3.Name, b3.Up, b3.OperState, len(b3.Ports))
			}
			if !slices.Contains(b1.Addrs, netip.MustParsePrefix("192.0.2.1/24")) {
				t.Errorf("%s addrs %v lack 192.0.2.1/24", b1.Name, b1.Addrs)
			}
			wantPorts := map[string][]string{
				tp.br1: sorted(tp.eth, tp.tap1, tp.tap2, tp.tapDHCP),
				tp.br2: sorted(tp.va, tp.tp),
				tp.br3: nil,
			}
			for name, want := range wantPorts {
				var got []string
				for _, p := range byName[name].Ports {
					got = append(got, p.Name)
				}
				if diff := cmp.Diff(want, got); diff != "" {
					t.Errorf("%s ports (-want +got):\n%s", name, diff)
				}
			}
			type want struct {
				kind    linuxbridge.PortKind
				stp     linuxbridge.STPState
				up      bool
				neutron linuxbridge.DeviceKind
			}
			for name, w := range map[string]want{
				tp.eth:     {linuxbridge.PortVeth, linuxbridge.STPForwarding, true, linuxbridge.DeviceOther},
				tp.tap1:    {linuxbridge.PortTap, linuxbridge.STPForwarding, true, linuxbridge.DeviceTap},
				tp.tap2:    {linuxbridge.PortTap, linuxbridge.STPDisabled, false, linuxbridge.DeviceTap},
				tp.tapDHCP: {linuxbridge.PortVeth, linuxbridge.STPForwarding, true, linuxbridge.DeviceTap},
				tp.va:      {linuxbridge.PortVeth, linuxbridge.STPDisabled, false, linuxbridge.DeviceOther},
				tp.tp:      {linuxbridge.PortTap, linuxbridge.STPListening, true, linuxbridge.DeviceOther},
			} {
				p, ok := b1.Port(name)
				if !ok {
					p, _ = b2.Port(name)
				}
				if p.Kind != w.kind || p.STPState != w.stp || p.Up != w.up || p.Neutron.Kind != w.neutron {
					t.Errorf("port %s: kind=%v stp=%v up=%v neutron=%v, want %v %v %v %v", name, p.Kind, p.STPState, p.Up, p.Neutron.Kind, w.kind, w.stp, w.up, w.neutron)
				}
			}
			if p, _ := b1.Port(tp.tap1); !linuxbridge.SameNIC(p.MAC, tp.guestMAC) || p.MAC[0] != 0xfe {
				t.Errorf("%s MAC %s does not pair with guest MAC %s", tp.tap1, p.MAC, tp.guestMAC)
			}
			if p, _ := b1.Port(tp.tapDHCP); !p.Hairpin || p.Neutron.IDPrefix != tp.dhcpPort[:11] {
				t.Errorf("%s: hairpin=%v neutron=%+v, want hairpin on, port %s", p.Name, p.Hairpin, p.Neutron, tp.dhcpPort)
			}
			if p, _ := b2.Port(tp.va); p.Learning || p.Peer == nil || p.Peer.NetNSID != -1 {
				t.Errorf("%s: learning=%v peer=%+v, want learning off and a peer in the same namespace", p.Name, p.Learning, p.Peer)
			}
			if p, _ := b2.Port(tp.tp); p.Flood || !p.Isolated {
				t.Errorf("%s: flood %v isolated %v, want flood off, isolated on", p.Name, p.Flood, p.Isolated)
			}
			if p, _ := b2.Port(tp.va); p.Isolated {
				t.Errorf("%s: isolated, want not", p.Name)
			}
			if p, _ := b1.Port(tp.eth); p.Peer == nil || p.Peer.NetNSID < 0 || p.Peer.Index != tp.gw.Link(t, tp.gwEth).Attrs().Index {
				t.Errorf("%s: peer %+v, want %s's index %d in another namespace", p.Name, p.Peer, tp.gwEth, tp.gw.Link(t, tp.gwEth).Attrs().Index)
			}

			// Field by field against `ip -j -d -s link show`.
			ours := map[string]bool{}
			for _, b := range snap.Bridges {
				ours[b.Name] = true
				ip := ipBefore[b.Name]
				compareLink(t, b.Name, ip, b.Index, b.MAC, b.MTU, b.OperState, b.Up, false)
				if ip.LinkInfo.InfoKind != "bridge" {
					t.Errorf("%s: ip says kind %q", b.Name, ip.LinkInfo.InfoKind)
				}
				var gotAddrs []string
				for _, a := range b.Addrs {
					gotAddrs = append(gotAddrs, a.String())
				}
				sort.Strings(gotAddrs)
				if diff := cmp.Diff(ipAddrs[b.Name], gotAddrs); diff != "" {
					t.Errorf("%s addresses vs ip -j addr show (-ip +ours):\n%s", b.Name, diff)
				}
				if got, want := b.STP, ip.LinkInfo.InfoData.STPState != 0; got != want {
					t.Errorf("%s: STP %v, ip says stp_state %d", b.Name, got, ip.LinkInfo.InfoData.STPState)
				}
				for _, p := range b.Ports {
					ours[p.Name] = true
					ip := ipBefore[p.Name]
					compareLink(t, p.Name, ip, p.Index, p.MAC, p.MTU, p.OperState, p.Up, true)
					if ip.Master != b.Name {
						t.Errorf("%s: on %s, ip says master %q", p.Name, b.Name, ip.Master)
					}
					if got := hasFlag(ip.Flags, "LOWER_UP"); got != p.LowerUp {
						t.Errorf("%s: lower up %v, ip flags %v", p.Name, p.LowerUp, ip.Flags)
					}
					wantKind := map[string]linuxbridge.PortKind{"veth": linuxbridge.PortVeth, "tun": linuxbridge.PortTap}[ip.LinkInfo.InfoKind]
					if ip.LinkInfo.InfoKind == "tun" && ip.LinkInfo.InfoData.Type != "tap" {
						wantKind = linuxbridge.PortOther
					}
					if p.Kind != wantKind {
						t.Errorf("%s: kind %v, ip says %q/%q", p.Name, p.Kind, ip.LinkInfo.InfoKind, ip.LinkInfo.InfoData.Type)
					}
					sd := ip.LinkInfo.InfoSlaveData
					if ip.LinkInfo.InfoSlaveKind != "bridge" || sd.State != p.STPState.String() || sd.Priority != p.Priority || sd.Cost != p.Cost ||
						sd.Hairpin != p.Hairpin || sd.Learning != p.Learning || sd.Flood != p.Flood || sd.Isolated != p.Isolated {
						t.Errorf("%s: port %+v, ip -d says %s %+v", p.Name, p, ip.LinkInfo.InfoSlaveKind, sd)
					}
					if p.Kind == linuxbridge.PortVeth {
						// ip prints a peer in the same namespace by name, one in
						// another namespace by index and netnsid.
						wantNSID, wantIndex := -1, ipBefore[ip.Link].IfIndex
						if ip.LinkNetNSID != nil {
							wantNSID, wantIndex = *ip.LinkNetNSID, ip.LinkIndex
						}
						if wantIndex == 0 {
							t.Errorf("%s: ip shows no peer (link %q, link_index %d)", p.Name, ip.Link, ip.LinkIndex)
						}
						if p.Peer == nil || p.Peer.Index != wantIndex || p.Peer.NetNSID != wantNSID {
							t.Errorf("%s: peer %+v, ip says peer index %d link_netnsid %d", p.Name, p.Peer, wantIndex, wantNSID)
						}
					}
					compareStats(t, p.Name, ipBefore[p.Name].Stats64, p.Stats, ipAfter[p.Name].Stats64)
				}
			}
			for name, l := range ipBefore {
				if (l.LinkInfo.InfoKind == "bridge" || l.LinkInfo.InfoSlaveKind == "bridge") && !ours[name] {
					t.Errorf("ip shows bridge or port %s, the snapshot does not", name)
				}
			}

			// Field by field against `bridge -d -j link show`, which reads
			// IFLA_PROTINFO from the AF_BRIDGE dump.
			nports := 0
			for _, bl := range brLinks {
				if bl.Master == "" {
					continue
				}
				nports++
				br := byName[bl.Master]
				p, ok := br.Port(bl.IfName)
				if !ok {
					t.Errorf("bridge link shows %s on %s, the snapshot does not", bl.IfName, bl.Master)
					continue
				}
				got := brLink{IfIndex: p.Index, IfName: p.Name, Master: br.Name, MTU: p.MTU, State: p.STPState.String(),
					Priority: p.Priority, Cost: p.Cost, Hairpin: p.Hairpin, Learning: p.Learning, Flood: p.Flood, Isolated: p.Isolated}
				bl.Flags = nil
				if diff := cmp.Diff(bl, got); diff != "" {
					t.Errorf("port %s vs bridge -d -j link show (-bridge +ours):\n%s", p.Name, diff)
				}
			}
			if nports != 6 {
				t.Errorf("bridge link shows %d ports, want 6", nports)
			}

			// The FDB against `bridge -j fdb show`, as sets of entries. Only a
			// bridge's own database counts (entries with a master), not the
			// devices' "self" multicast lists.
			var wantFDB, gotFDB []string
			for _, e := range brFDB {
				if e.Master == "" {
					continue
				}
				wantFDB = append(wantFDB, fmt.Sprintf("%s %s %d %s %s", e.MAC, e.IfName, e.VLAN, e.Master, e.State))
			}
			for _, e := range snap.FDB {
				st := e.State.String()
				if e.State == linuxbridge.FDBReachable {
					st = ""
				}
				gotFDB = append(gotFDB, fmt.Sprintf("%s %s %d %s %s", e.MAC, e.Port, e.VLAN, e.Bridge, st))
			}
			learned := 0
			for _, e := range snap.FDB {
				if e.Learned() {
					learned++
				}
			}
			t.Logf("compared %d bridges, %d ports, %d FDB entries (%d learned) with iproute2", len(snap.Bridges), nports, len(snap.FDB), learned)
			if learned < 3 {
				t.Errorf("%d learned FDB entries, want at least 3 (gateway, DHCP port, guest)", learned)
			}
			sort.Strings(wantFDB)
			sort.Strings(gotFDB)
			if diff := cmp.Diff(wantFDB, gotFDB); diff != "" {
				t.Errorf("FDB vs bridge -j fdb show (-bridge +ours):\n%s", diff)
			}

			// WhereIs: the guest's MAC was learned on its tap, the gateway's on eth.
			es, err := in.WhereIs(ctx, tp.guestMAC)
			if err != nil || len(es) != 1 || es[0].Port != tp.tap1 || es[0].Bridge != tp.br1 || !es[0].Learned() {
				t.Errorf("WhereIs(%s) = %v, %v; want learned on %s of %s", tp.guestMAC, es, err, tp.tap1, tp.br1)
			}
			gwMAC := tp.gw.Link(t, tp.gwEth).Attrs().HardwareAddr
			if es, err := in.WhereIs(ctx, hwaddr.MAC(gwMAC)); err != nil || len(es) != 1 || es[0].Port != tp.eth {
				t.Errorf("WhereIs(%s) = %v, %v; want learned on %s", gwMAC, es, err, tp.eth)
			}
			if _, err := in.WhereIs(ctx, hwaddr.MAC{2, 0, 0, 0, 0, 1}); !errors.Is(err, fs.ErrNotExist) {
				t.Errorf("WhereIs(unknown) error %v, want not found", err)
			}

			// One bridge, by name and by network.
			b, err := in.BridgeForNetwork(ctx, tp.net1)
			if err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b1.Name, b.Name); diff != "" || len(b.Ports) != 4 {
				t.Errorf("BridgeForNetwork(%s) = %s with %d ports, want %s with 4", tp.net1, b.Name, len(b.Ports), b1.Name)
			}
			if _, err := in.BridgeForNetwork(ctx, randUUID(t)); !errors.Is(err, fs.ErrNotExist) || !errors.Is(err, linuxbridge.ErrNotFound) {
				t.Errorf("BridgeForNetwork(unknown) error %v, want ErrNotFound", err)
			}
			if _, err := in.Bridge(ctx, tp.vb); !errors.Is(err, linuxbridge.ErrNotBridge) {
				t.Errorf("Bridge(%s) (a veth) error %v, want ErrNotBridge", tp.vb, err)
			}
			fdb, err := in.FDB(ctx)
			if err != nil || len(fdb) != len(snap.FDB) {
				t.Errorf("FDB() = %d entries, %v; the snapshot had %d", len(fdb), err, len(snap.FDB))
			}

			// JSON carries the enums as text.
			js, err := json.Marshal(b1)
			if err != nil {
				t.Fatal(err)
			}
			for _, s := range []string{`"oper_state":"up"`, `"stp_state":"forwarding"`, `"kind":"tap"`, `"kind":"bridge"`, `"mac":"` + b1.MAC.String() + `"`} {
				if !strings.Contains(string(js), s) {
					t.Errorf("JSON of %s lacks %s: %s", b1.Name, s, js)
				}
			}
			var back linuxbridge.Bridge
			if err := json.Unmarshal(js, &back); err != nil {
				t.Fatal(err)
			}
			if diff := cmp.Diff(b1, back, cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); diff != "" {
				t.Errorf("JSON round trip (-want +got):\n%s", diff)
			}
		})
	}
}

func TestIntegrationErrors(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := context.Background()
	dir := t.TempDir()
	if _, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: dir}, "lbmissing"); !errors.Is(err, linuxbridge.ErrNoNetNS) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("OpenNamespace(missing) error %v, want ErrNoNetNS", err)
	}
	if _, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: "/proc/self/ns/uts"}); err == nil {
		t.Error("Open(a UTS namespace) succeeded")
	}
	ns := testutil.NewNetNSAt(t, dir, testutil.RandName("lbns"))
	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: ns.Path})
	if err != nil {
		t.Fatal(err)
	}
	bs, err := in.Bridges(ctx)
	if err != nil || len(bs) != 0 {
		t.Errorf("Bridges of an empty namespace = %v, %v", bs, err)
	}
	if _, err := in.Bridge(ctx, "lo"); !errors.Is(err, linuxbridge.ErrNotBridge) {
		t.Errorf("Bridge(lo) error %v, want ErrNotBridge", err)
	}
	if _, err := in.Bridge(ctx, "lbnothere"); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Bridge(missing) error %v, want fs.ErrNotExist", err)
	}
	cctx, cancel := context.WithCancel(ctx)
	cancel()
	if _, err := in.Snapshot(cctx); !errors.Is(err, context.Canceled) {
		t.Errorf("Snapshot(canceled ctx) error %v, want context.Canceled", err)
	}
	ns.Delete(t)
	if _, err := in.Bridges(ctx); !errors.Is(err, linuxbridge.ErrNoNetNS) {
		t.Errorf("Bridges after the namespace was deleted: error %v, want ErrNoNetNS", err)
	}
	if err := in.Close(); err != nil {
		t.Error(err)
	}
	if err := in.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := in.Bridges(ctx); !errors.Is(err, linuxbridge.ErrClosed) {
		t.Errorf("Bridges after Close: error %v, want ErrClosed", err)
	}
}

func sorted(s ...string) []string { sort.Strings(s); return s }

func hasFlag(flags []string, f string) bool { return slices.Contains(flags, f) }

// ipLink is the part of `ip -j -d -s link show` the tests compare.
type ipLink struct {
	IfIndex     int      `json:"ifindex"`
	IfName      string   `json:"ifname"`
	Flags       []string `json:"flags"`
	MTU         int      `json:"mtu"`
	OperState   string   `json:"operstate"`
	Address     string   `json:"address"`
	Master      string   `json:"master"`
	Link        string   `json:"link"`
	LinkIndex   int      `json:"link_index"`
	LinkNetNSID *int     `json:"link_netnsid"`
	LinkInfo    struct {
		InfoKind string `json:"info_kind"`
		InfoData struct {
			STPState int    `json:"stp_state"`
			Type     string `json:"type"`
		} `json:"info_data"`
		InfoSlaveKind string `json:"info_slave_kind"`
		InfoSlaveData struct {
			State    string `json:"state"`
			Priority int    `json:"priority"`
			Cost     int    `json:"cost"`
			Hairpin  bool   `json:"hairpin"`
			Learning bool   `json:"learning"`
			Flood    bool   `json:"flood"`
			Isolated bool   `json:"isolated"`
		} `json:"info_slave_data"`
	} `json:"linkinfo"`
	Stats64 ipStats `json:"stats64"`
}

type ipStats struct {
	Rx ipCounters `json:"rx"`
	Tx ipCounters `json:"tx"`
}

type ipCounters struct {
	Bytes   uint64 `json:"bytes"`
	Packets uint64 `json:"packets"`
	Errors  uint64 `json:"errors"`
	Dropped uint64 `json:"dropped"`
}

func ipLinks(t *testing.T, ns *testutil.NetNS) map[string]ipLink {
	t.Helper()
	ls := runJSON[[]ipLink](t, ns, "ip", "-j", "-d", "-s", "link", "show")
	m := map[string]ipLink{}
	for _, l := range ls {
		m[l.IfName] = l
	}
	return m
}

// ipAddrLink is one link of `ip -j addr show`.
type ipAddrLink struct {
	IfName   string `json:"ifname"`
	AddrInfo []struct {
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
	} `json:"addr_info"`
}

// ipAddrs returns `ip -j addr show` as sorted "addr/len" strings per link.
func ipAddrs(t *testing.T, ns *testutil.NetNS) map[string][]string {
	t.Helper()
	ls := runJSON[[]ipAddrLink](t, ns, "ip", "-j", "addr", "show")
	m := map[string][]string{}
	for _, l := range ls {
		for _, a := range l.AddrInfo {
			m[l.IfName] = append(m[l.IfName], fmt.Sprintf("%s/%d", a.Local, a.PrefixLen))
		}
		sort.Strings(m[l.IfName])
	}
	return m
}

// brLink is the part of `bridge -d -j link show` the tests compare.
type brLink struct {
	IfIndex  int      `json:"ifindex"`
	IfName   string   `json:"ifname"`
	Flags    []string `json:"flags"`
	Master   string   `json:"master"`
	MTU      int      `json:"mtu"`
	State    string   `json:"state"`
	Priority int      `json:"priority"`
	Cost     int      `json:"cost"`
	Hairpin  bool     `json:"hairpin"`
	Learning bool     `json:"learning"`
	Flood    bool     `json:"flood"`
	Isolated bool     `json:"isolated"`
}

func bridgeLinks(t *testing.T, ns *testutil.NetNS) []brLink {
	t.Helper()
	return runJSON[[]brLink](t, ns, "bridge", "-d", "-j", "link", "show")
}

type brFDB struct {
	MAC    string `json:"mac"`
	IfName string `json:"ifname"`
	VLAN   int    `json:"vlan"`
	Master string `json:"master"`
	State  string `json:"state"`
}

func bridgeFDB(t *testing.T, ns *testutil.NetNS) []brFDB {
	t.Helper()
	return runJSON[[]brFDB](t, ns, "bridge", "-j", "fdb", "show")
}

func compareLink(t *testing.T, name string, ip ipLink, index int, mac hwaddr.MAC, mtu int, oper linuxbridge.OperState, up, port bool) {
	t.Helper()
	if ip.IfName == "" {
		t.Errorf("%s: ip does not show it", name)
		return
	}
	if ip.IfIndex != index || ip.Address != mac.String() || ip.MTU != mtu || !strings.EqualFold(ip.OperState, oper.String()) || hasFlag(ip.Flags, "UP") != up {
		t.Errorf("%s: index=%d mac=%s mtu=%d oper=%v up=%v; ip says %d %s %d %s %v", name, index, mac, mtu, oper, up, ip.IfIndex, ip.Address, ip.MTU, ip.OperState, ip.Flags)
	}
}

func compareStats(t *testing.T, name string, before ipStats, s linuxbridge.Stats, after ipStats) {
	t.Helper()
	check := func(what string, lo, got, hi uint64) {
		if got < lo || got > hi {
			t.Errorf("%s: %s = %d, ip said %d before and %d after", name, what, got, lo, hi)
		}
	}
	check("rx packets", before.Rx.Packets, s.RxPackets, after.Rx.Packets)
	check("tx packets", before.Tx.Packets, s.TxPackets, after.Tx.Packets)
	check("rx bytes", before.Rx.Bytes, s.RxBytes, after.Rx.Bytes)
	check("tx bytes", before.Tx.Bytes, s.TxBytes, after.Tx.Bytes)
	check("rx errors", before.Rx.Errors, s.RxErrors, after.Rx.Errors)
	check("tx errors", before.Tx.Errors, s.TxErrors, after.Tx.Errors)
	check("rx dropped", before.Rx.Dropped, s.RxDropped, after.Rx.Dropped)
	check("tx dropped", before.Tx.Dropped, s.TxDropped, after.Tx.Dropped)
}

// runJSON runs an iproute2 command with -j inside ns and decodes its
// output into a T.
func runJSON[T any](t *testing.T, ns *testutil.NetNS, args ...string) T {
	t.Helper()
	var v T
	out := ns.Run(t, args[0], args[1:]...)
	if err := json.Unmarshal(out, &v); err != nil {
		t.Fatalf("%s: %v\n%s", strings.Join(args, " "), err, out)
	}
	return v
}

// inspectorIn opens an Inspector in ns, closed when the test ends.
func inspectorIn(t *testing.T, ns *testutil.NetNS) *linuxbridge.Inspector {
	t.Helper()
	in, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: ns.Dir}, ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { in.Close() })
	return in
}
