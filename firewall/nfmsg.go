package firewall

import (
	"encoding/binary"
	"errors"
	"fmt"

	"github.com/mdlayher/netlink"
)

// This file decodes the nf_tables netlink messages Read asks for when it
// reads ebtables-nft's bridge nat table (see ebnft.go) and iptables-nft's
// filter chains (nft_linux.go): chains, rules and the elements of the
// anonymous sets among matches use. The framing is
// our own, on mdlayher/netlink's attribute decoder: google/nftables v0.3.0
// skips every expression it has no type for ("unsupported expression
// type"), which would make a rule read broader than it is; here every
// expression of a rule is kept by name, and one the decoder does not model
// sends its chain back to the tool's listing (ebtables, iptables).

// nf_tables netlink message and attribute numbers
// (include/uapi/linux/netfilter/nf_tables.h).
const (
	nfnlSubsysNFTables = 10
	nftMsgGetChain     = 4
	nftMsgNewChain     = 3
	nftMsgGetRule      = 7
	nftMsgNewRule      = 6
	nftMsgGetSetElem   = 13
	nftMsgNewSetElem   = 12
	nftMsgGetGen       = 16

	nftaChainTable  = 1
	nftaChainName   = 3
	nftaChainHook   = 4
	nftaChainPolicy = 5
	nftaHookHooknum = 1

	nftaChainCounters  = 8
	nftaCounterBytes   = 1
	nftaCounterPackets = 2

	nftaGenID = 1

	nftaRuleTable       = 1
	nftaRuleChain       = 2
	nftaRuleHandle      = 3
	nftaRuleExpressions = 4
	nftaRuleUserdata    = 7

	nftaListElem = 1
	nftaExprName = 1
	nftaExprData = 2

	nftaSetElemListTable    = 1
	nftaSetElemListSet      = 2
	nftaSetElemListElements = 3
	nftaSetElemKey          = 1
	nftaSetElemFlags        = 3
	nftaDataValue           = 1
	nftaDataVerdict         = 2
	nftaVerdictCode         = 1
	nftaVerdictChain        = 2

	nftSetElemIntervalEnd = 1
)

// nfChain is one chain of a table as NFT_MSG_NEWCHAIN describes it.
type nfChain struct {
	name string
	// base is true for a chain on a hook (PREROUTING …); policy is its
	// verdict code (NF_DROP 0, NF_ACCEPT 1), when hasPolicy.
	base      bool
	hook      uint32
	policy    int32
	hasPolicy bool
	// packets and bytes are a base chain's counters (the policy's).
	packets, bytes uint64
}

// nfExpr is one expression of a rule: its name and undecoded attributes.
type nfExpr struct {
	name string
	data []byte
}

// nfRule is one rule as NFT_MSG_NEWRULE describes it.
type nfRule struct {
	table  string
	chain  string
	handle uint64
	exprs  []nfExpr
	udata  []byte
}

// nfgenHeader is struct nfgenmsg: family, version 0, resource id 0.
func nfgenHeader(family uint8) []byte { return []byte{family, 0, 0, 0} }

// nfPayload strips the nfgenmsg header from a message's data.
func nfPayload(m netlink.Message) ([]byte, error) {
	if len(m.Data) < 4 {
		return nil, fmt.Errorf("firewall: netlink message of %d bytes: no nfgenmsg header", len(m.Data))
	}
	return m.Data[4:], nil
}

func newDecoder(b []byte) (*netlink.AttributeDecoder, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return nil, err
	}
	ad.ByteOrder = binary.BigEndian
	return ad, nil
}

// cstring is a netlink string attribute without its NUL terminator.
func cstring(b []byte) string {
	for i, c := range b {
		if c == 0 {
			return string(b[:i])
		}
	}
	return string(b)
}

// parseNFChain decodes the attributes of an NFT_MSG_NEWCHAIN message.
func parseNFChain(b []byte) (nfChain, error) {
	var c nfChain
	ad, err := newDecoder(b)
	if err != nil {
		return c, err
	}
	for ad.Next() {
		switch ad.Type() {
		case nftaChainName:
			c.name = cstring(ad.Bytes())
		case nftaChainHook:
			c.base = true
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					if nad.Type() == nftaHookHooknum && len(nad.Bytes()) == 4 {
						c.hook = nad.Uint32()
					}
				}
				return nil
			})
		case nftaChainPolicy:
			if len(ad.Bytes()) != 4 {
				return c, errors.New("firewall: chain policy attribute is not 4 bytes")
			}
			c.policy, c.hasPolicy = int32(ad.Uint32()), true
		case nftaChainCounters:
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for nad.Next() {
					switch {
					case nad.Type() == nftaCounterBytes && len(nad.Bytes()) == 8:
						c.bytes = nad.Uint64()
					case nad.Type() == nftaCounterPackets && len(nad.Bytes()) == 8:
						c.packets = nad.Uint64()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return c, fmt.Errorf("firewall: decode chain: %w", err)
	}
	if c.name == "" {
		return c, errors.New("firewall: decode chain: no name")
	}
	return c, nil
}

// parseNFChainMsg is parseNFChainIn on an NFT_MSG_NEWCHAIN message.
func parseNFChainMsg(m netlink.Message) (nfChain, string, error) {
	b, err := nfPayload(m)
	if err != nil {
		return nfChain{}, "", err
	}
	return parseNFChainIn(b)
}

// parseNFChainIn is parseNFChain that also returns the chain's table.
func parseNFChainIn(b []byte) (nfChain, string, error) {
	ch, err := parseNFChain(b)
	if err != nil {
		return ch, "", err
	}
	ad, err := newDecoder(b)
	if err != nil {
		return ch, "", err
	}
	tbl := ""
	for ad.Next() {
		if ad.Type() == nftaChainTable {
			tbl = cstring(ad.Bytes())
		}
	}
	return ch, tbl, ad.Err()
}

// parseNFRule decodes the attributes of an NFT_MSG_NEWRULE message. Every
// expression is kept, known or not.
func parseNFRule(b []byte) (nfRule, error) {
	var r nfRule
	ad, err := newDecoder(b)
	if err != nil {
		return r, err
	}
	for ad.Next() {
		switch ad.Type() {
		case nftaRuleTable:
			r.table = cstring(ad.Bytes())
		case nftaRuleChain:
			r.chain = cstring(ad.Bytes())
		case nftaRuleHandle:
			if len(ad.Bytes()) == 8 {
				r.handle = ad.Uint64()
			}
		case nftaRuleUserdata:
			r.udata = append([]byte(nil), ad.Bytes()...)
		case nftaRuleExpressions:
			ad.Nested(func(lad *netlink.AttributeDecoder) error {
				for lad.Next() {
					if lad.Type() != nftaListElem {
						return fmt.Errorf("expression list holds attribute %d", lad.Type())
					}
					var e nfExpr
					lad.Nested(func(ead *netlink.AttributeDecoder) error {
						for ead.Next() {
							switch ead.Type() {
							case nftaExprName:
								e.name = cstring(ead.Bytes())
							case nftaExprData:
								e.data = append([]byte(nil), ead.Bytes()...)
							}
						}
						return nil
					})
					if e.name == "" {
						e.name = "(unnamed)"
					}
					r.exprs = append(r.exprs, e)
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return r, fmt.Errorf("firewall: decode rule: %w", err)
	}
	return r, nil
}

// parseNFSetElems decodes the keys of an NFT_MSG_NEWSETELEM message,
// leaving out interval ends.
func parseNFSetElems(b []byte) ([][]byte, error) {
	ad, err := newDecoder(b)
	if err != nil {
		return nil, err
	}
	var keys [][]byte
	for ad.Next() {
		if ad.Type() != nftaSetElemListElements {
			continue
		}
		ad.Nested(func(lad *netlink.AttributeDecoder) error {
			for lad.Next() {
				if lad.Type() != nftaListElem {
					continue
				}
				var key []byte
				var flags uint32
				lad.Nested(func(ead *netlink.AttributeDecoder) error {
					for ead.Next() {
						switch ead.Type() {
						case nftaSetElemKey:
							ead.Nested(func(kad *netlink.AttributeDecoder) error {
								for kad.Next() {
									if kad.Type() == nftaDataValue {
										key = append([]byte(nil), kad.Bytes()...)
									}
								}
								return nil
							})
						case nftaSetElemFlags:
							if len(ead.Bytes()) == 4 {
								flags = ead.Uint32()
							}
						}
					}
					return nil
				})
				if flags&nftSetElemIntervalEnd != 0 {
					continue
				}
				if key == nil {
					return errors.New("set element without key")
				}
				keys = append(keys, key)
			}
			return nil
		})
	}
	if err := ad.Err(); err != nil {
		return nil, fmt.Errorf("firewall: decode set elements: %w", err)
	}
	return keys, nil
}

// exprAttrs splits one expression's attributes by number (1 to 15;
// nested ones stay raw), without allocating: a rule has a handful of
// expressions and a node hundreds of rules.
func exprAttrs(b []byte) (*[16][]byte, error) {
	var a [16][]byte
	for len(b) > 0 {
		if len(b) < 4 {
			return nil, errors.New("truncated attribute")
		}
		l := int(binary.NativeEndian.Uint16(b[0:2]))
		t := binary.NativeEndian.Uint16(b[2:4]) & 0x3fff
		if l < 4 || l > len(b) {
			return nil, fmt.Errorf("attribute of length %d in %d bytes", l, len(b))
		}
		if t == 0 || t >= 16 {
			return nil, fmt.Errorf("attribute %d", t)
		}
		a[t] = b[4:l]
		al := (l + 3) &^ 3
		if al > len(b) {
			al = len(b)
		}
		b = b[al:]
	}
	return &a, nil
}

func be32(b []byte) (uint32, bool) {
	if len(b) != 4 {
		return 0, false
	}
	return binary.BigEndian.Uint32(b), true
}

func be64(b []byte) (uint64, bool) {
	if len(b) != 8 {
		return 0, false
	}
	return binary.BigEndian.Uint64(b), true
}

// nfData decodes a struct nft_data attribute (NFTA_DATA_VALUE or
// NFTA_DATA_VERDICT): the value's bytes, or the verdict code and chain.
func nfData(b []byte) (value []byte, verdict int32, chain string, isVerdict bool, err error) {
	ad, err := newDecoder(b)
	if err != nil {
		return nil, 0, "", false, err
	}
	for ad.Next() {
		switch ad.Type() {
		case nftaDataValue:
			value = ad.Bytes()
		case nftaDataVerdict:
			isVerdict = true
			ad.Nested(func(vad *netlink.AttributeDecoder) error {
				for vad.Next() {
					switch vad.Type() {
					case nftaVerdictCode:
						if len(vad.Bytes()) == 4 {
							verdict = int32(vad.Uint32())
						}
					case nftaVerdictChain:
						chain = cstring(vad.Bytes())
					}
				}
				return nil
			})
		}
	}
	return value, verdict, chain, isVerdict, ad.Err()
}
