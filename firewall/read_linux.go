package firewall

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
)

type source struct {
	path    string
	args    []string
	backend Backend
	family  Family
	eb      bool
	ipset   bool
	cmd     *exec.Cmd
	out     bytes.Buffer
	errb    bytes.Buffer
	missing string
}

// Read takes one Snapshot of the namespace's firewall: the filter tables
// of both iptables backends (IPv4 and IPv6, with counters), the ebtables
// nat table, the ipsets and the bridge-nf-call switches. It only reads:
// every tool runs with its listing flags, started from a thread inside
// the namespace (the caller's thread never moves), all at once. A source
// that cannot be read is named in Snapshot.Missing; Read fails only when
// the namespace cannot be entered or no iptables table could be read.
//
// Privileges: root (iptables-save and ipset need CAP_NET_ADMIN; entering
// Config.NetNS needs CAP_SYS_ADMIN).
func Read(ctx context.Context, cfg *Config) (*Snapshot, error) {
	srcs := []*source{
		{path: cfg.orDefault(func(c *Config) string { return c.IPTablesNFTSave }, "/usr/sbin/iptables-nft-save"), args: []string{"-c", "-t", "filter"}, backend: BackendNFT, family: IPv4},
		{path: cfg.orDefault(func(c *Config) string { return c.IPTablesLegacySave }, "/usr/sbin/iptables-legacy-save"), args: []string{"-c", "-t", "filter"}, backend: BackendLegacy, family: IPv4},
	}
	if cfg == nil || !cfg.SkipIPv6 {
		srcs = append(srcs,
			&source{path: cfg.orDefault(func(c *Config) string { return c.IP6TablesNFTSave }, "/usr/sbin/ip6tables-nft-save"), args: []string{"-c", "-t", "filter"}, backend: BackendNFT, family: IPv6},
			&source{path: cfg.orDefault(func(c *Config) string { return c.IP6TablesLegacySave }, "/usr/sbin/ip6tables-legacy-save"), args: []string{"-c", "-t", "filter"}, backend: BackendLegacy, family: IPv6},
		)
	}
	ebPath := cfg.orDefault(func(c *Config) string { return c.Ebtables }, "/usr/sbin/ebtables")
	srcs = append(srcs, &source{path: ebPath, args: []string{"-t", "nat", "-L", "--Lc"}, backend: ebtablesBackend(ebPath), eb: true})
	srcs = append(srcs, &source{path: cfg.orDefault(func(c *Config) string { return c.IPSet }, "/usr/sbin/ipset"), args: []string{"save"}, ipset: true})
	sysctlDir := cfg.orDefault(func(c *Config) string { return c.SysctlDir }, "/proc/sys/net/bridge")
	netnsPath := ""
	if cfg != nil {
		netnsPath = cfg.NetNS
	}

	snap := &Snapshot{Sets: []Set{}, Tables: []Table{}}
	err := inNetNS(netnsPath, func() error {
		for _, s := range srcs {
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
		return nil, err
	}
	var errs []error
	for _, s := range srcs {
		if s.cmd != nil {
			if err := s.cmd.Wait(); err != nil {
				s.missing = fmt.Sprintf("%s %s: %v: %s", s.path, strings.Join(s.args, " "), err, strings.TrimSpace(s.errb.String()))
			}
		}
		if s.missing != "" {
			snap.Missing = append(snap.Missing, s.missing)
			continue
		}
		if s.ipset {
			sets, err := ParseIPSetSave(s.out.String())
			if err != nil {
				errs = append(errs, err)
				continue
			}
			snap.Sets = sets
			if snap.Sets == nil {
				snap.Sets = []Set{}
			}
			continue
		}
		if s.eb {
			t, err := ParseEbtablesList(s.out.String(), s.backend)
			if err != nil {
				errs = append(errs, err)
				continue
			}
			snap.Ebtables = t
			continue
		}
		ts, err := ParseIPTablesSave(s.out.String(), s.backend, s.family)
		if err != nil {
			errs = append(errs, err)
			continue
		}
		if len(ts) == 0 {
			// iptables-legacy-save prints nothing when the backend holds
			// no tables: an empty filter table with ACCEPT policies is what
			// the kernel applies.
			ts = []Table{{Backend: s.backend, Family: s.family, Name: "filter"}}
		}
		snap.Tables = append(snap.Tables, ts...)
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
