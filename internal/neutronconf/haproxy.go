// Package neutronconf writes the files Neutron's agents write, for the
// demo and the integration tests that run the real daemons with them: the
// haproxy configuration of a network's isolated-metadata proxy.
package neutronconf

import (
	"fmt"
	"strings"
)

// HaproxyMetadata is what Neutron's metadata driver fills its haproxy
// template with (neutron/agent/metadata/driver.py, Zed).
type HaproxyMetadata struct {
	// NetworkID is the network (X-Neutron-Network-ID header, log tag).
	NetworkID string
	// PIDFile is where haproxy writes its pid
	// (/var/lib/neutron/external/pids/<network>.pid.haproxy).
	PIDFile string
	// Backend is the metadata agent's unix socket
	// (/var/lib/neutron/metadata_proxy).
	Backend string
	// User and Group run haproxy (Neutron: neutron, neutron).
	User, Group string
	// Port is the listening port; 0 means 80.
	Port int
	// BindInterface, when set, adds Zed's IPv6 bind on fe80::a9fe:a9fe
	// with that interface.
	BindInterface string
	// NoSyslog leaves out the "log /dev/log" lines (machines without a
	// syslog socket; haproxy would refuse to start without it in some
	// builds, and logs nothing otherwise).
	NoSyslog bool
}

// HaproxyConfig returns the configuration text Neutron writes to
// /var/lib/neutron/ns-metadata-proxy/<network>.conf.
func HaproxyConfig(m HaproxyMetadata) string {
	port := m.Port
	if port == 0 {
		port = 80
	}
	var b strings.Builder
	b.WriteString("\nglobal\n")
	if !m.NoSyslog {
		b.WriteString("    log         /dev/log local0 info\n")
	}
	fmt.Fprintf(&b, "    log-tag     haproxy-metadata-proxy-%s\n", m.NetworkID)
	fmt.Fprintf(&b, "    user        %s\n    group       %s\n", m.User, m.Group)
	b.WriteString("    maxconn     1024\n")
	fmt.Fprintf(&b, "    pidfile     %s\n", m.PIDFile)
	b.WriteString("    daemon\n\ndefaults\n")
	if !m.NoSyslog {
		b.WriteString("    log global\n")
	}
	b.WriteString(`    mode http
    option httplog
    option dontlognull
    option http-server-close
    option forwardfor
    retries                 3
    timeout http-request    30s
    timeout connect         30s
    timeout client          32s
    timeout server          32s
    timeout http-keep-alive 30s

listen listener
`)
	fmt.Fprintf(&b, "    bind 169.254.169.254:%d\n", port)
	if m.BindInterface != "" {
		fmt.Fprintf(&b, "    bind fe80::a9fe:a9fe:%d interface %s\n", port, m.BindInterface)
	}
	fmt.Fprintf(&b, "    server metadata %s\n", m.Backend)
	b.WriteString("    http-request del-header X-Neutron-Router-ID\n")
	fmt.Fprintf(&b, "    http-request set-header X-Neutron-Network-ID %s\n", m.NetworkID)
	return b.String()
}
