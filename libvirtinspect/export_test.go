package libvirtinspect

// SetDetailsParallel sets how many RPCs DetailsOf keeps in flight and
// returns a func restoring DetailsParallel. Benchmarks only: not safe
// concurrently with DetailsOf.
func SetDetailsParallel(n int) (restore func()) {
	detailsParallel = n
	return func() { detailsParallel = DetailsParallel }
}
