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
// main connection (go-libvirt multiplexes them): libvirtd's default
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
// and no state RPC. Once a Stats call has opened the stats connection,
// every RPC goes there in one write and the replies are decoded as they
// arrive (DetailsOf dials no connection itself); a domain that batch fails
// to read, and every domain when there is no stats connection, is read on
// the main connection, DetailsParallel in flight. dets and errs are
// indexed like doms: dets[i] is nil exactly when errs[i] is not. A domain
// undefined since the caller listed it gives an error satisfying
// IsNotFound; a domain whose UUID is not a UUID gives ErrNotFound without
// an RPC.
//
// Details (three RPCs: lookup, state, XML) is the call for one domain by
// reference; DetailsOf is the call for many: for 200 domains it sends 200
// RPCs where Details would send 600. libvirtd's own work per RPC, about
// the same whatever the call, bounds it: on the 2-core machine the
// project's benchmarks run on, 200 XML reads take about 20 ms however they
// are spread (one batch, two connections or five in flight).
func (c *Client) DetailsOf(ctx context.Context, doms []Domain) (dets []*Details, errs []error) {
	dets = make([]*Details, len(doms))
	errs = make([]error, len(doms))
	todo := make([]int, len(doms)) // the domains to read on the main connection
	for i := range todo {
		todo[i] = i
	}
	if sc := c.openStats(); sc != nil && len(doms) > detailsParallel {
		c.detailsBatch(ctx, sc, doms, dets, errs)
		todo = todo[:0]
		for i := range doms {
			// One the stats connection failed to read (not gone) is read
			// again on the main connection, which decides.
			if errs[i] != nil && !IsNotFound(errs[i]) && ctx.Err() == nil {
				todo = append(todo, i)
			}
		}
	}
	var next atomic.Int64
	var wg sync.WaitGroup
	for range min(detailsParallel, len(todo)) {
		wg.Go(func() {
			for {
				k := int(next.Add(1)) - 1
				if k >= len(todo) {
					return
				}
				i := todo[k]
				if ctx.Err() != nil {
					errs[i] = &OpError{Op: "get domain details", URI: c.uri, Domain: doms[i].Name, Err: ctx.Err()}
					continue
				}
				dets[i], errs[i] = c.detailsOf(ctx, doms[i])
			}
		})
	}
	wg.Wait()
	return dets, errs
}

// detailsBatch reads the XML of doms on the stats connection, every RPC in
// one write, and fills dets and errs.
func (c *Client) detailsBatch(ctx context.Context, sc *statsConn, doms []Domain, dets []*Details, errs []error) {
	payloads := make([][]byte, 0, len(doms))
	idx := make([]int, 0, len(doms))
	for i, d := range doms {
		u, ok := parseUUID(d.UUID)
		if !ok {
			errs[i] = &OpError{Op: "get domain details", URI: c.uri, Domain: d.Name, Err: ErrNotFound}
			continue
		}
		args := make([]byte, 0, 4+len(d.Name)+3+len(u)+8)
		args = appendXDRString(args, d.Name)
		args = append(args, u[:]...)
		args = binary.BigEndian.AppendUint32(args, uint32(int32(d.ID)))
		args = binary.BigEndian.AppendUint32(args, 0)
		payloads = append(payloads, args)
		idx = append(idx, i)
	}
	// The replies are decoded into the batch's own slices, which are
	// copied out only once every call is answered: a batch abandoned for
	// ctx may still be answered later.
	type result struct {
		dets []*Details
		errs []error
	}
	r, err := await(ctx, c, "get domain details", "", func(why string) { c.dropStats(sc, why) }, func() (result, error) {
		r := result{dets: make([]*Details, len(idx)), errs: make([]error, len(idx))}
		err := sc.roundTripBatch(remoteProcDomainGetXMLDesc, payloads, func(k int, reply []byte, err error) {
			d := doms[idx[k]]
			if err != nil {
				r.errs[k] = &OpError{Op: "get domain details", URI: c.uri, Domain: d.Name, Err: classify(err)}
				return
			}
			x := xdrReader{b: reply}
			s, err := x.str()
			if err != nil {
				r.errs[k] = &OpError{Op: "get domain details", URI: c.uri, Domain: d.Name, Err: err}
				return
			}
			r.dets[k], r.errs[k] = detailsFrom(c, d.Name, d, s)
		})
		return r, err
	})
	for k, i := range idx {
		if err != nil {
			errs[i] = err
			continue
		}
		dets[i], errs[i] = r.dets[k], r.errs[k]
	}
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
