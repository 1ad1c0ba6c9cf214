package dhcpns

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
)

// LeaseOrigin tells a row Neutron wrote from one the client renewed. The
// zero value means unknown.
type LeaseOrigin int

const (
	// OriginUnknown means the row was not classified.
	OriginUnknown LeaseOrigin = iota
	// OriginSeeded is a row as Neutron pre-seeds it when it (re)starts
	// dnsmasq: "<expiry> <mac> <ip> * *". It is not proof that the guest
	// ever asked for an address.
	OriginSeeded
	// OriginRenewed is a row dnsmasq wrote after a DHCP exchange: it carries
	// the client id the client sent (only a DHCP exchange teaches dnsmasq a
	// client id).
	OriginRenewed
	// OriginUnconfirmed is a row with a hostname but no client id. dnsmasq
	// fills the hosts file's name into Neutron's seeded rows whenever it
	// rewrites the lease file (measured with dnsmasq 2.90), so such a row
	// is either a seeded row or a client that sent no client id (rare:
	// udhcpc -C). It is not proof that the guest asked.
	OriginUnconfirmed
)

var originNames = [...]string{"unknown", "seeded", "renewed", "unconfirmed"}

// String returns "unknown", "seeded", "renewed" or "unconfirmed".
func (o LeaseOrigin) String() string {
	if o < 0 || int(o) >= len(originNames) {
		return "unknown"
	}
	return originNames[o]
}

// MarshalText implements encoding.TextMarshaler.
func (o LeaseOrigin) MarshalText() ([]byte, error) { return []byte(o.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it reads what
// MarshalText writes.
func (o *LeaseOrigin) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, originNames[:], (*int)(o), "lease origin")
}

// Lease is one row of dnsmasq's lease file:
// "<expiry> <mac> <ip> <hostname|*> <client-id|*>".
type Lease struct {
	// Expiry is when the lease ends; the zero time for an infinite lease
	// (dnsmasq writes 0).
	Expiry time.Time `json:"expiry,omitzero"`
	// MAC is the client's hardware address (for IPv6 rows, nil: the second
	// column is an IAID, kept in IAID).
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// IAID is the IPv6 identity association id, "" for IPv4 rows.
	IAID string `json:"iaid,omitempty"`
	// IP is the leased address.
	IP netip.Addr `json:"ip"`
	// Hostname is the name the client sent, "" for "*".
	Hostname string `json:"hostname,omitempty"`
	// ClientID is the client id (IPv4) or DUID (IPv6), "" for "*".
	ClientID string `json:"client_id,omitempty"`
	// Origin says whether the row was seeded by Neutron or renewed by the
	// client.
	Origin LeaseOrigin `json:"origin"`
	// Line is the 1-based line number in the file.
	Line int `json:"line"`
}

// Renewed reports whether the row was written after a DHCP exchange with the
// client (it carries a client id).
func (l Lease) Renewed() bool { return l.Origin == OriginRenewed }

// Seeded reports whether the row is only Neutron's pre-seeded row
// ("* *"). A row with OriginUnconfirmed is neither Seeded nor Renewed.
func (l Lease) Seeded() bool { return l.Origin == OriginSeeded }

// Leases is the content of a lease file.
type Leases struct {
	// ServerDUID is the "duid …" line dnsmasq writes when it serves IPv6.
	ServerDUID string `json:"server_duid,omitempty"`
	// Rows are the lease rows in file order.
	Rows []Lease `json:"rows"`
}

// Find returns the first row for mac, and false if there is none.
func (ls *Leases) Find(mac hwaddr.MAC) (Lease, bool) {
	for _, l := range ls.Rows {
		if bytes.Equal(l.MAC, mac) {
			return l, true
		}
	}
	return Lease{}, false
}

// ParseLeases reads a dnsmasq lease file. A row that cannot be parsed is an
// error naming its line.
func ParseLeases(r io.Reader) (*Leases, error) {
	ls := &Leases{Rows: []Lease{}}
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 4096), 1<<20)
	n := 0
	for sc.Scan() {
		n++
		f := strings.Fields(sc.Text())
		if len(f) == 0 {
			continue
		}
		if f[0] == "duid" {
			if len(f) != 2 {
				return ls, fmt.Errorf("dhcpns: lease file line %d: duid line has %d fields, want 2", n, len(f))
			}
			ls.ServerDUID = f[1]
			continue
		}
		l, err := parseLeaseRow(f)
		if err != nil {
			return ls, fmt.Errorf("dhcpns: lease file line %d: %w", n, err)
		}
		l.Line = n
		ls.Rows = append(ls.Rows, l)
	}
	if err := sc.Err(); err != nil {
		return ls, fmt.Errorf("dhcpns: read lease file: %w", err)
	}
	return ls, nil
}

// ParseLeasesBytes is ParseLeases on a byte slice.
func ParseLeasesBytes(b []byte) (*Leases, error) { return ParseLeases(bytes.NewReader(b)) }

func parseLeaseRow(f []string) (Lease, error) {
	if len(f) != 5 {
		return Lease{}, fmt.Errorf("%d fields, want 5 (expiry mac ip hostname client-id)", len(f))
	}
	var l Lease
	exp, err := strconv.ParseInt(f[0], 10, 64)
	if err != nil || exp < 0 {
		return Lease{}, fmt.Errorf("expiry %q is not a Unix time", f[0])
	}
	if exp != 0 {
		l.Expiry = time.Unix(exp, 0).UTC()
	}
	ip, err := netip.ParseAddr(f[2])
	if err != nil {
		return Lease{}, fmt.Errorf("address %q: %w", f[2], err)
	}
	l.IP = ip
	if ip.Is4() {
		mac, err := hwaddr.Parse(f[1])
		if err != nil {
			return Lease{}, fmt.Errorf("MAC %q: %w", f[1], err)
		}
		l.MAC = mac
	} else {
		l.IAID = f[1]
	}
	if f[3] != "*" {
		l.Hostname = f[3]
	}
	if f[4] != "*" {
		l.ClientID = f[4]
	}
	switch {
	case l.ClientID != "":
		l.Origin = OriginRenewed
	case l.Hostname != "":
		l.Origin = OriginUnconfirmed
	default:
		l.Origin = OriginSeeded
	}
	return l, nil
}
