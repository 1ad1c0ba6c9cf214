package firewall

import (
	"net/netip"
	"testing"

	"github.com/mdlayher/netlink"
)

// FuzzEbRuleSpec: no panic on any nf_tables rule message; a rule that
// renders re-parses as an ebtables rule (it always has a target), and
// the rendering does not depend on whether sets can be fetched unless a
// lookup needs one.
func FuzzEbRuleSpec(f *testing.F) {
	tap := []byte("tap3f2a9c1e-7b\x00")
	f.Add(ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpEq, tap), eCounter(10, 1148), eVerdict(nftJump, "neutronMAC-tap3f2a9c1e-7b")))
	f.Add(ruleMsg(nil, ePayload(payloadLL, 12, 2, 1), eCmp(1, cmpEq, []byte{8, 6}), eMatch("arp", arpInfo(1, netip.MustParseAddr("10.0.0.0"), 0xffffff00, 0x09, 0x08)), eCounter(1, 28), eVerdict(nfAccept, "")))
	f.Add(ruleMsg(nil, eMeta(metaProtocol, 1), eCmp(1, cmpEq, []byte{8, 0}), ePayload(payloadLL, 6, 6, 1), ePayload(payloadNetwork, 12, 4, 10), eLookup("__set1", 1, 1), eCounter(0, 0), eVerdict(nfAccept, "")))
	f.Add(ruleMsg(nil, eMeta(metaIIFName, 1), eCmp(1, cmpNeq, []byte("tap")), ePayload(payloadLL, 0, 6, 2), eCmp(2, cmpEq, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}), eCounter(0, 0)))
	f.Add(ruleMsg([]byte{1, 4, 1, 0, 0, 0}, eCounter(3, 4), eVerdict(nfDrop, "")))
	f.Fuzz(func(t *testing.T, msg []byte) {
		r, err := parseNFRule(msg)
		if err != nil {
			return
		}
		for _, last := range []bool{false, true} {
			out, err := ebRuleSpec(r, last, testSetElems)
			if err != nil || out.isPolicy {
				continue
			}
			if _, err := parseEbRule(out.spec); err != nil {
				t.Fatalf("rendered %q does not parse: %v", out.spec, err)
			}
		}
		for _, e := range r.exprs {
			jumpTarget(e)
		}
	})
}

// FuzzNFMessages: no panic decoding chain, set element and ipset list
// messages from any bytes.
func FuzzNFMessages(f *testing.F) {
	f.Add(nlAttrs(str(nftaChainTable, "nat"), str(nftaChainName, "PREROUTING"), nest(nftaChainHook, u32a(nftaHookHooknum, 0), u32a(2, 0xfffffe0c)), u32a(nftaChainPolicy, 1)))
	f.Add(nlAttrs(str(nftaSetElemListTable, "nat"), str(nftaSetElemListSet, "__set0"), nest(nftaSetElemListElements, nest(nftaListElem, nest(nftaSetElemKey, netlink.Attribute{Type: nftaDataValue, Data: []byte{0xfa, 0x16, 0x3e, 0, 0, 1}})))))
	f.Add(ipsetMsg("NIPv4g", "hash:net", ipsetElem(netip.MustParseAddr("10.0.0.0"), 24), ipsetElem(netip.MustParseAddr("2001:db8::1"), -1, u32a(ipsetAttrTimeout, 5))))
	f.Fuzz(func(t *testing.T, b []byte) {
		parseNFChain(b)
		parseNFChainIn(b)
		parseNFSetElems(b)
		if m, err := decodeIPSetList(b); err == nil {
			for _, p := range m.members {
				if !p.IsValid() || p != p.Masked() {
					t.Fatalf("member %v is not a masked prefix", p)
				}
			}
		}
		joinIPSetMsgs([]netlink.Message{{Data: b}, {Data: append([]byte{2, 0, 0, 0}, b...)}})
		nfData(b)
	})
}
