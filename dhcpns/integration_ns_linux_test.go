package dhcpns

import (
	"context"
	"crypto/rand"
	"encoding/json"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"sort"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/internal/testutil"
)

func randUUID() string {
	var b [16]byte
	rand.Read(b[:])
	return fmt.Sprintf("%x-%x-%x-%x-%x", b[0:4], b[4:6], b[6:8], b[8:10], b[10:16])
}

// qdhcpTopo is a qdhcp-<uuid> namespace under a temp netns dir with a veth
// ns-<port> whose peer sits in a "guest" namespace.
type qdhcpTopo struct {
	dir, netID string
	q, peer    *testutil.NetNS
	nsIf       string
	peerIf     string
}

func newQdhcpTopo(t *testing.T) *qdhcpTopo {
	t.Helper()
	testutil.RequireRoot(t)
	tp := &qdhcpTopo{dir: t.TempDir(), netID: randUUID()}
	tp.q = testutil.NewNetNSAt(t, tp.dir, NamespaceName(tp.netID))
	tp.peer = testutil.NewNetNSAt(t, tp.dir, testutil.RandNameN("dhpeer-", 12))
	tp.nsIf = testutil.RandName("ns-")
	tp.peerIf = testutil.RandName("dhp")
	tp.q.Veth(t, tp.nsIf, tp.peer, tp.peerIf)
	tp.q.SetUp(t, tp.nsIf)
	tp.peer.SetUp(t, tp.peerIf)
	tp.q.SetUp(t, "lo")
	tp.q.AddAddr(t, tp.nsIf, "192.168.31.70/27")
	tp.q.AddAddr(t, tp.nsIf, "169.254.169.254/32")
	tp.peer.AddAddr(t, tp.peerIf, "192.168.31.72/27")
	tp.q.Run(t, "ip", "route", "add", "default", "via", "192.168.31.65", "dev", tp.nsIf, "onlink")
	tp.q.Run(t, "ip", "neigh", "add", "192.168.31.90", "lladdr", "fa:16:3e:00:00:90", "dev", tp.nsIf, "nud", "permanent")
	tp.q.Run(t, "ip", "neigh", "add", "192.168.31.91", "lladdr", "fa:16:3e:00:00:91", "dev", tp.nsIf, "nud", "stale")
	return tp
}

func (tp *qdhcpTopo) cfg() *Config { return &Config{NetNSDir: tp.dir} }

type ipAddrJSON struct {
	IfIndex     int    `json:"ifindex"`
	IfName      string `json:"ifname"`
	MTU         int    `json:"mtu"`
	OperState   string `json:"operstate"`
	Address     string `json:"address"`
	LinkIndex   int    `json:"link_index"`
	Link        string `json:"link"` // a peer in the same namespace, by name
	LinkNetnsID *int   `json:"link_netnsid"`
	LinkType    string `json:"link_type"`
	AddrInfo    []struct {
		Family    string `json:"family"`
		Local     string `json:"local"`
		PrefixLen int    `json:"prefixlen"`
		Scope     string `json:"scope"`
	} `json:"addr_info"`
}

type ipRouteJSON struct {
	Dst      string `json:"dst"`
	Gateway  string `json:"gateway"`
	Dev      string `json:"dev"`
	Protocol string `json:"protocol"`
	Scope    string `json:"scope"`
	PrefSrc  string `json:"prefsrc"`
}

type ipNeighJSON struct {
	Dst    string   `json:"dst"`
	Dev    string   `json:"dev"`
	LLAddr string   `json:"lladdr"`
	State  []string `json:"state"`
}

func runJSON(t *testing.T, ns *testutil.NetNS, v any, args ...string) {
	t.Helper()
	out := ns.Run(t, "ip", append([]string{"-j"}, args...)...)
	if err := json.Unmarshal(out, v); err != nil {
		t.Fatalf("ip -j %v: %v\n%s", args, err, out)
	}
}

func TestIntegrationInspectMatchesIproute2(t *testing.T) {
	tp := newQdhcpTopo(t)
	tp.q.Veth(t, "dhin-a", tp.q, "dhin-b") // a pair inside the namespace
	ctx := context.Background()
	list, err := List(ctx, tp.cfg())
	if err != nil {
		t.Fatal(err)
	}
	if len(list) != 1 || list[0].NetworkID != tp.netID || list[0].Inode != tp.q.Inode {
		t.Fatalf("List = %+v, want one qdhcp-%s with inode %d (the peer namespace is not qdhcp-)", list, tp.netID, tp.q.Inode)
	}
	ns, err := OpenNetwork(ctx, tp.cfg(), tp.netID)
	if err != nil {
		t.Fatal(err)
	}
	defer ns.Close()
	s, err := ns.Inspect(ctx)
	if err != nil {
		t.Fatal(err)
	}

	// Links and addresses against `ip -j addr`.
	var ipa []ipAddrJSON
	runJSON(t, tp.q, &ipa, "addr")
	type linkRow struct {
		Index, MTU, PeerIndex, PeerNetNSID int
		Name, MAC, State                   string
		Addrs                              []string
	}
	var want, got []linkRow
	index := map[string]int{}
	for _, l := range ipa {
		index[l.IfName] = l.IfIndex
	}
	for _, l := range ipa {
		if l.Link != "" {
			l.LinkIndex = index[l.Link]
		}
		r := linkRow{Index: l.IfIndex, Name: l.IfName, MTU: l.MTU, MAC: l.Address, State: strings.ToLower(l.OperState), PeerIndex: l.LinkIndex, PeerNetNSID: -1}
		if l.LinkNetnsID != nil {
			r.PeerNetNSID = *l.LinkNetnsID
		}
		for _, a := range l.AddrInfo {
			r.Addrs = append(r.Addrs, fmt.Sprintf("%s/%d %s", a.Local, a.PrefixLen, a.Scope))
		}
		sort.Strings(r.Addrs)
		want = append(want, r)
	}
	for _, l := range s.Links {
		r := linkRow{Index: l.Index, Name: l.Name, MTU: l.MTU, MAC: l.MAC.String(), State: l.State.String(), PeerIndex: l.PeerIndex, PeerNetNSID: l.PeerNetNSID}
		if l.Name == "lo" {
			r.MAC = "00:00:00:00:00:00"
		}
		for _, a := range s.AddrsOf(l.Name) {
			r.Addrs = append(r.Addrs, fmt.Sprintf("%s %s", a.Prefix, a.Scope))
		}
		sort.Strings(r.Addrs)
		got = append(got, r)
	}
	if d := cmp.Diff(want, got); d != "" {
		t.Errorf("links+addrs vs ip -j addr (-want +got):\n%s", d)
	}
	l, ok := s.LinkByName(tp.nsIf)
	if !ok || l.Kind != "veth" || !l.AdminUp || !l.LowerUp || l.PeerName != "" || l.PeerNetNSID < 0 {
		t.Errorf("serving link %+v: want an up veth with carrier whose peer is elsewhere", l)
	}
	if l, ok := s.LinkByName("dhin-a"); !ok || l.PeerName != "dhin-b" || l.AdminUp {
		t.Errorf("dhin-a = %+v; want a down veth with peer dhin-b", l)
	}

	// Routes against `ip -j route` (IPv4, main table).
	var ipr []ipRouteJSON
	runJSON(t, tp.q, &ipr, "route")
	var wantR, gotR []string
	for _, r := range ipr {
		dst := r.Dst
		if dst == "default" {
			dst = "0.0.0.0/0"
		} else if !strings.Contains(dst, "/") {
			dst += "/32"
		}
		// iproute2 leaves out the defaults.
		if r.Protocol == "" {
			r.Protocol = "boot"
		}
		if r.Scope == "" {
			r.Scope = "global"
		}
		wantR = append(wantR, fmt.Sprintf("%s via %s dev %s proto %s scope %s src %s", dst, r.Gateway, r.Dev, r.Protocol, r.Scope, r.PrefSrc))
	}
	for _, r := range s.Routes {
		if !r.Dst.Addr().Is4() {
			continue
		}
		gw, src := "", ""
		if r.Gateway.IsValid() {
			gw = r.Gateway.String()
		}
		if r.PrefSrc.IsValid() {
			src = r.PrefSrc.String()
		}
		gotR = append(gotR, fmt.Sprintf("%s via %s dev %s proto %s scope %s src %s", r.Dst, gw, r.Link, r.Protocol, r.Scope, src))
	}
	sort.Strings(wantR)
	sort.Strings(gotR)
	if d := cmp.Diff(wantR, gotR); d != "" {
		t.Errorf("routes vs ip -j route (-want +got):\n%s", d)
	}
	if len(gotR) < 2 {
		t.Errorf("want the connected and the default route, got %v", gotR)
	}

	// Neighbours against `ip -j neigh` (which hides NOARP entries).
	var ipn []ipNeighJSON
	runJSON(t, tp.q, &ipn, "neigh")
	var wantN, gotN []string
	for _, n := range ipn {
		wantN = append(wantN, fmt.Sprintf("%s %s %s %v", n.Dst, n.Dev, n.LLAddr, n.State))
	}
	for _, n := range s.Neighbors {
		if len(n.State) == 1 && n.State[0] == "NOARP" {
			continue
		}
		gotN = append(gotN, fmt.Sprintf("%s %s %s %v", n.IP, n.Link, n.MAC, n.State))
	}
	sort.Strings(wantN)
	sort.Strings(gotN)
	if d := cmp.Diff(wantN, gotN); d != "" {
		t.Errorf("neighbours vs ip -j neigh (-want +got):\n%s", d)
	}
	if nb := s.NeighborsOf(netip.MustParseAddr("192.168.31.90")); len(nb) != 1 || nb[0].MAC.String() != "fa:16:3e:00:00:90" {
		t.Errorf("NeighborsOf(.90) = %+v", nb)
	}
}

func TestIntegrationOpenMissing(t *testing.T) {
	testutil.RequireRoot(t)
	_, err := OpenNetwork(context.Background(), &Config{NetNSDir: t.TempDir()}, randUUID())
	if !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), "ip netns") {
		t.Fatalf("OpenNetwork(missing) = %v; want fs.ErrNotExist with a hint", err)
	}
}

func TestIntegrationNamespaceDeletedUnderHandle(t *testing.T) {
	tp := newQdhcpTopo(t)
	ctx := context.Background()
	ns, err := Open(ctx, tp.cfg(), tp.q.Name)
	if err != nil {
		t.Fatal(err)
	}
	if _, err := ns.Inspect(ctx); err != nil {
		t.Fatal(err)
	}
	tp.q.Delete(t)
	_, err = ns.Inspect(ctx)
	if !errors.Is(err, ErrNoNetNS) || !errors.Is(err, fs.ErrNotExist) {
		t.Fatalf("Inspect after delete = %v; want ErrNoNetNS", err)
	}
	// Recreated with the same name: still not the namespace we opened.
	q2 := testutil.NewNetNSAt(t, tp.dir, tp.q.Name)
	_, err = ns.Inspect(ctx)
	if !errors.Is(err, ErrNoNetNS) || !strings.Contains(err.Error(), fmt.Sprint(q2.Inode)) {
		t.Fatalf("Inspect after replace = %v; want ErrNoNetNS naming inode %d", err, q2.Inode)
	}
	if err := ns.Close(); err != nil {
		t.Fatal(err)
	}
	if err := ns.Close(); err != nil {
		t.Fatal("second Close:", err)
	}
	if _, err := ns.Inspect(ctx); !errors.Is(err, ErrClosed) {
		t.Fatalf("Inspect after Close = %v; want ErrClosed", err)
	}
}

func TestIntegrationInspectAllIsolatesErrors(t *testing.T) {
	testutil.RequireRoot(t)
	dir := t.TempDir()
	var good []*testutil.NetNS
	for range 5 {
		good = append(good, testutil.NewNetNSAt(t, dir, NamespaceName(randUUID())))
	}
	// A qdhcp- file that is not a namespace: opening it fails.
	bad := NamespaceName(randUUID())
	if err := writeFile(dir+"/"+bad, ""); err != nil {
		t.Fatal(err)
	}
	res, err := InspectAll(context.Background(), &Config{NetNSDir: dir, Workers: 2})
	if err != nil {
		t.Fatal(err)
	}
	if len(res) != 6 {
		t.Fatalf("got %d results, want 6", len(res))
	}
	var ok, failed int
	for _, r := range res {
		switch {
		case r.Err == nil && r.Snapshot != nil && len(r.Snapshot.Links) == 1 && r.Snapshot.Links[0].Name == "lo":
			ok++
		case r.Err != nil && r.Namespace.Name == bad && r.Snapshot == nil:
			failed++
		default:
			t.Errorf("unexpected result %+v", r)
		}
	}
	if ok != 5 || failed != 1 {
		t.Errorf("ok=%d failed=%d, want 5 and 1", ok, failed)
	}

	// A cancelled ctx: the error says so and every result carries it.
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	res, err = InspectNamespaces(ctx, &Config{NetNSDir: dir, Workers: 1}, []NamespaceInfo{{Name: good[0].Name, Path: good[0].Path, Inode: good[0].Inode}})
	if !errors.Is(err, context.Canceled) || len(res) != 1 || !errors.Is(res[0].Err, context.Canceled) {
		t.Errorf("cancelled InspectNamespaces = %+v, %v", res, err)
	}
}
