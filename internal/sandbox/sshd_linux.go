package sandbox

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"sync"
	"syscall"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"
)

// sshdPrivSepDir is OpenSSH's privilege separation directory; sshd refuses
// to start without it.
const sshdPrivSepDir = "/run/sshd"

// SSHDConfig says where a private sshd keeps its files and listens.
type SSHDConfig struct {
	// Dir holds the daemon's configuration, keys, pid file and log.
	// Required; created if missing. Close leaves it (its owner removes
	// it).
	Dir string
	// Addr is the "127.0.0.1:port" to listen on. Required.
	Addr string
	// Binary is the sshd to run; "" means /usr/sbin/sshd (sshd refuses a
	// relative path).
	Binary string
}

// SSHD is a private OpenSSH sshd, a child of this process: it listens on
// a loopback port, authenticates only a fresh client key, and allows
// direct-streamlocal forwarding (what a qemu+ssh:// client uses to reach
// libvirtd's unix socket). It never touches /etc/ssh or the host's sshd
// service. It runs in its own PID namespace, so stopping it ends every
// session process it forked too. Its methods are safe for concurrent use.
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
	// LogFile is sshd's log (its standard error, -e).
	LogFile string

	dir   string
	bin   string
	conf  string
	pidNS string // "pid:[inode]" of sshd's PID namespace, once started
	mu    sync.Mutex
	run   child
}

// NewSSHD writes a private sshd's keys and configuration into cfg.Dir
// and starts it (see Start): a fresh ed25519 host key and a fresh client
// key whose public half is the only authorized key (root login by key
// only, no password, no PAM, StrictModes off because the files live in
// a temporary directory). /run/sshd (the privilege separation directory)
// is created when missing and never removed (another sshd may use it).
// The caller stops it with Close.
func NewSSHD(ctx context.Context, cfg *SSHDConfig) (*SSHD, error) {
	if cfg.Dir == "" || cfg.Addr == "" {
		return nil, errors.New("sandbox: NewSSHD needs a Dir and an Addr")
	}
	bin := cfg.Binary
	if bin == "" {
		bin = "/usr/sbin/sshd"
	}
	bin, err := LookBin(bin, "sshd", "openssh-server")
	if err != nil {
		return nil, err
	}
	if _, err := LookBin("", "unshare", "util-linux"); err != nil {
		return nil, err
	}
	host, port, err := net.SplitHostPort(cfg.Addr)
	if err != nil {
		return nil, fmt.Errorf("sandbox: sshd Addr: %w", err)
	}
	for _, d := range []string{sshdPrivSepDir, cfg.Dir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	dir := cfg.Dir
	s := &SSHD{Host: host, Port: port, Addr: cfg.Addr, User: "root", dir: dir, bin: bin,
		conf: filepath.Join(dir, "sshd_config"), LogFile: filepath.Join(dir, "sshd.log"),
		ClientKey: filepath.Join(dir, "id_ed25519"), KnownHosts: filepath.Join(dir, "known_hosts"),
		run: child{name: "sshd"}}
	if s.HostKey, err = writeEd25519Key(filepath.Join(dir, "ssh_host_ed25519_key")); err != nil {
		return nil, fmt.Errorf("sandbox: sshd host key: %w", err)
	}
	clientPub, err := writeEd25519Key(s.ClientKey)
	if err != nil {
		return nil, fmt.Errorf("sandbox: ssh client key: %w", err)
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
	for name, b := range map[string][]byte{
		"authorized_keys": ssh.MarshalAuthorizedKey(clientPub),
		"known_hosts":     []byte(knownhosts.Line([]string{s.Addr}, s.HostKey) + "\n"),
		"sshd_config":     []byte(conf),
	} {
		if err := os.WriteFile(filepath.Join(dir, name), b, 0o600); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	if out, err := exec.CommandContext(ctx, bin, "-t", "-f", s.conf).CombinedOutput(); err != nil {
		return nil, fmt.Errorf("sandbox: sshd -t -f %s: %w: %s", s.conf, err, out)
	}
	if err := s.Start(ctx); err != nil {
		return nil, err
	}
	return s, nil
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

// WriteWrongKnownHosts writes (in the daemon's directory) a known_hosts
// file that lists a DIFFERENT ed25519 key for Addr, the "host key
// changed" case, and returns its path.
func (s *SSHD) WriteWrongKnownHosts() (string, error) {
	pub, _, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", err
	}
	sp, err := ssh.NewPublicKey(pub)
	if err != nil {
		return "", err
	}
	p := filepath.Join(s.dir, "known_hosts.wrong")
	if err := os.WriteFile(p, []byte(knownhosts.Line([]string{s.Addr}, sp)+"\n"), 0o600); err != nil {
		return "", fmt.Errorf("sandbox: %w", err)
	}
	return p, nil
}

// Start starts sshd (again, after Stop) in a new PID namespace (unshare
// --pid --fork --kill-child: if this process dies, the kernel kills the
// whole namespace) and waits up to 15 s until it accepts connections and
// speaks SSH.
func (s *SSHD) Start(ctx context.Context) error {
	s.mu.Lock()
	defer s.mu.Unlock()
	cmd := exec.Command("unshare", "--pid", "--fork", "--kill-child", s.bin, "-D", "-e", "-f", s.conf)
	cmd.SysProcAttr = &syscall.SysProcAttr{Pdeathsig: syscall.SIGKILL}
	if err := s.run.start(cmd, s.LogFile, (*exec.Cmd).Start); err != nil {
		return err
	}
	nsInit, err := childPID(cmd.Process.Pid)
	if err == nil {
		s.pidNS, err = os.Readlink(fmt.Sprintf("/proc/%d/ns/pid", nsInit))
	}
	if err != nil {
		s.stopLocked()
		return fmt.Errorf("sandbox: the private sshd's PID namespace: %w", err)
	}
	for deadline := time.Now().Add(15 * time.Second); ; {
		err := sshBanner(s.Addr)
		if err == nil {
			return nil
		}
		if time.Now().After(deadline) || ctx.Err() != nil {
			s.stopLocked()
			return fmt.Errorf("sandbox: the private sshd on %s: %w; log: %s", s.Addr, err, Tail(s.LogFile, 2000))
		}
		if s.run.exited() {
			return fmt.Errorf("sandbox: the private sshd exited at start; log: %s", Tail(s.LogFile, 2000))
		}
		time.Sleep(20 * time.Millisecond)
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
// ends), which breaks established connections, and waits for all of
// them. Stopping a stopped daemon does nothing.
func (s *SSHD) Stop() error {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.stopLocked()
}

// Close stops the daemon (see Stop).
func (s *SSHD) Close() error { return s.Stop() }

func (s *SSHD) stopLocked() error {
	if s.run.cmd == nil {
		return nil
	}
	// SIGKILL to unshare: --kill-child turns it into SIGKILL for sshd, the
	// namespace's init, and the kernel then kills and reaps the namespace.
	s.run.stop(syscall.SIGKILL, time.Minute)
	// The namespace's processes are gone once its init was reaped, which
	// happened before unshare (its parent) could exit; verify anyway.
	deadline := time.Now().Add(5 * time.Second)
	for {
		pids := s.processes()
		if len(pids) == 0 {
			return nil
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("sandbox: sshd processes %v still alive after stop", pids)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// Processes returns the pids of processes still alive in the PID namespace
// sshd ran in (sshd and its session processes), as seen from this process.
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
	return s.run.cmd != nil
}
