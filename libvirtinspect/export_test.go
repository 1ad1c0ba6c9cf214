package libvirtinspect

import "context"

// SetDetailsParallel sets how many RPCs DetailsOf keeps in flight and
// returns a func restoring DetailsParallel. Benchmarks only: not safe
// concurrently with DetailsOf.
func SetDetailsParallel(n int) (restore func()) {
	detailsParallel = n
	return func() { detailsParallel = DetailsParallel }
}

// DetailsOnStats reads the details of doms in one batch on the stats
// connection (dialed if none is open), as DetailsOf does once a Stats call
// has opened it, without DetailsOf's second try on the main connection.
func (c *Client) DetailsOnStats(ctx context.Context, doms ...Domain) ([]*Details, []error, error) {
	sc, err := c.statsConnection(ctx)
	if err != nil {
		return nil, nil, err
	}
	dets, errs := make([]*Details, len(doms)), make([]error, len(doms))
	c.detailsBatch(ctx, sc, doms, dets, errs)
	return dets, errs, nil
}
