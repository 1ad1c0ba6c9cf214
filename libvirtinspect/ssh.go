package libvirtinspect

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/url"
	"os"
	"os/user"
	"path/filepath"
	"strings"
	"time"

	"github.com/vifpath/vifpath/internal/sentinel"
	"golang.org/x/crypto/ssh"
	"golang.org/x/crypto/ssh/agent"
	"golang.org/x/crypto/ssh/knownhosts"
)

// ErrSSHHostKey is wrapped by errors from ssh URIs whose server host key is
// not trusted: it differs from the one in known_hosts (changed key, or a
// man in the middle) or is not listed there at all. Such errors also wrap
// ErrUnavailable.
var ErrSSHHostKey = sentinel.New("libvirtinspect: ssh host key not trusted", nil)

// sshDialer reaches libvirtd's unix socket on a remote host through an SSH
// connection (direct-streamlocal@openssh.com, no remote command), the way
// libvirt's libssh transport does. Every step (TCP connect, SSH handshake,
// authentication, opening the channel) is bounded by timeout, so a
// blackholed or silent endpoint cannot hold a dial goroutine beyond it.
// Closing the returned connection closes the SSH connection too.
type sshDialer struct {
	addr       string // host:port
	user       string
	password   string // from the URI's user info (go-libvirt compatibility)
	keyFiles   []string
	knownHosts string
	verify     string // "normal", "auto" (add unknown keys), "ignore"
	auth       []string
	socket     string
	timeout    time.Duration
}

// newSSHDialer maps a libvirt ssh/libssh/libssh2 URI onto sshDialer. Query
// parameters, as libvirt documents them: socket (remote libvirtd socket;
// default the read-write or, with ReadOnly, read-only system socket),
// keyfile (private key; default ~/.ssh/id_ed25519, id_ecdsa, id_rsa that
// exist), known_hosts (default ~/.ssh/known_hosts for ssh, libvirt's
// $XDG_CONFIG_HOME/libvirt/known_hosts for libssh and libssh2), no_verify=1
// (accept any host key), known_hosts_verify (normal, auto, ignore), sshauth
// (comma-separated order of agent, privkey, password; keyboard-interactive
// is not supported). command, netcat, proxy and mode are ignored: no remote
// command runs.
func newSSHDialer(u *url.URL, transport string, readOnly bool, timeout time.Duration) (*sshDialer, error) {
	q := u.Query()
	d := &sshDialer{
		user:       u.User.Username(),
		knownHosts: q.Get("known_hosts"),
		verify:     "normal",
		socket:     q.Get("socket"),
		timeout:    timeout,
	}
	d.password, _ = u.User.Password()
	port := u.Port()
	if port == "" {
		port = "22"
	}
	if u.Hostname() == "" {
		return nil, errors.New("libvirtinspect: ssh URI without a host")
	}
	d.addr = net.JoinHostPort(u.Hostname(), port)
	if d.user == "" { // libvirt logs in as the local user
		if cu, err := user.Current(); err == nil {
			d.user = cu.Username
		} else {
			d.user = os.Getenv("USER")
		}
	}
	if d.socket == "" {
		d.socket = DefaultSocket
		if readOnly {
			d.socket = DefaultReadOnlySocket
		}
	}
	home, _ := os.UserHomeDir()
	if k := q.Get("keyfile"); k != "" {
		d.keyFiles = []string{k}
	} else if home != "" {
		for _, n := range []string{"id_ed25519", "id_ecdsa", "id_rsa"} {
			if p := filepath.Join(home, ".ssh", n); fileExists(p) {
				d.keyFiles = append(d.keyFiles, p)
			}
		}
	}
	if d.knownHosts == "" {
		if transport == "ssh" {
			if home != "" {
				d.knownHosts = filepath.Join(home, ".ssh", "known_hosts")
			}
		} else if cd, err := os.UserConfigDir(); err == nil {
			d.knownHosts = filepath.Join(cd, "libvirt", "known_hosts")
		}
	}
	switch v := q.Get("known_hosts_verify"); v {
	case "", "normal":
	case "auto", "ignore":
		d.verify = v
	default:
		return nil, fmt.Errorf("libvirtinspect: URI known_hosts_verify=%q: want normal, auto or ignore", v)
	}
	if nv := q.Get("no_verify"); nv != "" && nv != "0" {
		d.verify = "ignore"
	}
	d.auth = []string{"agent", "privkey", "password"}
	if a := q.Get("sshauth"); a != "" {
		d.auth = nil
		for _, m := range strings.Split(a, ",") {
			switch m = strings.TrimSpace(m); m {
			case "agent", "privkey", "password":
				d.auth = append(d.auth, m)
			case "keyboard-interactive":
				// Needs a prompt we do not have; skipped like an empty agent.
			default:
				return nil, fmt.Errorf("libvirtinspect: URI sshauth=%q: unknown method %q (want agent, privkey, password)", a, m)
			}
		}
	}
	return d, nil
}

func fileExists(p string) bool {
	_, err := os.Stat(p)
	return err == nil
}

// Dial is DialContext without cancellation (still bounded by d.timeout).
func (d *sshDialer) Dial() (net.Conn, error) { return d.DialContext(context.Background()) }

// DialContext opens the TCP connection, runs the SSH handshake and opens a
// direct-streamlocal channel to the remote socket, all within d.timeout;
// ending ctx closes the TCP connection, which ends the dial at once.
func (d *sshDialer) DialContext(ctx context.Context) (_ net.Conn, err error) {
	defer func() {
		if err != nil {
			err = &sshError{err}
		}
	}()
	ctx, cancel := context.WithTimeout(ctx, d.timeout)
	defer cancel()
	deadline, _ := ctx.Deadline()
	var nd net.Dialer
	nc, err := nd.DialContext(ctx, "tcp", d.addr)
	if err != nil {
		return nil, fmt.Errorf("ssh to %s: %w", d.addr, err)
	}
	// The handshake and the channel open read from nc: a server that
	// accepts and never speaks fails them at the deadline, and an ended
	// ctx closes nc under them.
	nc.SetDeadline(deadline)
	stop := context.AfterFunc(ctx, func() { nc.Close() })
	var agentConn net.Conn
	defer func() {
		if agentConn != nil {
			agentConn.Close()
		}
	}()
	methods, authNotes := d.authMethods(&agentConn)
	cfg := &ssh.ClientConfig{
		User:            d.user,
		Auth:            methods,
		HostKeyCallback: d.checkHostKey,
		Timeout:         d.timeout,
	}
	sc, chans, reqs, err := ssh.NewClientConn(nc, d.addr, cfg)
	if err != nil {
		stop()
		nc.Close()
		if ctx.Err() != nil && !errors.Is(err, ErrSSHHostKey) {
			if errors.Is(ctx.Err(), context.DeadlineExceeded) {
				return nil, fmt.Errorf("ssh to %s: no SSH handshake within %v (is sshd listening there, or a firewall or a hung server swallowing the connection?): %w", d.addr, d.timeout, err)
			}
			return nil, fmt.Errorf("ssh to %s: %w", d.addr, ctx.Err())
		}
		return nil, d.handshakeError(err, authNotes)
	}
	client := ssh.NewClient(sc, chans, reqs)
	ch, err := client.Dial("unix", d.socket)
	if err == nil && !stop() {
		ch.Close()
		err = ctx.Err()
	}
	if err != nil {
		client.Close()
		if ctx.Err() != nil {
			return nil, fmt.Errorf("ssh to %s: %w", d.addr, ctx.Err())
		}
		if ne, ok := err.(net.Error); ok && ne.Timeout() {
			return nil, fmt.Errorf("ssh to %s: opening a channel to %s timed out after %v", d.addr, d.socket, d.timeout)
		}
		return nil, fmt.Errorf("ssh to %s: the server refused a channel to the libvirtd socket %s (is libvirtd running there, with that socket? does sshd allow AllowStreamLocalForwarding and AllowTcpForwarding?): %w", d.addr, d.socket, err)
	}
	nc.SetDeadline(time.Time{})
	return &sshConn{Conn: ch, client: client}, nil
}

// authMethods builds the methods in d.auth's order. Notes say why a method
// was unavailable, without naming key files or secrets.
func (d *sshDialer) authMethods(agentConn *net.Conn) ([]ssh.AuthMethod, []string) {
	var (
		signers []ssh.Signer
		notes   []string
		methods []ssh.AuthMethod
		pkAdded bool
	)
	addPK := func() {
		if !pkAdded {
			pkAdded = true
			methods = append(methods, ssh.PublicKeysCallback(func() ([]ssh.Signer, error) { return signers, nil }))
		}
	}
	for _, m := range d.auth {
		switch m {
		case "agent":
			sock := os.Getenv("SSH_AUTH_SOCK")
			if sock == "" {
				continue
			}
			c, err := net.DialTimeout("unix", sock, d.timeout)
			if err != nil {
				notes = append(notes, "ssh-agent unreachable")
				continue
			}
			*agentConn = c
			ss, err := agent.NewClient(c).Signers()
			if err != nil || len(ss) == 0 {
				notes = append(notes, "ssh-agent has no keys")
				continue
			}
			signers = append(signers, ss...)
			addPK()
		case "privkey":
			if len(d.keyFiles) == 0 {
				notes = append(notes, "no keyfile given and no default key in ~/.ssh")
			}
			for i, p := range d.keyFiles {
				which := "the keyfile"
				if len(d.keyFiles) > 1 {
					which = fmt.Sprintf("default key %d", i+1)
				}
				b, err := os.ReadFile(p)
				if err != nil {
					var pe *fs.PathError
					if errors.As(err, &pe) {
						err = pe.Err // the path stays out of messages
					}
					notes = append(notes, which+" cannot be read: "+err.Error())
					continue
				}
				s, err := ssh.ParsePrivateKey(b)
				if err != nil {
					var pm *ssh.PassphraseMissingError
					if errors.As(err, &pm) {
						notes = append(notes, which+" is passphrase-protected (load it into ssh-agent with ssh-add and use sshauth=agent)")
					} else {
						notes = append(notes, which+" is not a private key libvirtinspect can parse")
					}
					continue
				}
				signers = append(signers, s)
				addPK()
			}
		case "password":
			if d.password != "" {
				methods = append(methods, ssh.Password(d.password))
			}
		}
	}
	return methods, notes
}

// checkHostKey verifies the server's key against known_hosts per d.verify.
func (d *sshDialer) checkHostKey(host string, remote net.Addr, key ssh.PublicKey) error {
	if d.verify == "ignore" {
		return nil
	}
	if d.knownHosts == "" {
		return fmt.Errorf("%w: %s offered %s %s and no known_hosts file is configured (add ?known_hosts=FILE, or no_verify=1 to skip the check, insecure)",
			ErrSSHHostKey, host, key.Type(), ssh.FingerprintSHA256(key))
	}
	cb, err := knownhosts.New(d.knownHosts)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) && d.verify == "auto" {
			return appendKnownHost(d.knownHosts, host, key)
		}
		if errors.Is(err, fs.ErrNotExist) {
			return fmt.Errorf("%w: %s offered %s %s, but known_hosts %s does not exist (add the key: `ssh-keyscan -p PORT HOST >> %s`, after checking its fingerprint on the host with `ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`)",
				ErrSSHHostKey, host, key.Type(), ssh.FingerprintSHA256(key), d.knownHosts, d.knownHosts, keyFileType(key))
		}
		return fmt.Errorf("%w: read known_hosts %s: %w", ErrSSHHostKey, d.knownHosts, err)
	}
	err = cb(host, remote, key)
	var ke *knownhosts.KeyError
	if !errors.As(err, &ke) {
		return err
	}
	entry := knownhosts.Normalize(host)
	if len(ke.Want) == 0 {
		if d.verify == "auto" {
			return appendKnownHost(d.knownHosts, host, key)
		}
		return fmt.Errorf("%w: %s offered %s %s, which is not in known_hosts %s (check the fingerprint on the host with `ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`, then add it with `ssh-keyscan -p PORT HOST >> %s`; or use known_hosts_verify=auto to trust it on first use)",
			ErrSSHHostKey, entry, key.Type(), ssh.FingerprintSHA256(key), d.knownHosts, keyFileType(key), d.knownHosts)
	}
	var where []string
	for _, w := range ke.Want {
		where = append(where, fmt.Sprintf("%s:%d (%s %s)", w.Filename, w.Line, w.Key.Type(), ssh.FingerprintSHA256(w.Key)))
	}
	return fmt.Errorf("%w: HOST KEY MISMATCH for %s: it offered %s %s, but known_hosts has %s; the host was reinstalled or its keys changed, or someone is intercepting the connection: check the fingerprint on the host with `ssh-keygen -lf /etc/ssh/ssh_host_%s_key.pub`, then remove the stale entry with `ssh-keygen -R '%s' -f %s`",
		ErrSSHHostKey, entry, key.Type(), ssh.FingerprintSHA256(key), strings.Join(where, ", "), keyFileType(key), entry, d.knownHosts)
}

// keyFileType maps an SSH key type onto OpenSSH's host key file name part.
func keyFileType(k ssh.PublicKey) string {
	switch t := k.Type(); {
	case t == ssh.KeyAlgoED25519:
		return "ed25519"
	case strings.HasPrefix(t, "ecdsa"):
		return "ecdsa"
	default:
		return "rsa"
	}
}

func appendKnownHost(file, host string, key ssh.PublicKey) error {
	if err := os.MkdirAll(filepath.Dir(file), 0o700); err != nil {
		return fmt.Errorf("%w: add %s to known_hosts: %w", ErrSSHHostKey, host, err)
	}
	f, err := os.OpenFile(file, os.O_APPEND|os.O_CREATE|os.O_WRONLY, 0o600)
	if err != nil {
		return fmt.Errorf("%w: add %s to known_hosts: %w", ErrSSHHostKey, host, err)
	}
	defer f.Close()
	_, err = fmt.Fprintln(f, knownhosts.Line([]string{knownhosts.Normalize(host)}, key))
	return err
}

// handshakeError turns x/crypto/ssh's handshake errors into ours.
func (d *sshDialer) handshakeError(err error, notes []string) error {
	if errors.Is(err, ErrSSHHostKey) {
		return fmt.Errorf("ssh to %s: %w", d.addr, unwrapHostKey(err))
	}
	var ne net.Error
	if errors.As(err, &ne) && ne.Timeout() {
		return fmt.Errorf("ssh to %s: no SSH handshake within %v (is sshd listening there, or a firewall or a hung server swallowing the connection?): %w", d.addr, d.timeout, err)
	}
	if strings.Contains(err.Error(), "unable to authenticate") {
		msg := fmt.Sprintf("ssh to %s as %s: authentication failed (the key must be in %s's authorized_keys on the host; check ?keyfile=, ?sshauth= and the user in the URI)", d.addr, d.user, d.user)
		if len(notes) > 0 {
			msg += ": " + strings.Join(notes, "; ")
		}
		return fmt.Errorf("%s: %w", msg, err)
	}
	return fmt.Errorf("ssh to %s: %w", d.addr, err)
}

// unwrapHostKey returns our host key error from inside x/crypto/ssh's
// "ssh: handshake failed: ..." wrapping (which uses %v, so errors.Is does
// not see through it) — kept intact so the message reads cleanly.
func unwrapHostKey(err error) error {
	for e := err; e != nil; e = errors.Unwrap(e) {
		if strings.HasPrefix(e.Error(), ErrSSHHostKey.Error()) {
			return e
		}
	}
	return err
}

// sshError marks errors of the ssh transport, so OpError points at sshd and
// the URI rather than at libvirtd. The dialer's messages carry no package
// prefix: the Client always wraps them in ErrUnavailable, which has it.
type sshError struct{ err error }

func (e *sshError) Error() string { return e.err.Error() }
func (e *sshError) Unwrap() error { return e.err }

// sshConn is the channel to libvirtd; closing it closes the SSH connection.
type sshConn struct {
	net.Conn
	client *ssh.Client
}

func (c *sshConn) Close() error {
	err := c.Conn.Close()
	c.client.Close()
	return err
}
