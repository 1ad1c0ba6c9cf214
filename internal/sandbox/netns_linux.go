package sandbox

import (
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strings"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/netns"
)

// DefaultNetNSDir is where `ip netns add` bind-mounts named namespaces.
const DefaultNetNSDir = "/run/netns"

// NetNS is a named network namespace bind-mounted at Path, as `ip netns
// add` makes one. Close removes it.
type NetNS struct {
	// Name is the namespace's name (the file name under Dir).
	Name string
	// Dir is the directory holding the bind mount.
	Dir string
	// Path is Dir/Name; open it to get a namespace fd.
	Path string
	// Inode identifies the namespace (what /proc/<pid>/ns/net links to);
	// zero for a NetNS from NetNSAt.
	Inode uint64

	handle *netlink.Handle
}

// NewNetNS creates a network namespace bind-mounted at dir/name (dir is
// created if missing; under DefaultNetNSDir it is made a shared mount, as
// iproute2 does, so other mount namespaces see it). It fails if the name
// is taken.
func NewNetNS(dir, name string) (*NetNS, error) {
	if err := os.MkdirAll(dir, 0o755); err != nil {
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	if dir == DefaultNetNSDir {
		makeShared(dir)
	}
	path := filepath.Join(dir, name)
	if err := netns.Add(path); err != nil {
		return nil, fmt.Errorf("sandbox: create netns %s: %w: run as root", path, err)
	}
	var st unix.Stat_t
	if err := unix.Stat(path, &st); err != nil {
		unix.Unmount(path, unix.MNT_DETACH)
		os.Remove(path)
		return nil, fmt.Errorf("sandbox: %w", err)
	}
	return &NetNS{Name: name, Dir: dir, Path: path, Inode: st.Ino}, nil
}

// NetNSAt refers to the namespace bind-mounted at path, without I/O. Its
// Close removes that mount.
func NetNSAt(path string) *NetNS {
	return &NetNS{Name: filepath.Base(path), Dir: filepath.Dir(path), Path: path}
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

// Remove unmounts and removes the namespace's mount point now (as `ip
// netns delete` does), leaving the shared handle open: the kernel frees
// the namespace, and deletes its links, once nothing holds it. Removing
// a namespace already gone is not an error.
func (n *NetNS) Remove() error {
	if err := unix.Unmount(n.Path, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
		return fmt.Errorf("sandbox: unmount %s: %w", n.Path, err)
	}
	if err := os.Remove(n.Path); err != nil && !errors.Is(err, os.ErrNotExist) {
		return fmt.Errorf("sandbox: %w", err)
	}
	return nil
}

// Close closes the shared netlink handle and removes the namespace. It
// is idempotent.
func (n *NetNS) Close() error {
	n.CloseHandle()
	return n.Remove()
}

// CloseHandle closes the shared netlink handle (see Handle), keeping the
// namespace: for a NetNSAt used for a few changes.
func (n *NetNS) CloseHandle() {
	if n.handle != nil {
		n.handle.Close()
		n.handle = nil
	}
}

// Do runs fn on a fresh goroutine locked to its OS thread, with that thread
// inside the namespace. The thread is returned to the pool only if it could
// be moved back to its original namespace; otherwise it ends with the
// goroutine. Goroutines that fn starts do not run in the namespace.
func (n *NetNS) Do(fn func() error) error { return netns.Do(n.Path, fn) }

// NewHandle returns a new netlink handle (NETLINK_ROUTE) bound to the
// namespace; the caller closes it.
func (n *NetNS) NewHandle() (*netlink.Handle, error) {
	var h *netlink.Handle
	err := n.Do(func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	})
	if err != nil {
		return nil, fmt.Errorf("sandbox: netlink handle in %s: %w", n.Path, err)
	}
	return h, nil
}

// Handle returns the namespace's shared netlink handle, made on first use
// and closed by Close.
func (n *NetNS) Handle() (*netlink.Handle, error) {
	if n.handle != nil {
		return n.handle, nil
	}
	h, err := n.NewHandle()
	if err != nil {
		return nil, err
	}
	n.handle = h
	return h, nil
}

// Holders lists this process's fds and threads that still refer to the
// namespace ("fd 7", "thread 1234 (…)"), given up to a second for exiting
// threads (a locked goroutine's thread ends shortly after the goroutine)
// to go away. Before Close it should be empty but for the shared handle.
func (n *NetNS) Holders() []string {
	var who []string
	for range 50 {
		if who = holders(n.Inode); len(who) == 0 {
			return nil
		}
		time.Sleep(20 * time.Millisecond)
	}
	return who
}

// holders lists fds of this process and threads that refer to the
// namespace with the given inode.
func holders(ino uint64) []string {
	var out []string
	dev := nsfsDev()
	fds, _ := os.ReadDir("/proc/self/fd")
	for _, e := range fds {
		var st unix.Stat_t
		if unix.Stat("/proc/self/fd/"+e.Name(), &st) == nil && st.Ino == ino && st.Dev == dev {
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
