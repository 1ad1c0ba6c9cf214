package testutil

import (
	"testing"

	"github.com/vifpath/vifpath/internal/sandbox"
)

// ThreadNetNS returns the network namespace of the calling goroutine's
// thread ("net:[4026531840]") (sandbox.ThreadNetNS).
func ThreadNetNS(tb testing.TB) string {
	tb.Helper()
	ns, err := sandbox.ThreadNetNS()
	check(tb, err)
	return ns
}

// ForeignThreads lists this process's threads ("tid=net:[…]") whose
// network namespace is not want: after code that enters namespaces, it
// must be empty (sandbox.ForeignThreads).
func ForeignThreads(want string) []string { return sandbox.ForeignThreads(want) }

// WatchThreads starts n goroutines that check, until stop, that every
// thread they run on is in the namespace home (sandbox.WatchThreads).
func WatchThreads(home string, n int) (stop func() sandbox.ThreadWatch) {
	return sandbox.WatchThreads(home, n)
}

// CountFDs returns how many file descriptors the process has open.
func CountFDs(tb testing.TB) int {
	tb.Helper()
	n, err := sandbox.CountFDs()
	check(tb, err)
	return n
}

// Settle waits up to 2 s for f to return true, collecting garbage between
// tries, and returns f's last answer (sandbox.Settle).
func Settle(f func() bool) bool { return sandbox.Settle(f) }
