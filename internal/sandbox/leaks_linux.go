package sandbox

import (
	"fmt"
	"os"
	"runtime"
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
