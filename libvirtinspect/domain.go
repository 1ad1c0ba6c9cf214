package libvirtinspect

import (
	"cmp"
	"context"
	"encoding/hex"
	"fmt"
	"slices"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
)

// Domain is one libvirt domain, as `virsh list --all` and `virsh domstate
// --reason` show it.
type Domain struct {
	// ID is the running domain's id; -1 when it is not running (virsh "-").
	ID int `json:"id"`
	// Name is the libvirt name (Nova: "instance-0000000a").
	Name string `json:"name"`
	// UUID is the domain UUID in canonical lowercase form. For a Nova
	// domain it is the Nova instance (server) UUID.
	UUID string `json:"uuid"`
	// State and Reason are the run state and why.
	State  State  `json:"state"`
	Reason Reason `json:"reason"`
}

// Details is a domain with what its XML says: the Nova metadata and the
// interfaces.
type Details struct {
	Domain
	// Type is the domain type ("qemu", "kvm", "test").
	Type string `json:"type"`
	// Nova is the Nova instance metadata; nil when the domain was not
	// created by Nova.
	Nova *NovaInstance `json:"nova,omitempty"`
	// Interfaces are the domain's network interfaces in XML order.
	Interfaces []Interface `json:"interfaces"`
	// ConsoleLog is the file the domain's first serial console is
	// written to (DomainXML.ConsoleLogPath) and ConsoleSource its kind,
	// read from the same XML: ReadConsoleLog(ConsoleLog, max) reads it
	// without the XML RPC Client.ConsoleLog makes. Empty when the XML
	// declares none.
	ConsoleLog    string        `json:"console_log,omitempty"`
	ConsoleSource ConsoleSource `json:"console_source,omitempty"`
}

func uuidString(u libvirt.UUID) string {
	h := hex.EncodeToString(u[:])
	return h[0:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32]
}

func parseUUID(s string) (libvirt.UUID, bool) {
	var u libvirt.UUID
	h := strings.ReplaceAll(s, "-", "")
	if len(h) != 32 {
		return u, false
	}
	b, err := hex.DecodeString(h)
	if err != nil {
		return u, false
	}
	copy(u[:], b)
	return u, true
}

func fromLibvirt(d libvirt.Domain) Domain {
	return Domain{ID: int(d.ID), Name: d.Name, UUID: uuidString(d.UUID)}
}

// Domains lists every domain, running or not, with its state and reason
// (`virsh list --all` + `domstate --reason`), in ONE RPC: the state group of
// ConnectGetAllDomainStats. Sorted as `virsh list --all` sorts: running
// domains by id, then the others by name.
func (c *Client) Domains(ctx context.Context) ([]Domain, error) {
	recs, err := call(ctx, c, "list domains", "", func(l *libvirt.Libvirt) ([]libvirt.DomainStatsRecord, error) {
		return l.ConnectGetAllDomainStats(nil, uint32(libvirt.DomainStatsState),
			uint32(libvirt.ConnectGetAllDomainsStatsActive|libvirt.ConnectGetAllDomainsStatsInactive|libvirt.ConnectGetAllDomainsStatsNowait))
	})
	if err != nil {
		return nil, err
	}
	out := make([]Domain, 0, len(recs))
	for _, r := range recs {
		s := decodeStats(r)
		d := s.Domain
		if s.State != nil {
			d.State, d.Reason = s.State.State, s.State.Reason
		}
		out = append(out, d)
	}
	sortDomains(out)
	return out, nil
}

func sortDomains(ds []Domain) {
	slices.SortStableFunc(ds, func(a, b Domain) int {
		switch {
		case a.ID >= 0 && b.ID >= 0:
			return cmp.Compare(a.ID, b.ID)
		case a.ID >= 0:
			return -1
		case b.ID >= 0:
			return 1
		}
		return strings.Compare(a.Name, b.Name)
	})
}

// lookup resolves ref: a domain UUID or Nova instance UUID (which Nova uses
// as the domain UUID) when ref looks like one, else a domain name; then
// the other; then a running domain's numeric id, as virsh accepts. One RPC
// in the common case.
func lookup(l *libvirt.Libvirt, ref string) (libvirt.Domain, error) {
	u, isUUID := parseUUID(ref)
	if isUUID {
		d, err := l.DomainLookupByUUID(u)
		if err == nil || !libvirt.IsNotFound(err) {
			return d, err
		}
	}
	d, err := l.DomainLookupByName(ref)
	if err == nil || !libvirt.IsNotFound(err) || isUUID {
		return d, err
	}
	var id int32
	if _, e := fmt.Sscanf(ref, "%d", &id); e == nil && fmt.Sprint(id) == ref && id > 0 {
		d, err3 := l.DomainLookupByID(id)
		if err3 == nil || !libvirt.IsNotFound(err3) {
			return d, err3
		}
	}
	return d, err
}

// Lookup finds one domain by name, UUID, Nova instance UUID or running id,
// with its state and reason. A missing domain gives an error satisfying
// errors.Is(err, fs.ErrNotExist).
func (c *Client) Lookup(ctx context.Context, ref string) (Domain, error) {
	return call(ctx, c, "look up domain", ref, func(l *libvirt.Libvirt) (Domain, error) {
		d, err := lookup(l, ref)
		if err != nil {
			return Domain{}, err
		}
		st, rs, err := l.DomainGetState(d, 0)
		if err != nil {
			return Domain{}, err
		}
		out := fromLibvirt(d)
		out.State = State(st)
		out.Reason = Reason{State: State(st), Code: int(rs)}
		return out, nil
	})
}

// XML returns the live domain XML (`virsh dumpxml`), as libvirtd has it.
func (c *Client) XML(ctx context.Context, ref string) (string, error) {
	return call(ctx, c, "get domain XML", ref, func(l *libvirt.Libvirt) (string, error) {
		d, err := lookup(l, ref)
		if err != nil {
			return "", err
		}
		return l.DomainGetXMLDesc(d, 0)
	})
}

// Details returns the domain with its state, Nova metadata and interfaces
// (three RPCs: lookup, state, XML). A domain undefined between the calls
// gives ErrNotFound.
func (c *Client) Details(ctx context.Context, ref string) (*Details, error) {
	type raw struct {
		d      libvirt.Domain
		st, rs int32
		xml    string
	}
	r, err := call(ctx, c, "get domain details", ref, func(l *libvirt.Libvirt) (raw, error) {
		var r raw
		var err error
		if r.d, err = lookup(l, ref); err != nil {
			return r, err
		}
		if r.st, r.rs, err = l.DomainGetState(r.d, 0); err != nil {
			return r, err
		}
		r.xml, err = l.DomainGetXMLDesc(r.d, 0)
		return r, err
	})
	if err != nil {
		return nil, err
	}
	d := fromLibvirt(r.d)
	d.State = State(r.st)
	d.Reason = Reason{State: State(r.st), Code: int(r.rs)}
	return detailsFrom(c, ref, d, r.xml)
}

// Interfaces returns the domain's interfaces from its XML (`virsh
// domiflist`): two RPCs, lookup and XML.
func (c *Client) Interfaces(ctx context.Context, ref string) ([]Interface, error) {
	s, err := c.XML(ctx, ref)
	if err != nil {
		return nil, err
	}
	x, err := ParseDomainXML([]byte(s))
	if err != nil {
		return nil, &OpError{Op: "list interfaces", URI: c.uri, Domain: ref, Err: err}
	}
	return x.Interfaces, nil
}
