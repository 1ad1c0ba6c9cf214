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
	missing    string
	err        error
}

// readScopedNFT reads the iptables-nft filter tables of both families
// (IPv6 unless skipIPv6) chain by chain: the chains scopeChainsFor(taps)
// names, then those they reach (scopeMore), each listed by its own
// `iptables-nft -t filter -S CHAIN -v` (iptables-nft 1.8.9 fetches only
// the listed chain's rules from the kernel), all of a round at once. When
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
			t.table, t.missing, t.err = readChains(ctx, d.NetNSPath, t.tool, t.family, scopeChainsFor(d.Taps), own)
		}()
	}
	wg.Wait()
	if v4 := ts[0]; v4.table != nil && v4.table.Chain(SGChain) != nil {
		return ts
	}
	for _, t := range ts {
		wg.Add(1)
		go func() {
			defer wg.Done()
			t.table, t.missing, t.err = readSave(ctx, d.NetNSPath, t.save, t.family)
		}()
	}
	wg.Wait()
	return ts
}

// readChains lists chains (and the chains they reach) of one family's
// filter table with tool, one process per chain. A chain that does not
// exist is left out (iptables-nft 1.8.9 exits 1 saying "chain `X' in
// table `filter' is incompatible" for it, older ones "No chain/target/
// match by that name").
func readChains(ctx context.Context, netnsPath, tool string, f Family, first []string, own map[string]bool) (*Table, string, error) {
	if _, err := os.Stat(tool); err != nil {
		return nil, fmt.Sprintf("%s: %v", tool, err), nil
	}
	t := &Table{Backend: BackendNFT, Family: f, Name: "filter", Chains: []Chain{}}
	listed := map[string]bool{}
	pending := first
	for round := 0; len(pending) > 0 && round < 8; round++ {
		cmds := make([]*exec.Cmd, len(pending))
		outs := make([]bytes.Buffer, len(pending))
		errbs := make([]bytes.Buffer, len(pending))
		err := inNetNS(netnsPath, func() error {
			for i, c := range pending {
				listed[c] = true
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
		var text strings.Builder
		text.WriteString("*filter\n")
		var werr error
		for i, cmd := range cmds {
			if cmd == nil {
				continue
			}
			if e := cmd.Wait(); e != nil {
				msg := errbs[i].String()
				if strings.Contains(msg, "incompatible") || strings.Contains(msg, "No chain/target/match") || strings.Contains(msg, "does not exist") {
					continue // the chain is absent
				}
				if werr == nil {
					werr = fmt.Errorf("firewall: %s -S %s -v: %w: %s", tool, pending[i], e, strings.TrimSpace(msg))
				}
				continue
			}
			conv, e := ConvertListRules(outs[i].String())
			if e != nil && werr == nil {
				werr = e
			}
			text.WriteString(conv)
		}
		if err != nil {
			return nil, "", err
		}
		if werr != nil {
			return nil, werr.Error(), nil
		}
		if ctx.Err() != nil {
			return nil, "", ctx.Err()
		}
		text.WriteString("COMMIT\n")
		parsed, e := ParseIPTablesSave(text.String(), BackendNFT, f)
		if e != nil {
			return nil, "", e
		}
		if len(parsed) != 1 {
			return nil, "", fmt.Errorf("firewall: %s: want one filter table, parsed %d", tool, len(parsed))
		}
		added := parsed[0].Chains
		t.Chains = append(t.Chains, added...)
		pending = scopeMore(added, listed, own)
	}
	return t, "", nil
}

// readSave reads one family's whole iptables-nft filter table with its
// save tool (the unscoped way).
func readSave(ctx context.Context, netnsPath, save string, f Family) (*Table, string, error) {
	if _, err := os.Stat(save); err != nil {
		return nil, fmt.Sprintf("%s: %v", save, err), nil
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, save, "-c", "-t", "filter")
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	if err := inNetNS(netnsPath, cmd.Start); err != nil {
		if cmd.Process != nil {
			// Started, but the thread could not go back: reap it.
			cmd.Process.Kill()
			cmd.Wait()
		}
		return nil, fmt.Sprintf("%s: %v", save, err), nil
	}
	if err := cmd.Wait(); err != nil {
		return nil, fmt.Sprintf("%s -c -t filter: %v: %s", save, err, strings.TrimSpace(errb.String())), nil
	}
	ts, err := ParseIPTablesSave(out.String(), BackendNFT, f)
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
