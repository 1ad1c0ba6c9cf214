package firewall

import (
	"encoding/binary"
	"errors"
	"net/netip"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/mdlayher/netlink"
	"github.com/vifpath/vifpath/hwaddr"
)

// The expressions below are those ebtables-nft 1.8.9 emitted for the
// agent's rules and the integration test's extra rules on this project's
// Debian 12 machines (dumped from a namespace and compared with
// `ebtables -t nat -L --Lc`); TestIntegrationNetlinkRead checks the same
// against the kernel.

func nlAttrs(as ...netlink.Attribute) []byte {
	b, err := netlink.MarshalAttributes(as)
	if err != nil {
		panic(err)
	}
	return b
}

func u32a(t uint16, v uint32) netlink.Attribute {
	return netlink.Attribute{Type: t, Data: binary.BigEndian.AppendUint32(nil, v)}
}

func nest(t uint16, as ...netlink.Attribute) netlink.Attribute {
	return netlink.Attribute{Type: t | netlink.Nested, Data: nlAttrs(as...)}
}

func str(t uint16, s string) netlink.Attribute {
	return netlink.Attribute{Type: t, Data: append([]byte(s), 0)}
}

func ex(name string, as ...netlink.Attribute) netlink.Attribute {
	return nest(nftaListElem, str(nftaExprName, name), nest(nftaExprData, as...))
}

func eMeta(key, dreg uint32) netlink.Attribute { return ex("meta", u32a(2, key), u32a(1, dreg)) }
func ePayload(base, off, l, dreg uint32) netlink.Attribute {
	return ex("payload", u32a(1, dreg), u32a(2, base), u32a(3, off), u32a(4, l))
}
func eCmp(sreg, op uint32, v []byte) netlink.Attribute {
	return ex("cmp", u32a(1, sreg), u32a(2, op), nest(3, netlink.Attribute{Type: nftaDataValue, Data: v}))
}
func eCounter(p, b uint64) netlink.Attribute {
	return ex("counter", netlink.Attribute{Type: 1, Data: binary.BigEndian.AppendUint64(nil, b)}, netlink.Attribute{Type: 2, Data: binary.BigEndian.AppendUint64(nil, p)})
}
func eVerdict(code int32, chain string) netlink.Attribute {
	v := []netlink.Attribute{u32a(nftaVerdictCode, uint32(code))}
	if chain != "" {
		v = append(v, str(nftaVerdictChain, chain))
	}
	return ex("immediate", u32a(1, 0), nest(2, nest(nftaDataVerdict, v...)))
}
func eLookup(set string, sreg, flags uint32) netlink.Attribute {
	as := []netlink.Attribute{str(1, set), u32a(2, sreg)}
	if flags != 0 {
		as = append(as, u32a(5, flags))
	}
	return ex("lookup", as...)
}
func eMatch(name string, info []byte) netlink.Attribute {
	return ex("match", str(1, name), u32a(2, 0), netlink.Attribute{Type: 3, Data: info})
}

// arpInfo builds struct ebt_arp_info (56 bytes, as the kernel pads it).
func arpInfo(opcode uint16, src netip.Addr, mask uint32, bitmask, inv byte) []byte {
	b := make([]byte, 56)
	binary.BigEndian.PutUint16(b[4:], opcode)
	if src.IsValid() {
		copy(b[8:12], src.AsSlice())
		binary.BigEndian.PutUint32(b[12:], mask)
	}
	b[48], b[49] = bitmask, inv
	return b
}

func ruleMsg(udata []byte, exprs ...netlink.Attribute) []byte {
	as := []netlink.Attribute{str(nftaRuleTable, "nat"), str(nftaRuleChain, "c"), nest(nftaRuleExpressions, exprs...)}
	if udata != nil {
		as = append(as, netlink.Attribute{Type: nftaRuleUserdata, Data: udata})
	}
	return nlAttrs(as...)
}

var testSets = map[string][][]byte{
	"__set0": {{0xfa, 0x16, 0x3e, 0x5c, 0x21, 0x0a}, {0xfa, 0x16, 0x3e, 0x00, 0x01, 0x02}},
	"__set1": {
		{0xfa, 0x16, 0x3e, 0, 0, 2, 0, 0, 10, 0, 0, 2},
		{0xfa, 0x16, 0x3e, 0, 0, 1, 0, 0, 10, 0, 0, 1},
	},
}

func testSetElems(name string) ([][]byte, error) {
	if k, ok := testSets[name]; ok {
		return k, nil
	}
	return nil, errors.New("no such set")
}

func TestEbRuleSpec(t *testing.T) {
	tap := []byte("tap3f2a9c1e-7b\x00")
	arp := []byte{0x08, 0x06}
	cases := []struct {
		name  string
		msg   []byte
		spec  string
		want  EbRule // typed fields parseEbRule gives the spec
		cnt   [2]uint64
		pol   string
		error string
	}{
		{"mac jump", ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpEq, tap), eCounter(10, 1148), eVerdict(nftJump, "neutronMAC-tap3f2a9c1e-7b")),
			"-i tap3f2a9c1e-7b -j neutronMAC-tap3f2a9c1e-7b", EbRule{InIface: "tap3f2a9c1e-7b", Target: "neutronMAC-tap3f2a9c1e-7b"}, [2]uint64{10, 1148}, "", ""},
		{"arp jump", ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpEq, tap), ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, arp), eCounter(1, 28), eVerdict(nftJump, "neutronARP-tap3f2a9c1e-7b")),
			"-p ARP -i tap3f2a9c1e-7b -j neutronARP-tap3f2a9c1e-7b", EbRule{Proto: "ARP", InIface: "tap3f2a9c1e-7b", Target: "neutronARP-tap3f2a9c1e-7b"}, [2]uint64{1, 28}, "", ""},
		{"arp-ip-src", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, arp), eMatch("arp", arpInfo(0, netip.MustParseAddr("192.168.31.74"), 0xffffffff, 0x08, 0)), eCounter(1, 28), eVerdict(nfAccept, "")),
			"-p ARP --arp-ip-src 192.168.31.74 -j ACCEPT", EbRule{Proto: "ARP", ARPIPSrc: netip.MustParsePrefix("192.168.31.74/32"), Target: "ACCEPT"}, [2]uint64{1, 28}, "", ""},
		{"arp-ip-src prefix", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, arp), eMatch("arp", arpInfo(0, netip.MustParseAddr("10.0.0.0"), 0xffffff00, 0x08, 0)), eCounter(0, 0), eVerdict(nfAccept, "")),
			"-p ARP --arp-ip-src 10.0.0.0/24 -j ACCEPT", EbRule{Proto: "ARP", ARPIPSrc: netip.MustParsePrefix("10.0.0.0/24"), Target: "ACCEPT"}, [2]uint64{}, "", ""},
		{"arp-op", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, arp), eMatch("arp", arpInfo(1, netip.Addr{}, 0, 0x01, 0)), eCounter(0, 0), eVerdict(nfAccept, "")),
			"-p ARP --arp-op Request -j ACCEPT", EbRule{Proto: "ARP", Target: "ACCEPT", Unknown: []string{"--arp-op", "Request"}}, [2]uint64{}, "", ""},
		{"among", ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpEq, tap), ePayload(payloadLL, 6, 6, 1), eLookup("__set0", 1, 0), eCounter(10, 1148), eVerdict(nftReturn, "")),
			"-i tap3f2a9c1e-7b --among-src fa:16:3e:0:1:2,fa:16:3e:5c:21:a -j RETURN",
			EbRule{InIface: "tap3f2a9c1e-7b", AmongSrc: []hwaddr.MAC{hwaddr.MustParse("fa:16:3e:00:01:02"), hwaddr.MustParse("fa:16:3e:5c:21:0a")}, Target: "RETURN"}, [2]uint64{10, 1148}, "", ""},
		{"among mac=ip", ruleMsg(nil, eMeta(metaProtocol, 1), eCmp(1, cmpEq, []byte{8, 0}), ePayload(payloadLL, 6, 6, 1), ePayload(payloadNetwork, 12, 4, 10), eLookup("__set1", 1, 0), eCounter(0, 0), eVerdict(nfAccept, "")),
			"--among-src fa:16:3e:0:0:1=10.0.0.1,fa:16:3e:0:0:2=10.0.0.2 -j ACCEPT",
			EbRule{AmongSrc: []hwaddr.MAC{hwaddr.MustParse("fa:16:3e:00:00:01"), hwaddr.MustParse("fa:16:3e:00:00:02")}, Target: "ACCEPT"}, [2]uint64{}, "", ""},
		{"among inverted", ruleMsg(nil, ePayload(payloadLL, 6, 6, 1), eLookup("__set0", 1, lookupInvert), eCounter(0, 0), eVerdict(nfDrop, "")),
			"--among-src ! fa:16:3e:0:1:2,fa:16:3e:5c:21:a -j DROP",
			EbRule{Target: "DROP", Unknown: []string{"--among-src !", "fa:16:3e:0:1:2,fa:16:3e:5c:21:a"}}, [2]uint64{}, "", ""},
		{"negations", ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpNeq, []byte("tap")), ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpNeq, arp), eCounter(0, 0)),
			"-p ! ARP -i ! tap+ -j CONTINUE", EbRule{Proto: "!", InIface: "!", Target: "CONTINUE", Unknown: []string{"ARP", "tap+"}}, [2]uint64{}, "", ""},
		{"macs", ruleMsg(nil, ePayload(payloadLL, 6, 6, 1), eCmp(1, cmpEq, []byte{0xfa, 0x16, 0x3e, 0, 0, 1}), ePayload(payloadLL, 0, 6, 1), eCmp(1, cmpEq, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), eCounter(0, 0), eVerdict(nfAccept, "")),
			"-s fa:16:3e:00:00:01 -d Broadcast -j ACCEPT", EbRule{SrcMAC: hwaddr.MustParse("fa:16:3e:00:00:01"), Target: "ACCEPT", Unknown: []string{"-d", "Broadcast"}}, [2]uint64{}, "", ""},
		{"length", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpLt, []byte{6, 0}), eCounter(0, 0)),
			"-p Length -j CONTINUE", EbRule{Proto: "Length", Target: "CONTINUE"}, [2]uint64{}, "", ""},
		{"policy", ruleMsg([]byte{1, 4, 1, 0, 0, 0}, eCounter(3, 4), eVerdict(nfDrop, "")), "", EbRule{}, [2]uint64{}, "DROP", ""},
		{"ip match", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, []byte{8, 0}), eMatch("ip", make([]byte, 32)), eCounter(0, 0), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", `xtables match "ip"`},
		{"limit", ruleMsg(nil, ex("limit", u32a(1, 5)), eCounter(0, 0), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", `"limit" is not decoded`},
		{"masked mac", ruleMsg(nil, ePayload(payloadLL, 6, 6, 1), ex("bitwise", u32a(1, 1)), eCmp(1, cmpEq, make([]byte, 6)), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", `"bitwise" is not decoded`},
		{"target", ruleMsg(nil, eCounter(0, 0), ex("target", str(1, "mark"))), "", EbRule{}, [2]uint64{}, "", `"target" is not decoded`},
		{"arp mac", ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, arp), eMatch("arp", arpInfo(0, netip.Addr{}, 0, 0x20, 0)), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", "MAC or gratuitous"},
		{"no set", ruleMsg(nil, ePayload(payloadLL, 6, 6, 1), eLookup("__set9", 1, 0), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", "set __set9"},
		{"load unused", ruleMsg(nil, ePayload(payloadLL, 6, 6, 1), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", "never compared"},
		{"meta protocol alone", ruleMsg(nil, eMeta(metaProtocol, 1), eCmp(1, cmpEq, []byte{8, 0}), eVerdict(nfAccept, "")), "", EbRule{}, [2]uint64{}, "", "meta protocol ip without"},
		{"goto", ruleMsg(nil, eVerdict(nftGoto, "x")), "", EbRule{}, [2]uint64{}, "", "verdict -4"},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			r, err := parseNFRule(c.msg)
			if err != nil {
				t.Fatal(err)
			}
			got, err := ebRuleSpec(r, true, testSetElems)
			if c.error != "" {
				if err == nil || !strings.Contains(err.Error(), c.error) {
					t.Fatalf("err = %v, want one saying %q", err, c.error)
				}
				return
			}
			if err != nil {
				t.Fatal(err)
			}
			if got.policy != c.pol || got.isPolicy != (c.pol != "") {
				t.Errorf("policy %q (%v), want %q", got.policy, got.isPolicy, c.pol)
			}
			if c.pol != "" {
				return
			}
			if got.spec != c.spec || got.packets != c.cnt[0] || got.bytes != c.cnt[1] {
				t.Errorf("got %q %d/%d, want %q %d/%d", got.spec, got.packets, got.bytes, c.spec, c.cnt[0], c.cnt[1])
			}
			er, err := parseEbRule(got.spec)
			if err != nil {
				t.Fatal(err)
			}
			c.want.Spec = c.spec
			if d := cmp.Diff(c.want, er, cmpopts.EquateComparable(netip.Prefix{}), cmpopts.EquateEmpty()); d != "" {
				t.Errorf("parsed (-want +got):\n%s", d)
			}
		})
	}
	// Only a chain's last rule carries its policy.
	r, _ := parseNFRule(ruleMsg([]byte{1, 4, 1, 0, 0, 0}, eCounter(0, 0), eVerdict(nfDrop, "")))
	if got, err := ebRuleSpec(r, false, nil); err != nil || got.isPolicy || got.spec != "-j DROP" {
		t.Errorf("a marked rule that is not last: %+v, %v; want the rule -j DROP", got, err)
	}
}

func TestIPMaskText(t *testing.T) {
	for m, want := range map[uint32]string{0xffffffff: "", 0xffffff00: "/24", 0: "/0", 0x80000000: "/1", 0xfffffffe: "/31", 0xff00ff00: "/255.0.255.0"} {
		if got := ipMaskText(m); got != want {
			t.Errorf("ipMaskText(%#x) = %q, want %q", m, got, want)
		}
	}
}

func ipsetMsg(name, typ string, elems ...netlink.Attribute) []byte {
	as := []netlink.Attribute{{Type: ipsetAttrProtocol, Data: []byte{6}}, str(ipsetAttrSetName, name)}
	if typ != "" {
		as = append(as, str(ipsetAttrTypeName, typ))
	}
	if len(elems) > 0 {
		as = append(as, nest(ipsetAttrADT, elems...))
	}
	return nlAttrs(as...)
}

func ipsetElem(a netip.Addr, cidr int, extra ...netlink.Attribute) netlink.Attribute {
	t := uint16(ipsetAttrIPv4)
	if a.Is6() {
		t = ipsetAttrIPv6
	}
	as := []netlink.Attribute{nest(ipsetAttrIP, netlink.Attribute{Type: t | netlink.NetByteOrder, Data: a.AsSlice()})}
	if cidr >= 0 {
		as = append(as, netlink.Attribute{Type: ipsetAttrCIDR, Data: []byte{byte(cidr)}})
	}
	return nest(ipsetAttrData, append(as, extra...)...)
}

func TestIPSetJoin(t *testing.T) {
	msgs := []netlink.Message{
		{Data: append([]byte{2, 0, 0, 0}, ipsetMsg("NIPv4g", "hash:net", ipsetElem(netip.MustParseAddr("192.168.31.74"), 32), ipsetElem(netip.MustParseAddr("10.0.0.0"), 24))...)},
		{Data: append([]byte{2, 0, 0, 0}, ipsetMsg("NIPv4g", "", ipsetElem(netip.MustParseAddr("10.1.0.1"), -1, u32a(ipsetAttrTimeout, 30)))...)},
		{Data: append([]byte{2, 0, 0, 0}, ipsetMsg("NIPv6g", "hash:net", ipsetElem(netip.MustParseAddr("2001:db8::1"), 128))...)},
		{Data: append([]byte{2, 0, 0, 0}, ipsetMsg("ports", "hash:ip,port", ipsetElem(netip.MustParseAddr("192.0.2.1"), -1, netlink.Attribute{Type: 4, Data: []byte{0, 80}}))...)},
		{Data: append([]byte{2, 0, 0, 0}, ipsetMsg("nomatch", "hash:net", ipsetElem(netip.MustParseAddr("10.0.0.0"), 8, u32a(ipsetAttrCADTFlags, ipsetFlagNomatch)))...)},
	}
	sets, skipped, err := joinIPSetMsgs(msgs)
	if err != nil {
		t.Fatal(err)
	}
	want := []Set{
		{Name: "NIPv4g", Type: "hash:net", Members: []netip.Prefix{netip.MustParsePrefix("192.168.31.74/32"), netip.MustParsePrefix("10.0.0.0/24"), netip.MustParsePrefix("10.1.0.1/32")}},
		{Name: "NIPv6g", Type: "hash:net", Members: []netip.Prefix{netip.MustParsePrefix("2001:db8::1/128")}},
	}
	if d := cmp.Diff(want, sets, cmpopts.EquateComparable(netip.Prefix{})); d != "" {
		t.Errorf("sets (-want +got):\n%s", d)
	}
	if len(skipped) != 2 || !strings.Contains(skipped[0], "ports (hash:ip,port)") || !strings.Contains(skipped[1], "nomatch") {
		t.Errorf("skipped %q: want the hash:ip,port and the nomatch set", skipped)
	}
	// The same sets as `ipset save` prints them parse alike.
	saved, err := ParseIPSetSave("create NIPv4g hash:net family inet\nadd NIPv4g 192.168.31.74\nadd NIPv4g 10.0.0.0/24\nadd NIPv4g 10.1.0.1 timeout 30\ncreate NIPv6g hash:net family inet6\nadd NIPv6g 2001:db8::1\n")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(saved, sets, cmpopts.EquateComparable(netip.Prefix{})); d != "" {
		t.Errorf("netlink and ipset save differ (-save +netlink):\n%s", d)
	}
}
