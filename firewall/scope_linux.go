package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"strings"
	"sync"
)

// scopedTable is one backend and family's filter table read chain by
// chain for Config.Taps.
type scopedTable struct {
	tool, save string
	family     Family
	table      *Table
	read       *TableRead
	missing    string
	openErr    string
	err        error
}

// readScopedNFT reads the iptables-nft filter tables of both families
// (IPv6 unless skipIPv6) chain by chain: the chains scopeChainsFor(taps)
// names, then those they reach (scopeMore), each through nf_tables
// netlink (nftReader, one per family) or, for a chain with a rule it
// does not decode and with Config.NFTCLI, by its own `iptables-nft -t
// filter -S CHAIN -v` (iptables-nft 1.8.9 fetches only the listed
// chain's rules from the kernel), all of a round at once. When
// the IPv4 table has no SGChain, iptables-nft is not where Neutron's
// chains are (or it is not the agent's backend): both tables are then
// read whole with the save tools, as an unscoped Read does, so that
// Backends can count the other backend's rules.
func readScopedNFT(ctx context.Context, d Config) []*scopedTable {
	ts := []*scopedTable{{tool: d.IPTablesNFT, save: d.IPTablesNFTSave, family: IPv4}}
	if !d.SkipIPv6 {
		ts = append(ts, &scopedTable{tool: d.IP6TablesNFT, save: d.IP6TablesNFTSave, family: IPv6})
	}
	own := map[string]bool{}
	for _, t := range d.Taps {
		for _, dir := range []Direction{Ingress, Egress, Spoof} {
			own[PortChain(t, dir)] = true
		}
	}
	var wg sync.WaitGroup
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			var nl *nftReader
			if !d.NFTCLI {
				var err error
				if nl, err = openNFT(ctx, d.NetNSPath, t.family); err != nil {
					// No nf_tables netlink here (no module, no
					// privilege): the tool, chain by chain.
					t.openErr = err.Error()
					nl = nil
				} else {
					defer nl.Close()
				}
			}
			t.table, t.read, t.missing, t.err = readChains(ctx, d.NetNSPath, t.tool, t.family, scopeChainsFor(d.Taps), own, nl)
			if t.read != nil && t.openErr != "" {
				t.read.Fallback = append(t.read.Fallback, t.openErr)
			}
		}()
	}
	wg.Wait()
	if v4 := ts[0]; v4.table != nil && v4.table.Chain(SGChain) != nil || v4.table == nil && v4.read != nil && v4.missing != "" {
		// The agent's layout read, or a chain netlink saw that neither
		// way can list (see listCLI): a whole read would not do better.
		return ts
	}
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.table, t.missing, t.err = readSave(ctx, d.NetNSPath, t.save, t.family)
			t.read = &TableRead{Part: PartIPTables, Backend: BackendNFT, Family: t.family, Via: ViaSave}
		}()
	}
	wg.Wait()
	return ts
}

// readChains lists chains (and the chains they reach) of one family's
// filter table, through nf_tables netlink when nl is not nil (then
// t.read says so, and names each chain left to the tool and why), with
// tool otherwise: one process per chain, all of a round at once. A chain
// that does not exist is left out (iptables-nft 1.8.9 exits 1 saying
// "chain `X' in table `filter' is incompatible" for it, older ones "No
// chain/target/match by that name").
func readChains(ctx context.Context, netnsPath, tool string, f Family, first []string, own map[string]bool, nl *nftReader) (*Table, *TableRead, string, error) {
	if _, err := os.Stat(tool); err != nil && nl == nil {
		return nil, nil, fmt.Sprintf("%s: %v", tool, err), nil
	}
	t := &Table{Backend: BackendNFT, Family: f, Name: "filter", Chains: []Chain{}}
	read := &TableRead{Part: PartIPTables, Backend: BackendNFT, Family: f, Via: ViaList}
	if nl != nil {
		read.Via = ViaNetlink
	}
	listed := map[string]bool{}
	pending := first
	for round := 0; len(pending) > 0 && round < 8; round++ {
		texts := make([]string, len(pending))
		cli := make([]bool, len(pending))
		exists := make([]bool, len(pending))
		for i, c := range pending {
			listed[c] = true
			cli[i] = nl == nil
		}
		if nl != nil {
			nftRound(ctx, nl, pending, texts, cli, exists, read)
		}
		missing, err := listCLI(ctx, netnsPath, tool, pending, texts, cli, exists)
		if err != nil {
			return nil, nil, "", err
		}
		if missing != "" {
			return nil, read, missing, nil
		}
		if ctx.Err() != nil {
			return nil, nil, "", ctx.Err()
		}
		var text strings.Builder
		text.WriteString("*filter\n")
		for _, s := range texts {
			text.WriteString(s)
		}
		text.WriteString("COMMIT\n")
		parsed, e := ParseIPTablesSave(text.String(), BackendNFT, f)
		if e != nil {
			return nil, nil, "", e
		}
		if len(parsed) != 1 {
			return nil, nil, "", fmt.Errorf("firewall: %s: want one filter table, parsed %d", tool, len(parsed))
		}
		added := parsed[0].Chains
		t.Chains = append(t.Chains, added...)
		pending = scopeMore(added, listed, own)
	}
	if m := unlistedJump(t, listed); m != "" {
		return nil, read, m, nil
	}
	return t, read, "", nil
}

// unlistedJump names a chain a read rule jumps to that was listed but
// read as absent. A jump's target exists in nf_tables (the kernel refuses
// a jump to a missing chain), so such a chain is one iptables-nft cannot
// print ("incompatible": a rule `nft` added), which the tool alone
// (Config.NFTCLI, or no netlink) cannot tell from a missing chain: its
// rules are unknown, and leaving it out would let Evaluate skip the jump.
// Upper-case names are left alone: they are target extensions (SET,
// CHECKSUM…) that standardTargets does not list, not the agent's chains.
func unlistedJump(t *Table, listed map[string]bool) string {
	present := map[string]bool{}
	for _, c := range t.Chains {
		present[c.Name] = true
	}
	for _, c := range t.Chains {
		for _, r := range c.Rules {
			j := r.Target
			if standardTargets[j] || !listed[j] || present[j] || strings.ToUpper(j) == j {
				continue
			}
			return fmt.Sprintf("iptables-nft %s: chain %s (jumped to from %s) could not be listed: iptables-nft calls it incompatible (a rule added with nft?) or it vanished during the read; its rules are unknown", t.Family, j, c.Name)
		}
	}
	return ""
}

// nftRound lists chains through nl into texts (iptables-save -c lines;
// "" for a chain that does not exist), marking in cli the chains it
// could not decode (named in read.Fallback with why) and in exists the
// chains it saw (in its last try; see listCLI). The ruleset
// generation is read before and after: a round that saw the rules change
// is read again (at most nftMaxGenerationTry times, then left to the
// tool whole).
func nftRound(ctx context.Context, nl *nftReader, chains []string, texts []string, cli, exists []bool, read *TableRead) {
	var why []string
	for try := 0; ; try++ {
		why = why[:0]
		for i := range chains {
			texts[i], cli[i], exists[i] = "", false, false
		}
		g0, err := nl.generation()
		if err != nil {
			for i := range chains {
				cli[i] = true
			}
			read.Fallback = append(read.Fallback, err.Error())
			return
		}
		for i, c := range chains {
			if ctx.Err() != nil {
				cli[i] = true
				continue
			}
			text, ok, err := nl.chain(c)
			exists[i] = ok
			if err != nil {
				cli[i] = true
				why = append(why, err.Error())
				continue
			}
			texts[i] = text
		}
		g1, err := nl.generation()
		if err == nil && g0 == g1 {
			read.Fallback = append(read.Fallback, why...)
			return
		}
		if try+1 >= nftMaxGenerationTry {
			for i := range chains {
				texts[i], cli[i] = "", true
			}
			read.Fallback = append(read.Fallback, fmt.Sprintf("the ruleset changed during %d netlink reads (generation %d, then %d): %s listed by the tool", nftMaxGenerationTry, g0, g1, strings.Join(chains, ", ")))
			return
		}
	}
}

// listCLI lists the chains marked in cli with `tool -t filter -S CHAIN
// -v`, one process each, all at once, into texts (converted to
// iptables-save -c lines by ConvertListRules; "" for a chain that does
// not exist). A tool that cannot list is returned as missing; err is
// for a namespace that cannot be entered.
//
// iptables-nft 1.8.9 says the same ("chain `X' in table `filter' is
// incompatible") for a chain that does not exist and for one holding an
// expression it cannot print (a rule `nft` added): a chain exists marks
// (nf_tables netlink saw it) is therefore never taken as absent, it is
// missing: its rules are unknown both ways.
func listCLI(ctx context.Context, netnsPath, tool string, chains []string, texts []string, cli, exists []bool) (missing string, err error) {
	cmds := make([]*exec.Cmd, len(chains))
	outs := make([]bytes.Buffer, len(chains))
	errbs := make([]bytes.Buffer, len(chains))
	any := false
	for _, c := range cli {
		any = any || c
	}
	if !any {
		return "", nil
	}
	if _, err := os.Stat(tool); err != nil {
		return fmt.Sprintf("%s: %v", tool, err), nil
	}
	err = inNetNS(netnsPath, func() error {
		for i, c := range chains {
			if !cli[i] {
				continue
			}
			cmd := exec.CommandContext(ctx, tool, "-t", "filter", "-S", c, "-v")
			cmd.Stdout, cmd.Stderr = &outs[i], &errbs[i]
			cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
			if err := cmd.Start(); err != nil {
				return fmt.Errorf("firewall: %s: %w", tool, err)
			}
			cmds[i] = cmd
		}
		return nil
	})
	var werr error
	for i, cmd := range cmds {
		if cmd == nil {
			continue
		}
		if e := cmd.Wait(); e != nil {
			msg := errbs[i].String()
			if !exists[i] && (strings.Contains(msg, "incompatible") || strings.Contains(msg, "No chain/target/match") || strings.Contains(msg, "does not exist")) {
				continue // the chain is absent
			}
			if werr == nil {
				werr = fmt.Errorf("firewall: %s -S %s -v: %w: %s", tool, chains[i], e, strings.TrimSpace(msg))
			}
			continue
		}
		conv, e := ConvertListRules(outs[i].String())
		if e != nil && werr == nil {
			werr = e
		}
		texts[i] = conv
	}
	if err != nil {
		return "", err
	}
	if werr != nil {
		return werr.Error(), nil
	}
	return "", nil
}

// readSave reads one family's whole iptables-nft filter table with its
// save tool (the unscoped way).
func readSave(ctx context.Context, netnsPath, save string, f Family) (*Table, string, error) {
	out, miss := runTool(ctx, netnsPath, save, "-c", "-t", "filter")
	if miss != "" {
		return nil, miss, nil
	}
	if m := saveIncompatible(save, out); m != "" {
		return nil, m, nil
	}
	ts, err := ParseIPTablesSave(out, BackendNFT, f)
	if err != nil {
		return nil, "", err
	}
	for i := range ts {
		if ts[i].Name == "filter" {
			return &ts[i], "", nil
		}
	}
	return &Table{Backend: BackendNFT, Family: f, Name: "filter"}, "", nil
}

// saveIncompatible returns why iptables-nft-save's output out holds no
// table it should: iptables-nft-save prints "# Table `filter' is
// incompatible, use 'nft' tool." instead of a table holding a rule it
// cannot print (a rule `nft` added), and exits 0. That table is unknown,
// not empty nor absent. "" when out has no such line.
func saveIncompatible(save, out string) string {
	for _, l := range strings.Split(out, "\n") {
		if strings.HasPrefix(l, "# ") && strings.Contains(l, "is incompatible, use 'nft' tool") {
			return fmt.Sprintf("%s: %s", save, strings.TrimPrefix(l, "# "))
		}
	}
	return ""
}
