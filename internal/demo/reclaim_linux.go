package demo

import (
	"bytes"
	"errors"
	"fmt"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"golang.org/x/sys/unix"
)

// ownerFile, in a directory BuildPath made, names the process that owns it
// ("<pid> <start time>", fields 1 and 22 of /proc/<pid>/stat), so
// ReclaimStale can tell a live demo's directory from a dead one's.
const ownerFile = "owner"

// writeOwner records this process as dir's owner.
func writeOwner(dir string) error {
	start, err := procStart(os.Getpid())
	if err != nil {
		return err
	}
	return os.WriteFile(filepath.Join(dir, ownerFile), fmt.Appendf(nil, "%d %d\n", os.Getpid(), start), 0o644)
}

// procStart returns the start time (clock ticks since boot) of pid.
func procStart(pid int) (uint64, error) {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return 0, err
	}
	// The command name (field 2) may hold spaces: fields after its ')'.
	i := bytes.LastIndexByte(b, ')')
	if i < 0 {
		return 0, fmt.Errorf("demo: /proc/%d/stat: no command name", pid)
	}
	f := strings.Fields(string(b[i+1:]))
	if len(f) < 20 {
		return 0, fmt.Errorf("demo: /proc/%d/stat: %d fields after the name, want 20", pid, len(f))
	}
	return strconv.ParseUint(f[19], 10, 64)
}

// ownerAlive reports whether the process dir's owner file names still runs
// (same pid, same start time). A directory without an owner file is
// treated as alive: it is not known to be a dead demo's.
func ownerAlive(dir string) bool {
	b, err := os.ReadFile(filepath.Join(dir, ownerFile))
	if err != nil {
		return true
	}
	var pid int
	var start uint64
	if _, err := fmt.Sscan(string(b), &pid, &start); err != nil {
		return true
	}
	now, err := procStart(pid)
	return err == nil && now == start
}

// ReclaimStale removes what demos killed with SIGKILL left behind: for
// each vifpath-demo-* directory under tmp (empty: os.TempDir()) whose
// owner process is gone, it kills the processes whose command line names
// the directory (the demo's dnsmasq, which outlives its parent), lazily
// unmounts the namespace mounts under it, and removes it. Directories of
// running demos, and those without an owner file, are left alone. It
// returns a line for each thing it removed; errors are joined.
func ReclaimStale(tmp string) ([]string, error) {
	if tmp == "" {
		tmp = os.TempDir()
	}
	dirs, err := filepath.Glob(filepath.Join(tmp, "vifpath-demo-*"))
	if err != nil {
		return nil, err
	}
	var done []string
	var errs []error
	for _, dir := range dirs {
		if fi, err := os.Lstat(dir); err != nil || !fi.IsDir() || ownerAlive(dir) {
			continue
		}
		d, err := reclaim(dir)
		done = append(done, d...)
		if err != nil {
			errs = append(errs, err)
		}
	}
	return done, errors.Join(errs...)
}

func reclaim(dir string) ([]string, error) {
	var done []string
	var errs []error
	var killed []int
	for _, r := range Residue(dir, true) {
		var pid int
		if _, err := fmt.Sscanf(r, "process %d", &pid); err != nil {
			continue
		}
		if err := syscall.Kill(pid, syscall.SIGKILL); err == nil {
			killed = append(killed, pid)
			done = append(done, fmt.Sprintf("killed %s", r))
		} else if !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("demo: kill %d: %w", pid, err))
		}
	}
	for _, pid := range killed {
		for i := 0; i < 100 && processAlive(pid); i++ {
			time.Sleep(10 * time.Millisecond)
		}
	}
	for _, r := range Residue(dir, true) {
		m, ok := strings.CutPrefix(r, "mount ")
		if !ok {
			continue
		}
		if err := unix.Unmount(m, unix.MNT_DETACH); err != nil && !errors.Is(err, unix.EINVAL) && !errors.Is(err, unix.ENOENT) {
			errs = append(errs, fmt.Errorf("demo: unmount %s: %w", m, err))
			continue
		}
		done = append(done, "unmounted "+m)
	}
	if err := os.RemoveAll(dir); err != nil {
		errs = append(errs, fmt.Errorf("demo: remove %s: %w", dir, err))
	} else {
		done = append(done, "removed "+dir)
	}
	return done, errors.Join(errs...)
}

// processAlive reports whether pid runs: it exists and is not a zombie
// (a killed demo's dnsmasq is reparented; until its new parent reaps it,
// it is a zombie holding nothing).
func processAlive(pid int) bool {
	b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
	if err != nil {
		return false
	}
	i := bytes.LastIndexByte(b, ')')
	if i < 0 || i+2 >= len(b) {
		return false
	}
	st := b[i+2]
	return st != 'Z' && st != 'X'
}
