package demo

// MetadataInfo says where the demo's isolated-metadata proxy is
// (embedded in Path): the real haproxy with Neutron's configuration in the
// qdhcp namespace, listening on 169.254.169.254:80 (on the ns- device),
// and a stand-in for the metadata agent on its unix socket.
type MetadataInfo struct {
	// MetadataPIDDir and MetadataProxyDir are shaped like
	// /var/lib/neutron/external/pids and
	// /var/lib/neutron/ns-metadata-proxy (dhcpns.Config's fields);
	// MetadataAgentSocket like /var/lib/neutron/metadata_proxy.
	MetadataPIDDir      string `json:"metadata_pid_dir,omitempty"`
	MetadataProxyDir    string `json:"metadata_proxy_dir,omitempty"`
	MetadataAgentSocket string `json:"metadata_agent_socket,omitempty"`
	// HaproxyPID is haproxy's pid (0 when it is not running);
	// MetadataWhy says why the demo runs no proxy ("" when it does).
	HaproxyPID  int    `json:"haproxy_pid,omitempty"`
	MetadataWhy string `json:"metadata_why,omitempty"`
}
