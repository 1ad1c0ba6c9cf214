package dhcpns

import (
	"bufio"
	"bytes"
	"encoding/hex"
	"net/netip"
	"strconv"
	"strings"
	"time"
)

// ProxyKind is the program serving metadata in a qdhcp namespace. The
// zero value "" means none was found.
type ProxyKind string

// Proxy kinds.
const (
	// ProxyHaproxy is haproxy with Neutron's generated configuration
	// (Neutron since Pike).
	ProxyHaproxy ProxyKind = "haproxy"
	// ProxyNeutronNS is neutron-ns-metadata-proxy (Neutron before Pike).
	ProxyNeutronNS ProxyKind = "neutron-ns-metadata-proxy"
)

// ProxyConfig is what this package reads from the haproxy configuration
// Neutron writes for a network's metadata proxy
// (/var/lib/neutron/ns-metadata-proxy/<network>.conf).
type ProxyConfig struct {
	// Binds are the "bind" addresses of the listener
	// (169.254.169.254:80; newer releases add fe80::a9fe:a9fe:80 on the
	// serving interface).
	Binds []netip.AddrPort `json:"binds,omitempty"`
	// BindInterfaces are the "interface" names of binds that have one.
	BindInterfaces []string `json:"bind_interfaces,omitempty"`
	// Backend is the "server" the listener forwards to: the metadata
	// agent's unix socket (/var/lib/neutron/metadata_proxy).
	Backend string `json:"backend,omitempty"`
	// NetworkID is the X-Neutron-Network-ID header the proxy sets;
	// RouterID the X-Neutron-Router-ID one (a router's proxy).
	NetworkID string `json:"network_id,omitempty"`
	RouterID  string `json:"router_id,omitempty"`
	// PIDFile, User and Group are from the global section.
	PIDFile string `json:"pid_file,omitempty"`
	User    string `json:"user,omitempty"`
	Group   string `json:"group,omitempty"`
}

// ParseProxyConfig parses Neutron's haproxy configuration for a metadata
// proxy. It never fails: lines it does not know are skipped.
func ParseProxyConfig(b []byte) *ProxyConfig {
	c := &ProxyConfig{}
	sc := bufio.NewScanner(bytes.NewReader(b))
	sc.Buffer(make([]byte, 64<<10), 1<<20)
	for sc.Scan() {
		f := strings.Fields(sc.Text())
		if len(f) < 2 || strings.HasPrefix(f[0], "#") {
			continue
		}
		switch f[0] {
		case "bind":
			if ap, ok := parseBind(f[1]); ok {
				c.Binds = append(c.Binds, ap)
			}
			for i := 2; i+1 < len(f); i++ {
				if f[i] == "interface" {
					c.BindInterfaces = append(c.BindInterfaces, f[i+1])
				}
			}
		case "server":
			if len(f) >= 3 {
				c.Backend = f[2]
			}
		case "pidfile":
			c.PIDFile = f[1]
		case "user":
			c.User = f[1]
		case "group":
			c.Group = f[1]
		case "http-request":
			// http-request set-header X-Neutron-Network-ID <id>
			if len(f) >= 4 && f[1] == "set-header" {
				switch strings.ToLower(f[2]) {
				case "x-neutron-network-id":
					c.NetworkID = f[3]
				case "x-neutron-router-id":
					c.RouterID = f[3]
				}
			}
		}
	}
	return c
}

// parseBind parses "169.254.169.254:80", "fe80::a9fe:a9fe:80" (haproxy
// takes the last colon as the port's) or "*:80".
func parseBind(s string) (netip.AddrPort, bool) {
	i := strings.LastIndexByte(s, ':')
	if i < 0 {
		return netip.AddrPort{}, false
	}
	host, port := strings.Trim(s[:i], "[]"), s[i+1:]
	p, err := strconv.ParseUint(port, 10, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	var a netip.Addr
	switch host {
	case "", "*", "0.0.0.0":
		a = netip.IPv4Unspecified()
	default:
		if a, err = netip.ParseAddr(host); err != nil {
			return netip.AddrPort{}, false
		}
	}
	return netip.AddrPortFrom(a, uint16(p)), true
}

// Listener is one TCP socket in LISTEN state, from /proc/<pid>/net/tcp or
// tcp6.
type Listener struct {
	// Addr is the local address and port.
	Addr netip.AddrPort `json:"addr"`
	// Inode is the socket's inode; Owned is true when the proxy process
	// holds it (a /proc/<pid>/fd link to socket:[inode]).
	Inode uint64 `json:"inode"`
	Owned bool   `json:"owned,omitempty"`
}

// ParseProcNetTCP parses /proc/<pid>/net/tcp or tcp6 and returns the
// sockets in LISTEN state (st 0A). Malformed lines are skipped.
func ParseProcNetTCP(b []byte) []Listener {
	var out []Listener
	sc := bufio.NewScanner(bytes.NewReader(b))
	first := true
	for sc.Scan() {
		if first {
			first = false
			continue
		}
		f := strings.Fields(sc.Text())
		if len(f) < 10 || f[3] != "0A" {
			continue
		}
		ap, ok := parseHexAddrPort(f[1])
		if !ok {
			continue
		}
		ino, err := strconv.ParseUint(f[9], 10, 64)
		if err != nil {
			continue
		}
		out = append(out, Listener{Addr: ap, Inode: ino})
	}
	return out
}

// parseHexAddrPort parses the kernel's "0100007F:0050" (IPv4, host byte
// order in 32-bit words) or the 32-digit IPv6 form.
func parseHexAddrPort(s string) (netip.AddrPort, bool) {
	h, p, ok := strings.Cut(s, ":")
	if !ok {
		return netip.AddrPort{}, false
	}
	port, err := strconv.ParseUint(p, 16, 16)
	if err != nil {
		return netip.AddrPort{}, false
	}
	raw, err := hex.DecodeString(h)
	if err != nil || (len(raw) != 4 && len(raw) != 16) {
		return netip.AddrPort{}, false
	}
	// Each 32-bit word is in host (little-endian) order.
	for i := 0; i+4 <= len(raw); i += 4 {
		raw[i], raw[i+1], raw[i+2], raw[i+3] = raw[i+3], raw[i+2], raw[i+1], raw[i]
	}
	a, _ := netip.AddrFromSlice(raw)
	return netip.AddrPortFrom(a.Unmap(), uint16(port)), true
}

// Covers reports whether a socket listening on l accepts connections to
// want: same port, and the same address or a wildcard one.
func (l Listener) Covers(want netip.AddrPort) bool {
	if l.Addr.Port() != want.Port() {
		return false
	}
	a := l.Addr.Addr()
	return a == want.Addr() || a.IsUnspecified()
}

// MetadataProxy is what FindMetadataProxy found for one network's
// isolated-metadata proxy. It is a plain value.
type MetadataProxy struct {
	// NetworkID is the network asked about.
	NetworkID string `json:"network_id"`
	// ConfigFile is the proxy's configuration path; ConfigMissing is true
	// when it does not exist (no proxy is configured for this network:
	// isolated metadata is off, or the agent has not spawned it);
	// ConfigError says why it could not be read otherwise.
	ConfigFile    string       `json:"config_file"`
	ConfigMissing bool         `json:"config_missing,omitempty"`
	ConfigError   string       `json:"config_error,omitempty"`
	Config        *ProxyConfig `json:"config,omitempty"`
	// PIDFile is the pid file read; PIDFileMissing is true when it does
	// not exist; PIDFileError says why it could not be used otherwise
	// (not a pid, stale). PIDFromFile is the pid it holds.
	PIDFile        string `json:"pid_file"`
	PIDFileMissing bool   `json:"pid_file_missing,omitempty"`
	PIDFileError   string `json:"pid_file_error,omitempty"`
	PIDFromFile    int    `json:"pid_from_file,omitempty"`
	// Process is the process the pid file names (nil when none exists);
	// Kind what it is (from its command name).
	Process *Process  `json:"process,omitempty"`
	Kind    ProxyKind `json:"kind,omitempty"`
	// Alive is true when that process exists, is not a zombie and is
	// stopped by no signal; InsideNamespace when it runs in the network's
	// qdhcp namespace; NamespaceInode is that namespace's inode (0 when
	// the namespace is missing).
	Alive           bool   `json:"alive"`
	InsideNamespace bool   `json:"inside_namespace"`
	NamespaceInode  uint64 `json:"namespace_inode,omitempty"`
	// Listeners are the namespace's TCP listening sockets (read from
	// /proc/<pid>/net/tcp{,6} of the proxy, or of dnsmasq when the proxy
	// is gone), each marked Owned when the proxy holds it.
	// ListenersFrom is the pid they were read through (0: not read).
	Listeners     []Listener `json:"listeners,omitempty"`
	ListenersFrom int        `json:"listeners_from,omitempty"`
	// Listening is true when the proxy itself holds a socket accepting
	// 169.254.169.254:80.
	Listening bool `json:"listening"`
	// AgentSocket is the metadata agent's unix socket on the node (the
	// proxy's backend); AgentSocketPresent is true when it exists and is
	// a socket, AgentAccepting when a connection to it was accepted
	// (and closed at once).
	AgentSocket        string `json:"agent_socket"`
	AgentSocketPresent bool   `json:"agent_socket_present"`
	AgentAccepting     bool   `json:"agent_accepting"`
	// ReadAt is when the facts were read.
	ReadAt time.Time `json:"read_at"`
}

// MetadataProbeResult is the answer to an HTTP GET made from inside a
// qdhcp namespace to 169.254.169.254:80. Any HTTP answer proves the proxy
// listens and speaks HTTP; the status says what stood behind it (200 from
// Nova through the agent; 404 when the agent found no instance with the
// requesting address, as for the namespace's own; 503 or 502 when the
// proxy has no backend: the metadata agent is down).
type MetadataProbeResult struct {
	// Target is the address asked; Path the request path.
	Target netip.AddrPort `json:"target"`
	Path   string         `json:"path"`
	// Connected is true when the TCP connection was accepted. Refused
	// is true when the namespace answered with a reset (nothing listens);
	// TimedOut when the connect or the answer did not come in time.
	// Reset is true when the connection was accepted and then reset
	// before an answer (a proxy dying, or one that cannot serve).
	Connected bool `json:"connected"`
	Refused   bool `json:"refused,omitempty"`
	TimedOut  bool `json:"timed_out,omitempty"`
	Reset     bool `json:"reset,omitempty"`
	// Answered is true when an HTTP response came back; StatusCode,
	// Status and Server are its status line and Server header, Body its
	// first bytes (at most 256).
	Answered   bool   `json:"answered"`
	StatusCode int    `json:"status_code,omitempty"`
	Status     string `json:"status,omitempty"`
	Server     string `json:"server,omitempty"`
	Body       string `json:"body,omitempty"`
	// Error is the failure in words, "" when it answered.
	Error string `json:"error,omitempty"`
	// Duration is how long the probe took.
	Duration time.Duration `json:"duration"`
}

// MetadataAddrLink returns the link holding 169.254.169.254 in the
// namespace (Neutron puts it on the serving ns- interface when isolated
// metadata is on), and whether one does.
func (s *Snapshot) MetadataAddrLink() (string, bool) {
	if s == nil {
		return "", false
	}
	for _, a := range s.Addrs {
		if a.Prefix.Addr() == metadataAddr {
			return a.Link, true
		}
	}
	return "", false
}
