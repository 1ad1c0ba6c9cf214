package firewall_test

import (
	"context"
	"fmt"
	"net/netip"
	"runtime"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/fwlayout"
	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationNetlinkRead builds the walkthrough's node with the
// agent's layout under ebtables-nft (its port with an allowed address
// pair, so the MAC chain's among list has two MACs), adds rules that
// exercise the rest of the decoder (--arp-op, negated -p and -i with a
// wildcard, -s and -d Broadcast, an among list of MAC=IP pairs, -p Length,
// CONTINUE, a user chain with a DROP policy), a chain with an xtables ip
// match the decoder leaves to the tool, and ipsets beside the agent's
// (another hash:net and a hash:ip,port), sends the walkthrough's probes so
// the counters move, and reads the node through netlink. Each chain must
// equal `ebtables -t nat -L --Lc` field by field (counters no larger than
// the tool's later reading), user chain policies must be those
// ebtables-nft-save prints, the ip-match chain must come from the tool and
// say so in Provenance, and the ipsets must equal `ipset save`. A read
// scoped to the port must hold the built-ins, the port's chains and the
// chains the built-ins jump to, equal to the whole read's, and only the
// sets the port's rules name.
func TestIntegrationNetlinkRead(t *testing.T) {
	ip := netip.MustParseAddr("192.168.31.74")
	port := walkthroughPort(testPort, ip)
	port.Pairs = []fwlayout.Pair{{IP: netip.MustParsePrefix("10.0.0.0/24"), MAC: hwaddr.MustParse("fa:16:3e:00:01:02")}}
	n := newNode(t, firewall.BackendNFT, port)
	tap := port.Tap()
	eb := func(args ...string) {
		n.node.Run(t, "/usr/sbin/ebtables-nft", append([]string{"-t", "nat"}, args...)...)
	}
	extra, viaTool := testutil.RandName("fb-x"), testutil.RandName("fb-t")
	eb("-I", firewall.EbARPChain(tap), "1", "-p", "ARP", "--arp-op", "Request", "-j", "ACCEPT")
	eb("-A", "PREROUTING", "-p", "!", "ARP", "-i", "!", "tap+", "-j", "CONTINUE")
	eb("-A", "OUTPUT", "-s", "fa:16:3e:00:00:01", "-d", "ff:ff:ff:ff:ff:ff", "-j", "ACCEPT")
	eb("-A", "OUTPUT", "-p", "length", "-j", "CONTINUE")
	eb("-N", extra, "-P", "DROP")
	eb("-A", extra, "--among-src", "fa:16:3e:00:00:02=10.0.0.2,fa:16:3e:00:00:01=10.0.0.1", "-j", "RETURN")
	eb("-A", extra, "-p", "IPv6", "-j", "ACCEPT")
	eb("-A", "POSTROUTING", "-j", extra)
	eb("-N", viaTool, "-P", "ACCEPT")
	eb("-A", viaTool, "-p", "IPv4", "--ip-src", "192.0.2.1", "-j", "DROP")
	eb("-A", "POSTROUTING", "-j", viaTool)
	other := testutil.RandName("fb-s")
	ports := testutil.RandName("fb-p")
	n.node.Run(t, "/usr/sbin/ipset", "create", other, "hash:net", "family", "inet")
	n.node.Run(t, "/usr/sbin/ipset", "add", other, "198.51.100.0/24")
	n.node.Run(t, "/usr/sbin/ipset", "create", ports, "hash:ip,port")
	n.node.Run(t, "/usr/sbin/ipset", "add", ports, "192.0.2.1,tcp:80")

	probe(t, n)
	s := read(t, n)

	cli, err := firewall.ParseEbtablesList(string(n.node.Run(t, "/usr/sbin/ebtables-nft", "-t", "nat", "-L", "--Lc")), firewall.BackendNFT)
	if err != nil {
		t.Fatal(err)
	}
	policies := map[string]string{}
	for _, line := range strings.Split(string(n.node.Run(t, "/usr/sbin/ebtables-nft-save")), "\n") {
		if f := strings.Fields(line); len(f) == 2 && strings.HasPrefix(f[0], ":") {
			policies[f[0][1:]] = f[1]
		}
	}
	if s.Ebtables == nil {
		t.Fatalf("no ebtables table read; Missing %v", s.Missing)
	}
	var gotNames, wantNames []string
	for _, c := range s.Ebtables.Chains {
		gotNames = append(gotNames, c.Name)
	}
	for _, c := range cli.Chains {
		wantNames = append(wantNames, c.Name)
	}
	if d := cmp.Diff(wantNames, gotNames); d != "" {
		t.Errorf("chains differ from the listing (-ebtables +netlink):\n%s", d)
	}
	moved := false
	noCounters := cmpopts.IgnoreFields(firewall.EbRule{}, "Packets", "Bytes")
	eq := cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{})
	for _, c := range cli.Chains {
		got := s.Ebtables.Chain(c.Name)
		if got == nil {
			continue
		}
		if d := cmp.Diff(c.Rules, got.Rules, noCounters, eq, cmpopts.EquateEmpty()); d != "" {
			t.Errorf("chain %s: rules differ from the listing (-ebtables +netlink):\n%s", c.Name, d)
		}
		for i := range min(len(c.Rules), len(got.Rules)) {
			if g, w := got.Rules[i], c.Rules[i]; g.Packets > w.Packets || g.Bytes > w.Bytes {
				t.Errorf("%s#%d: netlink read %d/%d packets/bytes, the listing later %d/%d", c.Name, i+1, g.Packets, g.Bytes, w.Packets, w.Bytes)
			}
			if got.Rules[i].Packets > 0 {
				moved = true
			}
		}
		want := policies[c.Name]
		if want == "" {
			want = "RETURN" // not in the save: none of ours
		}
		if got.Policy != want {
			t.Errorf("chain %s: policy %q, ebtables-nft-save says %q", c.Name, got.Policy, want)
		}
	}
	if !moved {
		t.Error("no rule counted a packet: the probes' ARP should have crossed the tap's chains")
	}
	if c := s.Ebtables.Chain(firewall.EbMACChain(tap)); c == nil || len(c.Rules) == 0 || len(c.Rules[0].AmongSrc) != 2 {
		t.Errorf("MAC chain %+v: want an among rule with the port's and the pair's MAC", c)
	}
	// Reads: netlink for the table, the tool for the ip-match chain only.
	ebr := readsOf(s, firewall.PartEbtables)
	if len(ebr) != 1 || ebr[0].Via != firewall.ViaNetlink || ebr[0].Backend != firewall.BackendNFT {
		t.Fatalf("Reads %+v: want the nat table read through netlink", s.Reads)
	}
	if fb := ebr[0].Fallback; len(fb) != 1 || !strings.HasPrefix(fb[0], "chain "+viaTool+":") || !strings.Contains(fb[0], `"match"`) && !strings.Contains(fb[0], "xtables match") {
		t.Errorf("ebtables fallback %q: want one chain (%s, its xtables ip match) listed with the tool", fb, viaTool)
	}

	// ipsets: every modelled set as `ipset save` has it; the
	// hash:ip,port set named in Missing.
	var saved []firewall.Set
	for _, set := range s.Sets {
		ss, err := firewall.ParseIPSetSave(string(n.node.Run(t, "/usr/sbin/ipset", "save", set.Name)))
		if err != nil {
			t.Fatal(err)
		}
		saved = append(saved, ss...)
	}
	if d := cmp.Diff(saved, s.Sets, eq); d != "" {
		t.Errorf("ipsets differ from `ipset save` (-save +netlink):\n%s", d)
	}
	if len(s.Sets) != 3 || !slices.ContainsFunc(s.Sets, func(x firewall.Set) bool { return x.Name == other }) {
		t.Errorf("sets %v: want the group's two and %s", s.Sets, other)
	}
	if !slices.ContainsFunc(s.Missing, func(m string) bool { return strings.Contains(m, ports) && strings.Contains(m, "hash:ip,port") }) {
		t.Errorf("Missing %q: want the hash:ip,port set %s named", s.Missing, ports)
	}

	// Scoped to the port.
	sc, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: n.node.Path, Taps: []string{tap}})
	if err != nil {
		t.Fatalf("Read scoped: %v", err)
	}
	var scNames []string
	for _, c := range sc.Ebtables.Chains {
		scNames = append(scNames, c.Name)
		if d := cmp.Diff(s.Ebtables.Chain(c.Name), &c, noCounters, eq); d != "" {
			t.Errorf("scoped chain %s differs from the whole read (-whole +scoped):\n%s", c.Name, d)
		}
	}
	wantSc := []string{"PREROUTING", "OUTPUT", "POSTROUTING"}
	userChains := []string{extra, viaTool, firewall.EbARPChain(tap), firewall.EbMACChain(tap)}
	slices.Sort(userChains)
	wantSc = append(wantSc, userChains...)
	if d := cmp.Diff(wantSc, scNames); d != "" {
		t.Errorf("scoped chains (-want +got):\n%s", d)
	}
	if len(sc.Sets) != 1 || sc.Sets[0].Name != firewall.IPSetName(testGroup, firewall.IPv4) {
		t.Errorf("scoped sets %v: want only %s, the one the port's rules name", sc.Sets, firewall.IPSetName(testGroup, firewall.IPv4))
	}
	if r := readsOf(sc, firewall.PartIPSets); len(r) != 1 || r[0].Via != firewall.ViaNetlink || len(r[0].Fallback) != 0 {
		t.Errorf("scoped Reads %+v: want the named sets read through netlink", sc.Reads)
	}
	// The port judged alike from both reads.
	for _, f := range []firewall.Frame{
		{InIface: tap, SrcMAC: port.MAC, ARP: true, ARPSrcIP: ip},
		{InIface: tap, SrcMAC: port.MAC, ARP: true, ARPSrcIP: netip.MustParseAddr("10.0.0.9")},
		{InIface: tap, SrcMAC: hwaddr.MustParse("fa:16:3e:00:01:02"), ARP: true, ARPSrcIP: netip.MustParseAddr("192.168.31.99")},
		{InIface: tap, SrcMAC: hwaddr.MustParse("fa:16:3e:99:99:99")},
	} {
		rw, errw := s.EvaluateEbtables(f)
		rs, errs := sc.EvaluateEbtables(f)
		rc, errc := (&firewall.Snapshot{Ebtables: cli}).EvaluateEbtables(f)
		if errw != nil || errs != nil || errc != nil {
			t.Fatalf("EvaluateEbtables(%+v): %v, %v, %v", f, errw, errs, errc)
		}
		if rw.Verdict != rs.Verdict || rw.Verdict != rc.Verdict || fmt.Sprint(rw.Rule) != fmt.Sprint(rs.Rule) {
			t.Errorf("%+v: whole %s, scoped %s, listing %s", f, rw.Verdict, rs.Verdict, rc.Verdict)
		}
	}
}

// TestIntegrationNetlinkReadNoLeak reads a node whole and scoped through
// netlink, and once with a context already cancelled: no fd, goroutine
// or thread in a foreign namespace may be left behind, and the cancelled
// read must fail rather than return a partial snapshot as complete.
func TestIntegrationNetlinkReadNoLeak(t *testing.T) {
	port := walkthroughPort(testPort, netip.MustParseAddr("192.168.31.74"))
	n := newNode(t, firewall.BackendNFT, port)
	read(t, n) // warm up (lazy runtime and exec state)
	home := testutil.ThreadNetNS(t)
	fds, gs := testutil.CountFDs(t), runtime.NumGoroutine()
	for range 3 {
		read(t, n)
		if _, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: n.node.Path, Taps: []string{port.Tap()}}); err != nil {
			t.Fatal(err)
		}
	}
	ctx, cancel := context.WithCancel(context.Background())
	cancel()
	if s, err := firewall.Read(ctx, &firewall.Config{NetNSPath: n.node.Path, Taps: []string{port.Tap()}}); err == nil {
		t.Errorf("Read with a cancelled context: no error (Reads %+v)", s.Reads)
	}
	if !testutil.Settle(func() bool { return testutil.CountFDs(t) <= fds && runtime.NumGoroutine() <= gs }) {
		t.Errorf("fds %d -> %d, goroutines %d -> %d after the reads", fds, testutil.CountFDs(t), gs, runtime.NumGoroutine())
	}
	if f := testutil.ForeignThreads(home); len(f) > 0 {
		t.Errorf("threads left in another namespace: %v", f)
	}
}

// TestIntegrationNetlinkEmptyNamespace reads a namespace where neither
// ebtables nor ipset was ever used: through netlink, whole and scoped,
// the nat table is what `ebtables -t nat -L --Lc` lists there (the three
// built-in chains, empty, ACCEPT), there are no sets, and nothing is
// missing.
func TestIntegrationNetlinkEmptyNamespace(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "ebtables-nft", "ebtables")
	ns := testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fb-e", 16))
	for _, taps := range [][]string{nil, {"tap3f2a9c1e-7b"}} {
		s, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: ns.Path, Taps: taps})
		if err != nil {
			t.Fatalf("Read (taps %v): %v", taps, err)
		}
		cli, err := firewall.ParseEbtablesList(string(ns.Run(t, "/usr/sbin/ebtables-nft", "-t", "nat", "-L", "--Lc")), firewall.BackendNFT)
		if err != nil {
			t.Fatal(err)
		}
		if d := cmp.Diff(cli.Chains, s.Ebtables.Chains, cmpopts.EquateEmpty()); d != "" || len(cli.Chains) != 3 {
			t.Errorf("taps %v: nat table differs from the listing's %d chains (-ebtables +netlink):\n%s", taps, len(cli.Chains), d)
		}
		for _, m := range s.Missing {
			if strings.Contains(m, "ebtables") || strings.Contains(m, "ipset") {
				t.Errorf("taps %v: Missing %q", taps, m)
			}
		}
		eb, sets := readsOf(s, firewall.PartEbtables), readsOf(s, firewall.PartIPSets)
		if len(s.Sets) != 0 || len(eb) != 1 || eb[0].Via != firewall.ViaNetlink || len(sets) != 1 || sets[0].Via != firewall.ViaNetlink {
			t.Errorf("taps %v: sets %v, Reads %+v: want none and the nat table and the sets read through netlink", taps, s.Sets, s.Reads)
		}
	}
}

// readsOf returns s.Reads of part.
func readsOf(s *firewall.Snapshot, part firewall.ReadPart) []firewall.TableRead {
	var out []firewall.TableRead
	for _, r := range s.Reads {
		if r.Part == part {
			out = append(out, r)
		}
	}
	return out
}
