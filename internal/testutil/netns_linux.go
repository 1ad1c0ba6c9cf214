package testutil

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// DefaultNetNSDir is where `ip netns add` bind-mounts named namespaces.
const DefaultNetNSDir = "/run/netns"

// NetNS is a throwaway named network namespace, bind-mounted like
// `ip netns add` does, and removed when the test ends.
type NetNS struct {
	// Name is the namespace's name (the file name under Dir).
	Name string
	// Dir is the directory holding the bind mount.
	Dir string
	// Path is Dir/Name; open it to get a namespace fd.
	Path string
	// Inode identifies the namespace (what /proc/<pid>/ns/net links to).
	Inode uint64

	handle *netlink.Handle
}

// NewNetNS creates a namespace named "vpt-" plus random hex under
// /run/netns, so `ip netns` and `ip -n` see it.
func NewNetNS(tb testing.TB) *NetNS {
	tb.Helper()
	return NewNetNSAt(tb, DefaultNetNSDir, RandNameN("vpt-", 16))
}

// NewNetNSAt creates a namespace with the given name under dir (created if
// missing). Tests of code that scans a netns directory pass a temporary dir
// so real namespaces on the host (a running cloud's qdhcp-…) are not seen.
// It fails the test if the name is taken.
func NewNetNSAt(tb testing.TB, dir, name string) *NetNS {
	tb.Helper()
	RequireRoot(tb)
	n, err := createNetNS(dir, name)
	if err != nil {
		tb.Fatalf("testutil: create netns %s: %v", filepath.Join(dir, name), err)
	}
	tb.Cleanup(func() {
		tb.Helper()
		if n.handle != nil {
			n.handle.Close()
		}
		if who := holdersSettled(n.Inode); len(who) > 0 {
			tb.Errorf("testutil: netns %s is still held at the end of the test by %s: close every handle, socket and fd into it", n.Name, strings.Join(who, ", "))
		}
		if err := n.remove(); err != nil {
			tb.Errorf("testutil: remove netns %s: %v", n.Path, err)
		}
	})
	return n
}

func createNetNS(dir, name string) (*NetNS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, err
	}
	if dir == DefaultNetNSDir {
		makeShared(dir)
	}
	path := filepath.Join(dir, name)
	if err := netns.Add(path); err != nil {
		return nil, err
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
		return nil, err
	}
	return &NetNS{Name: name, Dir: dir, Path: path, Inode: st.Ino}, nil
}

// makeShared makes dir a shared mount point, as iproute2 does, so that
// namespaces mounted under it are seen in other mount namespaces. Errors are
// ignored: the bind mount works without it.
func makeShared(dir string) {
	err := unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
	if errors.Is(err, unix.EINVAL) {
		if unix.Mount(dir, dir, "none", unix.MS_BIND|unix.MS_REC, "") == nil {
			unix.Mount("", dir, "none", unix.MS_SHARED|unix.MS_REC, "")
		}
	}
}

func (n *NetNS) remove() error {
	if err := unix.Unmount(n.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("unmount: %w", err)
	}
	if err := os.Remove(n.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return err
	}
	return nil
}

// Delete removes the namespace now (as `ip netns delete` does), for tests of
// a namespace that disappears under a live handle. The cleanup registered by
// NewNetNSAt tolerates it.
func (n *NetNS) Delete(tb testing.TB) {
	tb.Helper()
	if err := n.remove(); err != nil {
		tb.Fatalf("testutil: delete netns %s: %v", n.Path, err)
	}
}

// Open returns an fd for the namespace. The caller closes it.
func (n *NetNS) Open(tb testing.TB) *os.File {
	tb.Helper()
	f, err := os.Open(n.Path)
	if err != nil {
		tb.Fatalf("testutil: open netns %s: %v", n.Path, err)
	}
	return f
}

// Handle returns a netlink handle (NETLINK_ROUTE only) bound to the
// namespace. It is created once, shared, and closed when the test ends.
func (n *NetNS) Handle(tb testing.TB) *netlink.Handle {
	tb.Helper()
	if n.handle != nil {
		return n.handle
	}
	var h *netlink.Handle
	err := n.Do(func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		tb.Fatalf("testutil: netlink handle in %s: %v", n.Name, err)
	}
	n.handle = h
	return h
}

// Do runs fn on a fresh goroutine locked to its OS thread, with that thread
// inside the namespace. The thread is returned to the pool only if it could
// be moved back to its original namespace; otherwise it ends with the
// goroutine. Goroutines that fn starts do not run in the namespace.
func (n *NetNS) Do(fn func() error) error { return netns.Do(n.Path, fn) }

// holdersSettled is holders, given up to a second for exiting threads (a
// locked goroutine's thread ends shortly after the goroutine) to go away.
func holdersSettled(ino uint64) []string {
	var who []string
	for i := 0; i < 50; i++ {
		if who = holders(ino); len(who) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return who
}

// holders lists fds of this process and threads that still refer to the
// namespace with the given inode.
func holders(ino uint64) []string {
	var out []string
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		var st unix.Stat_t
		if unix.Stat("/proc/self/fd/"+e.Name(), &st) == nil && st.Ino == ino && st.Dev == nsfsDev() {
			out = append(out, "fd "+e.Name())
		}
	}
	want := fmt.Sprintf("net:[%d]", ino)
	tasks, _ := os.ReadDir("/proc/self/task")
	for _, e := range tasks {
		if l, err := os.Readlink("/proc/self/task/" + e.Name() + "/ns/net"); err == nil && l == want {
			comm, _ := os.ReadFile("/proc/self/task/" + e.Name() + "/stat")
			out = append(out, "thread "+e.Name()+" ("+strings.TrimSpace(string(comm))+")")
		}
	}
	return out
}

// nsfsDev is the device number of the nsfs filesystem namespace files live on.
func nsfsDev() uint64 {
	var st unix.Stat_t
	if unix.Stat("/proc/self/ns/net", &st) != nil {
		return 0
	}
	return st.Dev
}
