package testutil

import (
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPrivSepDir is OpenSSH's privilege separation directory; sshd refuses
// to start without it.
const sshdPrivSepDir = "/run/sshd"

// SSHD is a private OpenSSH sshd that belongs to one test: it listens on a
// free loopback port, authenticates only a fresh client key, and allows
// direct-streamlocal forwarding (what a qemu+ssh:// client uses to reach
// libvirtd's unix socket). It never touches /etc/ssh or the host's sshd
// service. Its methods are safe for concurrent use.
type SSHD struct {
	// Host and Port are where sshd listens ("127.0.0.1", "40123"); Addr is
	// "127.0.0.1:40123".
	Host, Port, Addr string
	// User is the login user the client key is authorized for ("root").
	User string
	// ClientKey is the path of the client's unencrypted ed25519 private key
	// (OpenSSH format), as a URI's ?keyfile= takes it.
	ClientKey string
	// KnownHosts is a known_hosts file holding the host key for Addr (the
	// "[127.0.0.1]:port" form), as a URI's ?known_hosts= takes it.
	KnownHosts string
	// HostKey is the server's public host key.
	HostKey ssh.PublicKey

	dir   string
	conf  string
	pidNS string // "pid:[inode]" of sshd's PID namespace, once started
	mu    sync.Mutex
	cmd   *exec.Cmd
	done  chan struct{}
	log   string
}

// NewPrivateSSHD starts `/usr/sbin/sshd -D -e -f <config>` on 127.0.0.1 and
// a free port with a fresh ed25519 host key and a fresh client key whose
// public half is the only authorized key (root login by key only, no
// password, no PAM, StrictModes off because the files live in a temporary
// directory). sshd runs in its own PID namespace (unshare --pid --fork), so
// stopping it ends every session process it forked too: no process outlives
// Stop or the test. /run/sshd (the privilege separation directory) is
// created when missing and never removed (another sshd may use it). Skips
// (fails under CI) without root, sshd or unshare.
func NewPrivateSSHD(tb testing.TB) *SSHD {
	tb.Helper()
	RequireRoot(tb)
	sshd := RequireBinary(tb, "sshd", "openssh-server")
	RequireBinary(tb, "unshare", "util-linux")
	if err := os.MkdirAll(sshdPrivSepDir, 0o755); err != nil {
		tb.Fatalf("testutil: create sshd privilege separation dir: %v", err)
	}
	dir, err := os.MkdirTemp("", "sshd-")
	if err != nil {
		tb.Fatal(err)
	}
	s := &SSHD{Host: "127.0.0.1", User: "root", dir: dir, conf: filepath.Join(dir, "sshd_config"), log: filepath.Join(dir, "sshd.log")}
	tb.Cleanup(func() {
		s.stop()
		if tb.Failed() {
			if b, err := os.ReadFile(s.log); err == nil && len(b) > 0 {
				tb.Logf("private sshd log:\n%s", tail(string(b), 4000))
			}
		}
		os.RemoveAll(dir)
	})
	s.Addr, s.Port = freeLoopbackPort(tb)

	hostPub, err := writeEd25519Key(filepath.Join(dir, "ssh_host_ed25519_key"))
	if err != nil {
		tb.Fatalf("testutil: sshd host key: %v", err)
	}
	s.HostKey = hostPub
	s.ClientKey = filepath.Join(dir, "id_ed25519")
	clientPub, err := writeEd25519Key(s.ClientKey)
	if err != nil {
		tb.Fatalf("testutil: ssh client key: %v", err)
	}
	if err := os.WriteFile(filepath.Join(dir, "authorized_keys"), ssh.MarshalAuthorizedKey(clientPub), 0o600); err != nil {
		tb.Fatal(err)
	}
	s.KnownHosts = filepath.Join(dir, "known_hosts")
	if err := os.WriteFile(s.KnownHosts, []byte(knownhosts.Line([]string{s.Addr}, hostPub)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	conf := fmt.Sprintf(`ListenAddress %s
HostKey %s
PidFile %s
AuthorizedKeysFile %s
PermitRootLogin prohibit-password
PubkeyAuthentication yes
PasswordAuthentication no
KbdInteractiveAuthentication no
UsePAM no
StrictModes no
AllowStreamLocalForwarding yes
X11Forwarding no
PermitTTY no
LogLevel VERBOSE
`, s.Addr, filepath.Join(dir, "ssh_host_ed25519_key"), filepath.Join(dir, "sshd.pid"), filepath.Join(dir, "authorized_keys"))
	if err := os.WriteFile(s.conf, []byte(conf), 0o600); err != nil {
		tb.Fatal(err)
	}
	if out, err := exec.Command(sshd, "-t", "-f", s.conf).CombinedOutput(); err != nil {
		tb.Fatalf("testutil: sshd -t -f %s: %v: %s", s.conf, err, out)
	}
	s.Start(tb)
	return s
}

// writeEd25519Key writes a fresh unencrypted ed25519 private key in OpenSSH
// format to path (0600) and path+".pub", and returns the public key.
func writeEd25519Key(path string) (ssh.PublicKey, error) {
	pub, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return nil, err
	}
	blk, err := ssh.MarshalPrivateKey(priv, "vifpath-test")
	if err != nil {
		return nil, err
	}
	if err := os.WriteFile(path, pem.EncodeToMemory(blk), 0o600); err != nil {
		return nil, err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return nil, err
	}
	return sp, os.WriteFile(path+".pub", ssh.MarshalAuthorizedKey(sp), 0o644)
}

// WrongKnownHosts writes (in the sshd's temporary directory) a known_hosts
// file that lists a DIFFERENT ed25519 key for Addr, the "host key changed"
// case, and returns its path.
func (s *SSHD) WrongKnownHosts(tb testing.TB) string {
	tb.Helper()
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		tb.Fatal(err)
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		tb.Fatal(err)
	}
	p := filepath.Join(s.dir, "known_hosts.wrong")
	if err := os.WriteFile(p, []byte(knownhosts.Line([]string{s.Addr}, sp)+"\n"), 0o600); err != nil {
		tb.Fatal(err)
	}
	return p
}

// Start starts sshd (again, after Stop) and waits until it accepts
// connections and speaks SSH.
func (s *SSHD) Start(tb testing.TB) {
	tb.Helper()
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd != nil {
		tb.Fatal("testutil: private sshd already running")
	}
	out, err := os.OpenFile(s.log, os.O_CREATE|os.O_APPEND|os.O_WRONLY, 0o600)
	if err != nil {
		tb.Fatal(err)
	}
	// --kill-child: if this test process dies, the namespace's init (sshd)
	// gets SIGKILL and the kernel kills the rest of the namespace.
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", "/usr/sbin/sshd", "-D", "-e", "-f", s.conf)
	cmd.Stdout, cmd.Stderr = out, out
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := cmd.Start(); err != nil {
		out.Close()
		tb.Fatalf("testutil: start private sshd: %v", err)
	}
	done := make(chan struct{})
	go func() { cmd.Wait(); out.Close(); close(done) }()
	s.cmd, s.done = cmd, done
	child, err := childPID(cmd.Process.Pid)
	if err == nil {
		s.pidNS, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", child))
	}
	if err != nil {
		tb.Fatalf("testutil: private sshd's PID namespace: %v", err)
	}
	deadline := time.Now().Add(15 * time.Second)
	for {
		if err := sshBanner(s.Addr); err == nil {
			return
		} else if time.Now().After(deadline) {
			b, _ := os.ReadFile(s.log)
			tb.Fatalf("testutil: private sshd on %s: %v; log: %s", s.Addr, err, tail(string(b), 2000))
		}
		select {
		case <-done:
			b, _ := os.ReadFile(s.log)
			s.cmd, s.done = nil, nil
			tb.Fatalf("testutil: private sshd exited at start; log: %s", tail(string(b), 2000))
		case <-time.After(20 * time.Millisecond):
		}
	}
}

// sshBanner reports whether addr accepts a connection and sends an SSH
// version banner.
func sshBanner(addr string) error {
	c, err := net.DialTimeout("tcp", addr, time.Second)
	if err != nil {
		return err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(2 * time.Second))
	b := make([]byte, 4)
	if _, err := c.Read(b); err != nil {
		return err
	}
	if string(b) != "SSH-" {
		return fmt.Errorf("no SSH banner: %q", b)
	}
	return nil
}

// Stop stops sshd and every session process it forked (the PID namespace
// ends), which breaks established connections, and waits for all of them.
func (s *SSHD) Stop(tb testing.TB) {
	tb.Helper()
	if err := s.stop(); err != nil {
		tb.Fatal(err)
	}
}

func (s *SSHD) stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	if s.cmd == nil {
		return nil
	}
	// SIGKILL to unshare: --kill-child turns it into SIGKILL for sshd, the
	// namespace's init, and the kernel then kills and reaps the namespace.
	s.cmd.Process.Signal(syscall.SIGKILL)
	<-s.done
	s.cmd, s.done = nil, nil
	// The namespace's processes are gone once its init was reaped, which
	// happened before unshare (its parent) could exit; verify anyway.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := s.processes()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("testutil: sshd processes %v still alive after stop", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Processes returns the pids of processes still alive in the PID namespace
// sshd ran in (sshd and its session processes), as seen from the test.
func (s *SSHD) Processes() []int {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.processes()
}

func (s *SSHD) processes() []int {
	if s.pidNS == "" {
		return nil
	}
	ents, _ := os.ReadDir("/proc")
	var pids []int
	for _, e := range ents {
		pid, err := strconv.Atoi(e.Name())
		if err != nil {
			continue
		}
		if ns, err := os.Readlink(filepath.Join("/proc", e.Name(), "ns", "pid")); err == nil && ns == s.pidNS {
			pids = append(pids, pid)
		}
	}
	return pids
}

// childPID returns the pid of a child of parent (unshare's forked child, the
// namespace's init), waiting briefly for the fork.
func childPID(parent int) (int, error) {
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/task/%d/children", parent, parent))
		if err != nil {
			return 0, err
		}
		if f := strings.Fields(string(b)); len(f) > 0 {
			return strconv.Atoi(f[0])
		}
		if time.Now().After(deadline) {
			return 0, fmt.Errorf("unshare (pid %d) forked no child", parent)
		}
		time.Sleep(5 * time.Millisecond)
	}
}

// Running reports whether sshd is running.
func (s *SSHD) Running() bool {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.cmd != nil
}
