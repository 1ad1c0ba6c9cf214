package firewall

import (
	"bufio"
	"fmt"
	"net/netip"
	"strings"
)

// ParseIPSetSave parses `ipset save` output into sets. Read reads ipsets
// through netlink (ipsetnl.go) and runs `ipset save` only when that
// fails; this parser serves that fallback, recorded fixtures and the
// comparison with the CLI. It accepts any input without panicking.
func ParseIPSetSave(text string) ([]Set, error) {
	var sets []Set
	index := map[string]int{}
	sc := bufio.NewScanner(strings.NewReader(text))
	sc.Buffer(make([]byte, 64*1024), 1<<20)
	lineNo := 0
	for sc.Scan() {
		lineNo++
		f := strings.Fields(sc.Text())
		if len(f) == 0 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "create":
			if len(f) < 3 {
				return nil, fmt.Errorf("firewall: ipset save line %d: want 'create NAME TYPE …'", lineNo)
			}
			if _, dup := index[f[1]]; !dup {
				index[f[1]] = len(sets)
				sets = append(sets, Set{Name: f[1], Type: f[2], Members: []netip.Prefix{}})
			}
		case "add":
			if len(f) < 3 {
				return nil, fmt.Errorf("firewall: ipset save line %d: want 'add NAME MEMBER'", lineNo)
			}
			i, ok := index[f[1]]
			if !ok {
				return nil, fmt.Errorf("firewall: ipset save line %d adds to set %q before its create line", lineNo, f[1])
			}
			p, err := parsePrefix(f[2])
			if err != nil {
				return nil, fmt.Errorf("firewall: ipset save line %d: member %q of %s: %w", lineNo, f[2], f[1], err)
			}
			sets[i].Members = append(sets[i].Members, p)
		default:
			return nil, fmt.Errorf("firewall: ipset save line %d starts with %q: want create or add", lineNo, f[0])
		}
	}
	if err := sc.Err(); err != nil {
		return nil, fmt.Errorf("firewall: read ipset output: %w", err)
	}
	return sets, nil
}

// Contains reports whether addr is in one of the set's members.
func (s Set) Contains(addr netip.Addr) bool {
	for _, p := range s.Members {
		if p.Contains(addr) {
			return true
		}
	}
	return false
}
