package firewall

import (
	"bufio"
	"fmt"
	"strconv"
	"strings"

	"github.com/vifpath/vifpath/hwaddr"
)

// ebtables is read with `ebtables -t nat -L --Lc`: the listing both
// ebtables backends print and the one the agent's arp_protect parses.
// ebtables-legacy-save only wraps it (and needs /proc/modules), and the
// nf_tables form of ebtables rules is again xtables-compat blobs.

// ParseEbtablesList parses `ebtables -t TABLE -L --Lc` output (counters
// optional). It accepts any input without panicking.
func ParseEbtablesList(text string, backend Backend) (*EbTable, error) {
	t := &EbTable{Backend: backend}
	var cur *EbChain
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		line := strings.TrimSpace(sc.Text())
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "Bridge table: "):
			t.Name = strings.TrimSpace(strings.TrimPrefix(line, "Bridge table: "))
		case strings.HasPrefix(line, "Bridge chain: "):
			f := strings.Split(strings.TrimPrefix(line, "Bridge chain: "), ",")
			c := EbChain{Name: strings.TrimSpace(f[0])}
			for _, kv := range f[1:] {
				k, v, _ := strings.Cut(strings.TrimSpace(kv), ":")
				if strings.TrimSpace(k) == "policy" {
					c.Policy = strings.TrimSpace(v)
				}
			}
			if c.Name == "" {
				return nil, fmt.Errorf("firewall: ebtables line %d %q names no chain", lineNo, clip(line))
			}
			t.Chains = append(t.Chains, c)
			cur = &t.Chains[len(t.Chains)-1]
		case cur == nil:
			return nil, fmt.Errorf("firewall: ebtables line %d %q is outside a chain: want 'Bridge chain: …' first", lineNo, clip(line))
		default:
			r, err := parseEbRule(line)
			if err != nil {
				return nil, fmt.Errorf("firewall: ebtables line %d: %w", lineNo, err)
			}
			r.Chain = cur.Name
			r.Num = len(cur.Rules) + 1
			cur.Rules = append(cur.Rules, r)
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("firewall: read ebtables output: %w", err)
	}
	return t, nil
}

// parseEbRule reads "SPEC , pcnt = P -- bcnt = B" (or a bare SPEC; the
// listing numbers rules with "N. " under --Ln).
func parseEbRule(line string) (EbRule, error) {
	var r EbRule
	spec := line
	if i := strings.LastIndex(line, " , pcnt = "); i >= 0 {
		spec = strings.TrimSpace(line[:i])
		ps, bs, ok := strings.Cut(line[i+len(" , pcnt = "):], " -- bcnt = ")
		if !ok {
			return r, fmt.Errorf("rule %q: counters without bcnt", clip(line))
		}
		p, err1 := strconv.ParseUint(strings.TrimSpace(ps), 10, 64)
		b, err2 := strconv.ParseUint(strings.TrimSpace(bs), 10, 64)
		if err1 != nil || err2 != nil {
			return r, fmt.Errorf("rule %q: counters are not numbers", clip(line))
		}
		r.Packets, r.Bytes = p, b
	}
	if n, rest, ok := strings.Cut(spec, ". "); ok {
		if _, err := strconv.Atoi(n); err == nil {
			spec = rest
		}
	}
	r.Spec = spec
	toks := strings.Fields(spec)
	for i := 0; i < len(toks); i++ {
		t := toks[i]
		next := func() (string, bool) {
			if i+1 >= len(toks) {
				return "", false
			}
			i++
			return toks[i], true
		}
		switch t {
		case "-p", "--protocol":
			r.Proto, _ = next()
		case "-i", "--in-interface", "--in-if":
			r.InIface, _ = next()
		case "--among-src":
			v, _ := next()
			for _, s := range strings.Split(v, ",") {
				if s == "" {
					continue // ebtables-legacy ends the list with a comma
				}
				// --among-src may carry "mac=ip" pairs.
				s, _, _ = strings.Cut(s, "=")
				if mac, err := parseLooseMAC(s); err == nil {
					r.AmongSrc = append(r.AmongSrc, mac)
				} else {
					r.Unknown = append(r.Unknown, "--among-src "+s)
				}
			}
		case "--arp-ip-src":
			v, _ := next()
			if p, err := parsePrefix(v); err == nil {
				r.ARPIPSrc = p
			} else {
				r.Unknown = append(r.Unknown, t+" "+v)
			}
		case "-s", "--source", "--src":
			v, _ := next()
			if mac, err := parseLooseMAC(v); err == nil {
				r.SrcMAC = mac
			} else {
				r.Unknown = append(r.Unknown, t+" "+v)
			}
		case "-j", "--jump":
			r.Target, _ = next()
		default:
			r.Unknown = append(r.Unknown, t)
		}
	}
	if r.Target == "" {
		return r, fmt.Errorf("rule %q has no target (-j)", clip(line))
	}
	return r, nil
}

// HasMAC reports whether the rule's --among-src admits mac.
func (r EbRule) HasMAC(mac hwaddr.MAC) bool {
	for _, m := range r.AmongSrc {
		if m.Equal(mac) {
			return true
		}
	}
	return false
}

// Chain returns the named chain of the table, or nil.
func (t *EbTable) Chain(name string) *EbChain {
	if t == nil {
		return nil
	}
	for i := range t.Chains {
		if t.Chains[i].Name == name {
			return &t.Chains[i]
		}
	}
	return nil
}
