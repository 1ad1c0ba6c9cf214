package firewall_test

import (
	"context"
	"slices"
	"testing"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationBridgeHooks adds, in a fresh namespace, what night 5 on
// the aio cloud added by hand: a rule in ebtables-nft's filter table
// (`ebtables -A FORWARD -s MAC -j DROP`) and a native nft bridge table
// with a forward-hook chain dropping a MAC, plus a base chain with no rule
// (left out) and one whose policy drops. Read lists exactly the three, as
// `nft list ruleset bridge` shows them; with none, the field is nil.
func TestIntegrationBridgeHooks(t *testing.T) {
	testutil.RequireRoot(t)
	nft := testutil.RequireBinary(t, "nft", "nftables")
	ns := testutil.NewNetNS(t)
	read := func() *firewall.Snapshot {
		s, err := firewall.Read(context.Background(), &firewall.Config{NetNSPath: ns.Path, SkipIPv6: true})
		if err != nil {
			t.Fatal(err)
		}
		return s
	}
	if s := read(); s.BridgeHooks != nil {
		t.Fatalf("a fresh namespace: bridge hooks %v, want none", s.BridgeHooks)
	}
	for _, cmd := range [][]string{
		{"add", "table", "bridge", "filter"},
		{"add", "chain", "bridge", "filter", "FORWARD", "{ type filter hook forward priority -200; policy accept; }"},
		{"add", "rule", "bridge", "filter", "FORWARD", "ether", "saddr", "fa:16:3e:00:00:05", "counter", "drop"},
		{"add", "table", "bridge", "n5t"},
		{"add", "chain", "bridge", "n5t", "fwd5", "{ type filter hook forward priority 0; policy accept; }"},
		{"add", "rule", "bridge", "n5t", "fwd5", "ether", "saddr", "fa:16:3e:00:00:05", "drop"},
		{"add", "rule", "bridge", "n5t", "fwd5", "ether", "daddr", "fa:16:3e:00:00:05", "drop"},
		{"add", "chain", "bridge", "n5t", "empty", "{ type filter hook prerouting priority 0; policy accept; }"},
		{"add", "chain", "bridge", "n5t", "closed", "{ type filter hook input priority 0; policy drop; }"},
		{"add", "table", "bridge", "nat"},
		{"add", "chain", "bridge", "nat", "PREROUTING", "{ type filter hook prerouting priority -300; policy accept; }"},
		{"add", "rule", "bridge", "nat", "PREROUTING", "ether", "saddr", "fa:16:3e:00:00:06", "drop"},
	} {
		ns.Run(t, nft, cmd...)
	}
	got := read().BridgeHooks
	want := []firewall.BridgeHook{
		{Table: "filter", Chain: "FORWARD", Hook: "forward", Policy: "ACCEPT", Rules: 1},
		{Table: "n5t", Chain: "closed", Hook: "input", Policy: "DROP", Rules: 0},
		{Table: "n5t", Chain: "fwd5", Hook: "forward", Policy: "ACCEPT", Rules: 2},
	}
	if !slices.Equal(got, want) {
		t.Errorf("bridge hooks:\n got %v\nwant %v\n(nft list ruleset bridge:\n%s)", got, want, ns.Run(t, nft, "list", "ruleset", "bridge"))
	}
	if s := got[0].String(); s != "table filter chain FORWARD (forward hook, 1 rule)" {
		t.Errorf("String() = %q", s)
	}
}
