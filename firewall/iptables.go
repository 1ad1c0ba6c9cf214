package firewall

import (
	"bufio"
	"fmt"
	"net/netip"
	"strconv"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
)

// This package reads whole iptables tables through iptables-save -c:
// legacy iptables is not reachable through nf_tables at all, so
// iptables-save is the one reader both backends share; its output is the
// same text the agent's iptables_manager parses. A scoped read of
// iptables-nft goes through nf_tables netlink and decodes the rules into
// that same text (nft_decode_linux.go), parsed here as well.

// ParseIPTablesSave parses the output of iptables-save -c (or without -c:
// counters are then zero) into tables, tagged with backend and family. It
// accepts any input without panicking; a line it cannot read is an error
// naming the line.
func ParseIPTablesSave(text string, backend Backend, family Family) ([]Table, error) {
	var (
		tables []Table
		cur    *Table
		index  map[string]int
	)
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "" || strings.HasPrefix(line, "#"):
			continue
		case strings.HasPrefix(line, "*"):
			tables = append(tables, Table{Backend: backend, Family: family, Name: line[1:]})
			cur = &tables[len(tables)-1]
			index = map[string]int{}
		case line == "COMMIT":
			cur = nil
		case cur == nil:
			return nil, fmt.Errorf("firewall: iptables-save line %d %q is outside a table: want '*table' first", lineNo, clip(line))
		case strings.HasPrefix(line, ":"):
			c, err := parseChainHeader(line[1:])
			if err != nil {
				return nil, fmt.Errorf("firewall: iptables-save line %d: %w", lineNo, err)
			}
			if _, dup := index[c.Name]; !dup {
				index[c.Name] = len(cur.Chains)
				cur.Chains = append(cur.Chains, c)
			}
		default:
			r, err := parseRuleLine(line)
			if err != nil {
				return nil, fmt.Errorf("firewall: iptables-save line %d: %w", lineNo, err)
			}
			i, ok := index[r.Chain]
			if !ok {
				index[r.Chain] = len(cur.Chains)
				i = len(cur.Chains)
				cur.Chains = append(cur.Chains, Chain{Name: r.Chain})
			}
			r.Num = len(cur.Chains[i].Rules) + 1
			cur.Chains[i].Rules = append(cur.Chains[i].Rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("firewall: read iptables-save output: %w", err)
	}
	return tables, nil
}

func clip(s string) string {
	if len(s) > 80 {
		return s[:80] + "…"
	}
	return s
}

// parseChainHeader reads "NAME POLICY [p:b]".
func parseChainHeader(s string) (Chain, error) {
	f := strings.Fields(s)
	if len(f) < 2 {
		return Chain{}, fmt.Errorf("chain header %q: want ':NAME POLICY [packets:bytes]'", clip(s))
	}
	c := Chain{Name: f[0]}
	if f[1] != "-" {
		c.Policy = f[1]
	}
	if len(f) >= 3 {
		p, b, err := parseCounters(f[2])
		if err != nil {
			return Chain{}, err
		}
		c.Packets, c.Bytes = p, b
	}
	return c, nil
}

// parseCounters reads "[packets:bytes]".
func parseCounters(s string) (uint64, uint64, error) {
	if len(s) < 5 || s[0] != '[' || s[len(s)-1] != ']' {
		return 0, 0, fmt.Errorf("counters %q: want [packets:bytes]", clip(s))
	}
	ps, bs, ok := strings.Cut(s[1:len(s)-1], ":")
	if !ok {
		return 0, 0, fmt.Errorf("counters %q: want [packets:bytes]", clip(s))
	}
	p, err1 := strconv.ParseUint(ps, 10, 64)
	b, err2 := strconv.ParseUint(bs, 10, 64)
	if err1 != nil || err2 != nil {
		return 0, 0, fmt.Errorf("counters %q: want two decimal numbers", clip(s))
	}
	return p, b, nil
}

// tokenize splits a rule as iptables-save quotes it: words separated by
// spaces, double-quoted strings with backslash escapes.
func tokenize(s string) ([]string, error) {
	var out []string
	var b strings.Builder
	inQuote, have := false, false
	for i := 0; i < len(s); i++ {
		c := s[i]
		switch {
		case inQuote && c == '\\' && i+1 < len(s):
			i++
			b.WriteByte(s[i])
		case c == '"':
			inQuote = !inQuote
			have = true
		case !inQuote && (c == ' ' || c == '\t'):
			if have {
				out = append(out, b.String())
				b.Reset()
				have = false
			}
		default:
			b.WriteByte(c)
			have = true
		}
	}
	if inQuote {
		return nil, fmt.Errorf("unterminated quote in %q", clip(s))
	}
	if have {
		out = append(out, b.String())
	}
	return out, nil
}

// parseRuleLine reads "[p:b] -A CHAIN spec…".
func parseRuleLine(line string) (Rule, error) {
	var r Rule
	rest := line
	if strings.HasPrefix(rest, "[") {
		cnt, after, ok := strings.Cut(rest, " ")
		if !ok {
			return r, fmt.Errorf("rule %q has counters and nothing else", clip(line))
		}
		p, b, err := parseCounters(cnt)
		if err != nil {
			return r, err
		}
		r.Packets, r.Bytes = p, b
		rest = strings.TrimSpace(after)
	}
	if !strings.HasPrefix(rest, "-A ") {
		return r, fmt.Errorf("rule %q: want '-A CHAIN …'", clip(line))
	}
	rest = strings.TrimSpace(rest[3:])
	chain, spec, _ := strings.Cut(rest, " ")
	if chain == "" {
		return r, fmt.Errorf("rule %q names no chain", clip(line))
	}
	r.Chain = chain
	r.Spec = strings.TrimSpace(spec)
	toks, err := tokenize(r.Spec)
	if err != nil {
		return r, err
	}
	// Trailing "-c p b" (ebtables-save style) counters.
	if n := len(toks); n >= 3 && toks[n-3] == "-c" {
		p, err1 := strconv.ParseUint(toks[n-2], 10, 64)
		b, err2 := strconv.ParseUint(toks[n-1], 10, 64)
		if err1 == nil && err2 == nil {
			r.Packets, r.Bytes = p, b
			toks = toks[:n-3]
		}
	}
	parseMatches(&r, toks)
	return r, nil
}

// parseMatches fills r.Match, Target, TargetArgs and Comment from the
// rule's words. Options it does not model go to Match.Unknown.
func parseMatches(r *Rule, toks []string) {
	m := &r.Match
	neg := false
	arg := func(i *int) (string, bool) {
		if *i+1 >= len(toks) {
			return "", false
		}
		*i++
		return toks[*i], true
	}
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		if t == "!" {
			neg = true
			continue
		}
		n := neg
		neg = false
		switch t {
		case "-p", "--protocol":
			if v, ok := arg(&i); ok {
				m.Protocol, m.NotProtocol = v, n
			}
		case "-s", "--source":
			if v, ok := arg(&i); ok {
				if p, err := parsePrefix(v); err == nil {
					m.Source, m.NotSource = p, n
				} else {
					m.Unknown = append(m.Unknown, t+" "+v)
				}
			}
		case "-d", "--destination":
			if v, ok := arg(&i); ok {
				if p, err := parsePrefix(v); err == nil {
					m.Destination, m.NotDestination = p, n
				} else {
					m.Unknown = append(m.Unknown, t+" "+v)
				}
			}
		case "-i", "--in-interface":
			if v, ok := arg(&i); ok {
				m.InIface = negName(v, n)
			}
		case "-o", "--out-interface":
			if v, ok := arg(&i); ok {
				m.OutIface = negName(v, n)
			}
		case "-m", "--match":
			arg(&i) // the module name; its options follow
		case "--physdev-in":
			if v, ok := arg(&i); ok {
				m.PhysdevIn = negName(v, n)
			}
		case "--physdev-out":
			if v, ok := arg(&i); ok {
				m.PhysdevOut = negName(v, n)
			}
		case "--physdev-is-bridged":
			m.PhysdevIsBridged = true
		case "--sport", "--source-port", "--sports", "--source-ports":
			if v, ok := arg(&i); ok {
				pr, err := parsePorts(v)
				if err != nil || n {
					m.Unknown = append(m.Unknown, t+" "+v)
				} else {
					m.SrcPorts = pr
				}
			}
		case "--dport", "--destination-port", "--dports", "--destination-ports":
			if v, ok := arg(&i); ok {
				pr, err := parsePorts(v)
				if err != nil || n {
					m.Unknown = append(m.Unknown, t+" "+v)
				} else {
					m.DstPorts = pr
				}
			}
		case "--icmp-type", "--icmpv6-type":
			if v, ok := arg(&i); ok {
				im, err := parseICMP(v)
				if err != nil || n {
					m.Unknown = append(m.Unknown, t+" "+v)
				} else {
					m.ICMP = &im
				}
			}
		case "--state", "--ctstate":
			if v, ok := arg(&i); ok {
				if n {
					m.Unknown = append(m.Unknown, "! "+t+" "+v)
				} else {
					m.States = strings.Split(v, ",")
				}
			}
		case "--match-set":
			v, ok1 := arg(&i)
			dir, ok2 := arg(&i)
			if ok1 && ok2 {
				m.Set, m.SetDir, m.NotSet = v, dir, n
			}
		case "--mac-source":
			if v, ok := arg(&i); ok {
				mac, err := parseLooseMAC(v)
				if err != nil || n {
					m.Unknown = append(m.Unknown, t+" "+v)
				} else {
					m.MACSource = mac
				}
			}
		case "--comment":
			if v, ok := arg(&i); ok {
				r.Comment = v
			}
		case "-j", "--jump", "-g", "--goto":
			if v, ok := arg(&i); ok {
				r.Target = v
				if i+1 < len(toks) {
					r.TargetArgs = strings.Join(toks[i+1:], " ")
				}
				return
			}
		default:
			if n {
				t = "! " + t
			}
			m.Unknown = append(m.Unknown, t)
		}
	}
}

func negName(v string, neg bool) string {
	if neg {
		return "!" + v
	}
	return v
}

// parsePrefix reads an address or prefix as iptables prints it.
func parsePrefix(s string) (netip.Prefix, error) {
	if strings.Contains(s, "/") {
		p, err := netip.ParsePrefix(s)
		if err != nil {
			return netip.Prefix{}, err
		}
		return p.Masked(), nil
	}
	a, err := netip.ParseAddr(s)
	if err != nil {
		return netip.Prefix{}, err
	}
	return netip.PrefixFrom(a, a.BitLen()), nil
}

// parsePorts reads "22", "1000:2000" or multiport's "22,80,1000:2000".
func parsePorts(s string) ([]PortRange, error) {
	var out []PortRange
	for _, part := range strings.Split(s, ",") {
		lo, hi, isRange := strings.Cut(part, ":")
		a, err := strconv.ParseUint(lo, 10, 16)
		if err != nil {
			return nil, fmt.Errorf("port %q: %w", part, err)
		}
		b := a
		if isRange {
			if b, err = strconv.ParseUint(hi, 10, 16); err != nil {
				return nil, fmt.Errorf("port %q: %w", part, err)
			}
		}
		out = append(out, PortRange{First: uint16(a), Last: uint16(b)})
	}
	return out, nil
}

// parseICMP reads "8", "8/0" or "any".
func parseICMP(s string) (ICMPMatch, error) {
	if s == "any" {
		return ICMPMatch{Any: true}, nil
	}
	ts, cs, hasCode := strings.Cut(s, "/")
	t, err := strconv.ParseUint(ts, 10, 8)
	if err != nil {
		return ICMPMatch{}, fmt.Errorf("icmp type %q: %w", s, err)
	}
	im := ICMPMatch{Type: uint8(t)}
	if hasCode {
		c, err := strconv.ParseUint(cs, 10, 8)
		if err != nil {
			return ICMPMatch{}, fmt.Errorf("icmp code %q: %w", s, err)
		}
		im.Code, im.HasCode = uint8(c), true
	}
	return im, nil
}

// parseLooseMAC reads a MAC whose bytes may have one hex digit
// (ebtables prints fa:16:3e:0:0:1).
func parseLooseMAC(s string) (hwaddr.MAC, error) {
	parts := strings.Split(s, ":")
	if len(parts) != 6 {
		return nil, fmt.Errorf("mac %q: want six colon-separated bytes", s)
	}
	mac := make(hwaddr.MAC, 6)
	for i, p := range parts {
		if p == "" || len(p) > 2 {
			return nil, fmt.Errorf("mac %q: byte %q", s, p)
		}
		v, err := strconv.ParseUint(p, 16, 8)
		if err != nil {
			return nil, fmt.Errorf("mac %q: byte %q", s, p)
		}
		mac[i] = byte(v)
	}
	return mac, nil
}
