package firewall

// RuleDelta is how much a rule's counters moved between two snapshots.
type RuleDelta struct {
	// Rule is the rule; Packets and Bytes how much its counters grew between the two snapshots.
	Rule    Rule   `json:"rule"`
	Packets uint64 `json:"packets"`
	Bytes   uint64 `json:"bytes"`
}

// Moved returns the rules of table (backend, family) whose packet
// counter grew from before to after, in after's order, matched by chain
// and spec (a rule inserted or deleted in between does not shift the
// others). Policies are reported as rules with Target = the policy and
// Num = 0.
func Moved(before, after *Snapshot, b Backend, f Family) []RuleDelta {
	type key struct{ chain, spec string }
	type cnt struct{ p, b uint64 }
	old := map[key][]cnt{}
	tb, ta := before.Table(b, f), after.Table(b, f)
	if ta == nil {
		return nil
	}
	if tb != nil {
		for _, c := range tb.Chains {
			if c.Policy != "" {
				old[key{c.Name, ""}] = append(old[key{c.Name, ""}], cnt{c.Packets, c.Bytes})
			}
			for _, r := range c.Rules {
				k := key{r.Chain, r.Spec}
				old[k] = append(old[k], cnt{r.Packets, r.Bytes})
			}
		}
	}
	take := func(k key) cnt {
		v := old[k]
		if len(v) == 0 {
			return cnt{}
		}
		old[k] = v[1:]
		return v[0]
	}
	var out []RuleDelta
	for _, c := range ta.Chains {
		if c.Policy != "" {
			if o := take(key{c.Name, ""}); c.Packets > o.p {
				out = append(out, RuleDelta{Rule: Rule{Chain: c.Name, Target: c.Policy, Packets: c.Packets, Bytes: c.Bytes}, Packets: c.Packets - o.p, Bytes: c.Bytes - min(c.Bytes, o.b)})
			}
		}
		for _, r := range c.Rules {
			if o := take(key{r.Chain, r.Spec}); r.Packets > o.p {
				out = append(out, RuleDelta{Rule: r, Packets: r.Packets - o.p, Bytes: r.Bytes - min(r.Bytes, o.b)})
			}
		}
	}
	return out
}
