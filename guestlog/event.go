package guestlog

import (
	"fmt"
	"net/netip"
	"strings"
	"time"
)

// Kind says what a guest reported. The zero value "" means unknown.
type Kind string

// Event kinds.
const (
	// DHCPClientStarted: a DHCP client announced itself ("udhcpc: started,
	// v1.35.0", dhclient's "Internet Systems Consortium DHCP Client").
	DHCPClientStarted Kind = "dhcp-client-started"
	// DHCPDiscover: the client broadcast a DHCPDISCOVER.
	DHCPDiscover Kind = "dhcp-discover"
	// DHCPOffer: the client received an offer (IP and Server when the
	// client printed them).
	DHCPOffer Kind = "dhcp-offer"
	// DHCPRequest: the client sent a DHCPREQUEST (select or renew) for IP.
	DHCPRequest Kind = "dhcp-request"
	// DHCPLease: the client bound IP, leased from Server (when printed).
	DHCPLease Kind = "dhcp-lease"
	// DHCPNoLease: the client gave up without a lease.
	DHCPNoLease Kind = "dhcp-no-lease"
	// LinkUp: the kernel or networkd says the NIC's link (carrier) is up.
	LinkUp Kind = "link-up"
	// LinkDown: the kernel or networkd says the NIC's link is down.
	LinkDown Kind = "link-down"
	// MetadataReached: the guest got an answer from the metadata service
	// (URL when printed).
	MetadataReached Kind = "metadata-reached"
	// MetadataFailed: a request to the metadata service failed, or the
	// guest gave up on it.
	MetadataFailed Kind = "metadata-failed"
)

// Source is the program whose line an event came from. The zero value ""
// means unknown.
type Source string

// Sources.
const (
	SourceUdhcpc    Source = "udhcpc"
	SourceDhclient  Source = "dhclient"
	SourceNetworkd  Source = "systemd-networkd"
	SourceCloudInit Source = "cloud-init"
	SourceCirros    Source = "cirros"
	SourceKernel    Source = "kernel"
	// SourceVifpathGuest is the project's own guest image's /init
	// (scripts/guest-image.sh: "vifpath-guest: DHCP bound ip=…").
	SourceVifpathGuest Source = "vifpath-guest"
)

// Event is one thing a guest printed about its network.
type Event struct {
	// Kind is what happened.
	Kind Kind `json:"kind"`
	// Source is the program that printed it.
	Source Source `json:"source"`
	// Line is the 1-based line number in the console output.
	Line int `json:"line"`
	// Uptime is the kernel timestamp ("[   12.345678]") or the guest's own
	// uptime stamp on the line; 0 when the line has none.
	Uptime time.Duration `json:"uptime,omitempty"`
	// Interface is the guest NIC the line names ("eth0"), "" if none.
	Interface string `json:"interface,omitempty"`
	// IP is the address offered, requested or leased; zero when none.
	IP netip.Addr `json:"ip,omitzero"`
	// Server is the DHCP server that offered or leased; zero when the
	// client did not print it.
	Server netip.Addr `json:"server,omitzero"`
	// URL is the metadata URL tried, "" when not printed.
	URL string `json:"url,omitempty"`
	// Text is the line as printed (control characters removed, at most
	// MaxLineLen bytes).
	Text string `json:"text"`
}

// String returns "line N: kind (source) …".
func (e Event) String() string {
	var b strings.Builder
	fmt.Fprintf(&b, "line %d: %s (%s)", e.Line, e.Kind, e.Source)
	if e.IP.IsValid() {
		fmt.Fprintf(&b, " ip=%s", e.IP)
	}
	if e.Server.IsValid() {
		fmt.Fprintf(&b, " server=%s", e.Server)
	}
	if e.URL != "" {
		fmt.Fprintf(&b, " url=%s", e.URL)
	}
	return b.String()
}
