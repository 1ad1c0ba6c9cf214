package trace

import (
	"fmt"
	"net/netip"
	"strings"

	"github.com/vifpath/vifpath/dhcpns"
)

// MetadataFacts is what the metadata hop judges, read once on the network
// node (and from the API for the agent). It is a plain value; record it as
// JSON to replay a judgement.
type MetadataFacts struct {
	// NetworkID is the network whose qdhcp namespace serves metadata.
	NetworkID string `json:"network_id"`
	// IsolatedMetadata is the DHCP agent's enable_isolated_metadata (or
	// force_metadata) as configured; nil when unknown.
	IsolatedMetadata *bool `json:"isolated_metadata,omitempty"`
	// Proxy is dhcpns.FindMetadataProxy's result; nil when it was not read
	// (not the network node).
	Proxy *dhcpns.MetadataProxy `json:"proxy,omitempty"`
	// AddrLink is the namespace's link holding 169.254.169.254
	// (dhcpns.Snapshot.MetadataAddrLink); AddrKnown is false when the
	// namespace's addresses were not read.
	AddrLink  string `json:"addr_link,omitempty"`
	AddrKnown bool   `json:"addr_known"`
	// SubnetHasGateway says whether the subnet has a gateway (nil:
	// unknown); RouteVia is the next hop of the 169.254.169.254/32 route
	// DHCP hands out (dhcpns.MetadataRoute; zero when none).
	SubnetHasGateway *bool      `json:"subnet_has_gateway,omitempty"`
	RouteVia         netip.Addr `json:"route_via,omitzero"`
	// Probe is dhcpns.ProbeMetadata's result; nil when not probed.
	Probe *dhcpns.MetadataProbeResult `json:"probe,omitempty"`
	// AgentAlive is the metadata agent's liveness from the API (nil:
	// unknown); AgentHost the host it reports from.
	AgentAlive *bool  `json:"agent_alive,omitempty"`
	AgentHost  string `json:"agent_host,omitempty"`
}

// JudgeMetadata judges the metadata path of a network's DHCP namespace:
// the proxy (haproxy since Pike) alive inside the namespace and listening
// on 169.254.169.254:80, that address on the serving interface, an HTTP
// request made from inside the namespace answered (any answer proves the
// proxy; a 5xx says its backend, the metadata agent, does not answer), the
// metadata agent alive (API), and the option 121 route when the subnet
// has a gateway. Isolated metadata off is a fact, not a failure. It is a
// pure function of f.
func JudgeMetadata(f MetadataFacts) Hop {
	h := Hop{Kind: KindMetadata, Name: dhcpns.NamespaceName(f.NetworkID)}
	if f.IsolatedMetadata != nil {
		jAdd(&h, "isolated_metadata", "%t", *f.IsolatedMetadata)
	}
	if f.SubnetHasGateway != nil {
		jAdd(&h, "subnet_gateway", "%t", *f.SubnetHasGateway)
	}
	p := f.Proxy
	if p == nil {
		h.Summary = "the metadata proxy was not observed (it lives in the network node's qdhcp namespace)"
		h.Next = "run the trace on the network node (-role network)"
		return h
	}
	jAdd(&h, "config", "%s", fileState(p.ConfigFile, p.ConfigMissing, p.ConfigError))
	jAdd(&h, "pid_file", "%s", pidState(p))
	if f.AgentAlive != nil {
		jAdd(&h, "metadata_agent", "alive=%t %s", *f.AgentAlive, f.AgentHost)
	}
	jAdd(&h, "agent_socket", "%s present=%t accepting=%t", p.AgentSocket, p.AgentSocketPresent, p.AgentAccepting)

	if p.ConfigMissing && p.PIDFileMissing {
		switch {
		case f.IsolatedMetadata != nil && !*f.IsolatedMetadata:
			h.Verdict = OK
			h.Summary = "isolated metadata is off: no proxy in the DHCP namespace, guests reach metadata through the router"
			if f.SubnetHasGateway != nil && !*f.SubnetHasGateway {
				h.Verdict = Warn
				h.Summary = "isolated metadata is off and the subnet has no gateway: no proxy in the DHCP namespace and no router to reach metadata through"
				h.Cause = "without a router, only the DHCP namespace's proxy (enable_isolated_metadata) serves 169.254.169.254: cloud-init gets no SSH key"
				h.Next = "set enable_isolated_metadata = true in dhcp_agent.ini and restart neutron-dhcp-agent, or give the subnet a router"
			}
			return h
		case f.IsolatedMetadata != nil && *f.IsolatedMetadata:
			h.Verdict = Fail
			h.Summary = "isolated metadata is on but the DHCP agent spawned no metadata proxy for this network"
			h.Cause = "the DHCP agent did not (re)spawn haproxy: it failed to start, or the agent has not synced this network"
			h.Next = "check neutron-dhcp-agent's log for haproxy; restart the DHCP agent"
			return h
		default:
			h.Summary = "no metadata proxy is configured for this network (isolated metadata off, or not spawned yet)"
			h.Next = "check enable_isolated_metadata in dhcp_agent.ini"
			return h
		}
	}
	kind := string(p.Kind)
	if kind == "" {
		kind = "metadata proxy"
	}
	if p.Listeners != nil || p.ListenersFrom != 0 {
		ls := make([]string, 0, len(p.Listeners))
		for _, l := range p.Listeners {
			s := l.Addr.String()
			if l.Owned {
				s += "(proxy)"
			}
			ls = append(ls, s)
		}
		jAdd(&h, "listeners", "%s", strings.Join(ls, " "))
	}
	if f.AddrKnown {
		jAdd(&h, "169.254.169.254", "on %s", orNone(f.AddrLink))
	}
	if f.RouteVia.IsValid() {
		jAdd(&h, "dhcp_route", "169.254.169.254/32 via %s (option 121)", f.RouteVia)
	}
	if pr := f.Probe; pr != nil {
		jAdd(&h, "probe", "%s", probeText(pr))
	}

	switch {
	case !p.Alive:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the %s is not running (%s)", kind, pidState(p))
		h.Cause = "haproxy died or was killed; guests' cloud-init gets no metadata (no SSH key)"
		h.Next = "restart neutron-dhcp-agent (it respawns the proxy when it resyncs the network) and read its log"
	case !p.InsideNamespace:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the %s (pid %d) does not run inside %s", kind, p.PIDFromFile, h.Name)
		h.Cause = "a stale pid file names an unrelated process, or the namespace was recreated under the proxy"
		h.Next = "restart neutron-dhcp-agent"
	case f.AddrKnown && f.AddrLink == "":
		h.Verdict = Fail
		h.Summary = "169.254.169.254 is not on any interface of the DHCP namespace"
		h.Cause = "the DHCP agent did not add the metadata address to the serving interface"
		h.Next = "restart neutron-dhcp-agent; check enable_isolated_metadata"
	case !p.Listening && f.Probe != nil && !f.Probe.Answered || !p.Listening && f.Probe == nil:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the %s (pid %d) is alive but does not listen on 169.254.169.254:80", kind, p.PIDFromFile)
		h.Cause = "its configuration binds elsewhere, or it could not bind (address missing when it started)"
		h.Next = "compare " + p.ConfigFile + " with Neutron's template; restart neutron-dhcp-agent"
	case f.Probe != nil && !f.Probe.Answered:
		h.Verdict = Fail
		h.Summary = "a request to 169.254.169.254:80 from inside the namespace got no HTTP answer (" + probeText(f.Probe) + ")"
		h.Cause = "the proxy listens but does not serve"
		h.Next = "check the proxy's log (syslog, haproxy-metadata-proxy-" + f.NetworkID + ")"
	case f.Probe != nil && f.Probe.StatusCode >= 500:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the %s answered %s: its backend, the metadata agent, does not serve", kind, f.Probe.Status)
		if !p.AgentSocketPresent {
			h.Cause = "the metadata agent's socket " + p.AgentSocket + " is missing: neutron-metadata-agent is not running on this node"
		} else {
			h.Cause = "the metadata agent does not answer, or cannot reach nova-metadata-api"
		}
		h.Next = "start neutron-metadata-agent; check its log and nova_metadata_host in metadata_agent.ini"
	case f.AgentAlive != nil && !*f.AgentAlive:
		h.Verdict = Fail
		h.Summary = "the metadata agent is down (API)"
		h.Cause = "neutron-metadata-agent on " + orNone(f.AgentHost) + " stopped reporting"
		h.Next = "restart neutron-metadata-agent on " + orNone(f.AgentHost)
	case f.SubnetHasGateway != nil && *f.SubnetHasGateway && !f.RouteVia.IsValid():
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("the %s answers, but DHCP hands out no 169.254.169.254/32 route: guests send metadata requests to the gateway", kind)
		h.Cause = "the subnet has a gateway, so without option 121 the guest's requests leave through the router, which may have no proxy"
		h.Next = "check the opts file for classless-static-route; restart the DHCP agent"
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("%s pid %d listening on 169.254.169.254:80 in the namespace", kind, p.PIDFromFile)
		if f.Probe != nil {
			h.Summary += fmt.Sprintf(", answered GET %s with %s", f.Probe.Path, f.Probe.Status)
		}
	}
	return h
}

func fileState(path string, missing bool, errText string) string {
	switch {
	case missing:
		return path + ": missing"
	case errText != "":
		return path + ": " + errText
	}
	return path
}

func pidState(p *dhcpns.MetadataProxy) string {
	switch {
	case p.PIDFileMissing:
		return p.PIDFile + ": missing"
	case p.PIDFileError != "":
		return p.PIDFile + ": " + p.PIDFileError
	case p.Process != nil && p.Process.Zombie():
		return fmt.Sprintf("%s: pid %d exited (zombie)", p.PIDFile, p.PIDFromFile)
	case p.Process != nil && p.Process.Stopped():
		return fmt.Sprintf("%s: pid %d stopped (state %s)", p.PIDFile, p.PIDFromFile, p.Process.State)
	case p.Process != nil:
		return fmt.Sprintf("%s: pid %d %s state %s", p.PIDFile, p.PIDFromFile, p.Process.Comm, p.Process.State)
	}
	return p.PIDFile
}

func probeText(r *dhcpns.MetadataProbeResult) string {
	switch {
	case r.Answered:
		return fmt.Sprintf("GET %s → %s in %v", r.Path, r.Status, r.Duration.Round(1000))
	case r.Refused:
		return "connection refused"
	case r.Reset:
		return "connection reset before an answer"
	case r.TimedOut:
		return "timed out"
	}
	return "no answer: " + r.Error
}

func orNone(s string) string {
	if s == "" {
		return "(none)"
	}
	return s
}
