package fwlayout

import (
	"bytes"
	"context"
	"fmt"
	"os/exec"
	"strings"

	"github.com/vifpath/vifpath/firewall"
)

// Install applies the agent's layout for ports inside the network
// namespace at netnsPath (never "": Install refuses the host), with the
// iptables backend b; ipsets first, then iptables and ip6tables, then
// ebtables (nft).
func Install(ctx context.Context, netnsPath string, b firewall.Backend, ports []Port) error {
	if netnsPath == "" {
		return fmt.Errorf("fwlayout: install: refusing the caller's namespace: pass a throwaway namespace")
	}
	restore, restore6 := "/usr/sbin/iptables-nft-restore", "/usr/sbin/ip6tables-nft-restore"
	if b == firewall.BackendLegacy {
		restore, restore6 = "/usr/sbin/iptables-legacy-restore", "/usr/sbin/ip6tables-legacy-restore"
	}
	steps := []struct {
		input string
		argv  []string
	}{
		{IPSetRestore(ports), []string{"/usr/sbin/ipset", "restore", "-exist"}},
		{IPTablesRestore(ports), []string{restore, "--noflush"}},
		{IP6TablesRestore(ports), []string{restore6, "--noflush"}},
		{EbtablesRestore(ports), []string{"/usr/sbin/ebtables-nft-restore", "--noflush"}},
	}
	for _, s := range steps {
		if strings.TrimSpace(s.input) == "" {
			continue
		}
		if err := Run(ctx, netnsPath, s.input, s.argv...); err != nil {
			return err
		}
	}
	return nil
}

// Run runs argv inside the namespace through nsenter with stdin, and
// returns an error with its output when it fails.
func Run(ctx context.Context, netnsPath, stdin string, argv ...string) error {
	cmd := exec.CommandContext(ctx, "/usr/bin/nsenter", append([]string{"--net=" + netnsPath, "--"}, argv...)...)
	cmd.Stdin = strings.NewReader(stdin)
	var out bytes.Buffer
	cmd.Stdout, cmd.Stderr = &out, &out
	if err := cmd.Run(); err != nil {
		if ctx.Err() != nil {
			// Killed because the caller gave up: say so, so callers
			// see the cancellation (errors.Is context.Canceled or
			// DeadlineExceeded), not only "signal: killed".
			return fmt.Errorf("fwlayout: %s in %s: %w", strings.Join(argv, " "), netnsPath, ctx.Err())
		}
		return fmt.Errorf("fwlayout: %s in %s: %w: %s", strings.Join(argv, " "), netnsPath, err, strings.TrimSpace(out.String()))
	}
	return nil
}
