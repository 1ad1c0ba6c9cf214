package firewall

import (
	"bytes"
	"context"
	"fmt"
	"os"
	"os/exec"
	"slices"
	"sort"
	"strings"
)

// nlRead is the part of Read done through netlink: ebtables-nft's nat
// table (when the agent's ebtables is the nf_tables one) and the ipsets.
// start runs the socket and the table read on a goroutine while the tools
// run; finish waits for it, reads the ipsets (for a scoped read, only
// those the tables' rules name, so after the tables), falls back to the
// tools for what netlink could not read, and fills the Snapshot.
type nlRead struct {
	d      Config
	ebNFT  bool
	scoped bool
	done   chan struct{}

	conn    *nfConn
	dialErr error
	eb      *ebNFTRead
	ebErr   error
	sets    []Set
	skipped []string
	setsErr error
	setsSet bool
	// hooks are the bridge family's base chains outside nat
	// (Snapshot.BridgeHooks), hooksErr why they could not be read.
	hooks    []BridgeHook
	hooksErr error
}

func startNetlinkRead(ctx context.Context, d Config, ebNFT, scoped bool) *nlRead {
	n := &nlRead{d: d, ebNFT: ebNFT, scoped: scoped, done: make(chan struct{})}
	go func() {
		defer close(n.done)
		n.conn, n.dialErr = dialNetfilter(ctx, d.NetNSPath)
		if n.dialErr != nil {
			return
		}
		if ebNFT {
			var taps []string
			if scoped {
				taps = d.Taps
			}
			n.eb, n.ebErr = readEbNFT(n.conn, taps)
		}
		if !scoped {
			n.sets, n.skipped, n.setsErr = readIPSetsNL(n.conn, nil, true)
			n.setsSet = true
		}
		n.hooks, n.hooksErr = readBridgeHooks(n.conn)
	}()
	return n
}

// wait waits for the goroutine (also when Read gives up early) and closes
// the socket.
func (n *nlRead) wait() {
	<-n.done
	n.conn.Close()
}

// finish completes the Snapshot's Ebtables (when ebNFT), Sets,
// Reads and Missing. It runs after snap.Tables are read.
func (n *nlRead) finish(ctx context.Context, snap *Snapshot) []error {
	<-n.done
	defer n.conn.Close()
	var errs []error
	ebTool := n.d.Ebtables
	if n.ebNFT {
		switch err := firstErr(n.dialErr, n.ebErr); {
		case err != nil:
			// Netlink failed as a whole: the listing, as before.
			t, miss, perr := listEbTable(ctx, n.d.NetNSPath, ebTool, BackendNFT)
			switch {
			case perr != nil:
				errs = append(errs, perr)
			case miss != "":
				snap.Missing = append(snap.Missing, miss)
			default:
				snap.Ebtables = t
			}
			snap.Reads = append(snap.Reads, TableRead{Part: PartEbtables, Backend: BackendNFT, Via: ViaEbList, Fallback: []string{fmt.Sprintf("netlink: %v", err)}})
		default:
			t := n.eb.table
			read := TableRead{Part: PartEbtables, Backend: BackendNFT, Via: ViaNetlink}
			if len(n.eb.fallback) > 0 {
				names := make([]string, 0, len(n.eb.fallback))
				for c := range n.eb.fallback {
					names = append(names, c)
				}
				sort.Strings(names)
				listed, lerr := listEbChains(ctx, n.d.NetNSPath, ebTool, names)
				for _, c := range names {
					i := slices.IndexFunc(t.Chains, func(x EbChain) bool { return x.Name == c })
					if i < 0 {
						continue
					}
					lc, ok := listed[c]
					if !ok {
						// Neither way: the chain's rules are unknown.
						t.Chains = slices.Delete(t.Chains, i, i+1)
						snap.Missing = append(snap.Missing, fmt.Sprintf("ebtables nat chain %s: netlink: %s; %s -L: %v", c, n.eb.fallback[c], ebTool, lerr))
						continue
					}
					// The rules as the tool lists them; the policy as
					// netlink read it (the listing prints RETURN for
					// every user chain).
					t.Chains[i].Rules = lc.Rules
					read.Fallback = append(read.Fallback, fmt.Sprintf("chain %s: `%s -t nat -L %s --Lc` (netlink: %s)", c, ebTool, c, n.eb.fallback[c]))
				}
			}
			snap.Reads = append(snap.Reads, read)
			snap.Ebtables = t
		}
	}

	if n.dialErr == nil && n.hooksErr == nil {
		snap.BridgeHooks = n.hooks
	}

	// ipsets: all of them for a whole read (read on the goroutine), the
	// ones the rules name for a scoped read.
	if n.scoped && n.dialErr == nil {
		n.sets, n.skipped, n.setsErr = readIPSetsNL(n.conn, setNames(snap.Tables), false)
		n.setsSet = true
	}
	switch err := firstErr(n.dialErr, n.setsErr); {
	case err != nil:
		out, miss := runTool(ctx, n.d.NetNSPath, n.d.IPSet, "save")
		snap.Reads = append(snap.Reads, TableRead{Part: PartIPSets, Via: ViaIPSetSave, Fallback: []string{fmt.Sprintf("netlink: %v", err)}})
		if miss != "" {
			snap.Missing = append(snap.Missing, miss)
			break
		}
		sets, perr := ParseIPSetSave(out)
		if perr != nil {
			errs = append(errs, perr)
			break
		}
		if sets != nil {
			snap.Sets = sets
		}
	case n.setsSet:
		snap.Sets = n.sets
		snap.Reads = append(snap.Reads, TableRead{Part: PartIPSets, Via: ViaNetlink})
		snap.Missing = append(snap.Missing, n.skipped...)
	}
	return errs
}

func firstErr(errs ...error) error {
	for _, e := range errs {
		if e != nil {
			return e
		}
	}
	return nil
}

// setNames are the ipsets the tables' rules name (-m set --match-set), in
// order of first mention.
func setNames(tables []Table) []string {
	var out []string
	for _, t := range tables {
		for _, c := range t.Chains {
			for _, r := range c.Rules {
				if s := r.Match.Set; s != "" && !slices.Contains(out, s) {
					out = append(out, s)
				}
			}
		}
	}
	return out
}

// listEbTable lists the whole nat table with the tool (the way Read reads
// ebtables-legacy, and ebtables-nft when netlink fails).
func listEbTable(ctx context.Context, netnsPath, tool string, b Backend) (*EbTable, string, error) {
	out, miss := runTool(ctx, netnsPath, tool, "-t", "nat", "-L", "--Lc")
	if miss != "" {
		return nil, miss, nil
	}
	t, err := ParseEbtablesList(out, b)
	return t, "", err
}

// runTool runs one read-only tool from a thread inside the namespace and
// returns its output, or why it could not (for Snapshot.Missing).
func runTool(ctx context.Context, netnsPath, path string, args ...string) (string, string) {
	if _, err := os.Stat(path); err != nil {
		return "", fmt.Sprintf("%s: %v", path, err)
	}
	var out, errb bytes.Buffer
	cmd := exec.CommandContext(ctx, path, args...)
	cmd.Stdout, cmd.Stderr = &out, &errb
	cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
	if err := inNetNS(netnsPath, cmd.Start); err != nil {
		if cmd.Process != nil {
			cmd.Process.Kill()
			cmd.Wait()
		}
		return "", fmt.Sprintf("%s: %v", path, err)
	}
	if err := cmd.Wait(); err != nil {
		return "", fmt.Sprintf("%s %s: %v: %s", path, strings.Join(args, " "), err, strings.TrimSpace(errb.String()))
	}
	return out.String(), ""
}
