package firewall

// index holds a snapshot's chains, ipsets and port jumps by name, so that
// looking up one port among hundreds (a node's) costs the same as on a
// node of one. Indexed builds it; a snapshot without one scans its
// tables, with the same results.
type index struct {
	neutron    Backend
	hasNeutron bool
	tables     map[*Table]*tableIndex
	sets       map[string]*Set
	eb         map[string]*EbChain
	// ebPre holds the PREROUTING rules by their exact --in-interface.
	ebPre map[string][]*EbRule
}

// tableIndex is one filter table's chains by name and, by tap, the rules
// naming it with physdev (in table order, every chain's).
type tableIndex struct {
	chains map[string]*Chain
	jumps  map[string][]ruleRef
}

// ruleRef is a rule's place in its table: chain and rule indexes.
type ruleRef struct{ chain, rule int }

// Indexed returns a copy of s that answers Port, Evaluate,
// EvaluateEbtables and NeutronBackend by name lookups instead of scans
// of every chain: each lookup then takes the same time on a node of 200
// ports as on a node of one, where the snapshot's own scans grow with
// the ports (trace's node mode judges every port of a node on one
// snapshot). The answers are the same as s's. The copy shares s's tables,
// chains and rules: change neither after Indexed, or index again. It is
// safe for concurrent use, as s is, and marshals to the same JSON.
func (s *Snapshot) Indexed() *Snapshot {
	c := *s
	ix := &index{tables: map[*Table]*tableIndex{}, sets: make(map[string]*Set, len(c.Sets))}
	ix.neutron, ix.hasNeutron = c.NeutronBackend()
	for i := range c.Tables {
		t := &c.Tables[i]
		ti := &tableIndex{chains: make(map[string]*Chain, len(t.Chains)), jumps: map[string][]ruleRef{}}
		for ci := range t.Chains {
			ch := &t.Chains[ci]
			if _, dup := ti.chains[ch.Name]; !dup {
				ti.chains[ch.Name] = ch // the first, as Table.Chain finds
			}
			for ri := range ch.Rules {
				m := &ch.Rules[ri].Match
				if m.PhysdevIn != "" {
					ti.jumps[m.PhysdevIn] = append(ti.jumps[m.PhysdevIn], ruleRef{ci, ri})
				}
				if m.PhysdevOut != "" && m.PhysdevOut != m.PhysdevIn {
					ti.jumps[m.PhysdevOut] = append(ti.jumps[m.PhysdevOut], ruleRef{ci, ri})
				}
			}
		}
		ix.tables[t] = ti
	}
	for i := range c.Sets {
		ix.sets[c.Sets[i].Name] = &c.Sets[i] // the last, as Evaluate's own map
	}
	if eb := c.Ebtables; eb != nil {
		ix.eb = make(map[string]*EbChain, len(eb.Chains))
		ix.ebPre = map[string][]*EbRule{}
		for i := range eb.Chains {
			if _, dup := ix.eb[eb.Chains[i].Name]; !dup {
				ix.eb[eb.Chains[i].Name] = &eb.Chains[i]
			}
		}
		if pre := ix.eb["PREROUTING"]; pre != nil {
			for i := range pre.Rules {
				r := &pre.Rules[i]
				ix.ebPre[r.InIface] = append(ix.ebPre[r.InIface], r)
			}
		}
	}
	c.ix = ix
	return &c
}

// chain returns t's chain name, by the index when s has one.
func (s *Snapshot) chain(t *Table, name string) *Chain {
	if ti := s.tableIndex(t); ti != nil {
		return ti.chains[name]
	}
	return t.Chain(name)
}

// tableIndex returns t's index, nil when s has none.
func (s *Snapshot) tableIndex(t *Table) *tableIndex {
	if s.ix == nil {
		return nil
	}
	return s.ix.tables[t]
}

// ebChain returns the ebtables chain name, by the index when s has one.
func (s *Snapshot) ebChain(name string) *EbChain {
	if s.ix != nil && s.ix.eb != nil {
		return s.ix.eb[name]
	}
	return s.Ebtables.Chain(name)
}

// setsByName returns the snapshot's ipsets by name.
func (s *Snapshot) setsByName() map[string]*Set {
	if s.ix != nil {
		return s.ix.sets
	}
	sets := make(map[string]*Set, len(s.Sets))
	for i := range s.Sets {
		sets[s.Sets[i].Name] = &s.Sets[i]
	}
	return sets
}
