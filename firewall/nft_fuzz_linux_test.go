package firewall

import (
	"strings"
	"testing"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftRuleFromBytes parses data as the attributes of one NFT_MSG_NEWRULE
// message the way a read does: parseNFRule, then nftExprs.
func nftRuleFromBytes(f Family, data []byte) ([]expr.Any, nfRule, error) {
	rl, err := parseNFRule(data)
	if err != nil {
		return nil, rl, err
	}
	exprs, err := nftExprs(f, rl.exprs)
	return exprs, rl, err
}

// marshalRule is the inverse, for seeds: the NEWRULE attributes of a
// rule in chain x of table filter.
func marshalRule(tb testing.TB, f Family, exprs ...expr.Any) []byte {
	tb.Helper()
	var ex []netlink.Attribute
	for _, e := range exprs {
		b, err := expr.Marshal(nfproto(f), e)
		if err != nil {
			tb.Fatal(err)
		}
		ex = append(ex, netlink.Attribute{Type: unix.NLA_F_NESTED | unix.NFTA_LIST_ELEM, Data: b})
	}
	list, err := netlink.MarshalAttributes(ex)
	if err != nil {
		tb.Fatal(err)
	}
	b, err := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_RULE_TABLE, Data: []byte("filter\x00")},
		{Type: unix.NFTA_RULE_CHAIN, Data: []byte("x\x00")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_RULE_EXPRESSIONS, Data: list},
	})
	if err != nil {
		tb.Fatal(err)
	}
	return b
}

func testSetNames(i uint16) (string, error) { return "NIPv4set" + string(rune('a'+i%26)), nil }

// FuzzDecodeNFTRule: any NEWRULE message, parsed as a read does
// (parseNFRule, nftExprs) and decoded, never panics; what decodes parses as an
// iptables rule line and prints back to the same Spec.
func FuzzDecodeNFTRule(f *testing.F) {
	for _, s := range nftSeedRules(f) {
		f.Add(s.v6, s.data)
	}
	f.Fuzz(func(t *testing.T, v6 bool, data []byte) {
		family := IPv4
		if v6 {
			family = IPv6
		}
		raw, err := parseNFRule(data)
		if err != nil {
			return
		}
		exprs, xerr := nftExprs(family, raw.exprs)
		txt, err := decodeNFRule(family, raw, testSetNames)
		if xerr != nil && err == nil {
			t.Fatalf("expressions refused (%v) but the rule decoded as %q", xerr, txt.spec)
		}
		if err != nil {
			return
		}
		if len(exprs) != len(raw.exprs) {
			t.Fatalf("%d expressions decoded from %d", len(exprs), len(raw.exprs))
		}
		rl, err := parseRuleLine("-A x " + txt.spec)
		if err != nil {
			t.Fatalf("decoded %q does not parse: %v", txt.spec, err)
		}
		if rl.Spec != strings.TrimSpace(txt.spec) {
			t.Fatalf("spec %q parsed back as %q", txt.spec, rl.Spec)
		}
	})
}

// FuzzDecodeNFTMatch: any xt match info blob of the matches decoded
// here, unmarshalled by google/nftables and decoded, never panics.
func FuzzDecodeNFTMatch(f *testing.F) {
	for _, s := range nftSeedMatches() {
		f.Add(s.name, s.rev, s.data, byte(6))
	}
	f.Fuzz(func(t *testing.T, name string, rev uint32, data []byte, proto byte) {
		for _, fam := range []Family{IPv4, IPv6} {
			tf := xt.TableFamily(unix.NFPROTO_IPV4)
			if fam == IPv6 {
				tf = unix.NFPROTO_IPV6
			}
			info, err := xt.Unmarshal(name, tf, rev, data)
			if err != nil {
				continue
			}
			decodeNFTMatch(fam, proto, &expr.Match{Name: name, Rev: rev, Info: info}, testSetNames)
		}
	})
}

// FuzzDecodeNFTReplies: the chain and ipset replies' decoders never
// panic.
func FuzzDecodeNFTReplies(f *testing.F) {
	ctr, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: nftaCounterBytes, Data: make([]byte, 8)}, {Type: nftaCounterPackets, Data: make([]byte, 8)}})
	gen, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: nftaGenID, Data: []byte{0, 0, 1, 2}}})
	chain, _ := netlink.MarshalAttributes([]netlink.Attribute{
		{Type: unix.NFTA_CHAIN_NAME, Data: []byte("FORWARD\x00")},
		{Type: unix.NLA_F_NESTED | unix.NFTA_CHAIN_HOOK, Data: []byte{8, 0, 1, 0, 0, 0, 0, 2}},
		{Type: unix.NFTA_CHAIN_POLICY, Data: []byte{0, 0, 0, 1}},
		{Type: unix.NLA_F_NESTED | nftaChainCounters, Data: ctr},
	})
	set, _ := netlink.MarshalAttributes([]netlink.Attribute{{Type: ipsetAttrProtocol, Data: []byte{7}}, {Type: ipsetAttrSetName, Data: []byte("NIPv4x\x00")}})
	f.Add(chain)
	f.Add(set)
	f.Add(gen)
	f.Fuzz(func(t *testing.T, b []byte) {
		decodeChainHead(b)
		decodeIPSetName(b)
		decodeGeneration(b)
	})
}

type nftSeed struct {
	v6   bool
	data []byte
}

type nftMatchSeed struct {
	name string
	rev  uint32
	data []byte
}

// nftSeedMatches are the match blobs iptables-nft 1.8.9 wrote for the
// agent's layout and the integration test's odd rules (dumped from the
// kernel).
func nftSeedMatches() []nftMatchSeed {
	physOut := make([]byte, 72)
	copy(physOut[32:], "tap63035db3-59")
	for i := 48; i < 63; i++ {
		physOut[i] = 0xff
	}
	physOut[65] = physdevOut | physdevBridged
	set := make([]byte, 48)
	set[0], set[2], set[3] = 1, 1, 2
	ct := make([]byte, 168)
	mp := make([]byte, 48)
	copy(mp, []byte{1, 2, 0xe8, 0x03, 0xd0, 0x07})
	mp[32] = 1
	return []nftMatchSeed{
		{"physdev", 0, physOut},
		{"set", 4, set},
		{"set", 1, set[:8]},
		{"conntrack", 3, ct},
		{"comment", 0, append([]byte("Jump to the VM specific chain."), make([]byte, 226)...)},
		{"mac", 0, []byte{0xfa, 0x16, 0x3e, 1, 2, 3, 0, 0, 1, 0, 0, 0, 0, 0, 0, 0}},
		{"icmp", 0, []byte{8, 0, 0xff, 0, 0, 0, 0, 0}},
		{"icmp6", 0, []byte{0x80, 0, 0xff, 0, 0, 0, 0, 0}},
		{"multiport", 1, mp},
		{"tcp", 0, []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0}},
		{"udp", 0, []byte{0, 0, 0xff, 0xff, 0, 0, 0xff, 0xff, 0, 0, 0, 0}},
	}
}

// nftSeedRules are rules as the kernel holds them for the agent's
// layout (see TestDecodeNFTRule).
func nftSeedRules(tb testing.TB) []nftSeed {
	var out []nftSeed
	for _, c := range nftRuleCases() {
		out = append(out, nftSeed{c.family == IPv6, marshalRule(tb, c.family, c.exprs...)})
	}
	return out
}
