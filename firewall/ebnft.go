package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"slices"
	"strconv"
	"strings"
)

// ebtables-nft (iptables 1.8.9's xtables-nft-multi) stores the bridge nat
// table as nf_tables table "nat" of family bridge: one nf_tables chain per
// ebtables chain, one rule per rule, a counter in each. ebRuleSpec turns
// such a rule back into the text `ebtables -t nat -L --Lc` prints for it,
// which parseEbRule then reads, so a rule read through netlink and a rule
// read from the listing become the same EbRule by construction (and the
// integration tests compare the two field by field). What it renders is
// what ebtables-nft 1.8.9 emits for the agent's rules and a little more:
//
//   - -i / -o / --logical-in / --logical-out: meta iifname, oifname,
//     ibrname, obrname compared (== or !=) with a name, a prefix for "+";
//   - -p: the Ethernet type (payload link-layer offset 12) compared == or
//     !=, and "Length" (< 0x0600);
//   - -s / -d: the source or destination MAC compared whole (a masked MAC
//     uses a bitwise expression: not modelled);
//   - --among-src / --among-dst: a lookup of the MAC (or MAC and IPv4
//     address, behind "meta protocol ip") in an anonymous set, whose
//     elements are fetched;
//   - --arp-op, --arp-htype, --arp-ptype, --arp-ip-src, --arp-ip-dst: the
//     xtables "arp" match (struct ebt_arp_info);
//   - -j ACCEPT, DROP, RETURN, a chain, or CONTINUE (no verdict);
//   - the counter.
//
// Anything else (another expression, an xtables target or watcher, a
// masked MAC, the arp match's MAC or gratuitous options) is an error
// naming it: the chain is then listed with the tool instead (see Read), so
// a rule is never read narrower or broader than the kernel applies it.

// Verdict codes (include/uapi/linux/netfilter.h and nf_tables.h).
const (
	nfDrop      = 0
	nfAccept    = 1
	nftContinue = -1
	nftJump     = -3
	nftGoto     = -4
	nftReturn   = -5
)

// meta keys, cmp operators and payload bases (nf_tables.h).
const (
	metaProtocol   = 1
	metaIIFName    = 6
	metaOIFName    = 7
	metaBriIIFName = 18
	metaBriOIFName = 19

	cmpEq  = 0
	cmpNeq = 1
	cmpLt  = 2
	cmpGte = 5

	payloadLL      = 0
	payloadNetwork = 1

	lookupInvert = 1
)

// ebPolicyUdata is the rule userdata ebtables-nft puts on the rule that
// carries a user chain's policy (UDATA_TYPE_EBTABLES_POLICY = 1, a u32 1
// in host byte order).
func isEbPolicyRule(udata []byte) bool {
	for len(udata) >= 2 {
		typ, l := udata[0], int(udata[1])
		if len(udata) < 2+l {
			return false
		}
		if typ == 1 && l == 4 {
			v := udata[2:6]
			return binary.LittleEndian.Uint32(v) == 1 || binary.BigEndian.Uint32(v) == 1
		}
		udata = udata[2+l:]
	}
	return false
}

// ebEtherTypes are the Ethernet type names of /etc/ethertypes (as
// Debian's iptables ships it) that ebtables prints for -p.
var ebEtherTypes = map[uint16]string{
	0x0800: "IPv4", 0x0805: "X25", 0x0806: "ARP", 0x0808: "FR_ARP", 0x08FF: "BPQ",
	0x22F3: "TRILL", 0x22F4: "L2-IS-IS", 0x6558: "TEB", 0x6559: "RAW_FR", 0x8035: "RARP",
	0x809B: "ATALK", 0x80F3: "AARP", 0x8100: "802_1Q", 0x8137: "IPX", 0x8191: "NetBEUI",
	0x86DD: "IPv6", 0x880B: "PPP", 0x8847: "MPLS", 0x8848: "MPLS_MULTI", 0x884C: "ATMMPOA",
	0x8863: "PPP_DISC", 0x8864: "PPP_SES", 0x8884: "ATMFATE", 0x888E: "EAPOL", 0x88A8: "S-TAG",
	0x88C7: "EAP_PREAUTH", 0x88CC: "LLDP", 0x88E5: "MACSEC", 0x88E7: "PBB", 0x88F5: "MVRP",
	0x88F7: "PTP", 0x8906: "FCOE", 0x8914: "FIP", 0x8915: "ROCE", 0xA0ED: "LoWPAN",
}

// arpOpcodes are libebt_arp's opcode names, 1-based.
var arpOpcodes = []string{"Request", "Reply", "Request_Reverse", "Reply_Reverse", "DRARP_Request", "DRARP_Reply", "DRARP_Error", "InARP_Request", "ARP_NAK"}

// ebRegVal is what an expression loaded into a register.
type ebRegVal struct {
	meta    uint32
	isMeta  bool
	base    uint32
	offset  uint32
	length  uint32
	payload bool
}

// ebAmong is one among list (src or dst) of a rule.
type ebAmong struct {
	inv   bool
	ip    bool
	pairs [][]byte // 12-byte MAC, pad, IPv4 keys as ebtables sorts them
}

// ebRendered is one rule rendered, or the policy rule of a user chain.
type ebRendered struct {
	spec     string
	packets  uint64
	bytes    uint64
	isPolicy bool
	policy   string
}

// ebSetElems fetches the keys of a set of the table by name.
type ebSetElems func(name string) ([][]byte, error)

// ebRuleSpec renders one rule of ebtables-nft's bridge table as
// `ebtables -L --Lc` prints it (without the counters, which it returns).
// last says whether the rule is its chain's last (only the last can carry
// a user chain's policy). It never panics; an error names what it does not
// model.
func ebRuleSpec(r nfRule, last bool, sets ebSetElems) (ebRendered, error) {
	var out ebRendered
	regs := map[uint32]ebRegVal{}
	var (
		proto, protoInv, proto8023 bool
		protoVal                   uint16
		src, dst                   []byte
		srcInv, dstInv             bool
		ifaces                     = map[uint32]string{} // meta key -> "[! ]name"
		matches                    []string              // rendered matches in order
		among                      [2]*ebAmong           // src, dst
		amongAt                    = -1                  // index in matches
		metaIP                     bool
		verdict                    string
		hasVerdict                 bool
		counter                    bool
	)
	for i, e := range r.exprs {
		if hasVerdict {
			return out, fmt.Errorf("expression %d (%s) after the verdict", i+1, e.name)
		}
		a, err := exprAttrs(e.data)
		if err != nil {
			return out, fmt.Errorf("expression %d (%s): %v", i+1, e.name, err)
		}
		switch e.name {
		case "meta":
			key, ok1 := be32(a[2])
			dreg, ok2 := be32(a[1])
			if !ok1 || !ok2 {
				return out, fmt.Errorf("expression %d: meta without key or destination register", i+1)
			}
			regs[dreg] = ebRegVal{meta: key, isMeta: true}
		case "payload":
			dreg, ok1 := be32(a[1])
			base, ok2 := be32(a[2])
			off, ok3 := be32(a[3])
			l, ok4 := be32(a[4])
			if !ok1 || !ok2 || !ok3 || !ok4 || a[5] != nil {
				return out, fmt.Errorf("expression %d: payload that is not a load", i+1)
			}
			regs[dreg] = ebRegVal{base: base, offset: off, length: l, payload: true}
		case "cmp":
			sreg, ok1 := be32(a[1])
			op, ok2 := be32(a[2])
			val, _, _, isV, err := nfData(a[3])
			if !ok1 || !ok2 || err != nil || isV || val == nil {
				return out, fmt.Errorf("expression %d: cmp without register, operator or value", i+1)
			}
			rv, ok := regs[sreg]
			if !ok {
				return out, fmt.Errorf("expression %d: cmp of register %d nothing loaded", i+1, sreg)
			}
			delete(regs, sreg)
			switch {
			case rv.isMeta && rv.meta == metaProtocol:
				if op != cmpEq || !bytes.Equal(val, []byte{0x08, 0x00}) || metaIP {
					return out, fmt.Errorf("expression %d: meta protocol compared other than == ip", i+1)
				}
				metaIP = true
			case rv.isMeta && (rv.meta == metaIIFName || rv.meta == metaOIFName || rv.meta == metaBriIIFName || rv.meta == metaBriOIFName):
				if op != cmpEq && op != cmpNeq {
					return out, fmt.Errorf("expression %d: interface compared with operator %d", i+1, op)
				}
				if _, dup := ifaces[rv.meta]; dup {
					return out, fmt.Errorf("expression %d: interface compared twice", i+1)
				}
				name, err := ebIfname(val)
				if err != nil {
					return out, fmt.Errorf("expression %d: %v", i+1, err)
				}
				if op == cmpNeq {
					name = "! " + name
				}
				ifaces[rv.meta] = name
			case rv.payload && rv.base == payloadLL && rv.offset == 12 && rv.length == 2:
				if proto || len(val) != 2 {
					return out, fmt.Errorf("expression %d: Ethernet type compared twice or not 2 bytes", i+1)
				}
				proto = true
				protoVal = binary.BigEndian.Uint16(val)
				switch {
				case op == cmpEq || op == cmpNeq:
					protoInv = op == cmpNeq
				case (op == cmpLt || op == cmpGte) && protoVal == 0x0600:
					proto8023, protoInv = true, op == cmpGte
				default:
					return out, fmt.Errorf("expression %d: Ethernet type compared with operator %d", i+1, op)
				}
			case rv.payload && rv.base == payloadLL && (rv.offset == 0 || rv.offset == 6) && rv.length == 6:
				if op != cmpEq && op != cmpNeq || len(val) != 6 {
					return out, fmt.Errorf("expression %d: MAC compared with operator %d", i+1, op)
				}
				if rv.offset == 6 {
					if src != nil {
						return out, fmt.Errorf("expression %d: source MAC compared twice", i+1)
					}
					src, srcInv = val, op == cmpNeq
				} else {
					if dst != nil {
						return out, fmt.Errorf("expression %d: destination MAC compared twice", i+1)
					}
					dst, dstInv = val, op == cmpNeq
				}
			default:
				return out, fmt.Errorf("expression %d: cmp of a load ebtables does not emit", i+1)
			}
		case "lookup":
			name := cstring(a[1])
			sreg, ok := be32(a[2])
			if name == "" || !ok || a[3] != nil {
				return out, fmt.Errorf("expression %d: lookup that is not a plain set membership", i+1)
			}
			var flags uint32
			if a[5] != nil {
				if flags, ok = be32(a[5]); !ok || flags&^lookupInvert != 0 {
					return out, fmt.Errorf("expression %d: lookup flags %x", i+1, flags)
				}
			}
			mac, ok := regs[sreg]
			if !ok || !mac.payload || mac.base != payloadLL || mac.length != 6 || (mac.offset != 0 && mac.offset != 6) {
				return out, fmt.Errorf("expression %d: lookup of something other than a MAC", i+1)
			}
			delete(regs, sreg)
			isDst := mac.offset == 0
			if sets == nil {
				return out, fmt.Errorf("expression %d: set %s not fetched", i+1, name)
			}
			keys, err := sets(name)
			if err != nil {
				return out, fmt.Errorf("expression %d: set %s: %v", i+1, name, err)
			}
			am := &ebAmong{inv: flags&lookupInvert != 0}
			// With an IPv4 address: the next 32-bit register after the
			// MAC's two holds it (ebtables-nft's nft_get_next_reg).
			next := reg32(sreg) + 2
			if ip, ok := regs[next]; ok && ip.payload {
				delete(regs, next)
				want := uint32(12)
				if isDst {
					want = 16
				}
				if ip.base != payloadNetwork || ip.length != 4 || ip.offset != want || !metaIP {
					return out, fmt.Errorf("expression %d: among address is not the IPv4 %s address behind meta protocol ip", i+1, map[bool]string{false: "source", true: "destination"}[isDst])
				}
				am.ip = true
			}
			for _, k := range keys {
				switch {
				case !am.ip && len(k) == 6:
					am.pairs = append(am.pairs, append(append([]byte(nil), k...), 0, 0, 0, 0, 0, 0))
				case am.ip && len(k) == 12:
					am.pairs = append(am.pairs, append([]byte(nil), k...))
				default:
					return out, fmt.Errorf("expression %d: set %s has a %d-byte element", i+1, name, len(k))
				}
			}
			// ebtables inserts the pairs sorted (nft_among_insert_pair).
			slices.SortFunc(am.pairs, bytes.Compare)
			idx := 0
			if isDst {
				idx = 1
			}
			if among[idx] != nil {
				return out, fmt.Errorf("expression %d: two among lists in one direction", i+1)
			}
			among[idx] = am
			if amongAt < 0 {
				amongAt = len(matches)
				matches = append(matches, "")
			}
		case "match":
			name := cstring(a[1])
			rev, _ := be32(a[2])
			if name != "arp" || rev != 0 {
				return out, fmt.Errorf("expression %d: xtables match %q revision %d", i+1, name, rev)
			}
			s, err := ebARPMatch(a[3])
			if err != nil {
				return out, fmt.Errorf("expression %d: %v", i+1, err)
			}
			matches = append(matches, s)
		case "counter":
			b, ok1 := be64(a[1])
			p, ok2 := be64(a[2])
			if !ok1 || !ok2 || counter {
				return out, fmt.Errorf("expression %d: counter without packets and bytes, or a second one", i+1)
			}
			out.packets, out.bytes, counter = p, b, true
		case "immediate":
			dreg, ok := be32(a[1])
			_, code, chain, isV, err := nfData(a[2])
			if !ok || dreg != 0 || !isV || err != nil {
				return out, fmt.Errorf("expression %d: immediate that is not a verdict", i+1)
			}
			switch code {
			case nfAccept:
				verdict = "ACCEPT"
			case nfDrop:
				verdict = "DROP"
			case nftReturn:
				verdict = "RETURN"
			case nftJump:
				if chain == "" {
					return out, fmt.Errorf("expression %d: jump without a chain", i+1)
				}
				verdict = chain
			default:
				return out, fmt.Errorf("expression %d: verdict %d", i+1, code)
			}
			hasVerdict = true
		default:
			return out, fmt.Errorf("expression %d: %q is not decoded", i+1, e.name)
		}
	}
	if len(regs) > 0 {
		return out, fmt.Errorf("a loaded value is never compared")
	}
	if metaIP && (among[0] == nil || !among[0].ip) && (among[1] == nil || !among[1].ip) {
		return out, fmt.Errorf("meta protocol ip without an among list of addresses")
	}
	if last && isEbPolicyRule(r.udata) {
		if len(r.exprs) != 2 || r.exprs[0].name != "counter" || (verdict != "ACCEPT" && verdict != "DROP") {
			return out, fmt.Errorf("the policy rule is not a counter and ACCEPT or DROP")
		}
		out.isPolicy, out.policy = true, verdict
		return out, nil
	}
	if amongAt >= 0 {
		var b strings.Builder
		for i, am := range among {
			if am == nil {
				continue
			}
			b.WriteString([]string{"--among-src ", "--among-dst "}[i])
			sep := ""
			if am.inv {
				sep = "! "
			}
			for _, p := range am.pairs {
				b.WriteString(sep)
				sep = ","
				b.WriteString(etherNtoa(p[:6]))
				if ip := netip.AddrFrom4([4]byte(p[8:12])); am.ip && !ip.IsUnspecified() {
					b.WriteString("=" + ip.String())
				}
			}
			b.WriteString(" ")
		}
		matches[amongAt] = b.String()
	}
	var b strings.Builder
	if proto {
		b.WriteString("-p ")
		if protoInv {
			b.WriteString("! ")
		}
		switch name, ok := ebEtherTypes[protoVal]; {
		case proto8023:
			b.WriteString("Length ")
		case ok:
			b.WriteString(name + " ")
		default:
			fmt.Fprintf(&b, "0x%x ", protoVal)
		}
	}
	for _, m := range []struct {
		opt string
		mac []byte
		inv bool
	}{{"-s ", src, srcInv}, {"-d ", dst, dstInv}} {
		if m.mac == nil {
			continue
		}
		b.WriteString(m.opt)
		if m.inv {
			b.WriteString("! ")
		}
		if bytes.Equal(m.mac, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}) {
			b.WriteString("Broadcast ")
		} else {
			b.WriteString(padMAC(m.mac) + " ")
		}
	}
	for _, k := range []struct {
		key uint32
		opt string
	}{{metaIIFName, "-i "}, {metaBriIIFName, "--logical-in "}, {metaOIFName, "-o "}, {metaBriOIFName, "--logical-out "}} {
		if n, ok := ifaces[k.key]; ok {
			b.WriteString(k.opt + n + " ")
		}
	}
	for _, m := range matches {
		b.WriteString(m)
	}
	if !hasVerdict {
		verdict = "CONTINUE"
	}
	b.WriteString("-j " + verdict)
	out.spec = b.String()
	return out, nil
}

// jumpTarget is the chain an immediate verdict jumps or goes to, or "".
func jumpTarget(e nfExpr) string {
	if e.name != "immediate" {
		return ""
	}
	a, err := exprAttrs(e.data)
	if err != nil {
		return ""
	}
	_, code, chain, isV, err := nfData(a[2])
	if err != nil || !isV || (code != nftJump && code != nftGoto) {
		return ""
	}
	return chain
}

// reg32 is the first 32-bit register (NFT_REG32_00 = 8 …) a register
// number names: the 16-byte NFT_REG_1..4 are 32-bit registers 8, 12, 16, 20.
func reg32(r uint32) uint32 {
	if r >= 1 && r <= 4 {
		return 8 + (r-1)*4
	}
	return r
}

// ebIfname reads an interface name compared by ebtables-nft: NUL-ended
// for an exact name, without the NUL for a prefix ("tap+").
func ebIfname(b []byte) (string, error) {
	if len(b) == 0 {
		return "", fmt.Errorf("empty interface name")
	}
	if i := bytes.IndexByte(b, 0); i >= 0 {
		if i == 0 || i != len(b)-1 {
			return "", fmt.Errorf("interface name %q", b)
		}
		return checkIfname(string(b[:i]))
	}
	n, err := checkIfname(string(b))
	if err != nil || len(b) >= 16 {
		return n, err
	}
	return n + "+", nil
}

func checkIfname(s string) (string, error) {
	for _, c := range s {
		if c <= ' ' || c > '~' {
			return "", fmt.Errorf("interface name %q", s)
		}
	}
	return s, nil
}

// etherNtoa prints a MAC as glibc's ether_ntoa does ("fa:16:3e:0:1:2"),
// the way ebtables prints among lists.
func etherNtoa(m []byte) string {
	var b strings.Builder
	for i, c := range m {
		if i > 0 {
			b.WriteByte(':')
		}
		b.WriteString(strconv.FormatUint(uint64(c), 16))
	}
	return b.String()
}

// padMAC prints a MAC with two digits a byte, as ebtables prints -s/-d.
func padMAC(m []byte) string {
	var b strings.Builder
	for i, c := range m {
		if i > 0 {
			b.WriteByte(':')
		}
		fmt.Fprintf(&b, "%02x", c)
	}
	return b.String()
}

// ebARPMatch renders struct ebt_arp_info as libebt_arp prints it: htype,
// ptype and opcode (be16 each), two pad bytes, saddr, smsk, daddr, dmsk,
// four MACs, bitmask and invflags.
func ebARPMatch(info []byte) (string, error) {
	const (
		opcode = 0x01
		htype  = 0x02
		ptype  = 0x04
		srcIP  = 0x08
		dstIP  = 0x10
		known  = opcode | htype | ptype | srcIP | dstIP
	)
	if len(info) < 50 {
		return "", fmt.Errorf("arp match of %d bytes", len(info))
	}
	bitmask, inv := info[48], info[49]
	if bitmask&^known != 0 {
		return "", fmt.Errorf("arp match options %#x (MAC or gratuitous) are not decoded", bitmask&^known)
	}
	var b strings.Builder
	neg := func(flag byte) {
		if inv&flag != 0 {
			b.WriteString("! ")
		}
	}
	if bitmask&opcode != 0 {
		b.WriteString("--arp-op ")
		neg(opcode)
		if op := int(binary.BigEndian.Uint16(info[4:6])); op > 0 && op <= len(arpOpcodes) {
			b.WriteString(arpOpcodes[op-1] + " ")
		} else {
			fmt.Fprintf(&b, "%d ", op)
		}
	}
	if bitmask&htype != 0 {
		b.WriteString("--arp-htype ")
		neg(htype)
		fmt.Fprintf(&b, "%d ", binary.BigEndian.Uint16(info[0:2]))
	}
	if bitmask&ptype != 0 {
		b.WriteString("--arp-ptype ")
		neg(ptype)
		fmt.Fprintf(&b, "0x%x ", binary.BigEndian.Uint16(info[2:4]))
	}
	for _, f := range []struct {
		flag byte
		opt  string
		at   int
	}{{srcIP, "--arp-ip-src ", 8}, {dstIP, "--arp-ip-dst ", 16}} {
		if bitmask&f.flag == 0 {
			continue
		}
		b.WriteString(f.opt)
		neg(f.flag)
		addr := netip.AddrFrom4([4]byte(info[f.at : f.at+4]))
		b.WriteString(addr.String() + ipMaskText(binary.BigEndian.Uint32(info[f.at+4:f.at+8])) + " ")
	}
	return b.String(), nil
}

// ipMaskText is xtables_ipmask_to_numeric: "" for /32, "/N" for a prefix
// mask, "/a.b.c.d" for any other.
func ipMaskText(m uint32) string {
	if m == 0xffffffff {
		return ""
	}
	for n := 31; n >= 0; n-- {
		if m == uint32(0xffffffff)<<(32-n) || (n == 0 && m == 0) {
			return "/" + strconv.Itoa(n)
		}
	}
	var a [4]byte
	binary.BigEndian.PutUint32(a[:], m)
	return "/" + netip.AddrFrom4(a).String()
}
