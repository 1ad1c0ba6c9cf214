package dhcpns

import (
	"bytes"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// readProcess reads /proc/<pid>/stat, ns/net and cmdline. A missing process
// is an error satisfying fs.ErrNotExist.
func readProcess(procDir string, pid int) (Process, error) {
	dir := filepath.Join(procDir, strconv.Itoa(pid))
	stat, err := os.ReadFile(filepath.Join(dir, "stat"))
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) || errors.Is(err, syscallESRCH) {
			return Process{}, fmt.Errorf("dhcpns: process %d: %w", pid, ErrNotFound)
		}
		return Process{}, fmt.Errorf("dhcpns: read %s/stat: %w", dir, err)
	}
	p := Process{PID: pid}
	p.Comm, p.State = parseStat(stat)
	p.NetNSInode, _ = netnsInode(filepath.Join(dir, "ns", "net"))
	if cl, err := os.ReadFile(filepath.Join(dir, "cmdline")); err == nil && len(cl) > 0 {
		p.Args = strings.Split(strings.TrimRight(string(cl), "\x00"), "\x00")
		if c, err := ParseArgs(p.Args); err == nil {
			p.Config = c
		}
	}
	return p, nil
}

// parseStat returns comm and state from /proc/<pid>/stat: "pid (comm) S …".
// comm may contain spaces and parentheses, so the last ')' ends it.
func parseStat(b []byte) (comm, state string) {
	i := bytes.IndexByte(b, '(')
	j := bytes.LastIndexByte(b, ')')
	if i < 0 || j < i {
		return "", ""
	}
	comm = string(b[i+1 : j])
	rest := bytes.TrimLeft(b[j+1:], " ")
	if len(rest) > 0 {
		state = string(rest[:1])
	}
	return comm, state
}

// netnsInode reads a /proc/<pid>/ns/net link ("net:[4026532281]").
func netnsInode(link string) (uint64, error) {
	s, err := os.Readlink(link)
	if err != nil {
		return 0, err
	}
	s, ok := strings.CutPrefix(s, "net:[")
	if !ok || !strings.HasSuffix(s, "]") {
		return 0, fmt.Errorf("dhcpns: %s links to %q, not net:[inode]", link, s)
	}
	return strconv.ParseUint(s[:len(s)-1], 10, 64)
}

// scanDnsmasq makes one pass over procDir and returns the processes named
// dnsmasq whose network namespace inode is in want (all dnsmasq processes if
// want is nil), keyed by inode.
func scanDnsmasq(procDir string, want map[uint64]bool) (map[uint64][]Process, error) {
	d, err := os.Open(procDir)
	if err != nil {
		return nil, fmt.Errorf("dhcpns: scan %s for dnsmasq: %w", procDir, err)
	}
	defer d.Close()
	names, err := d.Readdirnames(-1)
	if err != nil {
		return nil, fmt.Errorf("dhcpns: scan %s for dnsmasq: %w", procDir, err)
	}
	out := map[uint64][]Process{}
	buf := make([]byte, 512)
	for _, n := range names {
		if n == "" || n[0] < '0' || n[0] > '9' {
			continue
		}
		pid, err := strconv.Atoi(n)
		if err != nil {
			continue
		}
		// comm first (cheap, no ptrace check), then the namespace link.
		f, err := os.Open(procDir + "/" + n + "/comm")
		if err != nil {
			continue
		}
		k, _ := f.Read(buf)
		f.Close()
		if strings.TrimSpace(string(buf[:k])) != "dnsmasq" {
			continue
		}
		ino, err := netnsInode(procDir + "/" + n + "/ns/net")
		if err != nil || (want != nil && !want[ino]) {
			continue
		}
		p, err := readProcess(procDir, pid)
		if err != nil {
			continue // exited meanwhile
		}
		out[ino] = append(out[ino], p)
	}
	return out, nil
}
