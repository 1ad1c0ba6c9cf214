package netns_test

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"runtime"
	"strconv"
	"strings"
	"sync"
	"sync/atomic"
	"testing"

	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vifpath/vifpath/internal/testutil"
	"golang.org/x/sys/unix"
)

func own(t testing.TB) string { return testutil.ThreadNetNS(t) }

var (
	foreignThreads = testutil.ForeignThreads
	countFDs       = testutil.CountFDs
	settle         = testutil.Settle
)

func nsOfThread() (string, error) { return os.Readlink("/proc/thread-self/ns/net") }

// newNetNS returns the test thread's namespace and a new anonymous one
// (netns.NewFile), closed when the test ends.
func newNetNS(t *testing.T) (home string, f *os.File) {
	t.Helper()
	testutil.RequireRoot(t)
	home = own(t)
	f, err := netns.NewFile()
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { f.Close() })
	return home, f
}

// TestIntegrationDo checks that fn runs inside the namespace, on a thread
// that is back home afterwards, and that the caller's thread never moved.
func TestIntegrationDo(t *testing.T) {
	home, f := newNetNS(t)
	target, err := os.Readlink(fmt.Sprintf("/proc/self/fd/%d", f.Fd()))
	if err != nil {
		t.Fatal(err)
	}
	if target == home {
		t.Fatalf("NewFile returned the process's own namespace %s", home)
	}
	runtime.LockOSThread()
	defer runtime.UnlockOSThread()
	var inside string
	if err := netns.DoFile(f, "new", func() error {
		var err error
		inside, err = nsOfThread()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if inside != target {
		t.Errorf("fn ran in %s, want %s", inside, target)
	}
	if now, _ := nsOfThread(); now != home {
		t.Errorf("caller's thread is in %s after Do, want %s", now, home)
	}
	ferr := errors.New("fn's own error")
	if err := netns.DoFile(f, "new", func() error { return ferr }); !errors.Is(err, ferr) {
		t.Errorf("Do returned %v, want fn's error", err)
	}
}

// TestIntegrationAdd creates a named namespace the way `ip netns add`
// does and enters it by path.
func TestIntegrationAdd(t *testing.T) {
	testutil.RequireRoot(t)
	path := filepath.Join(t.TempDir(), testutil.RandName("vcns"))
	if err := netns.Add(path); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", path, err)
		}
		os.Remove(path)
	})
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	var inside string
	if err := netns.Do(path, func() error {
		var err error
		inside, err = nsOfThread()
		return err
	}); err != nil {
		t.Fatal(err)
	}
	if want := "net:[" + strconv.FormatUint(st.Ino, 10) + "]"; inside != want {
		t.Errorf("Do(%s) ran in %s, want %s", path, inside, want)
	}
	if err := netns.Add(path); !errors.Is(err, fs.ErrExist) {
		t.Errorf("Add over an existing path: %v, want fs.ErrExist", err)
	}
}

func TestErrors(t *testing.T) {
	missing := filepath.Join(t.TempDir(), "gone")
	err := netns.Do(missing, func() error { t.Error("fn ran"); return nil })
	if !errors.Is(err, netns.ErrNoNetNS) || !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("Do(missing) = %v, want ErrNoNetNS and fs.ErrNotExist", err)
	}
	var ne *netns.Error
	if !errors.As(err, &ne) || ne.Op != "open" || ne.Path != missing || !strings.Contains(err.Error(), missing) {
		t.Errorf("Do(missing) = %#v, want an *Error naming open and the path", err)
	}
	if runtime.GOOS != "linux" {
		return
	}
	// A file that is not a namespace: setns fails with EINVAL, not ErrNoNetNS.
	notNS := filepath.Join(t.TempDir(), "plain")
	os.WriteFile(notNS, nil, 0o600)
	err = netns.Do(notNS, func() error { t.Error("fn ran"); return nil })
	if !errors.As(err, &ne) || ne.Op != "setns" || errors.Is(err, netns.ErrNoNetNS) {
		t.Errorf("Do(plain file) = %v, want a setns error that is not ErrNoNetNS", err)
	}
	// Open checks what Do leaves to setns, and needs no privilege for it.
	if _, err := netns.Open(missing); !errors.Is(err, netns.ErrNoNetNS) || !errors.Is(err, fs.ErrNotExist) || !strings.Contains(err.Error(), missing) {
		t.Errorf("Open(missing) = %v, want ErrNoNetNS naming %s", err, missing)
	}
	for _, p := range []string{notNS, "/proc/self/ns/uts"} {
		_, err := netns.Open(p)
		if !errors.Is(err, netns.ErrNotNetNS) || errors.Is(err, netns.ErrNoNetNS) || !strings.Contains(err.Error(), p) {
			t.Errorf("Open(%s) = %v, want ErrNotNetNS naming the path", p, err)
		}
	}
	if !netns.Same("/proc/self/ns/net", "/proc/thread-self/ns/net") {
		t.Error("Same(own namespace, own thread's) = false")
	}
	if netns.Same("/proc/self/ns/net", "/proc/self/ns/uts") || netns.Same(missing, missing) {
		t.Error("Same is true for different namespaces or a missing file")
	}
}

// TestIntegrationOpen opens a named namespace, enters it through the
// Handle, and checks that Check notices it deleted and then replaced by
// another under the same name, with ErrNoNetNS naming the path and inodes,
// while Do still enters the namespace the Handle holds.
func TestIntegrationOpen(t *testing.T) {
	testutil.RequireRoot(t)
	path := filepath.Join(t.TempDir(), testutil.RandName("vcns"))
	if err := netns.Add(path); err != nil {
		t.Fatal(err)
	}
	remove := func() {
		if err := unix.Unmount(path, unix.MNT_DETACH); err != nil {
			t.Errorf("unmount %s: %v", path, err)
		}
		os.Remove(path)
	}
	h, err := netns.Open(path)
	if err != nil {
		remove()
		t.Fatal(err)
	}
	defer h.Close()
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil || h.Inode() != st.Ino || h.Path() != path {
		t.Errorf("Handle %s inode %d, want %s inode %d (%v)", h.Path(), h.Inode(), path, st.Ino, err)
	}
	want := "net:[" + strconv.FormatUint(h.Inode(), 10) + "]"
	inside := func() string {
		var l string
		if err := h.Do(func() (err error) { l, err = nsOfThread(); return err }); err != nil {
			t.Fatal(err)
		}
		return l
	}
	if l := inside(); l != want {
		t.Errorf("Handle.Do ran in %s, want %s", l, want)
	}
	if err := h.Check(); err != nil {
		t.Errorf("Check of a live namespace: %v", err)
	}
	remove()
	err = h.Check()
	if !errors.Is(err, netns.ErrNoNetNS) || !strings.Contains(err.Error(), path) || !strings.Contains(err.Error(), strconv.FormatUint(h.Inode(), 10)) {
		t.Errorf("Check after delete = %v, want ErrNoNetNS naming %s and inode %d", err, path, h.Inode())
	}
	if l := inside(); l != want {
		t.Errorf("Handle.Do after delete ran in %s, want the held %s", l, want)
	}
	if err := netns.Add(path); err != nil {
		t.Fatal(err)
	}
	defer remove()
	if err := unix.Stat(path, &st); err != nil {
		t.Fatal(err)
	}
	err = h.Check()
	if !errors.Is(err, netns.ErrNoNetNS) || !strings.Contains(err.Error(), strconv.FormatUint(st.Ino, 10)) {
		t.Errorf("Check after replace = %v, want ErrNoNetNS naming the new inode %d", err, st.Ino)
	}
	if err := h.Close(); err != nil {
		t.Error(err)
	}
	if err := h.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if err := h.Do(func() error { t.Error("fn ran"); return nil }); !errors.Is(err, fs.ErrClosed) {
		t.Errorf("Do after Close = %v, want fs.ErrClosed", err)
	}
}

// TestIntegrationLeaks enters one namespace 5000 times from 50 goroutines
// (by path, by file and through an opened Handle)
// while watcher goroutines check, on whatever thread they get, that the
// thread is in the process's namespace. Afterwards fds and goroutines are
// back to the baseline and every thread is home.
func TestIntegrationLeaks(t *testing.T) {
	home, f := newNetNS(t)
	path := fmt.Sprintf("/proc/self/fd/%d", f.Fd())
	target, _ := os.Readlink(path)
	netns.Do(path, func() error { return nil }) // warm up
	runtime.GC()
	fds0, gor0 := countFDs(t), runtime.NumGoroutine()

	stopWatch := testutil.WatchThreads(home, 8)
	const workers, each = 50, 100
	var wg sync.WaitGroup
	var bad, failed atomic.Int64
	for w := range workers {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range each {
				fn := func() error {
					if l, _ := nsOfThread(); l != target {
						bad.Add(1)
					}
					return nil
				}
				var err error
				switch (w + i) % 3 {
				case 0:
					err = netns.Do(path, fn)
				case 1:
					err = netns.DoFile(f, "leak test", fn)
				default:
					var h *netns.Handle
					if h, err = netns.Open(path); err == nil {
						err = errors.Join(h.Do(fn), h.Check(), h.Close())
					}
				}
				if err != nil {
					failed.Add(1)
				}
			}
		}()
	}
	wg.Wait()
	watch := stopWatch()
	if n := failed.Load(); n > 0 {
		t.Errorf("%d of %d Do calls failed", n, workers*each)
	}
	if n := bad.Load(); n > 0 {
		t.Errorf("fn ran outside the namespace %d times", n)
	}
	if n := watch.Wrong; n > 0 {
		t.Errorf("watchers ran %d of %d times on a thread outside %s", n, watch.Checks, home)
	}
	if !settle(func() bool { return countFDs(t) <= fds0 }) {
		t.Errorf("fds: %d before, %d after", fds0, countFDs(t))
	}
	if !settle(func() bool { return runtime.NumGoroutine() <= gor0 }) {
		t.Errorf("goroutines: %d before, %d after", gor0, runtime.NumGoroutine())
	}
	if b := foreignThreads(home); len(b) > 0 {
		t.Errorf("threads outside %s: %v", home, b)
	}
	t.Logf("%d entries from %d goroutines; %d watcher checks all home; fds %d -> %d", workers*each, workers, watch.Checks, fds0, countFDs(t))
}

// capSysAdmin is CAP_SYS_ADMIN's bit.
const capSysAdmin = 21

// dropSysAdmin removes CAP_SYS_ADMIN from the calling thread's effective
// set (capabilities are per thread), so its setns back home fails.
func dropSysAdmin() error {
	hdr := unix.CapUserHeader{Version: unix.LINUX_CAPABILITY_VERSION_3}
	var data [2]unix.CapUserData
	if err := unix.Capget(&hdr, &data[0]); err != nil {
		return err
	}
	data[0].Effective &^= 1 << capSysAdmin
	return unix.Capset(&hdr, &data[0])
}

// threadsWithoutSysAdmin lists threads whose effective set lacks
// CAP_SYS_ADMIN.
func threadsWithoutSysAdmin() []string {
	var out []string
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		b, err := os.ReadFile("/proc/self/task/" + e.Name() + "/status")
		if err != nil {
			continue
		}
		for _, line := range strings.Split(string(b), "\n") {
			if v, ok := strings.CutPrefix(line, "CapEff:"); ok {
				c, err := strconv.ParseUint(strings.TrimSpace(v), 16, 64)
				if err == nil && c&(1<<capSysAdmin) == 0 {
					out = append(out, e.Name())
				}
			}
		}
	}
	return out
}

// TestIntegrationRestoreFailsThreadDies makes the move back fail (fn drops
// CAP_SYS_ADMIN from its thread) and checks that the helper reports it and
// that the thread, stuck in the other namespace, is ended by the runtime
// rather than reused: no thread outside the process's namespace remains,
// and goroutines started afterwards never run in it.
func TestIntegrationRestoreFailsThreadDies(t *testing.T) {
	home, f := newNetNS(t)
	for range 5 {
		err := netns.DoFile(f, "capless", dropSysAdmin)
		var ne *netns.Error
		if !errors.As(err, &ne) || ne.Op != "restore" || !errors.Is(err, unix.EPERM) {
			t.Fatalf("Do with a failing restore = %v, want a restore error with EPERM", err)
		}
	}
	// The runtime ends a locked goroutine's thread when the goroutine
	// exits, except the main thread, which it cannot end: it wedges it
	// (no goroutine runs there again). So at most the main thread may stay.
	main := strconv.Itoa(os.Getpid())
	others := func(ts []string) []string {
		var out []string
		for _, x := range ts {
			if x != main && !strings.HasPrefix(x, main+"=") {
				out = append(out, x)
			}
		}
		return out
	}
	if !settle(func() bool {
		return len(others(foreignThreads(home))) == 0 && len(others(threadsWithoutSysAdmin())) == 0
	}) {
		t.Fatalf("threads still outside %s: %v; threads without CAP_SYS_ADMIN: %v (main thread %s)", home, foreignThreads(home), threadsWithoutSysAdmin(), main)
	}
	if len(foreignThreads(home)) > 0 {
		t.Logf("the main thread %s ran a failed restore and is wedged outside %s, as the runtime does with a locked main thread", main, home)
	}
	var wrong atomic.Int64
	var wg sync.WaitGroup
	for range 200 {
		wg.Add(1)
		go func() {
			defer wg.Done()
			runtime.LockOSThread()
			defer runtime.UnlockOSThread()
			if l, _ := nsOfThread(); l != home {
				wrong.Add(1)
			}
		}()
	}
	wg.Wait()
	if n := wrong.Load(); n > 0 {
		t.Errorf("%d goroutines ran outside %s after the failed restores", n, home)
	}
}
