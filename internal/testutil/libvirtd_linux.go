package testutil

import (
	"context"
	"crypto/ecdsa"
	"crypto/elliptic"
	"crypto/rand"
	"crypto/x509"
	"crypto/x509/pkix"
	"encoding/pem"
	"errors"
	"fmt"
	"math/big"
	"net"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// System libvirtd paths (Debian, privileged daemon).
const (
	SystemLibvirtSocket   = "/run/libvirt/libvirt-sock"
	SystemLibvirtSocketRO = "/run/libvirt/libvirt-sock-ro"
	systemVirtlogdSocket  = "/run/libvirt/virtlogd-sock"
)

// Libvirtd is a libvirtd the tests talk to over its unix sockets.
type Libvirtd struct {
	// Socket and ReadOnlySocket are the read-write and read-only sockets.
	Socket         string
	ReadOnlySocket string
	// Private is true for a daemon from NewPrivateLibvirtd (which the test
	// owns and may stop, kill and restart) and false for the shared system
	// daemon (which tests must never stop).
	Private bool

	// TCPAddr is "127.0.0.1:port" when the daemon also listens on TCP
	// (NewPrivateLibvirtdTCP), "" otherwise.
	TCPAddr string
	// TLSAddr is "127.0.0.1:port" when the daemon also listens on TLS
	// (NewPrivateLibvirtdTLS), and PKIPath the directory with the client's
	// cacert.pem, clientcert.pem and clientkey.pem (a URI's ?pkipath=).
	TLSAddr string
	PKIPath string

	priv *sandbox.Libvirtd
}

// URI returns a virsh-style URI for driver ("test", "qemu") through this
// daemon's read-write socket: "test+unix:///default?socket=...".
func (d *Libvirtd) URI(driver string) string {
	path := "/system"
	if driver == "test" {
		path = "/default"
	}
	return driver + "+unix://" + path + "?socket=" + d.Socket
}

// socketAnswers reports whether something accepts connections on path.
func socketAnswers(path string) bool {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

func waitSocket(path string, timeout time.Duration, alive func() bool) error {
	deadline := time.Now().Add(timeout)
	for time.Now().Before(deadline) {
		if socketAnswers(path) {
			return nil
		}
		if alive != nil && !alive() {
			return errors.New("daemon exited")
		}
		time.Sleep(20 * time.Millisecond)
	}
	return fmt.Errorf("%s did not answer within %v", path, timeout)
}

// SystemLibvirtd returns the host's privileged libvirtd at
// /run/libvirt/libvirt-sock. If its socket answers, it is used as it is
// (another user, such as a Nova compute service, may share it and may have
// its own /etc/libvirt/libvirtd.conf). Otherwise it starts `virtlogd -d` and
// `libvirtd -d` (there is no systemd) and waits for the socket. It never
// stops the daemon: it is shared, so tests must not stop, kill or restart it
// (use NewPrivateLibvirtd for that). Skips (fails under CI) without root or
// the binaries.
func SystemLibvirtd(tb testing.TB) *Libvirtd {
	tb.Helper()
	RequireRoot(tb)
	d := &Libvirtd{Socket: SystemLibvirtSocket, ReadOnlySocket: SystemLibvirtSocketRO}
	if socketAnswers(SystemLibvirtSocket) {
		return d
	}
	libvirtd := RequireBinary(tb, "libvirtd", "libvirt-daemon-system")
	virtlogd := RequireBinary(tb, "virtlogd", "libvirt-daemon-system")
	if !socketAnswers(systemVirtlogdSocket) {
		if out, err := exec.Command(virtlogd, "-d").CombinedOutput(); err != nil {
			tb.Fatalf("testutil: virtlogd -d: %v: %s", err, out)
		}
	}
	if out, err := exec.Command(libvirtd, "-d").CombinedOutput(); err != nil {
		// Another test package may have started it at the same moment.
		if !socketAnswers(SystemLibvirtSocket) {
			tb.Fatalf("testutil: libvirtd -d: %v: %s", err, out)
		}
	}
	if err := waitSocket(SystemLibvirtSocket, 30*time.Second, nil); err != nil {
		tb.Fatalf("testutil: started libvirtd -d, but %v", err)
	}
	tb.Logf("testutil: started the system libvirtd (libvirtd -d); it keeps running for others")
	return d
}

// NewPrivateLibvirtd starts a libvirtd that belongs to this test alone, so
// the test may stop, kill, freeze and restart it without touching the shared
// system daemon. It runs as root (so the qemu and test drivers behave as on
// a compute node) in its own mount namespace (unshare --mount) where tmpfs
// hides /run/libvirt, /var/lib/libvirt, /var/cache/libvirt, /var/log/libvirt
// and /etc/libvirt: its pid files, driver locks, state and persistent
// configs never collide with the system daemon's (a second root libvirtd
// without this fails to take /run/libvirt/*/driver.pid). Its sockets live in
// a temporary directory outside those mounts; auth is "none"; qemu logs go
// to files (stdio_handler = "file"), so no virtlogd is needed. The daemon is
// a child of the test process (no -d), killed and reaped at cleanup.
func NewPrivateLibvirtd(tb testing.TB) *Libvirtd {
	tb.Helper()
	return newPrivateLibvirtd(tb, false, false)
}

// NewPrivateLibvirtdTCP is NewPrivateLibvirtd that also listens for
// unauthenticated, unencrypted TCP (qemu+tcp://, test+tcp://) on a free
// loopback port, given in TCPAddr. Only the test talks to it.
func NewPrivateLibvirtdTCP(tb testing.TB) *Libvirtd {
	tb.Helper()
	return newPrivateLibvirtd(tb, true, false)
}

// NewPrivateLibvirtdTLS is NewPrivateLibvirtd that also listens for TLS
// (qemu+tls://, test+tls://) on a free loopback port (TLSAddr), with a
// throwaway CA, a server certificate for 127.0.0.1 and a client
// certificate in PKIPath.
func NewPrivateLibvirtdTLS(tb testing.TB) *Libvirtd {
	tb.Helper()
	return newPrivateLibvirtd(tb, false, true)
}

func freeLoopbackPort(tb testing.TB) (string, string) {
	tb.Helper()
	ln, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		tb.Fatal(err)
	}
	addr := ln.Addr().String()
	ln.Close()
	_, port, _ := net.SplitHostPort(addr)
	return addr, port
}

func newPrivateLibvirtd(tb testing.TB, tcp, withTLS bool) *Libvirtd {
	tb.Helper()
	RequireRoot(tb)
	RequireBinary(tb, "libvirtd", "libvirt-daemon-system")
	RequireBinary(tb, "unshare", "util-linux")
	dir, err := os.MkdirTemp("", "lv-")
	check(tb, err)
	d := &Libvirtd{Private: true}
	cfg := &sandbox.LibvirtdConfig{Dir: dir, Listen: tcp || withTLS}
	if tcp {
		var port string
		d.TCPAddr, port = freeLoopbackPort(tb)
		cfg.ExtraConf += fmt.Sprintf("listen_tcp = 1\nlisten_addr = \"127.0.0.1\"\ntcp_port = %q\nauth_tcp = \"none\"\n", port)
	} else {
		cfg.ExtraConf += "listen_tcp = 0\n"
	}
	if withTLS {
		var port string
		d.TLSAddr, port = freeLoopbackPort(tb)
		d.PKIPath = filepath.Join(dir, "pki")
		if err := writeTestPKI(dir, d.PKIPath); err != nil {
			tb.Fatalf("testutil: make test PKI: %v", err)
		}
		cfg.ExtraConf += fmt.Sprintf(
			"listen_tls = 1\nlisten_addr = \"127.0.0.1\"\ntls_port = %q\nauth_tls = \"none\"\n"+
				"key_file = %q\ncert_file = %q\nca_file = %q\n",
			port, filepath.Join(dir, "serverkey.pem"), filepath.Join(dir, "servercert.pem"), filepath.Join(d.PKIPath, "cacert.pem"))
	} else {
		cfg.ExtraConf += "listen_tls = 0\n"
	}
	tb.Cleanup(func() {
		if d.priv != nil {
			d.priv.Stop(syscall.SIGKILL)
			if tb.Failed() {
				if b, err := os.ReadFile(d.priv.LogFile); err == nil && len(b) > 0 {
					tb.Logf("private libvirtd log:\n%s", tail(string(b), 4000))
				}
			}
		}
		os.RemoveAll(dir)
	})
	d.priv, err = sandbox.NewLibvirtd(context.Background(), cfg)
	check(tb, err)
	d.Socket, d.ReadOnlySocket = d.priv.Socket, d.priv.ReadOnlySocket
	d.waitListeners(tb)
	return d
}

func tail(s string, n int) string {
	if len(s) > n {
		return "…" + s[len(s)-n:]
	}
	return s
}

// Start starts the private daemon again (after Stop or Kill) and waits
// until its socket answers. State held in memory (the test driver's
// domains) starts afresh.
func (d *Libvirtd) Start(tb testing.TB) {
	tb.Helper()
	d.requirePrivate(tb, "Start")
	check(tb, d.priv.Start(context.Background()))
	d.waitListeners(tb)
}

// waitListeners waits until the TCP and TLS listeners, if any, accept.
func (d *Libvirtd) waitListeners(tb testing.TB) {
	tb.Helper()
	for _, addr := range []string{d.TCPAddr, d.TLSAddr} {
		if addr == "" {
			continue
		}
		deadline := time.Now().Add(10 * time.Second)
		for {
			c, err := net.DialTimeout("tcp", addr, time.Second)
			if err == nil {
				c.Close()
				break
			}
			if time.Now().After(deadline) {
				tb.Fatalf("testutil: private libvirtd does not listen on %s: %v", addr, err)
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
}

func (d *Libvirtd) requirePrivate(tb testing.TB, what string) {
	tb.Helper()
	if !d.Private {
		tb.Fatalf("testutil: %s on the shared system libvirtd", what)
	}
}

// PID returns the private daemon's process id (0 when stopped).
func (d *Libvirtd) PID() int {
	if d.priv == nil {
		return 0
	}
	return d.priv.PID()
}

// Stop stops the private daemon with SIGTERM and waits for it to exit.
func (d *Libvirtd) Stop(tb testing.TB) {
	tb.Helper()
	d.requirePrivate(tb, "Stop")
	d.priv.Stop(syscall.SIGTERM)
}

// Kill kills the private daemon with SIGKILL and waits for it to exit.
func (d *Libvirtd) Kill(tb testing.TB) {
	tb.Helper()
	d.requirePrivate(tb, "Kill")
	d.priv.Stop(syscall.SIGKILL)
}

// Freeze stops (SIGSTOP) the private daemon: connections stay open but
// nothing answers, the "hung libvirtd" case. Thaw resumes it.
func (d *Libvirtd) Freeze(tb testing.TB) { d.signal(tb, syscall.SIGSTOP) }

// Thaw resumes a frozen private daemon (SIGCONT).
func (d *Libvirtd) Thaw(tb testing.TB) { d.signal(tb, syscall.SIGCONT) }

func (d *Libvirtd) signal(tb testing.TB, sig syscall.Signal) {
	tb.Helper()
	d.requirePrivate(tb, sig.String())
	check(tb, d.priv.Signal(sig))
}

// Virsh runs virsh against uri and returns its standard output; it fails
// the test on error.
func Virsh(tb testing.TB, uri string, args ...string) string {
	tb.Helper()
	virsh := RequireBinary(tb, "virsh", "libvirt-clients")
	out, err := exec.Command(virsh, append([]string{"-c", uri}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			tb.Fatalf("testutil: virsh %s: %v: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		tb.Fatalf("testutil: virsh %s: %v", strings.Join(args, " "), err)
	}
	return string(out)
}

// writeTestPKI writes a throwaway CA, a server certificate for 127.0.0.1
// (servercert.pem, serverkey.pem in serverDir) and a client certificate in
// libvirt's pkipath layout (cacert.pem, clientcert.pem, clientkey.pem in
// clientDir).
func writeTestPKI(serverDir, clientDir string) error {
	if err := os.MkdirAll(clientDir, 0o700); err != nil {
		return err
	}
	now := time.Now()
	caKey, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
	if err != nil {
		return err
	}
	caTmpl := &x509.Certificate{
		SerialNumber:          big.NewInt(1),
		Subject:               pkix.Name{CommonName: "vifpath test CA"},
		NotBefore:             now.Add(-time.Hour),
		NotAfter:              now.Add(24 * time.Hour),
		IsCA:                  true,
		BasicConstraintsValid: true,
		KeyUsage:              x509.KeyUsageCertSign | x509.KeyUsageCRLSign,
	}
	caDER, err := x509.CreateCertificate(rand.Reader, caTmpl, caTmpl, &caKey.PublicKey, caKey)
	if err != nil {
		return err
	}
	ca, err := x509.ParseCertificate(caDER)
	if err != nil {
		return err
	}
	if err := writePEM(filepath.Join(clientDir, "cacert.pem"), "CERTIFICATE", caDER); err != nil {
		return err
	}
	leaf := func(serial int64, cn string, usage x509.ExtKeyUsage, certPath, keyPath string) error {
		key, err := ecdsa.GenerateKey(elliptic.P256(), rand.Reader)
		if err != nil {
			return err
		}
		tmpl := &x509.Certificate{
			SerialNumber: big.NewInt(serial),
			Subject:      pkix.Name{CommonName: cn, Organization: []string{"vifpath"}},
			NotBefore:    now.Add(-time.Hour),
			NotAfter:     now.Add(24 * time.Hour),
			KeyUsage:     x509.KeyUsageDigitalSignature | x509.KeyUsageKeyEncipherment,
			ExtKeyUsage:  []x509.ExtKeyUsage{usage},
			IPAddresses:  []net.IP{net.IPv4(127, 0, 0, 1)},
			DNSNames:     []string{"localhost"},
		}
		der, err := x509.CreateCertificate(rand.Reader, tmpl, ca, &key.PublicKey, caKey)
		if err != nil {
			return err
		}
		kb, err := x509.MarshalPKCS8PrivateKey(key)
		if err != nil {
			return err
		}
		if err := writePEM(certPath, "CERTIFICATE", der); err != nil {
			return err
		}
		return writePEM(keyPath, "PRIVATE KEY", kb)
	}
	if err := leaf(2, "127.0.0.1", x509.ExtKeyUsageServerAuth,
		filepath.Join(serverDir, "servercert.pem"), filepath.Join(serverDir, "serverkey.pem")); err != nil {
		return err
	}
	return leaf(3, "vifpath-test-client", x509.ExtKeyUsageClientAuth,
		filepath.Join(clientDir, "clientcert.pem"), filepath.Join(clientDir, "clientkey.pem"))
}

func writePEM(path, typ string, der []byte) error {
	return os.WriteFile(path, pem.EncodeToMemory(&pem.Block{Type: typ, Bytes: der}), 0o600)
}
