package dhcpns

import (
	"bufio"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"net"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"
)

// FindMetadataProxy reads what serves isolated metadata for a network: the
// proxy's configuration (cfg.MetadataProxyDir/<network>.conf), its pid
// file (cfg.MetadataPIDDir/<network>.pid.haproxy, or <network>.pid before
// Pike) and that process in cfg.ProcDir, whether it runs inside
// qdhcp-<network>, the namespace's TCP listening sockets (read through
// /proc/<pid>/net/tcp of the proxy, or of the network's dnsmasq when the
// proxy is gone) and which the proxy holds, and the metadata agent's unix
// socket (a connection is made and closed at once). It only reads; it
// reports what it found, and returns an error only for ctx.
func FindMetadataProxy(ctx context.Context, cfg *Config, networkID string) (*MetadataProxy, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	m := &MetadataProxy{
		NetworkID:   networkID,
		ConfigFile:  filepath.Join(cfg.metadataProxyDir(), networkID+".conf"),
		AgentSocket: cfg.metadataAgentSocket(),
		ReadAt:      time.Now().UTC(),
	}
	if fi, err := os.Stat(filepath.Join(cfg.netnsDir(), NamespaceName(networkID))); err == nil {
		m.NamespaceInode = inodeOf(fi)
	}
	if b, err := os.ReadFile(m.ConfigFile); err == nil {
		m.Config = ParseProxyConfig(b)
	} else if errors.Is(err, fs.ErrNotExist) {
		m.ConfigMissing = true
	} else {
		m.ConfigError = err.Error()
	}

	m.PIDFile = filepath.Join(cfg.metadataPIDDir(), networkID+".pid.haproxy")
	b, err := os.ReadFile(m.PIDFile)
	if errors.Is(err, fs.ErrNotExist) {
		// neutron-ns-metadata-proxy (before Pike) used <network>.pid.
		old := filepath.Join(cfg.metadataPIDDir(), networkID+".pid")
		if b2, err2 := os.ReadFile(old); err2 == nil {
			m.PIDFile, b, err = old, b2, nil
		}
	}
	switch {
	case errors.Is(err, fs.ErrNotExist):
		m.PIDFileMissing = true
	case err != nil:
		m.PIDFileError = err.Error()
	default:
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil || pid <= 0 {
			m.PIDFileError = fmt.Sprintf("pid file holds %q, not a pid", strings.TrimSpace(string(b)))
			break
		}
		m.PIDFromFile = pid
		p, err := readProcess(cfg.procDir(), pid)
		if err != nil {
			m.PIDFileError = fmt.Sprintf("no process %d in %s (stale pid file)", pid, cfg.procDir())
			break
		}
		p.Config = nil // not a dnsmasq
		m.Process = &p
		m.Kind = proxyKind(p)
		m.Alive = p.Alive() && !p.Stopped() && m.Kind != ""
		m.InsideNamespace = m.NamespaceInode != 0 && p.NetNSInode == m.NamespaceInode
	}

	// The namespace's listeners, through a process inside it.
	via := 0
	if m.Process != nil && m.Alive && m.InsideNamespace {
		via = m.Process.PID
	} else if m.NamespaceInode != 0 {
		if ps, err := scanDnsmasq(cfg.procDir(), map[uint64]bool{m.NamespaceInode: true}); err == nil {
			for _, p := range ps[m.NamespaceInode] {
				if p.Alive() {
					via = p.PID
					break
				}
			}
		}
	}
	if via != 0 {
		m.ListenersFrom = via
		m.Listeners = readListeners(cfg.procDir(), via)
		if m.Process != nil && m.Alive {
			owned := socketInodes(cfg.procDir(), m.Process.PID)
			want := netip.AddrPortFrom(metadataAddr, 80)
			for i := range m.Listeners {
				m.Listeners[i].Owned = owned[m.Listeners[i].Inode]
				if m.Listeners[i].Owned && m.Listeners[i].Covers(want) {
					m.Listening = true
				}
			}
		}
	}

	if fi, err := os.Stat(m.AgentSocket); err == nil && fi.Mode().Type() == fs.ModeSocket {
		m.AgentSocketPresent = true
		d := net.Dialer{Timeout: 500 * time.Millisecond}
		if c, err := d.DialContext(ctx, "unix", m.AgentSocket); err == nil {
			m.AgentAccepting = true
			c.Close()
		}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	return m, nil
}

// proxyKind tells haproxy from neutron-ns-metadata-proxy (a python
// process whose command line names it); "" for anything else.
func proxyKind(p Process) ProxyKind {
	if p.Comm == "haproxy" {
		return ProxyHaproxy
	}
	for _, a := range p.Args {
		if strings.Contains(a, "neutron-ns-metadata-proxy") {
			return ProxyNeutronNS
		}
	}
	return ""
}

func readListeners(procDir string, pid int) []Listener {
	var out []Listener
	for _, f := range []string{"tcp", "tcp6"} {
		if b, err := os.ReadFile(filepath.Join(procDir, strconv.Itoa(pid), "net", f)); err == nil {
			out = append(out, ParseProcNetTCP(b)...)
		}
	}
	return out
}

// socketInodes returns the inodes of the sockets pid holds
// (/proc/<pid>/fd/* → "socket:[inode]").
func socketInodes(procDir string, pid int) map[uint64]bool {
	dir := filepath.Join(procDir, strconv.Itoa(pid), "fd")
	ents, err := os.ReadDir(dir)
	if err != nil {
		return nil
	}
	out := map[uint64]bool{}
	for _, e := range ents {
		l, err := os.Readlink(filepath.Join(dir, e.Name()))
		if err != nil {
			continue
		}
		if s, ok := strings.CutPrefix(l, "socket:["); ok {
			if n, err := strconv.ParseUint(strings.TrimSuffix(s, "]"), 10, 64); err == nil {
				out[n] = true
			}
		}
	}
	return out
}

// MetadataProbeOptions tunes ProbeMetadata. A nil *MetadataProbeOptions
// means defaults.
type MetadataProbeOptions struct {
	// Timeout bounds the connect and the answer together. Zero value: 3 s.
	Timeout time.Duration
	// Path is the request path. Zero value: "/" (the version list Nova
	// serves; any HTTP answer proves the proxy).
	Path string
}

func (o *MetadataProbeOptions) timeout() time.Duration {
	if o == nil || o.Timeout <= 0 {
		return 3 * time.Second
	}
	return o.Timeout
}

func (o *MetadataProbeOptions) path() string {
	if o == nil || o.Path == "" {
		return "/"
	}
	return o.Path
}

// ProbeMetadata makes one HTTP GET from inside qdhcp-<network> to
// 169.254.169.254:80, as a guest's cloud-init would through the DHCP
// port, and reports what answered. The TCP socket is created inside the
// namespace (on a fresh locked thread) and used from the caller's
// goroutine afterwards; the connection is closed before it returns. It
// sends one request on the namespace's loopback path and nothing on any
// wire. A refused or unanswered probe is a result, not an error; the
// error is non-nil only for ctx, a missing namespace (fs.ErrNotExist) or
// a failure to enter it (needs CAP_SYS_ADMIN).
func ProbeMetadata(ctx context.Context, cfg *Config, networkID string, opts *MetadataProbeOptions) (*MetadataProbeResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	r := &MetadataProbeResult{Target: netip.AddrPortFrom(metadataAddr, 80), Path: opts.path()}
	nsPath := filepath.Join(cfg.netnsDir(), NamespaceName(networkID))
	if _, err := os.Stat(nsPath); err != nil {
		return nil, fmt.Errorf("dhcpns: probe metadata of network %s: namespace %s: %w", networkID, nsPath, ErrNotFound)
	}
	t0 := time.Now()
	ctx, cancel := context.WithTimeout(ctx, opts.timeout())
	defer cancel()
	var conn net.Conn
	var dialErr error
	err := doInNetNS(nsPath, func() error {
		d := net.Dialer{}
		conn, dialErr = d.DialContext(ctx, "tcp4", r.Target.String())
		return nil
	})
	if err != nil {
		return nil, fmt.Errorf("dhcpns: probe metadata of network %s: %w", networkID, err)
	}
	defer func() { r.Duration = time.Since(t0) }()
	if dialErr != nil {
		if perr := ctx.Err(); perr != nil && errors.Is(perr, context.Canceled) {
			return nil, perr
		}
		r.Error = dialErr.Error()
		r.Refused = errors.Is(dialErr, syscall.ECONNREFUSED)
		var ne net.Error
		r.TimedOut = errors.Is(dialErr, context.DeadlineExceeded) || (errors.As(dialErr, &ne) && ne.Timeout())
		return r, nil
	}
	defer conn.Close()
	r.Connected = true
	if dl, ok := ctx.Deadline(); ok {
		conn.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { conn.SetDeadline(time.Unix(1, 0)) })
	defer stop()
	req := "GET " + r.Path + " HTTP/1.0\r\nHost: " + MetadataIP + "\r\nUser-Agent: vifpath-dhcpns-probe\r\nConnection: close\r\n\r\n"
	if _, err := io.WriteString(conn, req); err != nil {
		r.Error = err.Error()
		return r, nil
	}
	resp, err := http.ReadResponse(bufio.NewReader(conn), nil)
	if err != nil {
		if cerr := ctx.Err(); cerr != nil && errors.Is(cerr, context.Canceled) {
			return nil, cerr
		}
		r.Error = err.Error()
		var ne net.Error
		r.TimedOut = errors.As(err, &ne) && ne.Timeout()
		r.Reset = errors.Is(err, syscall.ECONNRESET)
		return r, nil
	}
	defer resp.Body.Close()
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 256))
	r.Answered = true
	r.StatusCode, r.Status, r.Server, r.Body = resp.StatusCode, resp.Status, resp.Header.Get("Server"), string(body)
	return r, nil
}
