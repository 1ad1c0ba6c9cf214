package sandbox

import (
	"context"
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

	"golang.org/x/sys/unix"
)

// LibvirtdConfig says how to run a private libvirtd.
type LibvirtdConfig struct {
	// Dir holds the daemon's configuration, sockets, pid file and logs.
	// Required; created if missing. Close leaves it (its owner removes it).
	Dir string
	// Binary is the libvirtd to run; "" means "libvirtd" in $PATH.
	Binary string
	// NetNS is the network namespace the daemon runs in (libvirt makes
	// its domains' taps there); nil means the caller's.
	NetNS *NetNS
	// QemuConf is the qemu driver's qemu.conf; "" means
	// `stdio_handler = "file"` (qemu logs to files, no virtlogd needed).
	QemuConf string
	// ExtraConf is appended to libvirtd.conf; "" adds nothing.
	ExtraConf string
	// TCPAddr ("127.0.0.1:port") makes the daemon also listen for
	// unauthenticated, unencrypted TCP (qemu+tcp://, test+tcp://) there;
	// "" means no TCP listener.
	TCPAddr string
	// TLSAddr ("127.0.0.1:port") makes the daemon also listen for TLS
	// (qemu+tls://, test+tls://) there, with a throwaway CA, a server
	// certificate for 127.0.0.1 and a client certificate in
	// Libvirtd.PKIPath; "" means no TLS listener.
	TLSAddr string
	// CapsCache is a directory bind-mounted over
	// /var/cache/libvirt/qemu, so libvirt's probe of qemu's capabilities
	// (seconds) is kept across daemons; "" keeps none. The cache is valid
	// only for the CPU that probed it, so with it the daemon is pinned to
	// FirstCPU (taskset; libvirt gives qemu all CPUs back).
	CapsCache string
	// StartTimeout bounds the wait for the socket; zero means 30 s.
	StartTimeout time.Duration
	// StopTimeout is how long Stop waits before SIGKILL; zero means 15 s.
	StopTimeout time.Duration
}

// Libvirtd is a private libvirtd, a child of this process, in its own
// mount namespace where tmpfs hides /run/libvirt, /var/lib/libvirt,
// /var/cache/libvirt, /var/log/libvirt and /etc/libvirt: its pid files,
// driver locks, state and persistent configs never collide with the
// system daemon's (a second root libvirtd without this fails to take
// /run/libvirt/*/driver.pid). Its sockets live in Dir, outside those
// mounts; auth is "none". It runs in its own process group and gets
// SIGKILL if its parent dies. Its methods are safe for concurrent use.
type Libvirtd struct {
	// Socket and ReadOnlySocket are the read-write and read-only sockets.
	Socket, ReadOnlySocket string
	// LogFile is the daemon's log; OutputFile its standard output and error.
	LogFile, OutputFile string
	// PKIPath is the directory with the client's cacert.pem,
	// clientcert.pem and clientkey.pem (a URI's ?pkipath=) when
	// LibvirtdConfig.TLSAddr is set, "" otherwise.
	PKIPath string

	cfg LibvirtdConfig
	mu  sync.Mutex
	run child
}

// libvirtdScript runs in the daemon's new mount namespace: $1 the
// directory, $2 libvirtd, $3 the capabilities cache, $4 the CPU to pin
// to, $5 extra arguments.
const libvirtdScript = `set -e
for m in /run/libvirt /var/lib/libvirt /var/cache/libvirt /var/log/libvirt /etc/libvirt; do
	mkdir -p "$m"; mount -t tmpfs vifpath-sandbox "$m"
done
mkdir -p /var/lib/libvirt/qemu /var/cache/libvirt/qemu /var/log/libvirt/qemu /run/libvirt/qemu
cp "$1/qemu.conf" /etc/libvirt/qemu.conf
if [ -n "$3" ]; then
	mkdir -p "$3"; mount --bind "$3" /var/cache/libvirt/qemu
	exec taskset -c "$4" "$2" --config "$1/libvirtd.conf" --pid-file "$1/libvirtd.pid" $5
fi
exec "$2" --config "$1/libvirtd.conf" --pid-file "$1/libvirtd.pid" $5`

// NewLibvirtd writes the daemon's configuration into cfg.Dir and starts
// it (see Start).
func NewLibvirtd(ctx context.Context, cfg *LibvirtdConfig) (*Libvirtd, error) {
	c := *cfg
	if c.Dir == "" {
		return nil, errors.New("sandbox: NewLibvirtd needs a Dir")
	}
	var err error
	if c.Binary, err = LookBin(c.Binary, "libvirtd", "libvirt-daemon-system"); err != nil {
		return nil, err
	}
	if _, err := LookBin("", "unshare", "util-linux"); err != nil {
		return nil, err
	}
	if c.QemuConf == "" {
		c.QemuConf = "stdio_handler = \"file\"\n"
	}
	d := &Libvirtd{
		Socket:         filepath.Join(c.Dir, "libvirt-sock"),
		ReadOnlySocket: filepath.Join(c.Dir, "libvirt-sock-ro"),
		LogFile:        filepath.Join(c.Dir, "libvirtd.log"),
		OutputFile:     filepath.Join(c.Dir, "stdout.log"),
		cfg:            c,
		run:            child{name: "libvirtd"},
	}
	conf := fmt.Sprintf(`unix_sock_dir = %q
unix_sock_ro_perms = "0777"
unix_sock_rw_perms = "0700"
auth_unix_ro = "none"
auth_unix_rw = "none"
log_outputs = "3:file:%s"
`, c.Dir, d.LogFile)
	if err := os.MkdirAll(c.Dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	listeners, err := d.listenConf()
	if err != nil {
		return nil, err
	}
	conf += listeners + c.ExtraConf
	for n, s := range map[string]string{"libvirtd.conf": conf, "qemu.conf": c.QemuConf} {
		if err := os.WriteFile(filepath.Join(c.Dir, n), []byte(s), 0o600); err != nil {
			return nil, fmt.Errorf("sandbox: %w", err)
		}
	}
	if err := d.Start(ctx); err != nil {
		return nil, err
	}
	return d, nil
}

// Start starts the daemon (again, after Stop) and waits until its socket
// answers. State held in memory (the test driver's domains) starts afresh.
func (d *Libvirtd) Start(ctx context.Context) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	if d.run.cmd != nil {
		return errors.New("sandbox: the private libvirtd is already running")
	}
	os.Remove(d.Socket)
	os.Remove(d.ReadOnlySocket)
	listen := ""
	if d.cfg.TCPAddr != "" || d.cfg.TLSAddr != "" {
		listen = "--listen"
	}
	cmd := exec.Command("unshare", "--mount", "--propagation", "private", "sh", "-c", libvirtdScript, "sh",
		d.cfg.Dir, d.cfg.Binary, d.cfg.CapsCache, strconv.Itoa(FirstCPU()), listen)
	cmd.SysProcAttr = &syscall.SysProcAttr{Setpgid: true, Pdeathsig: syscall.SIGKILL}
	startFn := (*exec.Cmd).Start
	if d.cfg.NetNS != nil {
		startFn = d.cfg.NetNS.Start
	}
	if err := d.run.start(cmd, d.OutputFile, startFn); err != nil {
		return err
	}
	timeout := d.cfg.StartTimeout
	if timeout <= 0 {
		timeout = 30 * time.Second
	}
	for deadline := time.Now().Add(timeout); ; {
		if SocketAnswers("unix", d.Socket) {
			return d.waitListeners(ctx, deadline)
		}
		if d.run.exited() {
			return fmt.Errorf("sandbox: libvirtd exited at start-up: %s %s", Tail(d.OutputFile, 1000), Tail(d.LogFile, 1000))
		}
		select {
		case <-ctx.Done():
			d.stopLocked(syscall.SIGKILL)
			return ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
		if time.Now().After(deadline) {
			d.stopLocked(syscall.SIGKILL)
			return fmt.Errorf("sandbox: libvirtd did not answer on %s within %v: %s", d.Socket, timeout, Tail(d.LogFile, 1000))
		}
	}
}

// listenConf returns libvirtd.conf's TCP and TLS lines (writing the TLS
// certificates into the daemon's directory when TLSAddr is set).
func (d *Libvirtd) listenConf() (string, error) {
	conf := "listen_tcp = 0\n"
	if d.cfg.TCPAddr != "" {
		host, port, err := net.SplitHostPort(d.cfg.TCPAddr)
		if err != nil {
			return "", fmt.Errorf("sandbox: libvirtd TCPAddr: %w", err)
		}
		conf = fmt.Sprintf("listen_tcp = 1\nlisten_addr = %q\ntcp_port = %q\nauth_tcp = \"none\"\n", host, port)
	}
	if d.cfg.TLSAddr == "" {
		return conf + "listen_tls = 0\n", nil
	}
	host, port, err := net.SplitHostPort(d.cfg.TLSAddr)
	if err != nil {
		return "", fmt.Errorf("sandbox: libvirtd TLSAddr: %w", err)
	}
	d.PKIPath = filepath.Join(d.cfg.Dir, "pki")
	if err := writeTestPKI(d.cfg.Dir, d.PKIPath); err != nil {
		return "", fmt.Errorf("sandbox: libvirtd's test PKI: %w", err)
	}
	return conf + fmt.Sprintf(
		"listen_tls = 1\nlisten_addr = %q\ntls_port = %q\nauth_tls = \"none\"\nkey_file = %q\ncert_file = %q\nca_file = %q\n",
		host, port, filepath.Join(d.cfg.Dir, "serverkey.pem"), filepath.Join(d.cfg.Dir, "servercert.pem"),
		filepath.Join(d.PKIPath, "cacert.pem")), nil
}

// waitListeners waits until the TCP and TLS listeners, if any, accept
// (called with d.mu held, the socket already answering).
func (d *Libvirtd) waitListeners(ctx context.Context, deadline time.Time) error {
	for _, addr := range []string{d.cfg.TCPAddr, d.cfg.TLSAddr} {
		for addr != "" && !SocketAnswers("tcp", addr) {
			if time.Now().After(deadline) || ctx.Err() != nil {
				d.stopLocked(syscall.SIGKILL)
				return fmt.Errorf("sandbox: the private libvirtd does not listen on %s: %s", addr, Tail(d.LogFile, 1000))
			}
			time.Sleep(20 * time.Millisecond)
		}
	}
	return nil
}

// SocketAnswers reports whether something accepts a connection on addr
// ("unix" path or "tcp" host:port) within a second.
func SocketAnswers(network, addr string) bool {
	c, err := net.DialTimeout(network, addr, time.Second)
	if err != nil {
		return false
	}
	c.Close()
	return true
}

// FreeLoopbackAddr returns "127.0.0.1:port" for a TCP port nobody
// listened on a moment ago.
func FreeLoopbackAddr() (string, error) {
	l, err := net.Listen("tcp", "127.0.0.1:0")
	if err != nil {
		return "", fmt.Errorf("sandbox: a free loopback port: %w", err)
	}
	defer l.Close()
	return l.Addr().String(), nil
}

// PID returns the daemon's process id (0 when stopped). The process is
// unshare's, which execs sh, which execs libvirtd (or taskset, which
// execs it): one pid.
func (d *Libvirtd) PID() int {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.run.pid()
}

// Signal sends sig to the running daemon (SIGSTOP freezes it: connections
// stay open but nothing answers; SIGCONT thaws it).
func (d *Libvirtd) Signal(sig syscall.Signal) error {
	d.mu.Lock()
	defer d.mu.Unlock()
	return d.run.signal(sig)
}

// Stop sends sig (and, unless it is SIGKILL, SIGCONT, since a frozen
// daemon handles SIGTERM only once continued) and waits for the daemon to
// exit, killing it after StopTimeout. Stopping a stopped daemon does
// nothing.
func (d *Libvirtd) Stop(sig syscall.Signal) {
	d.mu.Lock()
	defer d.mu.Unlock()
	d.stopLocked(sig)
}

func (d *Libvirtd) stopLocked(sig syscall.Signal) {
	timeout := d.cfg.StopTimeout
	if timeout <= 0 {
		timeout = 15 * time.Second
	}
	d.run.stop(sig, timeout)
}

// Close stops the daemon with SIGTERM (see Stop).
func (d *Libvirtd) Close() error {
	d.Stop(syscall.SIGTERM)
	return nil
}

// FirstCPU is the lowest CPU this process may run on (0 if unknown).
func FirstCPU() int {
	var set unix.CPUSet
	if err := unix.SchedGetaffinity(0, &set); err == nil {
		for i := range 1024 {
			if set.IsSet(i) {
				return i
			}
		}
	}
	return 0
}

// Tail returns the last n bytes of the file at path, trimmed (or the
// error reading it, in parentheses).
func Tail(path string, n int) string {
	b, err := os.ReadFile(path)
	if err != nil {
		return fmt.Sprintf("(%v)", err)
	}
	s := strings.TrimSpace(string(b))
	if len(s) > n {
		s = "…" + s[len(s)-n:]
	}
	return s
}
