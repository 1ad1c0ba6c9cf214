package libvirtinspect_test

import (
	"bytes"
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"log/slog"
	"net"
	"net/url"
	"os"
	"os/exec"
	"path/filepath"
	"runtime"
	"slices"
	"strconv"
	"strings"
	"sync"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"golang.org/x/crypto/ssh"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// The ssh tests run a private libvirtd (testutil.NewPrivateLibvirtd) behind a
// private OpenSSH sshd (testutil.NewPrivateSSHD) on loopback: the client
// reaches the daemon's unix socket through a real SSH connection
// (direct-streamlocal), and what it reads is compared with virsh over the
// daemon's local socket.

// sshURI is test+ssh:// to s, reaching d's socket, with the client key and
// known_hosts of s unless params override them.
func sshURI(s *testutil.SSHD, d *testutil.Libvirtd, params map[string]string) string {
	q := url.Values{}
	q.Set("keyfile", s.ClientKey)
	q.Set("known_hosts", s.KnownHosts)
	q.Set("socket", d.Socket)
	for k, v := range params {
		if v == "" {
			q.Del(k)
		} else {
			q.Set(k, v)
		}
	}
	return "test+ssh://" + s.User + "@" + s.Addr + "/default?" + q.Encode()
}

// fdCount is how many fds the process has open.
func fdCount(t *testing.T) int { return testutil.CountFDs(t) }

// settle waits up to d for done to report true, and returns its last
// answer.
func settle(d time.Duration, done func() bool) bool {
	for deadline := time.Now().Add(d); !done() && time.Now().Before(deadline); {
		time.Sleep(20 * time.Millisecond)
	}
	return done()
}

// fdsSettle fails the test unless the fd count returns to want.
func fdsSettle(t *testing.T, want int) {
	t.Helper()
	var n int
	if !settle(5*time.Second, func() bool { n = fdCount(t); return n <= want }) {
		t.Errorf("%d fds open after Close, %d before the client: leaked %d", n, want, n-want)
	}
}

// sshGoroutinesSettle fails the test if a goroutine of x/crypto/ssh (a
// client's connection mux, keepalive or channel) is still alive.
func sshGoroutinesSettle(t *testing.T) {
	t.Helper()
	var n int
	var dump string
	gone := func() bool {
		buf := make([]byte, 1<<20)
		n, dump = 0, ""
		for _, g := range strings.Split(string(buf[:runtime.Stack(buf, true)]), "\n\n") {
			if strings.Contains(g, "golang.org/x/crypto/ssh") {
				n++
				dump += g + "\n\n"
			}
		}
		return n == 0
	}
	if !settle(5*time.Second, gone) {
		t.Errorf("%d x/crypto/ssh goroutines alive after Close:\n%s", n, dump)
	}
}

// sessionsSettle fails the test unless sshd is back to its listener alone
// (every session the client opened was closed).
func sessionsSettle(t *testing.T, s *testutil.SSHD) {
	t.Helper()
	var p []int
	if !settle(5*time.Second, func() bool { p = s.Processes(); return len(p) <= 1 }) || len(p) != 1 {
		t.Errorf("sshd has %d processes after Close (%v), want its listener alone: an SSH session was left open", len(p), p)
	}
}

func TestIntegrationSSHURI(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	s := testutil.NewPrivateSSHD(t)
	adm := admin(t, d.Socket, "test:///default")
	name := "lv-" + randHex(10)
	defineTest(t, adm, testDomainXML(name, ""), true)
	defineTest(t, adm, testDomainXML("lv-"+randHex(10), ""), false) // shut off

	fds := fdCount(t)
	uri := sshURI(s, d, nil)
	ctx := ctxT(t, 60*time.Second)
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: uri, DialTimeout: 5 * time.Second})
	if err != nil {
		t.Fatalf("Dial(%s): %v", uri, err)
	}
	defer c.Close()
	if strings.Contains(c.URI(), s.ClientKey) || !strings.Contains(c.URI(), "keyfile=redacted") {
		t.Errorf("URI() = %q: the key path must be redacted", c.URI())
	}
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	if len(s.Processes()) < 2 {
		t.Errorf("sshd shows no session process: was the SSH path really used?")
	}

	// The same daemon over its local socket, through virsh.
	local := d.URI("test")
	var ours [][]string
	var names, uuids []string
	for _, dm := range doms {
		id := "-"
		if dm.ID >= 0 {
			id = strconv.Itoa(dm.ID)
		}
		ours = append(ours, append([]string{id, dm.Name}, strings.Fields(dm.State.String())...))
		names = append(names, dm.Name)
		uuids = append(uuids, dm.UUID)
	}
	if diff := cmp.Diff(virshTable(testutil.Virsh(t, local, "list", "--all")), ours); diff != "" {
		t.Errorf("virsh -c %s list --all (-virsh +ssh):\n%s", local, diff)
	}
	if diff := cmp.Diff(strings.Fields(testutil.Virsh(t, local, "list", "--all", "--name")), names); diff != "" {
		t.Errorf("virsh list --all --name (-virsh +ssh):\n%s", diff)
	}
	if diff := cmp.Diff(strings.Fields(testutil.Virsh(t, local, "list", "--all", "--uuid")), uuids); diff != "" {
		t.Errorf("virsh list --all --uuid (-virsh +ssh):\n%s", diff)
	}
	if len(doms) != 3 || !slices.ContainsFunc(doms, func(x libvirtinspect.Domain) bool { return x.Name == name }) {
		t.Errorf("over ssh: %d domains %v, want test and our two", len(doms), names)
	}
	statsMatchVirsh(t, c, local) // the stats connection over its own SSH session
	batchMatchesDetails(t, c)
	// Concurrent calls share the one SSH channel.
	var wg sync.WaitGroup
	errs := make(chan error, 8)
	for range 8 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			if _, err := c.Lookup(ctx, name); err != nil {
				errs <- err
			}
		}()
	}
	wg.Wait()
	close(errs)
	for err := range errs {
		t.Errorf("concurrent lookup over ssh: %v", err)
	}

	c.Close()
	c.Close()
	adm.Disconnect() // the test's own connection, so only the client's goroutines count
	goroutinesSettle(t)
	sshGoroutinesSettle(t)
	sessionsSettle(t, s)
	fdsSettle(t, fds)
}

func TestIntegrationSSHHostKey(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	s := testutil.NewPrivateSSHD(t)
	ctx := ctxT(t, 60*time.Second)
	var logs bytes.Buffer
	cfg := func(uri string) *libvirtinspect.Config {
		return &libvirtinspect.Config{URI: uri, DialTimeout: 5 * time.Second,
			Logger: slog.New(slog.NewTextHandler(&logs, &slog.HandlerOptions{Level: slog.LevelDebug}))}
	}
	noSecret := func(what string, err error) {
		t.Helper()
		if strings.Contains(err.Error(), s.ClientKey) || strings.Contains(err.Error(), filepath.Dir(s.ClientKey)+"/id") {
			t.Errorf("%s: the error names the private key path: %v", what, err)
		}
	}

	t.Run("changed", func(t *testing.T) {
		wrong := s.WrongKnownHosts(t)
		start := time.Now()
		_, err := libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": wrong})))
		took := time.Since(start)
		if err == nil {
			t.Fatal("Dial accepted a host key that differs from known_hosts")
		}
		t.Logf("changed host key (%v): %v", took, err)
		if !errors.Is(err, libvirtinspect.ErrSSHHostKey) || !errors.Is(err, libvirtinspect.ErrUnavailable) {
			t.Errorf("error %v: want ErrSSHHostKey and ErrUnavailable", err)
		}
		msg := err.Error()
		fp := ssh.FingerprintSHA256(s.HostKey)
		for _, want := range []string{"HOST KEY MISMATCH", "[127.0.0.1]:" + s.Port, fp, wrong + ":1", "ssh-keygen -R"} {
			if !strings.Contains(msg, want) {
				t.Errorf("error lacks %q: %s", want, msg)
			}
		}
		if strings.Contains(msg, "is libvirtd running") {
			t.Errorf("error blames libvirtd for a host key mismatch: %s", msg)
		}
		if took > 5*time.Second {
			t.Errorf("host key mismatch took %v to report", took)
		}
		noSecret("changed host key", err)
	})

	t.Run("unknown", func(t *testing.T) {
		empty := filepath.Join(t.TempDir(), "known_hosts")
		if err := os.WriteFile(empty, nil, 0o600); err != nil {
			t.Fatal(err)
		}
		_, err := libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": empty})))
		if !errors.Is(err, libvirtinspect.ErrSSHHostKey) || !strings.Contains(fmtErr(err), "not in known_hosts") {
			t.Fatalf("unknown host key: %v, want ErrSSHHostKey naming it unknown", err)
		}
		t.Logf("unknown host key: %v", err)
		_, err = libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": empty + ".missing"})))
		if !errors.Is(err, libvirtinspect.ErrSSHHostKey) || !strings.Contains(fmtErr(err), "does not exist") {
			t.Fatalf("missing known_hosts: %v, want ErrSSHHostKey naming the missing file", err)
		}
	})

	t.Run("no_verify", func(t *testing.T) {
		c, err := libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": s.WrongKnownHosts(t), "no_verify": "1"})))
		if err != nil {
			t.Fatalf("no_verify=1: %v", err)
		}
		defer c.Close()
		doms, err := c.Domains(ctx)
		if err != nil || len(doms) != 1 || doms[0].Name != "test" {
			t.Fatalf("Domains with no_verify=1: %v, %v", doms, err)
		}
	})

	t.Run("known_hosts_verify=auto", func(t *testing.T) {
		kh := filepath.Join(t.TempDir(), "sub", "known_hosts")
		c, err := libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": kh, "known_hosts_verify": "auto"})))
		if err != nil {
			t.Fatalf("known_hosts_verify=auto: %v", err)
		}
		c.Close()
		b, err := os.ReadFile(kh)
		if err != nil || !strings.Contains(string(b), "[127.0.0.1]:"+s.Port+" ") || !strings.Contains(string(b), strings.TrimSpace(string(ssh.MarshalAuthorizedKey(s.HostKey)))) {
			t.Fatalf("known_hosts after auto: %q, %v", b, err)
		}
		// The recorded key now verifies normally.
		c, err = libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"known_hosts": kh})))
		if err != nil {
			t.Fatalf("normal verification against the auto-added key: %v", err)
		}
		c.Close()
	})

	t.Run("secrets", func(t *testing.T) {
		// A key file that cannot be read, one protected by a passphrase, and
		// a password in the URI: none may show in errors or logs.
		dir := t.TempDir()
		missing := filepath.Join(dir, "secret-name-missing")
		_, err := libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"keyfile": missing, "sshauth": "privkey"})))
		if err == nil || strings.Contains(err.Error(), missing) || !strings.Contains(err.Error(), "authentication failed") {
			t.Errorf("unreadable keyfile: %v, want an auth failure without the path", err)
		}
		t.Logf("unreadable keyfile: %v", err)

		const pass = "correct-horse-battery"
		_, priv, _ := ed25519.GenerateKey(rand.Reader)
		blk, err := ssh.MarshalPrivateKeyWithPassphrase(priv, "", []byte(pass))
		if err != nil {
			t.Fatal(err)
		}
		enc := filepath.Join(dir, "secret-name-encrypted")
		if err := os.WriteFile(enc, pem.EncodeToMemory(blk), 0o600); err != nil {
			t.Fatal(err)
		}
		_, err = libvirtinspect.Dial(ctx, cfg(sshURI(s, d, map[string]string{"keyfile": enc, "sshauth": "privkey"})))
		if err == nil || strings.Contains(err.Error(), enc) || strings.Contains(err.Error(), pass) || !strings.Contains(err.Error(), "passphrase-protected") {
			t.Errorf("passphrase-protected keyfile: %v, want it named passphrase-protected, without path", err)
		}
		t.Logf("passphrase-protected keyfile: %v", err)

		const pw = "hunter2-secret"
		u := strings.Replace(sshURI(s, d, map[string]string{"keyfile": missing}), "root@", "root:"+pw+"@", 1)
		_, err = libvirtinspect.Dial(ctx, cfg(u))
		if err == nil || strings.Contains(err.Error(), pw) {
			t.Errorf("password in URI (sshd allows no passwords): %v, want a failure without the password", err)
		}
		t.Logf("password in URI: %v", err)
		for _, secret := range []string{missing, enc, pass, pw, s.ClientKey} {
			if strings.Contains(logs.String(), secret) {
				t.Errorf("the logs name %q:\n%s", secret, logs.String())
			}
		}
	})
	noSecret("logs", errors.New(logs.String()))
	goroutinesSettle(t)
	sshGoroutinesSettle(t)
	sessionsSettle(t, s)
}

func fmtErr(err error) string {
	if err == nil {
		return "<nil>"
	}
	return err.Error()
}

func TestIntegrationSSHDialFaults(t *testing.T) {
	testutil.RequireRoot(t)
	ctx := ctxT(t, 60*time.Second)
	fds := fdCount(t)

	t.Run("refused", func(t *testing.T) {
		ln, err := net.Listen("tcp", "127.0.0.1:0")
		if err != nil {
			t.Fatal(err)
		}
		addr := ln.Addr().String()
		ln.Close() // nothing listens there now
		start := time.Now()
		_, err = libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: "test+ssh://root@" + addr + "/default?no_verify=1", DialTimeout: 2 * time.Second})
		took := time.Since(start)
		if !errors.Is(err, libvirtinspect.ErrUnavailable) || !strings.Contains(fmtErr(err), "connection refused") || !strings.Contains(fmtErr(err), addr) {
			t.Fatalf("Dial to a closed port: %v, want ErrUnavailable naming %s and the refusal", err, addr)
		}
		if took > 2*time.Second {
			t.Errorf("refused dial took %v, DialTimeout 2s", took)
		}
		t.Logf("closed port (%v): %v", took, err)
	})

	// A blackholed endpoint: the TCP connection is accepted, SSH never
	// answers. Dial returns at DialTimeout, and the dial goroutine ends too.
	for _, speak := range []bool{false, true} {
		name := "silent"
		if speak {
			name = "banner-then-silent"
		}
		t.Run(name, func(t *testing.T) {
			ln, err := net.Listen("tcp", "127.0.0.1:0")
			if err != nil {
				t.Fatal(err)
			}
			var held []net.Conn
			var mu sync.Mutex
			go func() {
				for {
					c, err := ln.Accept()
					if err != nil {
						return
					}
					if speak {
						c.Write([]byte("SSH-2.0-OpenSSH_9.2\r\n"))
					}
					mu.Lock()
					held = append(held, c)
					mu.Unlock()
				}
			}()
			defer func() {
				ln.Close()
				mu.Lock()
				for _, c := range held {
					c.Close()
				}
				mu.Unlock()
			}()
			const to = 1500 * time.Millisecond
			start := time.Now()
			c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: "test+ssh://root@" + ln.Addr().String() + "/default?no_verify=1", DialTimeout: to})
			took := time.Since(start)
			if err == nil {
				c.Close()
				t.Fatal("Dial to a blackhole succeeded")
			}
			t.Logf("blackhole (%v): %v", took, err)
			if !errors.Is(err, libvirtinspect.ErrUnavailable) || !strings.Contains(err.Error(), "no SSH handshake within 1.5s") || strings.Contains(err.Error(), "is libvirtd running") {
				t.Errorf("error %v: want ErrUnavailable saying no SSH handshake came within DialTimeout", err)
			}
			if took < to-100*time.Millisecond || took > to+time.Second {
				t.Errorf("Dial returned after %v, want about DialTimeout %v", took, to)
			}
			// The ssh handshake goroutine must not outlive the timeout.
			goroutinesSettle(t)
			sshGoroutinesSettle(t)
			// ctx shorter than DialTimeout wins.
			short, cancel := context.WithTimeout(ctx, 300*time.Millisecond)
			defer cancel()
			start = time.Now()
			if _, err := libvirtinspect.Dial(short, &libvirtinspect.Config{URI: "test+ssh://root@" + ln.Addr().String() + "/default?no_verify=1", DialTimeout: 10 * time.Second}); err == nil || time.Since(start) > time.Second+300*time.Millisecond {
				t.Errorf("Dial with a 300ms ctx: %v after %v", err, time.Since(start))
			}
			// The abandoned handshake ends at its own deadline (DialTimeout,
			// 10s here) at the latest; goroutinesSettle waits up to 10s.
			goroutinesSettle(t)
		})
	}
	fdsSettle(t, fds)
}

func TestIntegrationSSHRestart(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	s := testutil.NewPrivateSSHD(t)
	fds := fdCount(t)
	ctx := ctxT(t, 90*time.Second)
	c, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{URI: sshURI(s, d, nil), DialTimeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	defer c.Close()
	before, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	// sshd stops: the SSH connection (and the libvirt channel in it) breaks
	// while libvirtd keeps running.
	s.Stop(t)
	_, err = c.Domains(ctx)
	if !libvirtinspect.IsConnectionLost(err) {
		t.Fatalf("first call after sshd stopped: %v, want ErrConnectionLost or ErrUnavailable", err)
	}
	t.Logf("first call after sshd stopped: %v", err)
	// Still down: the redial is refused, clearly and fast.
	start := time.Now()
	_, err = c.Domains(ctx)
	if !errors.Is(err, libvirtinspect.ErrUnavailable) || !strings.Contains(fmtErr(err), "connection refused") {
		t.Fatalf("call with sshd down: %v, want ErrUnavailable (connection refused)", err)
	}
	if time.Since(start) > 3*time.Second {
		t.Errorf("refused redial took %v", time.Since(start))
	}
	s.Start(t)
	after, err := c.Domains(ctx)
	if err != nil {
		t.Fatalf("call after sshd restarted: %v", err)
	}
	if diff := cmp.Diff(before, after); diff != "" {
		t.Errorf("domains before and after the sshd restart differ:\n%s", diff)
	}

	// sshd stops DURING a call: libvirtd is frozen so the call is in
	// flight, then sshd goes away. The call must end with ErrConnectionLost
	// as soon as the SSH connection breaks, not at AbandonTimeout or ctx.
	d.Freeze(t)
	errc := make(chan error, 1)
	go func() { _, err := c.Domains(ctx); errc <- err }()
	time.Sleep(300 * time.Millisecond)
	select {
	case err := <-errc:
		t.Fatalf("call returned while libvirtd was frozen: %v", err)
	default:
	}
	start = time.Now()
	s.Stop(t)
	select {
	case err := <-errc:
		t.Logf("call in flight when sshd stopped (%v): %v", time.Since(start), err)
		if !errors.Is(err, libvirtinspect.ErrConnectionLost) || !strings.Contains(err.Error(), "next call reconnects") {
			t.Errorf("in-flight call: %v, want ErrConnectionLost", err)
		}
	case <-time.After(10 * time.Second):
		t.Fatal("the in-flight call did not end within 10s of sshd stopping")
	}
	d.Thaw(t)
	s.Start(t)
	if _, err := c.Domains(ctx); err != nil {
		t.Fatalf("call after sshd came back: %v", err)
	}
	c.Close()
	goroutinesSettle(t)
	sshGoroutinesSettle(t)
	sessionsSettle(t, s)
	fdsSettle(t, fds)
}

// TestIntegrationSSHAgent: sshauth=agent with the key held by a real
// ssh-agent (the way to use a passphrase-protected key), no keyfile.
func TestIntegrationSSHAgent(t *testing.T) {
	d := testutil.NewPrivateLibvirtd(t)
	s := testutil.NewPrivateSSHD(t)
	agentBin := testutil.RequireBinary(t, "ssh-agent", "openssh-client")
	addBin := testutil.RequireBinary(t, "ssh-add", "openssh-client")
	sock := filepath.Join(t.TempDir(), "agent.sock")
	agent := exec.Command(agentBin, "-D", "-a", sock)
	if err := agent.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { agent.Process.Kill(); agent.Wait() })
	for deadline := time.Now().Add(5 * time.Second); ; time.Sleep(20 * time.Millisecond) {
		if _, err := os.Stat(sock); err == nil {
			break
		} else if time.Now().After(deadline) {
			t.Fatalf("ssh-agent socket %s: %v", sock, err)
		}
	}
	t.Setenv("SSH_AUTH_SOCK", sock)
	ctx := ctxT(t, 30*time.Second)
	uri := sshURI(s, d, map[string]string{"keyfile": "", "sshauth": "agent"})

	// An empty agent: authentication fails, and says the agent had no keys.
	_, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: uri})
	if err == nil || !strings.Contains(err.Error(), "ssh-agent has no keys") {
		t.Fatalf("Dial with an empty agent: %v, want an auth failure naming the empty agent", err)
	}
	add := exec.Command(addBin, s.ClientKey)
	add.Env = append(os.Environ(), "SSH_AUTH_SOCK="+sock)
	if out, err := add.CombinedOutput(); err != nil {
		t.Fatalf("ssh-add: %v: %s", err, out)
	}
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: uri})
	if err != nil {
		t.Fatalf("Dial with the key in ssh-agent: %v", err)
	}
	doms, err := c.Domains(ctx)
	if err != nil || len(doms) != 1 || doms[0].Name != "test" {
		t.Fatalf("Domains via agent auth: %v, %v", doms, err)
	}
	if want := strings.Fields(testutil.Virsh(t, d.URI("test"), "list", "--all", "--uuid")); len(want) != 1 || want[0] != doms[0].UUID {
		t.Errorf("UUID over ssh %s, virsh over the local socket %v", doms[0].UUID, want)
	}
	c.Close()
	goroutinesSettle(t)
	sshGoroutinesSettle(t)
	sessionsSettle(t, s)
}
