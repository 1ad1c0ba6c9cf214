package dhcpns

import "testing"

func TestProxyKind(t *testing.T) {
	for _, tt := range []struct {
		p    Process
		want ProxyKind
	}{
		{Process{Comm: "haproxy", Args: []string{"haproxy", "-f", "/var/lib/neutron/ns-metadata-proxy/n.conf"}}, ProxyHaproxy},
		// Pike and before: a python process.
		{Process{Comm: "neutron-ns-meta", Args: []string{"/usr/bin/python2", "/usr/bin/neutron-ns-metadata-proxy", "--pid_file=/var/lib/neutron/external/pids/n.pid", "--network_id=n"}}, ProxyNeutronNS},
		{Process{Comm: "sleep", Args: []string{"sleep", "100"}}, ""},
	} {
		if got := proxyKind(tt.p); got != tt.want {
			t.Errorf("proxyKind(%v) = %q, want %q", tt.p.Args, got, tt.want)
		}
	}
}
