package firewall

import (
	"slices"
	"strings"
)

// Table returns the filter table of a backend and family, or nil.
func (s *Snapshot) Table(b Backend, f Family) *Table {
	for i := range s.Tables {
		t := &s.Tables[i]
		if t.Backend == b && t.Family == f && t.Name == "filter" {
			return t
		}
	}
	return nil
}

// Chain returns the named chain, or nil.
func (t *Table) Chain(name string) *Chain {
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

// RuleCount is the number of rules in the table.
func (t *Table) RuleCount() int {
	n := 0
	for i := range t.Chains {
		n += len(t.Chains[i].Rules)
	}
	return n
}

// BackendSplit says which iptables backend holds Neutron's chains and
// whether the other one also filters: the kernel applies both, but the
// agent (and `iptables` of the other flavour) sees only one.
type BackendSplit struct {
	// Neutron lists the backends whose IPv4 filter table has SGChain
	// (normally one; two means a half-migrated node).
	Neutron []Backend `json:"neutron"`
	// Others are the backends without Neutron's chains that have filter
	// rules or a DROP policy; each is a filter Neutron cannot see.
	Others []OtherBackend `json:"others,omitempty"`
	// Read lists the backends that could be read.
	Read []Backend `json:"read"`
}

// OtherBackend describes filtering in a backend without Neutron's chains.
type OtherBackend struct {
	// Backend and Family name the other backend's table family.
	Backend Backend `json:"backend"`
	Family  Family  `json:"family"`
	// Rules is the number of rules in its filter table.
	Rules int `json:"rules"`
	// DropPolicies names the built-in chains whose policy is DROP
	// ("FORWARD").
	DropPolicies []string `json:"drop_policies,omitempty"`
}

// Backends reports the backend split of the snapshot.
func (s *Snapshot) Backends() BackendSplit {
	var bs BackendSplit
	for _, b := range []Backend{BackendNFT, BackendLegacy} {
		if t := s.Table(b, IPv4); t != nil {
			bs.Read = append(bs.Read, b)
			if t.Chain(SGChain) != nil {
				bs.Neutron = append(bs.Neutron, b)
			}
		}
	}
	for i := range s.Tables {
		t := &s.Tables[i]
		if t.Name != "filter" || slices.Contains(bs.Neutron, t.Backend) {
			continue
		}
		o := OtherBackend{Backend: t.Backend, Family: t.Family, Rules: t.RuleCount()}
		for _, c := range t.Chains {
			if c.Policy == "DROP" || c.Policy == "REJECT" {
				o.DropPolicies = append(o.DropPolicies, c.Name)
			}
		}
		if o.Rules > 0 || len(o.DropPolicies) > 0 {
			bs.Others = append(bs.Others, o)
		}
	}
	return bs
}

// Port is one port's firewall as installed: its iptables chains in the
// backend holding Neutron's chains, the jumps to them, and its ebtables
// anti-spoofing chains. A nil chain is absent.
type Port struct {
	// Tap is the port's tap device; Backend and Family the backend and address family its chains were read from.
	Tap     string  `json:"tap"`
	Backend Backend `json:"backend,omitempty"`
	Family  Family  `json:"family"`
	// Ingress, Egress and Spoof are the port's chains.
	Ingress *Chain `json:"ingress,omitempty"`
	Egress  *Chain `json:"egress,omitempty"`
	Spoof   *Chain `json:"spoof,omitempty"`
	// Jumps are the rules in the table that name the tap with physdev
	// (FORWARD → sg-chain, sg-chain → port chain, INPUT), other ports'
	// own chains left out.
	Jumps []Rule `json:"jumps,omitempty"`
	// MACChain and ARPChain are the ebtables nat chains; MACJump and
	// ARPJump the PREROUTING rules jumping to them.
	MACChain *EbChain `json:"mac_chain,omitempty"`
	ARPChain *EbChain `json:"arp_chain,omitempty"`
	MACJump  *EbRule  `json:"mac_jump,omitempty"`
	ARPJump  *EbRule  `json:"arp_jump,omitempty"`
}

// NeutronBackend returns the backend holding Neutron's chains (the first
// if both do) and whether one does.
func (s *Snapshot) NeutronBackend() (Backend, bool) {
	if s.ix != nil {
		return s.ix.neutron, s.ix.hasNeutron
	}
	bs := s.Backends()
	if len(bs.Neutron) == 0 {
		return "", false
	}
	return bs.Neutron[0], true
}

// Port returns the firewall of a port (by ID or tap) in one family.
func (s *Snapshot) Port(portIDOrTap string, f Family) Port {
	tap := TapName(portIDOrTap)
	p := Port{Tap: tap, Family: f}
	b, ok := s.NeutronBackend()
	if ok {
		p.Backend = b
		t := s.Table(b, f)
		in, eg, sp := PortChain(tap, Ingress), PortChain(tap, Egress), PortChain(tap, Spoof)
		p.Ingress, p.Egress, p.Spoof = s.chain(t, in), s.chain(t, eg), s.chain(t, sp)
		if t != nil {
			own := func(name string) bool {
				// Another port's chain is reached only by that port's
				// traffic, so it holds no jump for this tap (and 80% of
				// the rules on a node with many ports).
				return !isPortChain(name) || name == in || name == eg || name == sp
			}
			if ti := s.tableIndex(t); ti != nil {
				for _, ref := range ti.jumps[tap] {
					if own(t.Chains[ref.chain].Name) {
						p.Jumps = append(p.Jumps, t.Chains[ref.chain].Rules[ref.rule])
					}
				}
			} else {
				for i := range t.Chains {
					if !own(t.Chains[i].Name) {
						continue
					}
					rules := t.Chains[i].Rules
					for j := range rules {
						if m := &rules[j].Match; m.PhysdevIn == tap || m.PhysdevOut == tap {
							p.Jumps = append(p.Jumps, rules[j])
						}
					}
				}
			}
		}
	}
	if s.Ebtables != nil {
		p.MACChain = s.ebChain(EbMACChain(tap))
		p.ARPChain = s.ebChain(EbARPChain(tap))
		var pre []*EbRule
		if s.ix != nil && s.ix.ebPre != nil {
			pre = s.ix.ebPre[tap]
		} else if c := s.Ebtables.Chain("PREROUTING"); c != nil {
			for i := range c.Rules {
				if c.Rules[i].InIface == tap {
					pre = append(pre, &c.Rules[i])
				}
			}
		}
		for _, r := range pre {
			switch r.Target {
			case EbMACChain(tap):
				p.MACJump = r
			case EbARPChain(tap):
				p.ARPJump = r
			}
		}
	}
	return p
}

// Filtered reports whether the agent installed the port's ingress and
// egress chains and the jumps to them.
func (p Port) Filtered() bool {
	return p.Ingress != nil && p.Egress != nil && len(p.Jumps) > 0
}

// StaleTaps returns the taps that have chains (iptables port chains or
// ebtables chains) in the snapshot but are not in present: leftovers of
// deleted ports. Taps are reported by the name the chain carries (for
// iptables the port ID's first 10 characters after "tap").
func (s *Snapshot) StaleTaps(present []string) []string {
	has := func(prefix string) bool {
		for _, t := range present {
			if strings.HasPrefix(t, prefix) {
				return true
			}
		}
		return false
	}
	seen := map[string]bool{}
	var out []string
	add := func(name string) {
		if !seen[name] {
			seen[name] = true
			out = append(out, name)
		}
	}
	if b, ok := s.NeutronBackend(); ok {
		for _, f := range []Family{IPv4, IPv6} {
			for _, c := range s.Table(b, f).chainsOrNil() {
				if !isPortChain(c.Name) {
					continue
				}
				rest := strings.TrimPrefix(c.Name, ChainPrefix)
				if !has(TapPrefix + rest[1:]) {
					add(TapPrefix + rest[1:])
				}
			}
		}
	}
	if s.Ebtables != nil {
		for _, c := range s.Ebtables.Chains {
			for _, pfx := range []string{EbARPPrefix, EbMACPrefix} {
				if tap, ok := strings.CutPrefix(c.Name, pfx); ok && !slices.Contains(present, tap) {
					add(tap)
				}
			}
		}
	}
	slices.Sort(out)
	return out
}

func (t *Table) chainsOrNil() []Chain {
	if t == nil {
		return nil
	}
	return t.Chains
}

// isPortChain reports whether name is a port's ingress, egress or spoof
// chain (neutron-linuxbri-i…, -o…, -s…), not one of the agent's shared
// chains.
func isPortChain(name string) bool {
	rest, ok := strings.CutPrefix(name, ChainPrefix)
	if !ok || len(rest) < 2 || !strings.ContainsRune("ios", rune(rest[0])) || strings.HasPrefix(rest, "sg-") {
		return false
	}
	switch rest {
	case "INPUT", "OUTPUT", "FORWARD", "local":
		return false
	}
	return true
}
