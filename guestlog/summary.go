package guestlog

import "net/netip"

// Summary sums up a guest's events: what its DHCP client did, the last
// lease, the link and the metadata service. It is what a verdict rests on.
type Summary struct {
	// Events is how many events there were.
	Events int `json:"events"`
	// Sources lists the programs that printed network lines, in order of
	// first appearance.
	Sources []Source `json:"sources,omitempty"`
	// DHCPClient is true when any DHCP client printed anything (started,
	// discover, request, lease or no lease).
	DHCPClient bool `json:"dhcp_client"`
	// Discovers, Offers, Requests, Leases and NoLeases count those events
	// in the whole log.
	Discovers int `json:"discovers"`
	Offers    int `json:"offers"`
	Requests  int `json:"requests"`
	Leases    int `json:"leases"`
	NoLeases  int `json:"no_leases"`
	// DiscoversSinceLease counts the DISCOVERs after the last lease (all
	// of them when there was none): DISCOVERs that went unanswered so far.
	DiscoversSinceLease int `json:"discovers_since_lease"`
	// NoLeasesSinceLease counts the no-lease events after the last lease
	// (all of them when there was none).
	NoLeasesSinceLease int `json:"no_leases_since_lease"`
	// LastLease is the last lease event, nil when the guest never bound
	// an address. LeasedIP and LeaseServer are its address and server
	// (the server from the select or ACK line before it when the lease
	// line does not name one).
	LastLease   *Event     `json:"last_lease,omitempty"`
	LeasedIP    netip.Addr `json:"leased_ip,omitzero"`
	LeaseServer netip.Addr `json:"lease_server,omitzero"`
	// LastOffer is the last offer or select (request) naming an address,
	// nil when none: it proves a server answered even without a lease.
	LastOffer *Event `json:"last_offer,omitempty"`
	// LastDHCP is the last DHCP event of any kind, nil when none.
	LastDHCP *Event `json:"last_dhcp,omitempty"`
	// LinkUps and LinkDowns count link events; LastLink is the last one.
	LinkUps   int    `json:"link_ups"`
	LinkDowns int    `json:"link_downs"`
	LastLink  *Event `json:"last_link,omitempty"`
	// MetadataReached and MetadataFailed count metadata events;
	// LastMetadata is the last one.
	MetadataReached int    `json:"metadata_reached"`
	MetadataFailed  int    `json:"metadata_failed"`
	LastMetadata    *Event `json:"last_metadata,omitempty"`
}

// Summarize sums events (as Parse returns them, in order).
func Summarize(events []Event) Summary {
	s := Summary{Events: len(events)}
	seen := map[Source]bool{}
	var server netip.Addr
	for i := range events {
		e := events[i]
		if !seen[e.Source] {
			seen[e.Source] = true
			s.Sources = append(s.Sources, e.Source)
		}
		switch e.Kind {
		case DHCPClientStarted, DHCPDiscover, DHCPOffer, DHCPRequest, DHCPLease, DHCPNoLease:
			s.DHCPClient = true
			s.LastDHCP = &events[i]
		}
		switch e.Kind {
		case DHCPDiscover:
			s.Discovers++
			s.DiscoversSinceLease++
		case DHCPOffer:
			s.Offers++
			s.LastOffer = &events[i]
			if e.Server.IsValid() {
				server = e.Server
			}
		case DHCPRequest:
			s.Requests++
			if e.IP.IsValid() {
				s.LastOffer = &events[i]
			}
			if e.Server.IsValid() {
				server = e.Server
			}
		case DHCPLease:
			s.Leases++
			s.DiscoversSinceLease = 0
			s.NoLeasesSinceLease = 0
			s.LastLease = &events[i]
			if e.IP.IsValid() {
				s.LeasedIP = e.IP
			}
			if e.Server.IsValid() {
				server = e.Server
			}
			s.LeaseServer = server
		case DHCPNoLease:
			s.NoLeases++
			s.NoLeasesSinceLease++
		case LinkUp:
			s.LinkUps++
			s.LastLink = &events[i]
		case LinkDown:
			s.LinkDowns++
			s.LastLink = &events[i]
		case MetadataReached:
			s.MetadataReached++
			s.LastMetadata = &events[i]
		case MetadataFailed:
			s.MetadataFailed++
			s.LastMetadata = &events[i]
		}
	}
	return s
}

// Bound reports whether the guest's last DHCP word was a lease: it bound
// an address and did not lose it or start over afterwards.
func (s Summary) Bound() bool {
	return s.LastLease != nil && s.DiscoversSinceLease == 0 && s.NoLeasesSinceLease == 0
}
