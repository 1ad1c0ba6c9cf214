package firewall

import (
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
)

// listRules is `iptables-nft -S CHAIN -v` output of iptables 1.8.9 for a
// built-in chain and a port chain (counters before -j; a comment holding
// " -c 1 2" to show only the counters outside quotes are taken).
const listRules = `-P FORWARD ACCEPT -c 7 420
-A FORWARD -c 3 180 -j neutron-filter-top
-N neutron-linuxbri-i3f2a9c1e-7
-A neutron-linuxbri-i3f2a9c1e-7 -m state --state RELATED,ESTABLISHED -m comment --comment "x -c 1 2 y" -c 5 300 -j RETURN
-A neutron-linuxbri-i3f2a9c1e-7 -p tcp -m tcp --dport 22 -c 0 0 -j RETURN
-A neutron-linuxbri-i3f2a9c1e-7 -c 9 900
`

// saveRules is the same as iptables-save -c prints it.
const saveRules = `*filter
:FORWARD ACCEPT [7:420]
:neutron-linuxbri-i3f2a9c1e-7 - [0:0]
[3:180] -A FORWARD -j neutron-filter-top
[5:300] -A neutron-linuxbri-i3f2a9c1e-7 -m state --state RELATED,ESTABLISHED -m comment --comment "x -c 1 2 y" -j RETURN
[0:0] -A neutron-linuxbri-i3f2a9c1e-7 -p tcp -m tcp --dport 22 -j RETURN
[9:900] -A neutron-linuxbri-i3f2a9c1e-7
COMMIT
`

// TestConvertListRules: the -S -v listing converts to save lines that
// parse to the same table as iptables-save -c's text.
func TestConvertListRules(t *testing.T) {
	conv, err := ConvertListRules(listRules)
	if err != nil {
		t.Fatal(err)
	}
	got, err := ParseIPTablesSave("*filter\n"+conv+"COMMIT\n", BackendNFT, IPv4)
	if err != nil {
		t.Fatal(err)
	}
	want, err := ParseIPTablesSave(saveRules, BackendNFT, IPv4)
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(want, got, cmpopts.EquateEmpty(), cmpopts.EquateComparable(netip.Prefix{}, netip.Addr{})); d != "" {
		t.Errorf("converted listing differs from iptables-save's (-save +converted):\n%s", d)
	}
	for _, bad := range []string{"-A x -j DROP", "-P FORWARD", "-Z x", "-A x -c 1 -j DROP"} {
		if _, err := ConvertListRules(bad); err == nil {
			t.Errorf("ConvertListRules(%q) = nil error", bad)
		}
	}
}

// TestScopeMore: a scoped read follows jumps to chains it has not listed,
// but not to targets, listed chains, or other ports' chains.
func TestScopeMore(t *testing.T) {
	own := map[string]bool{PortChain("tap3f2a9c1e-7b", Ingress): true}
	chains := []Chain{{Name: SGChain, Rules: []Rule{
		{Target: PortChain("tapaaaaaaaa-bb", Ingress)}, // another port's
		{Target: PortChain("tap3f2a9c1e-7b", Ingress)}, // ours, not listed yet
		{Target: "ACCEPT"}, {Target: "CT"}, {Target: FallbackChain}, {Target: "DOCKER-USER"}, {Target: "DOCKER-USER"},
	}}}
	got := scopeMore(chains, map[string]bool{FallbackChain: true}, own)
	want := []string{PortChain("tap3f2a9c1e-7b", Ingress), "DOCKER-USER"}
	if !cmp.Equal(got, want) {
		t.Errorf("scopeMore = %v, want %v", got, want)
	}
	if c := scopeChainsFor([]string{"3f2a9c1e-7b4d-4e8f-a1b2-c3d4e5f60718"}); !strings.HasPrefix(c[len(c)-1], ChainPrefix+"s3f2a9c1e") || len(c) != len(scopeChains)+3 {
		t.Errorf("scopeChainsFor(port ID) = %v", c)
	}
}

// FuzzConvertListRules: no panic on any input; what converts parses.
func FuzzConvertListRules(f *testing.F) {
	f.Add(listRules)
	f.Add("-A x \"-c 1 2\n-P X Y -c a b\n-A x -c 1 2")
	f.Fuzz(func(t *testing.T, text string) {
		conv, err := ConvertListRules(text)
		if err != nil {
			return
		}
		ParseIPTablesSave("*filter\n"+conv+"COMMIT\n", BackendNFT, IPv4)
	})
}
