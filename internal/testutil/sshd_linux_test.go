package testutil

import (
	"bufio"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/knownhosts"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// unixEcho listens on a unix socket in dir and echoes one line per
// connection, upper-cased.
func unixEcho(t *testing.T, dir string) string {
	t.Helper()
	p := filepath.Join(dir, "echo.sock")
	ln, err := net.Listen("unix", p)
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { ln.Close() })
	go func() {
		for {
			c, err := ln.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				l, _ := bufio.NewReader(c).ReadString('\n')
				c.Write([]byte(strings.ToUpper(l)))
			}()
		}
	}()
	return p
}

func TestIntegrationPrivateSSHD(t *testing.T) {
	s := NewPrivateSSHD(t)
	sock := unixEcho(t, t.TempDir())

	// The real OpenSSH client: key auth only, strict host key checking
	// against the known_hosts the helper wrote.
	sshBin := RequireBinary(t, "ssh", "openssh-client")
	sshArgs := func(kh string) []string {
		return []string{"-F", "/dev/null", "-i", s.ClientKey, "-p", s.Port,
			"-o", "BatchMode=yes", "-o", "IdentitiesOnly=yes", "-o", "StrictHostKeyChecking=yes",
			"-o", "UserKnownHostsFile=" + kh, "-o", "GlobalKnownHostsFile=/dev/null",
			"-o", "ConnectTimeout=5", s.User + "@" + s.Host, "echo", "ok"}
	}
	if out, err := exec.Command(sshBin, sshArgs(s.KnownHosts)...).CombinedOutput(); err != nil || string(out) != "ok\n" {
		t.Fatalf("ssh through the private sshd: %v: %q", err, out)
	}
	if out, err := exec.Command(sshBin, sshArgs(s.WrongKnownHosts(t))...).CombinedOutput(); err == nil || !strings.Contains(string(out), "HOST IDENTIFICATION HAS CHANGED") {
		t.Errorf("ssh with a wrong known_hosts: %v: %q, want a refusal", err, out)
	}

	// Go's client: the same, plus the wrong-host-key case.
	key, err := os.ReadFile(s.ClientKey)
	if err != nil {
		t.Fatal(err)
	}
	signer, err := ssh.ParsePrivateKey(key)
	if err != nil {
		t.Fatal(err)
	}
	dial := func(kh string) (*ssh.Client, error) {
		cb, err := knownhosts.New(kh)
		if err != nil {
			t.Fatal(err)
		}
		return ssh.Dial("tcp", s.Addr, &ssh.ClientConfig{User: s.User, Auth: []ssh.AuthMethod{ssh.PublicKeys(signer)}, HostKeyCallback: cb, Timeout: 5 * time.Second})
	}
	if _, err := dial(s.WrongKnownHosts(t)); err == nil || !strings.Contains(err.Error(), "key mismatch") {
		t.Errorf("dial with a wrong known_hosts: %v, want a key mismatch", err)
	}
	cl, err := dial(s.KnownHosts)
	if err != nil {
		t.Fatalf("ssh.Dial %s: %v", s.Addr, err)
	}
	defer cl.Close()
	c, err := cl.Dial("unix", sock)
	if err != nil {
		t.Fatalf("direct-streamlocal to %s: %v", sock, err)
	}
	c.Write([]byte("abc\n"))
	if l, err := bufio.NewReader(c).ReadString('\n'); err != nil || l != "ABC\n" {
		t.Fatalf("echo through the channel: %q, %v", l, err)
	}
	c.Close()
	if n := len(s.Processes()); n < 2 {
		t.Errorf("%d processes in sshd's PID namespace with a session open, want the listener and the session's", n)
	}

	// Stop ends the session too: no process is left, the client sees EOF.
	s.Stop(t)
	if p := s.Processes(); len(p) != 0 {
		t.Fatalf("processes %v left after Stop", p)
	}
	werr := make(chan error, 1)
	go func() { werr <- cl.Wait() }()
	select {
	case <-werr:
	case <-time.After(5 * time.Second):
		t.Fatal("the established ssh connection survived Stop")
	}
	if sandbox.SocketAnswers("tcp", s.Addr) {
		t.Fatal("something still accepts on the port after Stop")
	}

	// Start again: same keys, same port.
	s.Start(t)
	cl2, err := dial(s.KnownHosts)
	if err != nil {
		t.Fatalf("ssh.Dial after restart: %v", err)
	}
	cl2.Close()
	if _, err := os.Stat("/run/sshd"); err != nil {
		t.Errorf("%s: %v", "/run/sshd", err)
	}
}
