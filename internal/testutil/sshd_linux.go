package testutil

import (
	"context"
	"os"
	"testing"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// SSHD is a private OpenSSH sshd that belongs to one test (a sandbox.SSHD
// whose methods fail the test on error).
type SSHD struct {
	*sandbox.SSHD
}

// NewPrivateSSHD starts a private sshd (sandbox.NewSSHD) on 127.0.0.1 and
// a free port, with its files in a temporary directory. It is stopped,
// with every session process it forked, when the test ends, and its log
// is printed if the test failed. Skips (fails under CI) without root,
// sshd or unshare.
func NewPrivateSSHD(tb testing.TB) *SSHD {
	tb.Helper()
	RequireRoot(tb)
	RequireBinary(tb, "sshd", "openssh-server")
	RequireBinary(tb, "unshare", "util-linux")
	dir, err := os.MkdirTemp("", "sshd-")
	check(tb, err)
	var s *sandbox.SSHD
	tb.Cleanup(func() {
		if s != nil {
			if err := s.Close(); err != nil {
				tb.Error(err)
			}
			if tb.Failed() {
				tb.Logf("private sshd log:\n%s", sandbox.Tail(s.LogFile, 4000))
			}
		}
		os.RemoveAll(dir)
	})
	s, err = sandbox.NewSSHD(context.Background(), &sandbox.SSHDConfig{Dir: dir, Addr: FreeLoopbackAddr(tb)})
	check(tb, err)
	return &SSHD{s}
}

// WrongKnownHosts writes a known_hosts file that lists a DIFFERENT key
// for Addr, the "host key changed" case, and returns its path.
func (s *SSHD) WrongKnownHosts(tb testing.TB) string {
	tb.Helper()
	p, err := s.WriteWrongKnownHosts()
	check(tb, err)
	return p
}

// Start starts sshd again (after Stop) and waits until it speaks SSH.
func (s *SSHD) Start(tb testing.TB) {
	tb.Helper()
	check(tb, s.SSHD.Start(context.Background()))
}

// Stop stops sshd and every session process it forked, which breaks
// established connections, and waits for all of them.
func (s *SSHD) Stop(tb testing.TB) {
	tb.Helper()
	check(tb, s.SSHD.Stop())
}
