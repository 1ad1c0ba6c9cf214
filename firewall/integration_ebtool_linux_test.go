package firewall_test

import (
	"context"
	"errors"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/internal/testutil"
)

// TestIntegrationEbtablesAmongDelete checks the claim behind the
// ebtables-among-delete host check against the real binary, in a
// throwaway namespace: an --among-src rule as arp_protect adds it,
// deleted by its spec as the agent does. A version in
// firewall.AmongDeleteFails must fail with RULE_DELETE (exit 4); any
// other must succeed. Then Read reports the tool, and the aio's wrapper
// (aio/ebtables-among.sh, found first in the search path) is recognised
// and does delete the rule.
func TestIntegrationEbtablesAmongDelete(t *testing.T) {
	testutil.RequireRoot(t)
	eb := testutil.RequireBinary(t, "/usr/sbin/ebtables", "ebtables")
	ns := testutil.NewNetNSAt(t, testutil.DefaultNetNSDir, testutil.RandNameN("fw-e", 16))
	const chain = "neutronMAC-tapfw0000-00"
	spec := []string{"-i", "tapfw0000-00", "--among-src", "fa:16:3e:1a:7f:cf", "-j", "RETURN"}
	setup := func() {
		ns.Run(t, eb, "-t", "nat", "-N", chain, "-P", "DROP")
		ns.Run(t, eb, append([]string{"-t", "nat", "-A", chain}, spec...)...)
		ns.Run(t, eb, "-t", "nat", "-A", chain, "-j", "DROP")
	}
	setup()

	s, err := firewall.Read(context.Background(), &firewall.Config{NetNS: ns.Path})
	if err != nil {
		t.Fatal(err)
	}
	tool := s.EbtablesTool
	if tool == nil || tool.Version == "" {
		t.Fatalf("Read: no ebtables tool: %+v (missing %q)", tool, s.Missing)
	}
	vers, _ := exec.Command(eb, "--version").Output()
	if got, want := tool.Version, strings.TrimSpace(string(vers)); got != want {
		t.Errorf("version %q, `ebtables --version` says %q", got, want)
	}
	if n := len(s.AmongRules()); n != 1 {
		t.Errorf("%d among rules read, want 1", n)
	}

	out, err := ns.Command(eb, append([]string{"-t", "nat", "-D", chain}, spec...)...).CombinedOutput()
	var ee *exec.ExitError
	known := slices.Contains(firewall.AmongDeleteFails, tool.VersionNumber()) && tool.Backend == firewall.BackendNFT
	switch {
	case known && (err == nil || !errors.As(err, &ee) || ee.ExitCode() != 4 || !strings.Contains(string(out), "RULE_DELETE")):
		t.Errorf("%s is listed as failing to delete among rules by spec, but the delete gave %v: %s", tool.Version, err, out)
	case !known && err != nil:
		t.Errorf("%s is not listed in firewall.AmongDeleteFails, but deleting an among rule by spec failed (%v: %s): add it", tool.Version, err, out)
	}
	t.Logf("%s: delete by spec: %v %s", tool.Version, err, strings.TrimSpace(string(out)))

	// The aio's wrapper in front: recognised, and the same delete works.
	dir := t.TempDir()
	src, err := os.ReadFile("../aio/ebtables-among.sh")
	if err != nil {
		t.Fatal(err)
	}
	wrapper := filepath.Join(dir, "ebtables")
	if err := os.WriteFile(wrapper, src, 0o755); err != nil {
		t.Fatal(err)
	}
	s, err = firewall.Read(context.Background(), &firewall.Config{NetNS: ns.Path, EbtablesPath: []string{dir, "/usr/sbin"}})
	if err != nil {
		t.Fatal(err)
	}
	if tool := s.EbtablesTool; tool.Path != wrapper || tool.Wrapper != firewall.WrapperAIO || tool.AmongDeleteFails() {
		t.Errorf("behind the aio wrapper: %+v", tool)
	}
	if len(s.AmongRules()) == 1 {
		if out, err := ns.Command(wrapper, append([]string{"-t", "nat", "-D", chain}, spec...)...).CombinedOutput(); err != nil {
			t.Errorf("aio/ebtables-among.sh could not delete the among rule: %v: %s", err, out)
		}
		if list := ns.Run(t, eb, "-t", "nat", "-L", chain); strings.Contains(string(list), "--among-src") {
			t.Errorf("the among rule is still there after the wrapper's delete:\n%s", list)
		}
	}
}
