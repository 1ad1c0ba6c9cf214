package libvirtinspect

import (
	"context"
	"errors"
	"fmt"
	"log/slog"
	"net"
	"net/url"
	"strings"
	"sync"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"
)

// Default paths and timeouts used when the Config field is zero.
const (
	DefaultSocket         = "/run/libvirt/libvirt-sock"
	DefaultReadOnlySocket = "/run/libvirt/libvirt-sock-ro"
	DefaultURI            = "qemu:///system"
	DefaultDialTimeout    = 5 * time.Second
	DefaultAbandonTimeout = 30 * time.Second
)

// Dialer opens the byte stream to libvirtd. It has the same method set as
// go-libvirt's socket.Dialer, so any go-libvirt dialer (dialers.NewLocal,
// NewRemote, NewTLS, NewSSH) is a Dialer, and so is a test's own.
type Dialer interface {
	Dial() (net.Conn, error)
}

// Config configures a Client. A nil *Config means all defaults.
type Config struct {
	// URI is the libvirt URI to open, as virsh -c takes it:
	// "qemu:///system", "test:///default", "qemu+unix:///system?socket=/x",
	// "qemu+tcp://host/system", "qemu+tls://host/system?pkipath=/dir",
	// "qemu+ssh://user@host/system?keyfile=/k&known_hosts=/kh". Zero: DefaultURI
	// over the local socket. A local URI (no host, transport unix) is served
	// through Socket unless the URI carries ?socket=. ssh, libssh and
	// libssh2 URIs reach the remote libvirtd socket over SSH
	// (direct-streamlocal, no remote command) and take libvirt's query
	// parameters socket, keyfile, known_hosts, no_verify,
	// known_hosts_verify (normal, auto, ignore) and sshauth (agent, privkey,
	// password); the host key is checked against known_hosts (default
	// ~/.ssh/known_hosts for ssh, $XDG_CONFIG_HOME/libvirt/known_hosts for
	// libssh) and an unknown or changed key fails with ErrSSHHostKey.
	URI string
	// Socket is the local libvirtd socket. Zero: DefaultSocket, or
	// DefaultReadOnlySocket when ReadOnly is set.
	Socket string
	// ReadOnly selects the read-only socket, which is enough for everything
	// this package does (it only inspects). Zero: the read-write socket.
	ReadOnly bool
	// DialTimeout bounds dialing the socket (TCP, TLS and SSH handshakes
	// included). Zero: DefaultDialTimeout. The caller's ctx can cut it
	// shorter.
	DialTimeout time.Duration
	// AbandonTimeout is how long an RPC whose caller already returned (its
	// ctx ended) may still run before the Client decides libvirtd is hung
	// and tears the connection down, which ends the RPC's goroutine and
	// every other RPC on that connection with ErrConnectionLost. Zero:
	// DefaultAbandonTimeout.
	AbandonTimeout time.Duration
	// Logger receives connection events (dial, loss, teardown). Nil: silent.
	Logger *slog.Logger
}

// Client inspects domains through one libvirtd connection (plus a second
// one that only Stats uses, see Stats). It is safe for concurrent use:
// go-libvirt multiplexes concurrent RPCs over the one connection. The connection is opened lazily, and again on the first call
// after it was lost. Close is idempotent.
//
// # Cancellation
//
// go-libvirt's RPCs take no context, so every method runs its RPC on a
// goroutine and returns as soon as ctx ends. The abandoned RPC keeps running:
// it completes (its result is dropped) or fails when the connection breaks.
// If it has not finished AbandonTimeout after its caller gave up, the Client
// considers libvirtd hung and closes the connection's socket, which fails the
// RPC (and any other in flight on that connection) so its goroutine ends. No
// goroutine outlives Close: Close closes the socket and waits for them.
type Client struct {
	uri       string // what the caller asked for (for messages)
	remoteURI libvirt.ConnectURI
	dialer    Dialer
	dialTO    time.Duration
	abandonTO time.Duration
	log       *slog.Logger

	dialSem chan struct{} // one dial at a time
	mu      sync.Mutex
	cur     *conn
	gen     uint64
	closed  bool
	done    chan struct{}
	wg      sync.WaitGroup

	// The stats connection (statsrpc.go): Stats' own, guarded by mu.
	readOnly bool          // CONNECT_OPEN with VIR_CONNECT_RO
	statsSem chan struct{} // one stats dial at a time
	sc       *statsConn
	scGen    uint64
}

// conn is one connection generation.
type conn struct {
	gen uint64
	l   *libvirt.Libvirt
	d   *trackingDialer
}

// Dial connects to libvirtd as cfg says and returns a Client whose connection
// is already open, so a missing or refusing daemon is reported here
// (ErrUnavailable).
func Dial(ctx context.Context, cfg *Config) (*Client, error) {
	c, err := NewFromConfig(cfg)
	if err != nil {
		return nil, err
	}
	if _, err := c.connection(ctx); err != nil {
		c.Close()
		return nil, &OpError{Op: "connect", URI: c.uri, Err: err}
	}
	return c, nil
}

// Open is NewFromConfig.
//
// Deprecated: Open does no I/O, unlike every other Open in the module
// (linuxbridge.Open, dhcpns.Open, which connect and take a ctx). Use Dial
// to connect now or NewFromConfig to connect on the first call.
func Open(cfg *Config) (*Client, error) { return NewFromConfig(cfg) }

// NewFromConfig returns a Client for cfg without connecting: like New, it
// does no I/O, and the first call connects. It fails only when the URI
// cannot be parsed or names an unsupported transport.
func NewFromConfig(cfg *Config) (*Client, error) {
	if cfg == nil {
		cfg = &Config{}
	}
	d, remote, shown, err := dialerFor(cfg)
	if err != nil {
		return nil, err
	}
	c := newClient(d, remote, shown, cfg)
	c.readOnly = cfg.ReadOnly
	return c, nil
}

// New returns a Client that opens its connections with d and asks libvirtd
// for uri ("qemu:///system", "test:///default"; "" means DefaultURI). It is
// the seam for tests and embedding: wrap a dialer to count or delay bytes.
// cfg's URI, Socket and ReadOnly are ignored; DialTimeout, AbandonTimeout
// and Logger apply.
func New(d Dialer, uri string, cfg *Config) *Client {
	if cfg == nil {
		cfg = &Config{}
	}
	if uri == "" {
		uri = DefaultURI
	}
	return newClient(d, libvirt.ConnectURI(uri), uri, cfg)
}

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to the default its doc names (URI, DialTimeout,
// AbandonTimeout, Logger; Socket depends on the URI and ReadOnly): the
// module's one way to fill defaults.
func (c *Config) orDefault() Config {
	var d Config
	if c != nil {
		d = *c
	}
	if d.URI == "" {
		d.URI = DefaultURI
	}
	if d.DialTimeout <= 0 {
		d.DialTimeout = DefaultDialTimeout
	}
	if d.AbandonTimeout <= 0 {
		d.AbandonTimeout = DefaultAbandonTimeout
	}
	if d.Logger == nil {
		d.Logger = slog.New(discard{})
	}
	return d
}

func newClient(d Dialer, remote libvirt.ConnectURI, shown string, cfg *Config) *Client {
	c := cfg.orDefault()
	return &Client{
		uri:       shown,
		remoteURI: remote,
		dialer:    d,
		dialTO:    c.DialTimeout,
		abandonTO: c.AbandonTimeout,
		log:       c.Logger,
		dialSem:   make(chan struct{}, 1),
		statsSem:  make(chan struct{}, 1),
		done:      make(chan struct{}),
	}
}

// URI returns the URI the Client connects to, as Config.URI gave it, except
// that for ssh URIs a password and the keyfile path are redacted (this is
// also the URI errors name).
func (c *Client) URI() string { return c.uri }

// dialerFor turns a Config into a dialer and the URI to ask libvirtd for.
func dialerFor(cfg *Config) (Dialer, libvirt.ConnectURI, string, error) {
	c := cfg.orDefault()
	cfg = &c
	raw := cfg.URI
	u, err := url.Parse(raw)
	if err != nil {
		return nil, "", "", fmt.Errorf("libvirtinspect: parse URI %q: %w", raw, err)
	}
	timeout := cfg.DialTimeout
	transport := "unix"
	if s := strings.SplitN(u.Scheme, "+", 2); len(s) == 2 {
		transport = s[1]
	} else if u.Host != "" {
		transport = "tls"
	}
	remote := libvirt.RemoteURI(u)
	// Drop our transport-only query parameters from what libvirtd sees.
	if q := u.Query(); q.Get("name") == "" {
		remote = libvirt.ConnectURI((&url.URL{Scheme: strings.SplitN(u.Scheme, "+", 2)[0], Path: u.Path}).String())
	}
	var d Dialer
	switch transport {
	case "unix":
		sock := u.Query().Get("socket")
		if sock == "" {
			sock = cfg.Socket
		}
		if sock == "" {
			sock = DefaultSocket
			if cfg.ReadOnly {
				sock = DefaultReadOnlySocket
			}
		}
		d = dialers.NewLocal(dialers.WithSocket(sock), dialers.WithLocalTimeout(timeout))
	case "tcp":
		opts := []dialers.RemoteOption{dialers.WithRemoteTimeout(timeout)}
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UsePort(p))
		}
		d = dialers.NewRemote(u.Hostname(), opts...)
	case "tls":
		var opts []dialers.TLSOption
		if p := u.Port(); p != "" {
			opts = append(opts, dialers.UseTLSPort(p))
		}
		if p := u.Query().Get("pkipath"); p != "" {
			opts = append(opts, dialers.UsePKIPath(p))
		}
		if nv := u.Query().Get("no_verify"); nv != "" && nv != "0" {
			opts = append(opts, dialers.WithInsecureNoVerify())
		}
		d = dialers.NewTLS(u.Hostname(), opts...) // timeout enforced by trackingDialer
	case "ssh", "libssh", "libssh2":
		sd, err := newSSHDialer(u, transport, cfg.ReadOnly, timeout)
		if err != nil {
			return nil, "", "", err
		}
		d = sd
		raw = redactURI(u)
	default:
		return nil, "", "", fmt.Errorf("libvirtinspect: URI %q: unsupported transport %q (use unix, tcp, tls, ssh or libssh)", raw, transport)
	}
	return d, remote, raw, nil
}

// redactURI returns u for messages: a password in the user info becomes
// "xxxxx" and the keyfile path "redacted", so neither appears in errors or
// logs.
func redactURI(u *url.URL) string {
	r := *u
	parts := strings.Split(r.RawQuery, "&")
	for i, p := range parts {
		if k, _, _ := strings.Cut(p, "="); k == "keyfile" {
			parts[i] = "keyfile=redacted"
		}
	}
	r.RawQuery = strings.Join(parts, "&")
	return r.Redacted()
}

// trackingDialer bounds the inner dial by a timeout and remembers the
// connection, so the Client can close the raw socket of a hung daemon (go-
// libvirt's own Disconnect sends an RPC first and would hang too).
type trackingDialer struct {
	inner   Dialer
	timeout time.Duration
	abort   chan struct{} // closed by kill: a dial in progress gives up
	mu      sync.Mutex
	nc      net.Conn
	dead    bool
}

// contextDialer is a Dialer that can abandon a dial in progress (the ssh
// dialer: closing its TCP connection ends the handshake at once).
type contextDialer interface {
	DialContext(ctx context.Context) (net.Conn, error)
}

func newTrackingDialer(inner Dialer, timeout time.Duration) *trackingDialer {
	return &trackingDialer{inner: inner, timeout: timeout, abort: make(chan struct{})}
}

func (t *trackingDialer) Dial() (net.Conn, error) {
	type res struct {
		nc  net.Conn
		err error
	}
	ch := make(chan res, 1)
	if cd, ok := t.inner.(contextDialer); ok {
		ctx, cancel := context.WithTimeout(context.Background(), t.timeout)
		go func() {
			defer cancel()
			nc, err := cd.DialContext(ctx)
			ch <- res{nc, err}
		}()
		go func() { // kill aborts the dial
			select {
			case <-t.abort:
				cancel()
			case <-ctx.Done():
			}
		}()
	} else {
		go func() {
			nc, err := t.inner.Dial()
			ch <- res{nc, err}
		}()
	}
	wait := t.timeout
	if _, ok := t.inner.(contextDialer); ok {
		// It ends at t.timeout itself, with a more precise error; the
		// timer is only a safety net.
		wait += time.Second
	}
	timer := time.NewTimer(wait)
	defer timer.Stop()
	select {
	case r := <-ch:
		if r.err != nil {
			return nil, fmt.Errorf("%w: %w", ErrUnavailable, r.err)
		}
		t.mu.Lock()
		defer t.mu.Unlock()
		if t.dead {
			r.nc.Close()
			return nil, fmt.Errorf("%w: dial abandoned", ErrUnavailable)
		}
		t.nc = r.nc
		return r.nc, nil
	case <-timer.C:
		go func() { // the inner dial ends on its own; close what it returns
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("%w: dial timed out after %v", ErrUnavailable, t.timeout)
	case <-t.abort:
		go func() { // as above
			if r := <-ch; r.nc != nil {
				r.nc.Close()
			}
		}()
		return nil, fmt.Errorf("%w: dial abandoned", ErrUnavailable)
	}
}

// conn returns the dialed socket (nil before the dial or after kill).
func (t *trackingDialer) conn() net.Conn {
	t.mu.Lock()
	defer t.mu.Unlock()
	if t.dead {
		return nil
	}
	return t.nc
}

// kill closes the raw socket (now or as soon as the dial returns it).
func (t *trackingDialer) kill() {
	t.mu.Lock()
	defer t.mu.Unlock()
	if !t.dead {
		close(t.abort)
	}
	t.dead = true
	if t.nc != nil {
		t.nc.Close()
	}
}

// connection returns the live connection, dialing if there is none.
func (c *Client) connection(ctx context.Context) (*conn, error) {
	if cc, err := c.live(); cc != nil || err != nil {
		return cc, err
	}
	select {
	case c.dialSem <- struct{}{}:
	case <-ctx.Done():
		return nil, ctx.Err()
	case <-c.done:
		return nil, ErrClosed
	}
	defer func() { <-c.dialSem }()
	if cc, err := c.live(); cc != nil || err != nil {
		return cc, err
	}
	td := newTrackingDialer(c.dialer, c.dialTO)
	l := libvirt.NewWithDialer(td)
	if err := c.handshake(ctx, td, "dial", func() error { return l.ConnectToURI(c.remoteURI) }); err != nil {
		return nil, err
	}
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		td.kill()
		return nil, ErrClosed
	}
	c.gen++
	c.cur = &conn{gen: c.gen, l: l, d: td}
	c.log.Debug("libvirtinspect: connected", "uri", c.uri, "generation", c.gen)
	return c.cur, nil
}

func (c *Client) live() (*conn, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if c.closed {
		return nil, ErrClosed
	}
	if c.cur != nil && c.cur.l.IsConnected() {
		return c.cur, nil
	}
	if c.cur != nil {
		c.cur.d.kill()
		c.cur = nil
	}
	return nil, nil
}

// drop tears connection generation cc down (if it is still current).
func (c *Client) drop(cc *conn, why string) {
	c.mu.Lock()
	if c.cur == cc {
		c.cur = nil
	}
	c.mu.Unlock()
	c.log.Warn("libvirtinspect: dropping connection", "uri", c.uri, "generation", cc.gen, "reason", why)
	cc.d.kill()
}

// call runs fn against the live connection, honouring ctx (see Client).
func call[T any](ctx context.Context, c *Client, op, dom string, fn func(*libvirt.Libvirt) (T, error)) (T, error) {
	var zero T
	if err := ctx.Err(); err != nil {
		return zero, &OpError{Op: op, URI: c.uri, Domain: dom, Err: err}
	}
	cc, err := c.connection(ctx)
	if err != nil {
		return zero, &OpError{Op: op, URI: c.uri, Domain: dom, Err: err}
	}
	return await(ctx, c, op, dom, func(why string) { c.drop(cc, why) }, func() (T, error) { return fn(cc.l) })
}

// await runs rpc on its own goroutine and waits for it, ctx or Close. A
// lost connection calls drop; an RPC abandoned by ctx is watched for
// c.abandonTO, after which drop tears the hung connection down.
func await[T any](ctx context.Context, c *Client, op, dom string, drop func(why string), rpc func() (T, error)) (T, error) {
	var zero T
	type res struct {
		v   T
		err error
	}
	ch := make(chan res, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		v, err := rpc()
		ch <- res{v, err}
	}()
	select {
	case r := <-ch:
		if r.err != nil {
			err := classify(r.err)
			if errors.Is(err, ErrConnectionLost) {
				drop(r.err.Error())
			}
			return zero, &OpError{Op: op, URI: c.uri, Domain: dom, Err: err}
		}
		return r.v, nil
	case <-ctx.Done():
		c.wg.Add(1)
		go func() { // watchdog for the abandoned RPC
			defer c.wg.Done()
			t := time.NewTimer(c.abandonTO)
			defer t.Stop()
			select {
			case <-ch:
			case <-t.C:
				drop(fmt.Sprintf("%s RPC still unanswered %v after its caller gave up: libvirtd hung", op, c.abandonTO))
				<-ch
			case <-c.done:
				<-ch // Close killed the socket
			}
		}()
		return zero, &OpError{Op: op, URI: c.uri, Domain: dom, Err: ctx.Err()}
	case <-c.done:
		<-ch
		return zero, &OpError{Op: op, URI: c.uri, Domain: dom, Err: ErrClosed}
	}
}

// Close closes the connection and waits for every goroutine the Client
// started (abandoned RPCs included: closing the socket fails them). It is
// idempotent and safe to call concurrently with other methods, which then
// return ErrClosed.
func (c *Client) Close() error {
	c.mu.Lock()
	if c.closed {
		c.mu.Unlock()
		return nil
	}
	c.closed = true
	cur := c.cur
	c.cur = nil
	close(c.done)
	c.mu.Unlock()
	if cur != nil {
		// Polite goodbye first, bounded; then close the socket regardless.
		ok := make(chan struct{})
		go func() { cur.l.Disconnect(); close(ok) }()
		select {
		case <-ok:
		case <-time.After(time.Second):
		}
		cur.d.kill()
		<-ok
	}
	c.closeStats()
	c.wg.Wait()
	return nil
}

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

// handshake runs open (a connection's handshake over td) on its own
// goroutine and waits for it, ctx or Close. On failure, cancellation or
// Close it kills td, which ends open's RPCs on the closed socket. Errors
// wrap ErrUnavailable; what names the connection in the debug log.
func (c *Client) handshake(ctx context.Context, td *trackingDialer, what string, open func() error) error {
	errc := make(chan error, 1)
	c.wg.Add(1)
	go func() {
		defer c.wg.Done()
		errc <- open()
	}()
	select {
	case err := <-errc:
		if err != nil {
			td.kill()
			if !errors.Is(err, ErrUnavailable) {
				err = fmt.Errorf("%w: %w", ErrUnavailable, err)
			}
			c.log.Debug("libvirtinspect: "+what+" failed", "uri", c.uri, "err", err)
			return err
		}
		return nil
	case <-ctx.Done():
		td.kill()
		return ctx.Err()
	case <-c.done:
		td.kill()
		return ErrClosed
	}
}
