package dhcpns

import (
	"context"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
)

// fakeProc builds a procfs-shaped tree: pid → (comm, state, netns inode,
// cmdline). Zombies get no ns link and an empty cmdline, as in /proc.
type fakeProcEntry struct {
	comm, state string
	ino         uint64
	args        []string
}

func fakeProc(t *testing.T, entries map[int]fakeProcEntry) string {
	t.Helper()
	dir := t.TempDir()
	for pid, e := range entries {
		p := filepath.Join(dir, fmt.Sprint(pid))
		if err := os.MkdirAll(filepath.Join(p, "ns"), 0o755); err != nil {
			t.Fatal(err)
		}
		os.WriteFile(filepath.Join(p, "comm"), []byte(e.comm+"\n"), 0o644)
		os.WriteFile(filepath.Join(p, "stat"), []byte(fmt.Sprintf("%d (%s) %s 1 1 1 0 -1", pid, e.comm, e.state)), 0o644)
		cl := ""
		if e.state != "Z" {
			cl = strings.Join(e.args, "\x00") + "\x00"
			os.Symlink(fmt.Sprintf("net:[%d]", e.ino), filepath.Join(p, "ns", "net"))
		}
		os.WriteFile(filepath.Join(p, "cmdline"), []byte(cl), 0o644)
	}
	os.MkdirAll(filepath.Join(dir, "self"), 0o755) // not a pid: skipped
	return dir
}

func TestFindDnsmasqFakeProc(t *testing.T) {
	netID := "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	netnsDir, stateDir := t.TempDir(), t.TempDir()
	nsFile := filepath.Join(netnsDir, NamespaceName(netID))
	if err := os.WriteFile(nsFile, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	var st syscall.Stat_t
	if err := syscall.Stat(nsFile, &st); err != nil {
		t.Fatal(err)
	}
	ino := st.Ino
	os.MkdirAll(filepath.Join(stateDir, netID), 0o755)
	pidFile := filepath.Join(stateDir, netID, "pid")
	args, err := os.ReadFile("testdata/dnsmasq-cmdline.txt")
	if err != nil {
		t.Fatal(err)
	}
	dnsArgs := strings.Fields(string(args))

	for _, tc := range []struct {
		name    string
		procs   map[int]fakeProcEntry
		pidFile string
		check   func(*DnsmasqStatus) string
		status  CheckStatus
		summary string
	}{
		{"alive", map[int]fakeProcEntry{100: {"dnsmasq", "S", ino, dnsArgs}, 101: {"bash", "S", ino, []string{"bash"}}}, "100\n",
			func(s *DnsmasqStatus) string {
				if !s.Alive || !s.InsideNamespace || !s.CmdlineHasNetwork || len(s.InNamespace) != 1 || s.Config().NetworkID != netID {
					return "want alive inside with the Zed command line parsed"
				}
				return ""
			}, StatusOK, "alive inside"},
		{"zombie", map[int]fakeProcEntry{100: {"dnsmasq", "Z", 0, nil}}, "100",
			func(s *DnsmasqStatus) string {
				if s.Alive || s.Process == nil || !s.Process.Zombie() || len(s.InNamespace) != 0 {
					return "want a dead zombie"
				}
				return ""
			}, StatusFail, "zombie"},
		{"stale pid file", map[int]fakeProcEntry{}, "100", nil, StatusFail, "no dnsmasq serves"},
		{"pid reused by another program", map[int]fakeProcEntry{100: {"sshd", "S", 1, []string{"sshd"}}}, "100",
			func(s *DnsmasqStatus) string {
				if s.Alive || s.CmdlineHasNetwork {
					return "a process without the network in its command line is not alive dnsmasq"
				}
				return ""
			}, StatusFail, "not this network's dnsmasq"},
		{"other namespace", map[int]fakeProcEntry{100: {"dnsmasq", "S", ino + 1, dnsArgs}}, "100", nil, StatusFail, "another namespace"},
		{"no pid file", map[int]fakeProcEntry{100: {"dnsmasq", "S", ino, dnsArgs}}, "", nil, StatusWarn, "pid file does not name it"},
		{"garbage pid file", map[int]fakeProcEntry{}, "x", func(s *DnsmasqStatus) string {
			if !strings.Contains(s.PIDFileError, "not a pid") {
				return "want a pid file error"
			}
			return ""
		}, StatusFail, "no dnsmasq"},
	} {
		t.Run(tc.name, func(t *testing.T) {
			os.Remove(pidFile)
			if tc.pidFile != "" {
				os.WriteFile(pidFile, []byte(tc.pidFile), 0o644)
			}
			cfg := &Config{NetNSDir: netnsDir, StateDir: stateDir, ProcDir: fakeProc(t, tc.procs)}
			s, err := FindDnsmasq(context.Background(), cfg, netID)
			if err != nil {
				t.Fatal(err)
			}
			if tc.check != nil {
				if msg := tc.check(s); msg != "" {
					t.Errorf("%s: %+v", msg, s)
				}
			}
			c := dnsmasqCheck(s, cfg)
			if c.Status != tc.status || !strings.Contains(c.Summary, tc.summary) || len(c.Evidence) == 0 {
				t.Errorf("check = %s %q %v; want %s containing %q", c.Status, c.Summary, c.Evidence, tc.status, tc.summary)
			}
		})
	}
}

func TestParseStat(t *testing.T) {
	for in, want := range map[string][2]string{
		"1 (systemd) S 0":           {"systemd", "S"},
		"42 (a (weird) name) Z 1 2": {"a (weird) name", "Z"},
		"garbage":                   {"", ""},
	} {
		c, s := parseStat([]byte(in))
		if c != want[0] || s != want[1] {
			t.Errorf("parseStat(%q) = %q %q, want %q", in, c, s, want)
		}
	}
}
