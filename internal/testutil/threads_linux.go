package testutil

import (
	"os"
	"runtime"
	"testing"
	"time"
)

// ThreadNetNS returns the network namespace of the calling goroutine's
// thread ("net:[4026531840]"). Not /proc/self, which is the main thread's:
// a failed restore can leave the main thread wedged in another namespace.
func ThreadNetNS(tb testing.TB) string {
	tb.Helper()
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		tb.Fatal(err)
	}
	return l
}

// ForeignThreads lists this process's threads ("tid=net:[…]") whose
// network namespace is not want: after code that enters namespaces, it
// must be empty.
func ForeignThreads(want string) []string {
	var out []string
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		if l, err := os.Readlink("/proc/self/task/" + e.Name() + "/ns/net"); err == nil && l != want {
			out = append(out, e.Name()+"="+l)
		}
	}
	return out
}

// CountFDs returns how many file descriptors the process has open.
func CountFDs(tb testing.TB) int {
	tb.Helper()
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		tb.Fatal(err)
	}
	return len(es)
}

// Settle waits up to 2 s for f to return true, collecting garbage between
// tries (exiting goroutines and threads, and finalizers closing fds, take a
// moment), and returns f's last answer.
func Settle(f func() bool) bool {
	for range 100 {
		if f() {
			return true
		}
		runtime.GC()
		time.Sleep(20 * time.Millisecond)
	}
	return f()
}
