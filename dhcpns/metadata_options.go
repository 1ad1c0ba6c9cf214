package dhcpns

import "time"

// MetadataProbeOptions tunes ProbeMetadata. A nil *MetadataProbeOptions
// means defaults.
type MetadataProbeOptions struct {
	// Timeout bounds the connect and the answer together. Zero value: 3 s.
	Timeout time.Duration
	// Path is the request path. Zero value: "/" (the version list Nova
	// serves; any HTTP answer proves the proxy).
	Path string
}
