package sandbox

import (
	"fmt"
	"os"
	"runtime"
	"sync"
	"sync/atomic"
	"time"
)

// ThreadNetNS returns the network namespace of the calling goroutine's
// thread ("net:[4026531840]"). Not /proc/self, which is the main thread's:
// a failed restore can leave the main thread wedged in another namespace.
func ThreadNetNS() (string, error) {
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	l, err := os.Readlink("/proc/thread-self/ns/net")
	if err != nil {
		return "", fmt.Errorf("sandbox: this thread's network namespace: %w", err)
	}
	return l, nil
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
func CountFDs() (int, error) {
	es, err := os.ReadDir("/proc/self/fd")
	if err != nil {
		return 0, fmt.Errorf("sandbox: count open fds: %w", err)
	}
	return len(es), nil
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

// ThreadWatch counts how often goroutines found themselves on a thread
// outside a namespace while code that enters namespaces ran (see
// WatchThreads).
type ThreadWatch struct {
	// Checks is how many times a watcher looked; Wrong how many of those
	// found its thread outside the namespace.
	Checks, Wrong int64
}

// WatchThreads starts n goroutines that, until the returned stop is
// called, keep checking that whatever thread they run on is in the
// network namespace home (as ThreadNetNS names it): a thread returned to
// the pool inside another namespace would be caught running one of them.
// stop joins them and returns the counts.
func WatchThreads(home string, n int) (stop func() ThreadWatch) {
	var (
		done          atomic.Bool
		checks, wrong atomic.Int64
		wg            sync.WaitGroup
	)
	for range n {
		wg.Go(func() {
			for !done.Load() {
				if l, err := ThreadNetNS(); err == nil && l != home {
					wrong.Add(1)
				}
				checks.Add(1)
				runtime.Gosched()
			}
		})
	}
	return func() ThreadWatch {
		done.Store(true)
		wg.Wait()
		return ThreadWatch{Checks: checks.Load(), Wrong: wrong.Load()}
	}
}
