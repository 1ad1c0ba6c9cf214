package firewall

import (
	"fmt"
	"strings"
)

// scopeChains are the agent's shared chains a scoped read lists besides
// the ports' own: where FORWARD and INPUT lead (neutron-filter-top,
// neutron-linuxbri-local), the physdev jumps naming the taps
// (neutron-linuxbri-FORWARD, -INPUT, the sg-chain) and the fallback the
// port chains end in. Chains reached from these that are not another
// port's are listed too (see Read).
var scopeChains = []string{
	"FORWARD", "INPUT",
	"neutron-filter-top", ChainPrefix + "local",
	ChainPrefix + "FORWARD", ChainPrefix + "INPUT",
	SGChain, FallbackChain,
}

// scopeChainsFor returns the chains a read scoped to taps lists first:
// scopeChains and each tap's ingress, egress and spoof chains.
func scopeChainsFor(taps []string) []string {
	out := append([]string(nil), scopeChains...)
	for _, t := range taps {
		for _, d := range []Direction{Ingress, Egress, Spoof} {
			if c := PortChain(t, d); !contains(out, c) {
				out = append(out, c)
			}
		}
	}
	return out
}

func contains(ss []string, s string) bool {
	for _, x := range ss {
		if x == s {
			return true
		}
	}
	return false
}

// standardTargets are -j targets that are never user chains.
var standardTargets = map[string]bool{
	"": true, "ACCEPT": true, "DROP": true, "REJECT": true, "RETURN": true, "QUEUE": true,
	"CT": true, "LOG": true, "NFLOG": true, "MARK": true, "CONNMARK": true, "NOTRACK": true,
	"TRACE": true, "CLASSIFY": true, "TCPMSS": true, "AUDIT": true,
}

// scopeMore returns the user chains the listed chains jump to (or go to)
// that are not listed yet and not another port's chain (own: the scoped
// taps' chain names), so a scoped table holds every chain a packet of the
// scoped ports can reach from FORWARD or INPUT.
func scopeMore(chains []Chain, listed map[string]bool, own map[string]bool) []string {
	var out []string
	for i := range chains {
		for j := range chains[i].Rules {
			t := chains[i].Rules[j].Target
			if standardTargets[t] || listed[t] || contains(out, t) || (isPortChain(t) && !own[t]) {
				continue
			}
			out = append(out, t)
		}
	}
	return out
}

// ConvertListRules turns the output of `iptables -S CHAIN -v` (the rule
// listing with counters: "-P FORWARD ACCEPT -c 3 180", "-N chain",
// "-A chain … -c 3 180 -j RETURN") into iptables-save -c lines
// (":FORWARD ACCEPT [3:180]", ":chain - [0:0]", "[3:180] -A chain … -j
// RETURN"), which ParseIPTablesSave reads inside a "*filter" … "COMMIT"
// frame. iptables prints the same rule text in both (the counters aside).
func ConvertListRules(text string) (string, error) {
	var b strings.Builder
	for n, line := range strings.Split(text, "\n") {
		line = strings.TrimSpace(line)
		switch {
		case line == "":
			continue
		case strings.HasPrefix(line, "-N "):
			fmt.Fprintf(&b, ":%s - [0:0]\n", strings.TrimSpace(line[3:]))
		case strings.HasPrefix(line, "-P "):
			f := strings.Fields(line[3:])
			switch {
			case len(f) == 2:
				fmt.Fprintf(&b, ":%s %s [0:0]\n", f[0], f[1])
			case len(f) == 5 && f[2] == "-c" && isDigits(f[3]) && isDigits(f[4]):
				fmt.Fprintf(&b, ":%s %s [%s:%s]\n", f[0], f[1], f[3], f[4])
			default:
				return "", fmt.Errorf("firewall: iptables -S line %d %q: want -P CHAIN POLICY [-c PACKETS BYTES]", n+1, clip(line))
			}
		case strings.HasPrefix(line, "-A "):
			rest, p, by, ok := cutCounters(line)
			if !ok {
				return "", fmt.Errorf("firewall: iptables -S line %d %q: no -c PACKETS BYTES (run with -v)", n+1, clip(line))
			}
			fmt.Fprintf(&b, "[%s:%s] %s\n", p, by, rest)
		default:
			return "", fmt.Errorf("firewall: iptables -S line %d %q: want -P, -N or -A", n+1, clip(line))
		}
	}
	return b.String(), nil
}

// cutCounters removes the " -c PACKETS BYTES" that `iptables -S -v` puts
// in a rule (before its -j), outside quoted strings (a comment may hold
// anything).
func cutCounters(line string) (rest, packets, bytes string, ok bool) {
	inQuote := false
	for i := 0; i < len(line); i++ {
		switch c := line[i]; {
		case c == '\\' && inQuote:
			i++
		case c == '"':
			inQuote = !inQuote
		case !inQuote && c == ' ' && strings.HasPrefix(line[i:], " -c "):
			f := strings.SplitN(line[i+4:], " ", 3)
			if len(f) < 2 || !isDigits(f[0]) || !isDigits(f[1]) {
				continue
			}
			tail := ""
			if len(f) == 3 {
				tail = " " + f[2]
			}
			return line[:i] + tail, f[0], f[1], true
		}
	}
	return "", "", "", false
}

func isDigits(s string) bool {
	if s == "" {
		return false
	}
	for _, c := range s {
		if c < '0' || c > '9' {
			return false
		}
	}
	return true
}

// Scoped reports whether the snapshot was read for some taps only
// (Config.Taps), so node-wide judgements (StaleTaps) cannot be made from
// it.
func (s *Snapshot) Scoped() bool { return s != nil && len(s.Scope) > 0 }
