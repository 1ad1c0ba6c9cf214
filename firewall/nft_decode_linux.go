package firewall

import (
	"bytes"
	"encoding/binary"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/google/nftables/expr"
	"github.com/google/nftables/xt"
)

// This file turns one iptables-nft rule, as nf_tables netlink hands its
// expressions (google/nftables), back into the text `iptables-nft -S`
// prints for it, so a netlink read goes through the same parser
// (ParseIPTablesSave) as the CLI read and yields the same Rule values,
// Spec included. It knows exactly what iptables-nft 1.8.9 writes for
// the agent's rules: native meta iifname/oifname/l4proto, network
// header payloads (addresses, shortened to the prefix's bytes, with a
// bitwise mask when the prefix is not byte aligned), transport header
// payloads (tcp/udp ports: cmp or range), the xtables-compat matches
// physdev, set (revisions 1 to 4), conntrack (revision 3, -m state and
// -m conntrack --ctstate), comment, mac, icmp, icmp6, multiport
// (revision 1), tcp and udp, a counter, and a verdict (ACCEPT, DROP,
// RETURN, jump, goto). Anything else (another expression, a match
// option the text would print differently, a target such as REJECT or
// LOG) is an error naming it: the caller then lists the chain with the
// CLI instead, so a rule is never misread.

// nftSetNamer resolves an ipset's kernel index (what an xt set match
// holds) to its name.
type nftSetNamer func(index uint16) (string, error)

// nftRuleText is one decoded rule: its text after "-A CHAIN " and its
// counters.
type nftRuleText struct {
	spec           string
	packets, bytes uint64
}

// Offsets of the addresses in the IPv4 and IPv6 headers.
const (
	ip4Src, ip4Dst = 12, 16
	ip6Src, ip6Dst = 8, 24
)

// nftProtos are the protocol numbers iptables 1.8.9 prints by the name
// in its own table (xtables_chain_protos), which is also the name
// Debian's /etc/protocols gives them. Another number is printed from
// /etc/protocols ("gre", "vrrp"): not decoded here.
var nftProtos = map[byte]string{
	6: "tcp", 17: "udp", 1: "icmp", 58: "ipv6-icmp", 132: "sctp", 136: "udplite", 50: "esp", 51: "ah",
}

// decodeNFTRule decodes one rule of family f. names resolves set
// indexes (nil: a rule with a set match is an error).
func decodeNFTRule(f Family, exprs []expr.Any, names nftSetNamer) (nftRuleText, error) {
	var (
		out            nftRuleText
		src, dst       string // "-s …" / "! -s …"
		in, outIf, pro string
		proto          byte
		matches        []string
		// Native tcp/udp ports are printed as one "-m tcp|udp" match at
		// the place of the first port payload.
		ports    *portMatch
		portsAt  = -1
		xtPorts  bool
		verdict  string
		counted  bool
		finished bool
	)
	alen, sOff, dOff := 4, ip4Src, ip4Dst
	if f == IPv6 {
		alen, sOff, dOff = 16, ip6Src, ip6Dst
	}
	for i := 0; i < len(exprs); i++ {
		if finished {
			return out, fmt.Errorf("expression %d (%s) after the verdict", i+1, exprName(exprs[i]))
		}
		// cmpAfter returns the cmp that must follow a load into reg.
		cmpAfter := func(reg uint32) (*expr.Cmp, bool, error) {
			if i+1 >= len(exprs) {
				return nil, false, fmt.Errorf("expression %d (%s) compares nothing", i+1, exprName(exprs[i]))
			}
			c, ok := exprs[i+1].(*expr.Cmp)
			if !ok || c.Register != reg || (c.Op != expr.CmpOpEq && c.Op != expr.CmpOpNeq) {
				return nil, false, fmt.Errorf("expression %d (%s) not followed by an equality cmp", i+1, exprName(exprs[i]))
			}
			i++
			return c, c.Op == expr.CmpOpNeq, nil
		}
		switch e := exprs[i].(type) {
		case *expr.Meta:
			if e.SourceRegister {
				return out, fmt.Errorf("expression %d: meta set", i+1)
			}
			c, neg, err := cmpAfter(e.Register)
			if err != nil {
				return out, err
			}
			switch e.Key {
			case expr.MetaKeyIIFNAME, expr.MetaKeyOIFNAME:
				name, err := nftIfName(c.Data)
				if err != nil {
					return out, fmt.Errorf("expression %d: %w", i, err)
				}
				opt := " -i "
				if e.Key == expr.MetaKeyOIFNAME {
					opt = " -o "
				}
				s := negOpt(neg) + opt + name
				if e.Key == expr.MetaKeyIIFNAME {
					if in != "" {
						return out, fmt.Errorf("two -i")
					}
					in = s
				} else {
					if outIf != "" {
						return out, fmt.Errorf("two -o")
					}
					outIf = s
				}
			case expr.MetaKeyL4PROTO:
				name, ok := nftProtos[firstByte(c.Data)]
				if len(c.Data) != 1 || !ok || pro != "" {
					return out, fmt.Errorf("expression %d: protocol %v not decoded", i, c.Data)
				}
				pro, proto = negOpt(neg)+" -p "+name, c.Data[0]
				if neg {
					proto = 0 // ! -p tcp: no tcp match may follow
				}
			default:
				return out, fmt.Errorf("expression %d: meta key %d not decoded", i+1, e.Key)
			}
		case *expr.Payload:
			if e.OperationType != expr.PayloadLoad {
				return out, fmt.Errorf("expression %d: payload write", i+1)
			}
			reg := e.DestRegister
			switch e.Base {
			case expr.PayloadBaseNetworkHeader:
				off, n := int(e.Offset), int(e.Len)
				if (off != sOff && off != dOff) || n < 1 || n > alen {
					return out, fmt.Errorf("expression %d: network header payload at %d+%d not decoded", i+1, off, n)
				}
				mask := bytes.Repeat([]byte{0xff}, n)
				if i+1 < len(exprs) {
					if b, ok := exprs[i+1].(*expr.Bitwise); ok {
						if b.SourceRegister != reg || b.DestRegister != reg || int(b.Len) != n || len(b.Mask) != n || len(b.Xor) != n || !allZero(b.Xor) {
							return out, fmt.Errorf("expression %d: bitwise not an address mask", i+2)
						}
						mask = b.Mask
						i++
					}
				}
				c, neg, err := cmpAfter(reg)
				if err != nil {
					return out, err
				}
				s, err := nftAddr(c.Data, mask, alen)
				if err != nil {
					return out, fmt.Errorf("expression %d: %w", i, err)
				}
				if off == sOff {
					if src != "" {
						return out, fmt.Errorf("two -s")
					}
					src = negOpt(neg) + " -s " + s
				} else {
					if dst != "" {
						return out, fmt.Errorf("two -d")
					}
					dst = negOpt(neg) + " -d " + s
				}
			case expr.PayloadBaseTransportHeader:
				if proto != 6 && proto != 17 || xtPorts {
					return out, fmt.Errorf("expression %d: transport payload without -p tcp or udp", i+1)
				}
				if ports == nil {
					ports = &portMatch{src: [2]uint16{0, 0xffff}, dst: [2]uint16{0, 0xffff}}
					portsAt = len(matches)
					matches = append(matches, "")
				}
				if err := ports.add(e, exprs, &i); err != nil {
					return out, fmt.Errorf("expression %d: %w", i+1, err)
				}
			default:
				return out, fmt.Errorf("expression %d: payload base %d not decoded", i+1, e.Base)
			}
		case *expr.Match:
			if (e.Name == "tcp" || e.Name == "udp") && ports != nil {
				return out, fmt.Errorf("expression %d: xt %s match besides native ports", i+1, e.Name)
			}
			s, err := decodeNFTMatch(f, proto, e, names)
			if err != nil {
				return out, fmt.Errorf("expression %d: %w", i+1, err)
			}
			if e.Name == "tcp" || e.Name == "udp" {
				xtPorts = true
			}
			matches = append(matches, s)
		case *expr.Counter:
			if counted {
				return out, fmt.Errorf("expression %d: a second counter", i+1)
			}
			counted, out.packets, out.bytes = true, e.Packets, e.Bytes
		case *expr.Verdict:
			switch e.Kind {
			case expr.VerdictAccept:
				verdict = " -j ACCEPT"
			case expr.VerdictDrop:
				verdict = " -j DROP"
			case expr.VerdictReturn:
				verdict = " -j RETURN"
			case expr.VerdictJump:
				verdict = " -j " + e.Chain
			case expr.VerdictGoto:
				verdict = " -g " + e.Chain
			default:
				return out, fmt.Errorf("expression %d: verdict %d not decoded", i+1, e.Kind)
			}
			if (e.Kind == expr.VerdictJump || e.Kind == expr.VerdictGoto) && (e.Chain == "" || strings.ContainsAny(e.Chain, " \t\"")) {
				return out, fmt.Errorf("expression %d: jump to %q", i+1, e.Chain)
			}
			finished = true
		default:
			return out, fmt.Errorf("expression %d (%s) not decoded", i+1, exprName(e))
		}
	}
	if ports != nil {
		name := "tcp"
		if proto == 17 {
			name = "udp"
		}
		matches[portsAt] = " -m " + name + ports.text()
	}
	var b strings.Builder
	for _, s := range []string{src, dst, in, outIf, pro} {
		b.WriteString(s)
	}
	for _, s := range matches {
		b.WriteString(s)
	}
	b.WriteString(verdict)
	out.spec = strings.TrimPrefix(b.String(), " ")
	return out, nil
}

func negOpt(neg bool) string {
	if neg {
		return " !"
	}
	return ""
}

func firstByte(b []byte) byte {
	if len(b) == 0 {
		return 0
	}
	return b[0]
}

func allZero(b []byte) bool {
	for _, c := range b {
		if c != 0 {
			return false
		}
	}
	return true
}

func exprName(e expr.Any) string { return strings.TrimPrefix(fmt.Sprintf("%T", e), "*expr.") }

// nftIfName reads an interface name as iptables-nft compares it: the
// name and its NUL, or a prefix without one ("eth+").
func nftIfName(d []byte) (string, error) {
	if len(d) == 0 || len(d) > 16 {
		return "", fmt.Errorf("interface name of %d bytes", len(d))
	}
	if d[len(d)-1] == 0 {
		d = d[:len(d)-1]
		if len(d) == 0 || bytes.IndexByte(d, 0) >= 0 || !printable(d) {
			return "", fmt.Errorf("interface name %q", d)
		}
		return string(d), nil
	}
	if bytes.IndexByte(d, 0) >= 0 || !printable(d) {
		return "", fmt.Errorf("interface name %q", d)
	}
	return string(d) + "+", nil
}

func printable(b []byte) bool {
	for _, c := range b {
		if c <= ' ' || c >= 0x7f || c == '"' || c == '\\' {
			return false
		}
	}
	return true
}

// nftAddr prints an address match as iptables does ("10.0.0.0/8"):
// data is the first len(data) bytes of the address, mask their mask
// (contiguous ones).
func nftAddr(data, mask []byte, alen int) (string, error) {
	if len(data) != len(mask) || len(data) == 0 || len(data) > alen {
		return "", fmt.Errorf("address of %d bytes with a mask of %d", len(data), len(mask))
	}
	bits, zero := 0, false
	for _, m := range mask {
		for k := 7; k >= 0; k-- {
			if m&(1<<k) != 0 {
				if zero {
					return "", fmt.Errorf("mask %x not a prefix", mask)
				}
				bits++
			} else {
				zero = true
			}
		}
	}
	full := make([]byte, alen)
	for i := range data {
		if data[i]&^mask[i] != 0 {
			return "", fmt.Errorf("address %x outside its mask %x", data, mask)
		}
		full[i] = data[i]
	}
	if bits == 0 {
		// iptables leaves "-s 0.0.0.0/0" out; a zero mask is not its.
		return "", fmt.Errorf("zero mask")
	}
	var a netip.Addr
	if alen == 4 {
		a = netip.AddrFrom4([4]byte(full))
	} else {
		a = netip.AddrFrom16([16]byte(full))
	}
	s := a.String()
	if alen == 16 && allZero(full[:12]) && (full[12] != 0 || full[13] != 0) {
		// glibc's inet_ntop writes an IPv4-compatible address as
		// ::a.b.c.d, Go as ::x:y.
		s = fmt.Sprintf("::%d.%d.%d.%d", full[12], full[13], full[14], full[15])
	}
	return s + "/" + strconv.Itoa(bits), nil
}

// portMatch gathers native tcp/udp port payloads into the match
// iptables prints for them.
type portMatch struct {
	src, dst       [2]uint16
	hasSrc, hasDst bool
	negSrc, negDst bool
}

func (p *portMatch) add(e *expr.Payload, exprs []expr.Any, i *int) error {
	reg := e.DestRegister
	if *i+1 >= len(exprs) {
		return fmt.Errorf("port payload compares nothing")
	}
	next := exprs[*i+1]
	set := func(src bool, lo, hi uint16, neg bool) error {
		if src {
			if p.hasSrc {
				return fmt.Errorf("two source port matches")
			}
			p.src, p.hasSrc, p.negSrc = [2]uint16{lo, hi}, true, neg
		} else {
			if p.hasDst {
				return fmt.Errorf("two destination port matches")
			}
			p.dst, p.hasDst, p.negDst = [2]uint16{lo, hi}, true, neg
		}
		return nil
	}
	switch {
	case e.Offset == 0 && e.Len == 4:
		c, ok := next.(*expr.Cmp)
		if !ok || c.Register != reg || len(c.Data) != 4 || (c.Op != expr.CmpOpEq && c.Op != expr.CmpOpNeq) {
			return fmt.Errorf("both-ports payload not followed by a 4-byte cmp")
		}
		*i++
		s, d := binary.BigEndian.Uint16(c.Data[:2]), binary.BigEndian.Uint16(c.Data[2:])
		neg := c.Op == expr.CmpOpNeq
		if err := set(true, s, s, neg); err != nil {
			return err
		}
		return set(false, d, d, neg)
	case (e.Offset == 0 || e.Offset == 2) && e.Len == 2:
		src := e.Offset == 0
		switch c := next.(type) {
		case *expr.Cmp:
			if c.Register != reg || len(c.Data) != 2 || (c.Op != expr.CmpOpEq && c.Op != expr.CmpOpNeq) {
				return fmt.Errorf("port payload not followed by a 2-byte equality cmp")
			}
			*i++
			v := binary.BigEndian.Uint16(c.Data)
			return set(src, v, v, c.Op == expr.CmpOpNeq)
		case *expr.Range:
			if c.Register != reg || len(c.FromData) != 2 || len(c.ToData) != 2 || (c.Op != expr.CmpOpEq && c.Op != expr.CmpOpNeq) {
				return fmt.Errorf("port payload not followed by a 2-byte range")
			}
			*i++
			lo, hi := binary.BigEndian.Uint16(c.FromData), binary.BigEndian.Uint16(c.ToData)
			if lo > hi {
				return fmt.Errorf("port range %d:%d", lo, hi)
			}
			return set(src, lo, hi, c.Op == expr.CmpOpNeq)
		}
		return fmt.Errorf("port payload followed by %s", exprName(next))
	}
	return fmt.Errorf("transport payload at %d+%d not decoded", e.Offset, e.Len)
}

func (p *portMatch) text() string {
	return portsText(p.src, p.dst, p.negSrc, p.negDst)
}

// portsText prints tcp/udp ports as libxt_tcp's and libxt_udp's save do.
func portsText(src, dst [2]uint16, negSrc, negDst bool) string {
	var b strings.Builder
	one := func(opt string, r [2]uint16, neg bool) {
		if r[0] == 0 && r[1] == 0xffff {
			return
		}
		b.WriteString(negOpt(neg))
		if r[0] != r[1] {
			fmt.Fprintf(&b, " --%s %d:%d", opt, r[0], r[1])
		} else {
			fmt.Fprintf(&b, " --%s %d", opt, r[0])
		}
	}
	one("sport", src, negSrc)
	one("dport", dst, negDst)
	return b.String()
}

// Bits of the xt matches decoded below (linux/netfilter/*.h).
const (
	physdevIn      = 0x01
	physdevOut     = 0x02
	physdevBridged = 0x04
	physdevIsIn    = 0x08
	physdevIsOut   = 0x10

	ctFlagState      = 0x0001
	ctFlagStateAlias = 0x2000

	setInvMatch = 0x01
)

// ctStates are the conntrack state bits in the order libxt_conntrack
// prints them.
var ctStates = []struct {
	bit  uint16
	name string
}{{1, "INVALID"}, {8, "NEW"}, {4, "RELATED"}, {2, "ESTABLISHED"}, {256, "UNTRACKED"}}

// decodeNFTMatch prints one xtables-compat match as `iptables -S`
// does: " -m NAME OPTIONS". proto is the rule's -p (0: none).
func decodeNFTMatch(f Family, proto byte, m *expr.Match, names nftSetNamer) (string, error) {
	raw := func(n int) ([]byte, error) {
		u, ok := m.Info.(*xt.Unknown)
		if !ok || u == nil {
			return nil, fmt.Errorf("match %s rev %d: info %T", m.Name, m.Rev, m.Info)
		}
		if len(*u) < n {
			return nil, fmt.Errorf("match %s rev %d: %d bytes of info, want %d", m.Name, m.Rev, len(*u), n)
		}
		return *u, nil
	}
	switch {
	case m.Name == "comment" && m.Rev == 0:
		c, ok := m.Info.(*xt.Comment)
		if !ok || c == nil {
			return "", fmt.Errorf("match comment: info %T", m.Info)
		}
		s := string(*c)
		if strings.ContainsAny(s, "\x00\n\r") || len(s) > 255 {
			return "", fmt.Errorf("match comment %q", s)
		}
		return " -m comment --comment " + saveString(s), nil
	case m.Name == "physdev" && m.Rev == 0:
		// struct xt_physdev_info: physindev, in_mask, physoutdev,
		// out_mask (IFNAMSIZ each), invert, bitmask.
		b, err := raw(66)
		if err != nil {
			return "", err
		}
		inv, bits := b[64], b[65]
		if bits == 0 || bits&^0x1f != 0 || inv&^bits != 0 {
			return "", fmt.Errorf("match physdev: bitmask %#x invert %#x", bits, inv)
		}
		var s strings.Builder
		s.WriteString(" -m physdev")
		flag := func(bit byte, opt string) {
			if bits&bit != 0 {
				s.WriteString(negOpt(inv&bit != 0) + " " + opt)
			}
		}
		name := func(bit byte, opt string, at int) error {
			if bits&bit == 0 {
				return nil
			}
			n, err := physdevName(b[at:at+16], b[at+16:at+32])
			if err != nil {
				return fmt.Errorf("match physdev %s: %w", opt, err)
			}
			s.WriteString(negOpt(inv&bit != 0) + " " + opt + " " + n)
			return nil
		}
		flag(physdevIsIn, "--physdev-is-in")
		if err := name(physdevIn, "--physdev-in", 0); err != nil {
			return "", err
		}
		flag(physdevIsOut, "--physdev-is-out")
		if err := name(physdevOut, "--physdev-out", 32); err != nil {
			return "", err
		}
		flag(physdevBridged, "--physdev-is-bridged")
		return s.String(), nil
	case m.Name == "set" && m.Rev >= 1 && m.Rev <= 4:
		// struct xt_set_info (index, dim, flags) then, from revision 3,
		// packets and bytes counter matches (op, value) and flags.
		n := 4
		if m.Rev >= 3 {
			n = 44
		}
		b, err := raw(n)
		if err != nil {
			return "", err
		}
		index := binary.NativeEndian.Uint16(b[0:2])
		dim, flags := b[2], b[3]
		if dim < 1 || dim > 6 || flags&^(setInvMatch|byte((1<<(dim+1))-2)) != 0 {
			return "", fmt.Errorf("match set: dim %d flags %#x", dim, flags)
		}
		if m.Rev == 2 && flags&setInvMatch != 0 {
			// Revision 2 carries a separate invert in v2's flags; not used
			// by iptables 1.8.9 (it sends revision 4).
			return "", fmt.Errorf("match set rev 2 inverted")
		}
		if m.Rev >= 3 && (b[8] != 0 || b[24] != 0 || binary.NativeEndian.Uint32(b[40:44]) != 0) {
			return "", fmt.Errorf("match set: counter matches or flags (--packets-*, --bytes-*, --return-nomatch, ! --update-counters) not decoded")
		}
		if names == nil {
			return "", fmt.Errorf("match set: no ipset names")
		}
		name, err := names(index)
		if err != nil {
			return "", fmt.Errorf("match set: index %d: %w", index, err)
		}
		if name == "" || !printable([]byte(name)) {
			return "", fmt.Errorf("match set: index %d named %q", index, name)
		}
		var s strings.Builder
		s.WriteString(" -m set" + negOpt(flags&setInvMatch != 0) + " --match-set " + name)
		for k := 1; k <= int(dim); k++ {
			sep := ","
			if k == 1 {
				sep = " "
			}
			dir := "dst"
			if flags&(1<<k) != 0 {
				dir = "src"
			}
			s.WriteString(sep + dir)
		}
		return s.String(), nil
	case m.Name == "conntrack" && m.Rev == 3:
		c, ok := m.Info.(*xt.ConntrackMtinfo3)
		if !ok || c == nil {
			return "", fmt.Errorf("match conntrack: info %T", m.Info)
		}
		mf, inv := c.MatchFlags, c.InvertFlags
		if mf&^(ctFlagState|ctFlagStateAlias) != 0 || mf&ctFlagState == 0 || inv&^ctFlagState != 0 {
			return "", fmt.Errorf("match conntrack: flags %#x invert %#x (only --state/--ctstate decoded)", mf, inv)
		}
		var names []string
		left := c.StateMask
		for _, st := range ctStates {
			if left&st.bit != 0 {
				names = append(names, st.name)
				left &^= st.bit
			}
		}
		if left != 0 || len(names) == 0 {
			return "", fmt.Errorf("match conntrack: state mask %#x", c.StateMask)
		}
		if mf&ctFlagStateAlias != 0 {
			return " -m state" + negOpt(inv != 0) + " --state " + strings.Join(names, ","), nil
		}
		return " -m conntrack" + negOpt(inv != 0) + " --ctstate " + strings.Join(names, ","), nil
	case m.Name == "mac" && m.Rev == 0:
		// struct xt_mac_info: srcaddr[6], int invert (at 8).
		b, err := raw(12)
		if err != nil {
			return "", err
		}
		inv := binary.NativeEndian.Uint32(b[8:12])
		if inv > 1 {
			return "", fmt.Errorf("match mac: invert %d", inv)
		}
		return fmt.Sprintf(" -m mac%s --mac-source %02x:%02x:%02x:%02x:%02x:%02x", negOpt(inv == 1), b[0], b[1], b[2], b[3], b[4], b[5]), nil
	case (m.Name == "icmp" && f == IPv4 && proto == 1 || m.Name == "icmp6" && f == IPv6 && proto == 58) && m.Rev == 0:
		// struct ipt_icmp / ip6t_icmp: type, code[2], invflags.
		b, err := raw(4)
		if err != nil {
			return "", err
		}
		typ, lo, hi, inv := b[0], b[1], b[2], b[3]
		if inv > 1 || (lo != hi && !(lo == 0 && hi == 0xff)) {
			return "", fmt.Errorf("match %s: codes %d-%d invert %d", m.Name, lo, hi, inv)
		}
		opt := " --icmp-type "
		if m.Name == "icmp6" {
			opt = " --icmpv6-type "
		}
		s := " -m " + m.Name + negOpt(inv == 1) + opt
		switch {
		case m.Name == "icmp" && typ == 0xff:
			if lo != 0 || hi != 0xff {
				return "", fmt.Errorf("match icmp: any with codes %d-%d", lo, hi)
			}
			return s + "any", nil
		case lo == 0 && hi == 0xff:
			return s + strconv.Itoa(int(typ)), nil
		}
		return s + strconv.Itoa(int(typ)) + "/" + strconv.Itoa(int(lo)), nil
	case m.Name == "multiport" && m.Rev == 1 && (proto == 6 || proto == 17):
		// struct xt_multiport_v1: flags, count, ports[15], pflags[15],
		// invert.
		b, err := raw(48)
		if err != nil {
			return "", err
		}
		flags, count, inv := b[0], int(b[1]), b[47]
		if flags > 2 || count < 1 || count > 15 || inv > 1 {
			return "", fmt.Errorf("match multiport: flags %d count %d invert %d", flags, count, inv)
		}
		opt := []string{" --sports ", " --dports ", " --ports "}[flags]
		var s strings.Builder
		s.WriteString(" -m multiport" + negOpt(inv == 1) + opt)
		for k := 0; k < count; k++ {
			if k > 0 {
				s.WriteString(",")
			}
			s.WriteString(strconv.Itoa(int(binary.NativeEndian.Uint16(b[2+2*k:]))))
			if b[32+k] != 0 {
				k++
				if k >= count {
					return "", fmt.Errorf("match multiport: range without an end")
				}
				s.WriteString(":" + strconv.Itoa(int(binary.NativeEndian.Uint16(b[2+2*k:]))))
			}
		}
		return s.String(), nil
	case m.Name == "tcp" && m.Rev == 0 && proto == 6:
		t, ok := m.Info.(*xt.Tcp)
		if !ok || t == nil {
			return "", fmt.Errorf("match tcp: info %T", m.Info)
		}
		if t.Option != 0 || t.FlagsMask != 0 || t.FlagsCmp != 0 || t.InvFlags&^(xt.TcpInvSrcPorts|xt.TcpInvDestPorts) != 0 {
			return "", fmt.Errorf("match tcp: --tcp-flags, --tcp-option or --syn not decoded")
		}
		return " -m tcp" + portsText(t.SrcPorts, t.DstPorts, t.InvFlags&xt.TcpInvSrcPorts != 0, t.InvFlags&xt.TcpInvDestPorts != 0), nil
	case m.Name == "udp" && m.Rev == 0 && proto == 17:
		u, ok := m.Info.(*xt.Udp)
		if !ok || u == nil {
			return "", fmt.Errorf("match udp: info %T", m.Info)
		}
		if u.InvFlags&^(xt.UdpInvSrcPorts|xt.UdpInvDestPorts) != 0 {
			return "", fmt.Errorf("match udp: invert flags %#x", u.InvFlags)
		}
		return " -m udp" + portsText(u.SrcPorts, u.DstPorts, u.InvFlags&xt.UdpInvSrcPorts != 0, u.InvFlags&xt.UdpInvDestPorts != 0), nil
	}
	return "", fmt.Errorf("match %s rev %d not decoded", m.Name, m.Rev)
}

// physdevName reads a physdev interface name and its mask: an exact
// name masks its bytes and the NUL, a "tap+" prefix only the bytes
// before the '+'.
func physdevName(name, mask []byte) (string, error) {
	n := bytes.IndexByte(name, 0)
	if n <= 0 || !printable(name[:n]) || !allZero(name[n:]) {
		return "", fmt.Errorf("name %q", name)
	}
	want := n + 1
	if name[n-1] == '+' {
		want = n - 1
	}
	for i, m := range mask {
		if (i < want) != (m == 0xff) || (m != 0 && m != 0xff) {
			return "", fmt.Errorf("name %q with mask %x", name[:n], mask)
		}
	}
	return string(name[:n]), nil
}

// saveString quotes a string as xtables_save_string does.
func saveString(s string) string {
	plain := s != ""
	for i := 0; i < len(s) && plain; i++ {
		c := s[i]
		plain = c == '_' || c == '-' || c >= '0' && c <= '9' || c >= 'a' && c <= 'z' || c >= 'A' && c <= 'Z'
	}
	if plain {
		return s
	}
	var b strings.Builder
	b.WriteByte('"')
	for i := 0; i < len(s); i++ {
		if c := s[i]; c == '"' || c == '\\' || c == '\'' {
			b.WriteByte('\\')
		}
		b.WriteByte(s[i])
	}
	b.WriteByte('"')
	return b.String()
}
