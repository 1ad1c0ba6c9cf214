package libvirtinspect

import "context"

// SetDetailsParallel sets how many RPCs DetailsOf keeps in flight and
// returns a func restoring DetailsParallel. Benchmarks only: not safe
// concurrently with DetailsOf.
func SetDetailsParallel(n int) (restore func()) {
	detailsParallel = n
	return func() { detailsParallel = DetailsParallel }
}

// DetailsOnStats reads d's details with one XML RPC on the stats
// connection (dialed if none is open), as DetailsOf does for part of its
// domains once a Stats call has opened it.
func (c *Client) DetailsOnStats(ctx context.Context, d Domain) (*Details, error) {
	sc, err := c.statsConnection(ctx)
	if err != nil {
		return nil, err
	}
	return c.detailsOnStats(ctx, sc, d)
}
