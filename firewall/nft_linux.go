package firewall

import (
	"context"
	"fmt"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftReader lists one family's iptables-nft filter chains through
// nf_tables netlink, on the package's one netfilter socket stack (nfConn,
// nfmsg.go): the chain's policy and counters (NFT_MSG_GETCHAIN), its
// rules (one NFT_MSG_GETRULE dump per chain, every expression kept by
// name by parseNFRule), the ruleset generation and the ipsets' names by
// index (IPSET_CMD_GET_BYINDEX). Each expression is typed with
// google/nftables' expr types (expr.Unmarshal, one expression at a time)
// only when its name is one decodeNFTRule knows; any other name (socket,
// rt, byteorder, …: what google/nftables' own rule parser would skip
// without a word) refuses the rule, so its chain is listed by the tool.
// The socket is opened on a thread inside the namespace (internal/netns)
// and stays bound to it; the caller's thread never moves. Not safe for
// concurrent use: one reader per goroutine.
type nftReader struct {
	family Family
	nl     *nfConn
	sets   map[uint16]string
}

const (
	nftTableFilter      = "filter"
	nftMaxGenerationTry = 3
)

// openNFT opens a reader of family f's filter table in the namespace at
// netnsPath ("" the caller's). ctx's deadline and cancellation interrupt
// a request in flight (see dialNetfilter).
func openNFT(ctx context.Context, netnsPath string, f Family) (*nftReader, error) {
	c, err := dialNetfilter(ctx, netnsPath)
	if err != nil {
		return nil, err
	}
	return &nftReader{family: f, nl: c, sets: map[uint16]string{}}, nil
}

// Close closes the socket; it may be called more than once.
func (r *nftReader) Close() {
	r.nl.Close()
}

// nfproto is the reader's nfgenmsg family (NFPROTO_IPV4 or _IPV6).
func (r *nftReader) nfproto() uint8 { return nfproto(r.family) }

func nfproto(f Family) uint8 {
	if f == IPv6 {
		return unix.NFPROTO_IPV6
	}
	return unix.NFPROTO_IPV4
}

// generation returns the nf_tables ruleset generation: a read whose
// generation did not change saw one ruleset.
func (r *nftReader) generation() (uint32, error) {
	b, err := r.nl.requestOne(nfnlSubsysNFTables, nftMsgGetGen, unix.AF_UNSPEC, nil)
	if err != nil {
		return 0, fmt.Errorf("firewall: nf_tables generation: %w", err)
	}
	return decodeGeneration(b)
}

// decodeGeneration reads NFTA_GEN_ID from a NEWGEN message's attributes.
func decodeGeneration(b []byte) (uint32, error) {
	ad, err := newDecoder(b)
	if err != nil {
		return 0, err
	}
	for ad.Next() {
		if ad.Type() == nftaGenID && len(ad.Bytes()) == 4 {
			return ad.Uint32(), nil
		}
	}
	if err := ad.Err(); err != nil {
		return 0, fmt.Errorf("firewall: nf_tables generation: %w", err)
	}
	return 0, fmt.Errorf("firewall: nf_tables generation: no NFTA_GEN_ID")
}

// setName resolves an ipset index to its name (IPSET_CMD_GET_BYINDEX),
// as iptables does (by index, through the kernel's own table).
func (r *nftReader) setName(index uint16) (string, error) {
	if n, ok := r.sets[index]; ok {
		return n, nil
	}
	name, err := ipsetNameByIndex(r.nl, index)
	if err != nil {
		return "", err
	}
	r.sets[index] = name
	return name, nil
}

// nftChainHead is a chain's header: a base chain's policy and counters.
type nftChainHead struct {
	base           bool
	policy         string
	packets, bytes uint64
}

// chainHead reads one chain of the filter table (NFT_MSG_GETCHAIN);
// ok is false when it does not exist.
func (r *nftReader) chainHead(name string) (h nftChainHead, ok bool, err error) {
	b, err := r.nl.requestOne(nfnlSubsysNFTables, nftMsgGetChain, r.nfproto(), []netlink.Attribute{
		strAttr(nftaChainTable, nftTableFilter),
		strAttr(nftaChainName, name),
	})
	if isNotFound(err) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("chain %s: %w", name, err)
	}
	h, err = decodeChainHead(b)
	return h, err == nil, err
}

// decodeChainHead reads a NEWCHAIN message's attributes (parseNFChain)
// as iptables prints a chain's header.
func decodeChainHead(b []byte) (nftChainHead, error) {
	c, err := parseNFChain(b)
	if err != nil {
		return nftChainHead{}, fmt.Errorf("chain reply: %w", err)
	}
	h := nftChainHead{base: c.base, packets: c.packets, bytes: c.bytes}
	if c.base != c.hasPolicy {
		return h, fmt.Errorf("chain reply: base chain %v with policy %v", c.base, c.hasPolicy)
	}
	if c.base {
		switch c.policy {
		case nfAccept:
			h.policy = "ACCEPT"
		case nfDrop:
			h.policy = "DROP"
		default:
			return h, fmt.Errorf("chain reply: policy %d", c.policy)
		}
	}
	return h, nil
}

// chain lists one chain as iptables-save -c lines (":NAME POLICY
// [p:b]" and "[p:b] -A NAME SPEC"). ok is false when the chain does not
// exist, true when it does (also with an error); an error means it must
// be listed another way (a rule not decoded names itself).
func (r *nftReader) chain(name string) (text string, ok bool, err error) {
	h, ok, err := r.chainHead(name)
	if err != nil || !ok {
		return "", ok, err
	}
	text, err = r.rules(name, h)
	return text, true, err
}

// rules lists the rules of chain name, whose head is h.
func (r *nftReader) rules(name string, h nftChainHead) (string, error) {
	msgs, err := r.nl.request(nfnlSubsysNFTables, nftMsgGetRule, r.nfproto(), []netlink.Attribute{
		strAttr(nftaRuleTable, nftTableFilter),
		strAttr(nftaRuleChain, name),
	}, true)
	if err != nil {
		// Even ENOENT: the chain was there a moment ago.
		return "", fmt.Errorf("chain %s: rules: %w", name, err)
	}
	rules := map[string][]nfRule{}
	if err := collectRules(msgs, nftTableFilter, rules, name); err != nil {
		return "", fmt.Errorf("chain %s: rules: %w", name, err)
	}
	var b strings.Builder
	if h.base {
		fmt.Fprintf(&b, ":%s %s [%d:%d]\n", name, h.policy, h.packets, h.bytes)
	} else {
		fmt.Fprintf(&b, ":%s - [0:0]\n", name)
	}
	for i, rl := range rules[name] {
		if len(rl.udata) > 0 {
			// iptables-nft 1.8.9 writes none; `nft` writes a comment
			// there, which iptables prints as -m comment.
			return "", fmt.Errorf("chain %s rule %d: user data (a comment nft wrote) not decoded", name, i+1)
		}
		t, err := decodeNFRule(r.family, rl, r.setName)
		if err != nil {
			return "", fmt.Errorf("chain %s rule %d: %w", name, i+1, err)
		}
		fmt.Fprintf(&b, "[%d:%d] -A %s", t.packets, t.bytes, name)
		if t.spec != "" {
			b.WriteString(" " + t.spec)
		}
		b.WriteString("\n")
	}
	return b.String(), nil
}

// decodeNFRule types a rule's expressions (nftExprs) and decodes them
// (decodeNFTRule).
func decodeNFRule(f Family, rl nfRule, names nftSetNamer) (nftRuleText, error) {
	exprs, err := nftExprs(f, rl.exprs)
	if err != nil {
		return nftRuleText{}, err
	}
	return decodeNFTRule(f, exprs, names)
}

// nftExprs types each raw expression with google/nftables' expr type of
// its name, for the names decodeNFTRule decodes (or refuses with a
// reason naming the type: target). Any other name is an error naming
// it and its place: never left out, which would read the rule broader
// than the kernel runs it.
func nftExprs(f Family, raw []nfExpr) ([]expr.Any, error) {
	fam := nfproto(f)
	out := make([]expr.Any, 0, len(raw))
	for i, r := range raw {
		var e expr.Any
		switch r.name {
		case "meta":
			e = &expr.Meta{}
		case "payload":
			e = &expr.Payload{}
		case "cmp":
			e = &expr.Cmp{}
		case "bitwise":
			e = &expr.Bitwise{}
		case "range":
			e = &expr.Range{}
		case "match":
			e = &expr.Match{}
		case "target":
			e = &expr.Target{}
		case "counter":
			e = &expr.Counter{}
		case "immediate":
			e = &expr.Verdict{}
		default:
			return nil, fmt.Errorf("expression %d (%s) not decoded", i+1, r.name)
		}
		if r.data == nil {
			return nil, fmt.Errorf("expression %d (%s) without data", i+1, r.name)
		}
		if r.name == "immediate" {
			// iptables-nft's immediates are verdicts only: one loading
			// data into a register is refused.
			imm := &expr.Immediate{}
			if err := expr.Unmarshal(fam, r.data, imm); err != nil {
				return nil, fmt.Errorf("expression %d (immediate): %w", i+1, err)
			}
			if imm.Register != unix.NFT_REG_VERDICT || len(imm.Data) != 0 {
				return nil, fmt.Errorf("expression %d (immediate) loads register %d, not a verdict", i+1, imm.Register)
			}
		}
		if err := expr.Unmarshal(fam, r.data, e); err != nil {
			return nil, fmt.Errorf("expression %d (%s): %w", i+1, r.name, err)
		}
		out = append(out, e)
	}
	return out, nil
}
