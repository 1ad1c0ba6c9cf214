package libvirtinspect

import (
	"context"
	"encoding/binary"
	"errors"
	"sync"
	"sync/atomic"

	libvirt "github.com/digitalocean/go-libvirt"
)

// DetailsParallel is how many XML RPCs DetailsOf keeps in flight on the
// one connection (go-libvirt multiplexes them): libvirtd's default
// max_client_requests, the most it works on at once for one client. Deeper
// is no faster (BenchmarkDetails200 times 2 to 32 in one run: 8 to 32
// within noise of 5, 2 about 1.6× slower) and makes libvirtd stop reading
// the socket and log "Client hit max requests limit".
const DetailsParallel = 5

// detailsParallel is DetailsParallel; the package's benchmarks vary it.
var detailsParallel = DetailsParallel

// DetailsOf returns the details of domains whose identity, state and reason
// the caller already has (from Domains, or the Domain of each record of a
// Stats call with StatsState): one RPC per domain, its XML, with no lookup
// and no state RPC, DetailsParallel in flight, and as many again on the
// stats connection when a Stats call has opened it (libvirtd bounds the
// requests of each client, not of the daemon; DetailsOf dials no
// connection itself, and a domain the stats connection fails to read is
// read on the main one). dets and errs are indexed
// like doms: dets[i] is nil exactly when errs[i] is not. A domain undefined
// since the caller listed it gives an error satisfying IsNotFound; a
// domain whose UUID is not a UUID gives ErrNotFound without an RPC.
//
// Details (three RPCs: lookup, state, XML) is the call for one domain by
// reference; DetailsOf is the call for many: for 200 domains it sends 200
// RPCs where Details would send 600.
func (c *Client) DetailsOf(ctx context.Context, doms []Domain) (dets []*Details, errs []error) {
	dets = make([]*Details, len(doms))
	errs = make([]error, len(doms))
	var next atomic.Int64
	work := func(read func(Domain) (*Details, error)) {
		for {
			i := int(next.Add(1)) - 1
			if i >= len(doms) {
				return
			}
			if ctx.Err() != nil {
				errs[i] = &OpError{Op: "get domain details", URI: c.uri, Domain: doms[i].Name, Err: ctx.Err()}
				continue
			}
			dets[i], errs[i] = read(doms[i])
		}
	}
	var wg sync.WaitGroup
	for range detailsParallel {
		wg.Go(func() { work(func(d Domain) (*Details, error) { return c.detailsOf(ctx, d) }) })
	}
	// The stats connection, when a Stats call opened it, is a second
	// client to libvirtd: as many RPCs again in flight.
	if sc := c.openStats(); sc != nil && len(doms) > detailsParallel {
		for range detailsParallel {
			wg.Go(func() {
				work(func(d Domain) (*Details, error) {
					det, err := c.detailsOnStats(ctx, sc, d)
					if err != nil && !IsNotFound(err) && ctx.Err() == nil {
						return c.detailsOf(ctx, d) // (the stats connection failed: the main one decides)
					}
					return det, err
				})
			})
		}
	}
	wg.Wait()
	return dets, errs
}

// detailsOf reads d's XML and builds its Details from d and the XML.
func (c *Client) detailsOf(ctx context.Context, d Domain) (*Details, error) {
	u, ok := parseUUID(d.UUID)
	if !ok {
		return nil, &OpError{Op: "get domain details", URI: c.uri, Domain: d.Name, Err: ErrNotFound}
	}
	ref := libvirt.Domain{Name: d.Name, UUID: u, ID: int32(d.ID)}
	s, err := call(ctx, c, "get domain details", d.Name, func(l *libvirt.Libvirt) (string, error) {
		return l.DomainGetXMLDesc(ref, 0)
	})
	if err != nil {
		return nil, err
	}
	return detailsFrom(c, d.Name, d, s)
}

// detailsOnStats is detailsOf on the stats connection sc, its XML RPC
// encoded and decoded by hand as Stats's is (statsrpc.go).
func (c *Client) detailsOnStats(ctx context.Context, sc *statsConn, d Domain) (*Details, error) {
	u, ok := parseUUID(d.UUID)
	if !ok {
		return nil, &OpError{Op: "get domain details", URI: c.uri, Domain: d.Name, Err: ErrNotFound}
	}
	// remote_domain_get_xml_desc_args: remote_nonnull_domain (name,
	// uuid, id), unsigned int flags.
	args := make([]byte, 0, 4+len(d.Name)+3+len(u)+8)
	args = appendXDRString(args, d.Name)
	args = append(args, u[:]...)
	args = binary.BigEndian.AppendUint32(args, uint32(int32(d.ID)))
	args = binary.BigEndian.AppendUint32(args, 0)
	s, err := await(ctx, c, "get domain details", d.Name, func(why string) { c.dropStats(sc, why) }, func() (string, error) {
		p, err := sc.roundTrip(remoteProcDomainGetXMLDesc, args)
		if err != nil {
			return "", err
		}
		// remote_domain_get_xml_desc_ret: remote_nonnull_string xml.
		r := xdrReader{b: p}
		return r.str()
	})
	if err != nil {
		return nil, err
	}
	return detailsFrom(c, d.Name, d, s)
}

// detailsFrom builds the Details of d (asked for as ref) from its XML s.
func detailsFrom(c *Client, ref string, d Domain, s string) (*Details, error) {
	x, err := ParseDomainXML([]byte(s))
	if err != nil {
		return nil, &OpError{Op: "get domain details", URI: c.uri, Domain: ref, Err: err}
	}
	out := &Details{Domain: d, Type: x.Type, Nova: x.Nova, Interfaces: x.Interfaces}
	out.ConsoleLog, out.ConsoleSource, _ = x.ConsoleLogPath()
	if out.Interfaces == nil {
		out.Interfaces = []Interface{}
	}
	return out, nil
}

// AllDetails returns the details of every domain, running or not, in the
// order Domains sorts them: one bulk RPC for the list with states and
// reasons (Domains), then DetailsOf. A domain undefined between the two is
// left out. When some domains cannot be read, AllDetails returns the others
// with an error joining each failure (each an *OpError naming its domain).
func (c *Client) AllDetails(ctx context.Context) ([]Details, error) {
	doms, err := c.Domains(ctx)
	if err != nil {
		return nil, err
	}
	dets, errs := c.DetailsOf(ctx, doms)
	out := make([]Details, 0, len(dets))
	var failed []error
	for i, d := range dets {
		switch {
		case d != nil:
			out = append(out, *d)
		case !IsNotFound(errs[i]):
			failed = append(failed, errs[i])
		}
	}
	return out, errors.Join(failed...)
}
