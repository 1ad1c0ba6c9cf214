package firewall

import (
	"bytes"
	"cmp"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"strings"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// ebBuiltins are the nat table's built-in chains in the order the
// listing prints them (by hook: PREROUTING, OUTPUT, POSTROUTING), each
// listed even when ebtables-nft has not created it yet.
var ebBuiltins = []string{"PREROUTING", "OUTPUT", "POSTROUTING"}

// ebNFTRead is the outcome of reading the bridge nat table through
// netlink: the table, the chains to list with the tool instead (name ->
// why), and a line of provenance.
type ebNFTRead struct {
	table    *EbTable
	fallback map[string]string
	chains   int
}

// readEbNFT reads ebtables-nft's nat table (nf_tables table "nat", family
// bridge) through c: the whole table when taps is empty; otherwise the
// built-in chains, the taps' neutronARP-/neutronMAC- chains and any chain
// those jump to that is not another port's. A rule the decoder does not
// model puts its chain in fallback (its rules are left out of the table);
// an error means nothing could be read this way.
func readEbNFT(c *nfConn, taps []string) (*ebNFTRead, error) {
	const fam = unix.NFPROTO_BRIDGE
	res := &ebNFTRead{table: &EbTable{Backend: BackendNFT, Name: "nat", Chains: []EbChain{}}, fallback: map[string]string{}}
	setCache := map[string][][]byte{}
	sets := func(name string) ([][]byte, error) {
		if k, ok := setCache[name]; ok {
			return k, nil
		}
		msgs, err := c.request(nfnlSubsysNFTables, nftMsgGetSetElem, fam, []netlink.Attribute{
			strAttr(nftaSetElemListTable, "nat"), strAttr(nftaSetElemListSet, name)}, true)
		if err != nil {
			return nil, err
		}
		var keys [][]byte
		for _, m := range msgs {
			b, err := nfPayload(m)
			if err != nil {
				return nil, err
			}
			k, err := parseNFSetElems(b)
			if err != nil {
				return nil, err
			}
			keys = append(keys, k...)
		}
		setCache[name] = keys
		return keys, nil
	}

	var chains []nfChain
	rules := map[string][]nfRule{}
	if len(taps) == 0 {
		msgs, err := c.request(nfnlSubsysNFTables, nftMsgGetChain, fam, []netlink.Attribute{strAttr(nftaChainTable, "nat")}, true)
		if err != nil && !isNotFound(err) {
			return nil, fmt.Errorf("firewall: list bridge nat chains: %w", err)
		}
		for _, m := range msgs {
			ch, tbl, err := parseNFChainMsg(m)
			if err != nil {
				return nil, err
			}
			if tbl == "nat" {
				chains = append(chains, ch)
			}
		}
		if len(chains) > 0 {
			msgs, err = c.request(nfnlSubsysNFTables, nftMsgGetRule, fam, []netlink.Attribute{strAttr(nftaRuleTable, "nat")}, true)
			if err != nil {
				return nil, fmt.Errorf("firewall: list bridge nat rules: %w", err)
			}
			if err := collectRules(msgs, "nat", rules, ""); err != nil {
				return nil, err
			}
		}
	} else {
		own := map[string]bool{}
		var pending []string
		pending = append(pending, ebBuiltins...)
		for _, t := range taps {
			for _, n := range []string{EbARPChain(TapName(t)), EbMACChain(TapName(t))} {
				own[n] = true
				pending = append(pending, n)
			}
		}
		listed := map[string]bool{}
		for round := 0; len(pending) > 0 && round < 8; round++ {
			var next []string
			for _, name := range pending {
				if listed[name] {
					continue
				}
				listed[name] = true
				b, err := c.requestOne(nfnlSubsysNFTables, nftMsgGetChain, fam, []netlink.Attribute{strAttr(nftaChainTable, "nat"), strAttr(nftaChainName, name)})
				if isNotFound(err) {
					continue
				}
				if err != nil {
					return nil, fmt.Errorf("firewall: bridge nat chain %s: %w", name, err)
				}
				ch, err := parseNFChain(b)
				if err != nil {
					return nil, err
				}
				chains = append(chains, ch)
				msgs, err := c.request(nfnlSubsysNFTables, nftMsgGetRule, fam, []netlink.Attribute{strAttr(nftaRuleTable, "nat"), strAttr(nftaRuleChain, name)}, true)
				if err != nil {
					return nil, fmt.Errorf("firewall: bridge nat chain %s rules: %w", name, err)
				}
				if err := collectRules(msgs, "nat", rules, name); err != nil {
					return nil, err
				}
				// Follow jumps to chains that are not another port's.
				for _, r := range rules[name] {
					for _, e := range r.exprs {
						if t := jumpTarget(e); t != "" && !listed[t] && (!isEbPortChain(t) || own[t]) {
							next = append(next, t)
						}
					}
				}
			}
			pending = next
		}
	}

	// Built-in chains first (by hook, each listed even when ebtables-nft
	// has not created it yet: empty, ACCEPT), then user chains by name,
	// as the listing orders them.
	slices.SortStableFunc(chains, func(a, b nfChain) int {
		switch {
		case a.base && b.base:
			return int(a.hook) - int(b.hook)
		case a.base:
			return -1
		case b.base:
			return 1
		}
		return strings.Compare(a.name, b.name)
	})
	byName := map[string]EbChain{}
	var out []EbChain
	for _, ch := range chains {
		ec := EbChain{Name: ch.name, Policy: "RETURN", Rules: []EbRule{}}
		if ch.base {
			ec.Policy = verdictName(ch.policy)
		}
		rs := rules[ch.name]
		if len(rs) > 0 && isEbPolicyRule(rs[len(rs)-1].udata) {
			// A user chain's policy, whatever the other rules hold.
			rr, err := ebRuleSpec(rs[len(rs)-1], true, nil)
			if err == nil && rr.isPolicy {
				ec.Policy = rr.policy
				rs = rs[:len(rs)-1]
			}
		}
		for i, r := range rs {
			rr, err := ebRuleSpec(r, false, sets)
			if err == nil {
				var er EbRule
				if er, err = parseEbRule(rr.spec); err == nil {
					er.Chain, er.Num, er.Packets, er.Bytes = ch.name, len(ec.Rules)+1, rr.packets, rr.bytes
					ec.Rules = append(ec.Rules, er)
					continue
				}
			}
			res.fallback[ch.name] = fmt.Sprintf("rule %d: %v", i+1, err)
			ec.Rules = []EbRule{}
			break
		}
		byName[ch.name] = ec
	}
	for _, b := range ebBuiltins {
		if c, ok := byName[b]; ok {
			out = append(out, c)
		} else {
			out = append(out, EbChain{Name: b, Policy: "ACCEPT", Rules: []EbRule{}})
		}
	}
	for _, ch := range chains {
		if !slices.Contains(ebBuiltins, ch.name) {
			out = append(out, byName[ch.name])
		}
	}
	res.table.Chains = out
	res.chains = len(out)
	return res, nil
}

func verdictName(v int32) string {
	switch v {
	case nfAccept:
		return "ACCEPT"
	case nfDrop:
		return "DROP"
	case nftReturn:
		return "RETURN"
	}
	return fmt.Sprintf("verdict %d", v)
}

// collectRules adds the rules of table in msgs to into by chain (of
// chain only, unless ""), whatever a kernel's dump filter left in.
func collectRules(msgs []netlink.Message, table string, into map[string][]nfRule, chain string) error {
	for _, m := range msgs {
		b, err := nfPayload(m)
		if err != nil {
			return err
		}
		r, err := parseNFRule(b)
		if err != nil {
			return err
		}
		if r.table != table || (chain != "" && r.chain != chain) {
			continue
		}
		into[r.chain] = append(into[r.chain], r)
	}
	return nil
}

// isEbPortChain reports whether name is one of the agent's per-tap
// ebtables chains.
func isEbPortChain(name string) bool {
	return strings.HasPrefix(name, EbARPPrefix) || strings.HasPrefix(name, EbMACPrefix)
}

// listEbChains lists chains with `ebtables -t nat -L CHAIN --Lc` (the
// tool's own reading, for chains the decoder does not model), one
// process per chain started from a thread inside the namespace, and
// returns them by name.
func listEbChains(ctx context.Context, netnsPath, tool string, names []string) (map[string]EbChain, error) {
	if _, err := os.Stat(tool); err != nil {
		return nil, err
	}
	cmds := make([]*exec.Cmd, len(names))
	outs := make([]bytes.Buffer, len(names))
	errbs := make([]bytes.Buffer, len(names))
	err := inNetNS(netnsPath, func() error {
		for i, n := range names {
			cmd := exec.CommandContext(ctx, tool, "-t", "nat", "-L", n, "--Lc")
			cmd.Stdout, cmd.Stderr = &outs[i], &errbs[i]
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
			if err := cmd.Start(); err != nil {
				return err
			}
			cmds[i] = cmd
		}
		return nil
	})
	if err != nil {
		// The thread could not go back: reap what was started.
		for _, cmd := range cmds {
			if cmd != nil {
				cmd.Process.Kill()
				cmd.Wait()
			}
		}
		return nil, err
	}
	got := map[string]EbChain{}
	var firstErr error
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		if e := cmd.Wait(); e != nil {
			if firstErr == nil {
				firstErr = fmt.Errorf("%s -t nat -L %s --Lc: %w: %s", tool, names[i], e, strings.TrimSpace(errbs[i].String()))
			}
			continue
		}
		t, e := ParseEbtablesList(outs[i].String(), BackendNFT)
		if e != nil {
			if firstErr == nil {
				firstErr = e
			}
			continue
		}
		if c := t.Chain(names[i]); c != nil {
			got[names[i]] = *c
		}
	}
	return got, firstErr
}

// bridgeHookNames are the bridge family's hooks (NF_BR_PRE_ROUTING …
// NF_BR_BROUTING).
var bridgeHookNames = []string{"prerouting", "input", "forward", "output", "postrouting", "brouting"}

// readBridgeHooks lists the bridge family's base chains outside the "nat"
// table (Snapshot.BridgeHooks): one dump of every bridge chain, then one
// rule dump per table holding a base chain. Chains without a rule whose
// policy accepts are left out.
func readBridgeHooks(c *nfConn) ([]BridgeHook, error) {
	const fam = unix.NFPROTO_BRIDGE
	msgs, err := c.request(nfnlSubsysNFTables, nftMsgGetChain, fam, nil, true)
	if err != nil {
		if isNotFound(err) {
			return nil, nil
		}
		return nil, fmt.Errorf("firewall: list bridge chains: %w", err)
	}
	var hooks []BridgeHook
	tables := map[string]bool{}
	for _, m := range msgs {
		ch, tbl, err := parseNFChainMsg(m)
		if err != nil {
			return nil, err
		}
		if tbl == "nat" || !ch.base {
			continue
		}
		h := BridgeHook{Table: tbl, Chain: ch.name, Hook: fmt.Sprintf("hook %d", ch.hook), Policy: "ACCEPT"}
		if int(ch.hook) < len(bridgeHookNames) {
			h.Hook = bridgeHookNames[ch.hook]
		}
		if ch.hasPolicy && ch.policy == nfDrop {
			h.Policy = "DROP"
		}
		hooks = append(hooks, h)
		tables[tbl] = true
	}
	for tbl := range tables {
		msgs, err := c.request(nfnlSubsysNFTables, nftMsgGetRule, fam, []netlink.Attribute{strAttr(nftaRuleTable, tbl)}, true)
		if err != nil {
			return nil, fmt.Errorf("firewall: list bridge table %s rules: %w", tbl, err)
		}
		rules := map[string][]nfRule{}
		if err := collectRules(msgs, tbl, rules, ""); err != nil {
			return nil, err
		}
		for i := range hooks {
			if hooks[i].Table == tbl {
				hooks[i].Rules = len(rules[hooks[i].Chain])
			}
		}
	}
	out := hooks[:0]
	for _, h := range hooks {
		if h.Rules > 0 || h.Policy == "DROP" {
			out = append(out, h)
		}
	}
	slices.SortFunc(out, func(a, b BridgeHook) int {
		return cmp.Or(strings.Compare(a.Table, b.Table), strings.Compare(a.Chain, b.Chain))
	})
	if len(out) == 0 {
		return nil, nil
	}
	return out, nil
}
