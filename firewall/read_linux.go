package firewall

// How each part is read, and why.
//
// iptables-nft stores its rules in nf_tables, but each match the agent
// uses (physdev, set, state, comment, mac) is an xtables-compat blob,
// and legacy iptables cannot be read through nf_tables at all. So a read
// of the whole node runs the pinned tools /usr/sbin/iptables-nft-save,
// iptables-legacy-save and their ip6tables twins (-c -t filter), starts
// them all at once from a thread inside the namespace, and parses their
// output with fuzzed parsers (ParseIPTablesSave). The integration tests
// compare the result with iptables -S and iptables -L -v -x.
//
// A read of some ports (Config.Taps) lists iptables-nft's chains through
// nf_tables netlink instead (sockets opened inside the namespace): per
// chain its rules with their counters, its policy and counters, the
// ipsets' names by kernel index (what an xt set match holds, resolved as
// iptables does), and the ruleset generation before and after, so a
// round that saw the rules change is read again. It decodes exactly the
// expressions iptables-nft 1.8.9 writes for the agent's rules (native
// meta, payload, cmp, bitwise and range for -i, -o, -p, -s, -d and
// tcp/udp ports; the xt structs of physdev, set, conntrack as -m state
// and --ctstate, comment, mac, icmp, icmp6, multiport, tcp and udp;
// counters; ACCEPT, DROP, RETURN, jumps and gotos) back into the text
// `iptables-nft -S` prints, and parses that as the CLI read does, so
// both give the same Rule values. A chain holding anything else (a
// limit, a LOG or REJECT target, a protocol iptables names from
// /etc/protocols) is listed by `iptables-nft -S` instead, never guessed:
// Snapshot.Reads says which chains and why. An expression of any other
// name (rt, socket, byteorder, …: what google/nftables' own rule parser
// skips without a word) refuses its rule the same way; a chain that
// netlink sees but `iptables-nft -S` calls incompatible (a rule `nft`
// added) is named in Missing, never read as absent or empty.
// Config.NFTCLI lists every chain with the tool.
//
// The ebtables nat table of ebtables-nft (Debian 11 and later) and the
// ipsets are read through netlink, from a NETLINK_NETFILTER socket opened
// on a thread inside the namespace, while the tools run: the nf_tables
// chains and rules of table "nat", family bridge (with the elements of the
// anonymous sets among matches use), and the ip_set protocol's set
// listing. Each rule's expressions are turned back into the text
// `ebtables -t nat -L --Lc` prints for it, which ParseEbtablesList's rule
// parser reads, so both ways give the same EbRule; a rule holding an
// expression the decoder does not model (another match, a target, a
// masked MAC, see ebnft.go) sends its chain to `ebtables -t nat -L CHAIN
// --Lc` instead, never a guess. A user chain's policy is the one the
// kernel applies (ebtables-nft keeps it as a marked last rule), which the
// listing does not show. ebtables-legacy is listed with /usr/sbin/ebtables
// -t nat -L --Lc, and when netlink cannot be used the tools are run as
// before (ebtables -L, ipset save; their parsers, ParseEbtablesList and
// ParseIPSetSave, stay fuzzed and are the reference the integration tests
// compare the netlink reads with). An ipset whose members are not plain
// addresses or prefixes (hash:ip,port, nomatch entries) is left out of
// Sets and named in Missing. Snapshot.Reads says which way each part was
// read (one TableRead per iptables table, for the nat table and for the
// ipsets).

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
)

type source struct {
	path    string
	args    []string
	backend Backend
	family  Family
	eb      bool
	version bool
	cmd     *exec.Cmd
	out     bytes.Buffer
	errb    bytes.Buffer
	missing string
	// names is the /proc/net file listing the backend's existing tables
	// (legacy only): without "filter" there, nothing is run.
	names  string
	absent bool
}

// Read takes one Snapshot of the namespace's firewall: the filter tables
// of both iptables backends (IPv4 and IPv6, with counters), the ebtables
// nat table, the ipsets and the bridge-nf-call switches. It only reads:
// every tool runs with its listing flags, started from a thread inside
// the namespace (the caller's thread never moves), all at once, while
// ebtables-nft's nat table and the ipsets are read through a netlink
// socket opened inside the namespace (see the package doc; Snapshot.Reads
// says which way each part was read). A source that cannot be read is named in
// Snapshot.Missing; Read fails only when the namespace cannot be entered
// or no iptables table could be read.
//
// Privileges: root (the tools and the netfilter netlink socket need
// CAP_NET_ADMIN; entering Config.NetNSPath needs CAP_SYS_ADMIN).
func Read(ctx context.Context, cfg *Config) (*Snapshot, error) {
	d := cfg.orDefault()
	scoped := len(d.Taps) > 0
	var srcs []*source
	if !scoped {
		srcs = append(srcs, &source{path: d.IPTablesNFTSave, args: []string{"-c", "-t", "filter"}, backend: BackendNFT, family: IPv4})
	}
	// Legacy without -t: naming a table makes the kernel instantiate
	// it in the namespace; a bare save lists only tables that exist.
	srcs = append(srcs, &source{path: d.IPTablesLegacySave, args: []string{"-c"}, backend: BackendLegacy, family: IPv4, names: "ip_tables_names"})
	if !d.SkipIPv6 {
		if !scoped {
			srcs = append(srcs, &source{path: d.IP6TablesNFTSave, args: []string{"-c", "-t", "filter"}, backend: BackendNFT, family: IPv6})
		}
		srcs = append(srcs, &source{path: d.IP6TablesLegacySave, args: []string{"-c"}, backend: BackendLegacy, family: IPv6, names: "ip6_tables_names"})
	}
	// A scoped read lists iptables-nft chain by chain while the other
	// tools run.
	var scopedNFT []*scopedTable
	scopedDone := make(chan struct{})
	if scoped {
		go func() {
			defer close(scopedDone)
			scopedNFT = readScopedNFT(ctx, d)
		}()
	} else {
		close(scopedDone)
	}
	ebPath := d.Ebtables
	// ebtables-nft's nat table and the ipsets are read through netlink
	// (readnl_linux.go) while the tools run; ebtables-legacy is listed.
	ebNFT := ebtablesBackend(ebPath) == BackendNFT
	if !ebNFT {
		srcs = append(srcs, &source{path: ebPath, args: []string{"-t", "nat", "-L", "--Lc"}, backend: BackendLegacy, eb: true})
	}
	nl := startNetlinkRead(ctx, d, ebNFT, scoped)
	// The version of the real tool. When ebtables is the same
	// xtables-nft-multi as iptables-nft-save, that save's header names
	// the version and no process is started; otherwise `ebtables
	// --version` (it prints and exits, touching no table).
	var sameBinary *source
	if ebReal, err := filepath.EvalSymlinks(ebPath); err == nil && !scoped && filepath.Base(ebReal) == "xtables-nft-multi" {
		if r, err := filepath.EvalSymlinks(srcs[0].path); err == nil && r == ebReal {
			sameBinary = srcs[0]
		}
	}
	if sameBinary == nil {
		srcs = append(srcs, &source{path: ebPath, args: []string{"--version"}, version: true})
	}
	sysctlDir := d.SysctlDir
	netnsPath := d.NetNSPath

	snap := &Snapshot{Sets: []Set{}, Tables: []Table{}, NetNS: netnsPath}
	err := inNetNS(netnsPath, func() error {
		for _, s := range srcs {
			if s.names != "" {
				// The thread's own /proc/net: this namespace's tables.
				if b, err := os.ReadFile("/proc/thread-self/net/" + s.names); err == nil && !slices.Contains(strings.Fields(string(b)), "filter") {
					s.absent = true
					continue
				}
			}
			if _, err := os.Stat(s.path); err != nil {
				s.missing = fmt.Sprintf("%s: %v", s.path, err)
				continue
			}
			s.cmd = exec.CommandContext(ctx, s.path, s.args...)
			s.cmd.Stdout, s.cmd.Stderr = &s.out, &s.errb
			s.cmd.Env = []string{"PATH=/usr/sbin:/usr/bin:/sbin:/bin", "LC_ALL=C"}
			if err := s.cmd.Start(); err != nil {
				s.missing = fmt.Sprintf("%s: %v", s.path, err)
				s.cmd = nil
			}
		}
		snap.BridgeNFCallIptables = readSysctl(filepath.Join(sysctlDir, "bridge-nf-call-iptables"))
		snap.BridgeNFCallIP6tables = readSysctl(filepath.Join(sysctlDir, "bridge-nf-call-ip6tables"))
		return nil
	})
	if err != nil {
		// The thread could not go back: reap what was started before.
		for _, s := range srcs {
			if s.cmd != nil {
				s.cmd.Process.Kill()
				s.cmd.Wait()
			}
		}
		<-scopedDone
		nl.wait()
		return nil, err
	}
	var errs []error
	<-scopedDone
	for _, t := range scopedNFT {
		if t.read != nil {
			snap.Reads = append(snap.Reads, *t.read)
		}
		switch {
		case t.err != nil:
			errs = append(errs, t.err)
		case t.missing != "":
			snap.Missing = append(snap.Missing, t.missing)
		case t.table != nil:
			snap.Tables = append(snap.Tables, *t.table)
		}
	}
	if scoped {
		snap.Scope = make([]string, len(d.Taps))
		for i, t := range d.Taps {
			snap.Scope[i] = TapName(t)
		}
	}
	for _, s := range srcs {
		if s.cmd != nil {
			if err := s.cmd.Wait(); err != nil {
				s.missing = fmt.Sprintf("%s %s: %v: %s", s.path, strings.Join(s.args, " "), err, strings.TrimSpace(s.errb.String()))
			}
		}
		if s.absent {
			// No legacy filter table in the namespace: it filters nothing.
			snap.Tables = append(snap.Tables, Table{Backend: s.backend, Family: s.family, Name: "filter"})
			snap.Reads = append(snap.Reads, TableRead{Part: PartIPTables, Backend: s.backend, Family: s.family, Via: ViaSave})
			continue
		}
		if s.missing != "" {
			snap.Missing = append(snap.Missing, s.missing)
			continue
		}
		if s.version {
			t := agentEbtables(cfg)
			t.Real = ebPath
			t.Version, t.Backend = parseEbtablesVersion(s.out.String())
			snap.EbtablesTool = &t
			continue
		}
		if s.eb {
			t, err := ParseEbtablesList(s.out.String(), s.backend)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			snap.Ebtables = t
			snap.Reads = append(snap.Reads, TableRead{Part: PartEbtables, Backend: s.backend, Via: ViaEbList})
			continue
		}
		if m := saveIncompatible(s.path, s.out.String()); m != "" {
			snap.Missing = append(snap.Missing, m)
			continue
		}
		ts, err := ParseIPTablesSave(s.out.String(), s.backend, s.family)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		snap.Reads = append(snap.Reads, TableRead{Part: PartIPTables, Backend: s.backend, Family: s.family, Via: ViaSave})
		hasFilter := false
		for _, t := range ts {
			if t.Name == "filter" {
				hasFilter = true
				snap.Tables = append(snap.Tables, t)
			}
		}
		if !hasFilter {
			// iptables-legacy-save lists only the tables that exist: no
			// filter table filters nothing (as an empty one with ACCEPT
			// policies would).
			snap.Tables = append(snap.Tables, Table{Backend: s.backend, Family: s.family, Name: "filter"})
		}
	}
	errs = append(errs, nl.finish(ctx, snap)...)
	if sameBinary != nil && sameBinary.missing == "" && sameBinary.cmd != nil {
		t := agentEbtables(cfg)
		t.Real = ebPath
		if v := saveHeaderVersion(sameBinary.out.String()); v != "" {
			// "ebtables 1.8.9 (nf_tables)", as `ebtables --version` says.
			t.Version, t.Backend = "ebtables "+v+" (nf_tables)", BackendNFT
		}
		snap.EbtablesTool = &t
	}
	if err := ctx.Err(); err != nil {
		return nil, fmt.Errorf("firewall: read: %w", err)
	}
	if len(errs) > 0 {
		return snap, fmt.Errorf("firewall: read: %w", errors.Join(errs...))
	}
	if len(snap.Tables) == 0 {
		return snap, fmt.Errorf("firewall: read: no iptables table could be read (%s): install iptables (`apt-get install iptables`) and run as root", strings.Join(snap.Missing, "; "))
	}
	return snap, nil
}

// agentEbtablesPath is the rootwrap exec_dirs order the agent finds
// `ebtables` in.
var agentEbtablesPath = []string{"/usr/local/sbin", "/usr/local/bin", "/usr/sbin", "/usr/bin", "/sbin", "/bin"}

// agentEbtables finds the `ebtables` the agent runs and whether it is a
// script in front of the real tool (reading at most its first 4 KiB).
func agentEbtables(cfg *Config) EbtablesTool {
	dirs := agentEbtablesPath
	if cfg != nil && cfg.EbtablesPath != nil {
		dirs = cfg.EbtablesPath
	}
	var t EbtablesTool
	for _, d := range dirs {
		p := filepath.Join(d, "ebtables")
		st, err := os.Stat(p)
		if err != nil || !st.Mode().IsRegular() {
			continue
		}
		t.Path = p
		f, err := os.Open(p)
		if err != nil {
			break
		}
		head := make([]byte, 4096)
		n, _ := io.ReadFull(f, head)
		f.Close()
		head = head[:n]
		if bytes.HasPrefix(head, []byte("#!")) {
			t.Wrapper = WrapperOther
			if bytes.Contains(head, []byte(wrapperMarker)) {
				t.Wrapper = WrapperAIO
			}
		}
		break
	}
	return t
}

func ebtablesBackend(path string) Backend {
	real, err := filepath.EvalSymlinks(path)
	if err != nil {
		real = path
	}
	if strings.Contains(filepath.Base(real), "legacy") {
		return BackendLegacy
	}
	return BackendNFT
}

func readSysctl(path string) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return ""
	}
	return strings.TrimSpace(string(b))
}
