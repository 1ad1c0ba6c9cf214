package testutil

import (
	"context"
	"os"
	"syscall"
	"testing"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// System libvirtd paths (Debian, privileged daemon).
const (
	SystemLibvirtSocket   = sandbox.SystemLibvirtSocket
	SystemLibvirtSocketRO = sandbox.SystemLibvirtSocketRO
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
// daemon's read-write socket: "test+unix:///default?socket=..."
// (sandbox.LibvirtURI).
func (d *Libvirtd) URI(driver string) string { return sandbox.LibvirtURI(driver, d.Socket) }

// SystemLibvirtd returns the host's privileged libvirtd at
// /run/libvirt/libvirt-sock, started if its socket does not answer
// (sandbox.StartSystemLibvirtd). It is shared, so tests must not stop,
// kill or restart it (use NewPrivateLibvirtd for that). Skips (fails
// under CI) without root or the binaries.
func SystemLibvirtd(tb testing.TB) *Libvirtd {
	tb.Helper()
	RequireRoot(tb)
	if !sandbox.SocketAnswers("unix", SystemLibvirtSocket) {
		RequireBinary(tb, "libvirtd", "libvirt-daemon-system")
		RequireBinary(tb, "virtlogd", "libvirt-daemon-system")
	}
	started, err := sandbox.StartSystemLibvirtd(context.Background())
	check(tb, err)
	if started {
		tb.Logf("testutil: started the system libvirtd (libvirtd -d); it keeps running for others")
	}
	return &Libvirtd{Socket: SystemLibvirtSocket, ReadOnlySocket: SystemLibvirtSocketRO}
}

// NewPrivateLibvirtd starts a libvirtd that belongs to this test alone
// (sandbox.NewLibvirtd: root, its own mount namespace, sockets in a
// temporary directory, auth "none", qemu logging to files), so the test
// may stop, kill, freeze and restart it without touching the shared
// system daemon. It is killed and reaped when the test ends, and its log
// is printed if the test failed.
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

func newPrivateLibvirtd(tb testing.TB, tcp, withTLS bool) *Libvirtd {
	tb.Helper()
	RequireRoot(tb)
	RequireBinary(tb, "libvirtd", "libvirt-daemon-system")
	RequireBinary(tb, "unshare", "util-linux")
	dir, err := os.MkdirTemp("", "lv-")
	check(tb, err)
	d := &Libvirtd{Private: true}
	cfg := &sandbox.LibvirtdConfig{Dir: dir}
	if tcp {
		d.TCPAddr = FreeLoopbackAddr(tb)
		cfg.TCPAddr = d.TCPAddr
	}
	if withTLS {
		d.TLSAddr = FreeLoopbackAddr(tb)
		cfg.TLSAddr = d.TLSAddr
	}
	tb.Cleanup(func() {
		if d.priv != nil {
			d.priv.Stop(syscall.SIGKILL)
			if tb.Failed() {
				tb.Logf("private libvirtd log:\n%s", sandbox.Tail(d.priv.LogFile, 4000))
			}
		}
		os.RemoveAll(dir)
	})
	d.priv, err = sandbox.NewLibvirtd(context.Background(), cfg)
	check(tb, err)
	d.Socket, d.ReadOnlySocket, d.PKIPath = d.priv.Socket, d.priv.ReadOnlySocket, d.priv.PKIPath
	return d
}

// Start starts the private daemon again (after Stop or Kill) and waits
// until its socket and listeners answer. State held in memory (the test
// driver's domains) starts afresh.
func (d *Libvirtd) Start(tb testing.TB) {
	tb.Helper()
	d.requirePrivate(tb, "Start")
	check(tb, d.priv.Start(context.Background()))
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
// the test on error (sandbox.Virsh).
func Virsh(tb testing.TB, uri string, args ...string) string {
	tb.Helper()
	RequireBinary(tb, "virsh", "libvirt-clients")
	out, err := sandbox.Virsh(context.Background(), uri, args...)
	check(tb, err)
	return out
}
