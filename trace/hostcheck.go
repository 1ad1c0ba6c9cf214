package trace

import (
	"errors"
	"fmt"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
)

// brNFHop judges the content of bridge-nf-call-iptables (err: reading it).
func brNFHop(path string, content []byte, err error) Hop {
	h := Hop{Kind: KindHostCheck, Name: "bridge-nf-call-iptables"}
	h.put("path", path)
	switch {
	case errors.Is(err, fs.ErrNotExist):
		h.Verdict = Warn
		h.Summary = "br_netfilter is not loaded: bridged frames bypass iptables"
		h.Cause = "Neutron's iptables firewall driver cannot filter bridged traffic (security groups not enforced)"
		h.Next = "modprobe br_netfilter; sysctl net.bridge.bridge-nf-call-iptables=1 (the linuxbridge agent normally does both)"
	case err != nil:
		h.Summary = "cannot read it: " + err.Error()
	default:
		v := strings.TrimSpace(string(content))
		h.put("value", v)
		switch v {
		case "1":
			h.Verdict = OK
			h.Summary = "1: bridged IPv4 crosses iptables (what Neutron's security groups need; a DROP FORWARD policy would drop VM traffic)"
		case "0":
			h.Verdict = Warn
			h.Summary = "0: bridged IPv4 bypasses iptables"
			h.Cause = "security groups are not enforced on bridged traffic"
			h.Next = "sysctl -w net.bridge.bridge-nf-call-iptables=1 in the bridges' namespace; check the linuxbridge agent"
		default:
			h.Summary = fmt.Sprintf("unexpected value %q", v)
		}
	}
	return h
}

// nmHop says whether NetworkManager runs and manages any of devs (name →
// ifindex in the host's namespace), reading its run directory. hostNS
// says whether devs live in the namespace NetworkManager manages (the
// process's own); when not, only NetworkManager's presence is reported.
func nmHop(runDir, procDir string, devs map[string]int, names []string, hostNS bool) Hop {
	return judgeNM(readNM(runDir, procDir), devs, names, hostNS)
}

// readNM reads NetworkManager's pid file, whether its process exists, and
// every device state file of its run directory.
func readNM(runDir, procDir string) NMFacts {
	n := NMFacts{PIDFile: filepath.Join(runDir, "NetworkManager.pid")}
	b, err := os.ReadFile(n.PIDFile)
	if err != nil {
		n.PIDFileError = err.Error()
		return n
	}
	pid, err := strconv.Atoi(strings.TrimSpace(string(b)))
	if err != nil || pid <= 0 {
		n.PIDContent = strings.TrimSpace(string(b))
		return n
	}
	n.PID = pid
	if _, err := os.Stat(filepath.Join(procDir, strconv.Itoa(pid))); err != nil {
		n.Stale = true
		return n
	}
	dir := filepath.Join(runDir, "devices")
	ents, _ := os.ReadDir(dir)
	for _, e := range ents {
		idx, err := strconv.Atoi(e.Name())
		if err != nil || idx <= 0 {
			continue
		}
		d := NMDevice{Path: filepath.Join(dir, e.Name())}
		if b, err := os.ReadFile(d.Path); err != nil {
			d.Error = err.Error()
		} else {
			d.Managed = nmManaged(b)
		}
		if n.Devices == nil {
			n.Devices = map[int]NMDevice{}
		}
		n.Devices[idx] = d
	}
	return n
}

// judgeNM is nmHop on observed facts.
func judgeNM(n NMFacts, devs map[string]int, names []string, hostNS bool) Hop {
	h := Hop{Kind: KindHostCheck, Name: "networkmanager"}
	switch {
	case n.PIDFileError != "":
		h.add("pid_file", "%s: %s", n.PIDFile, n.PIDFileError)
		h.Summary = "NetworkManager is not running (no pid file)"
		return h
	case n.PID <= 0:
		h.add("pid_file", "%s holds %q", n.PIDFile, n.PIDContent)
		h.Summary = "NetworkManager's pid file holds no pid"
		return h
	case n.Stale:
		h.add("pid_file", "%s: pid %d has no /proc entry (stale)", n.PIDFile, n.PID)
		h.Summary = "NetworkManager is not running (stale pid file)"
		return h
	}
	h.add("pid", "%d", n.PID)
	if len(names) == 0 {
		h.Summary = "NetworkManager runs; no device of the path on this node to check"
		return h
	}
	if !hostNS {
		h.Summary = "NetworkManager runs, but the bridges are in another namespace, which it does not manage"
		return h
	}
	var managed []string
	for _, name := range names {
		idx, ok := devs[name]
		if !ok {
			continue
		}
		d, ok := n.Devices[idx]
		if !ok {
			h.add(name, "%s: no such file", filepath.Join(filepath.Dir(n.PIDFile), "devices", strconv.Itoa(idx)))
			continue
		}
		if d.Error != "" {
			h.add(name, "%s: %s", d.Path, d.Error)
			continue
		}
		h.add(name, "%s: managed=%s", d.Path, d.Managed)
		if d.Managed == "true" || d.Managed == "1" {
			managed = append(managed, name)
		}
	}
	if len(managed) > 0 {
		h.Verdict = Fail
		h.Summary = "NetworkManager manages " + strings.Join(managed, ", ")
		h.Cause = "NetworkManager may reconfigure, take down or re-address devices the linuxbridge agent owns"
		h.Next = "nmcli d set <device> managed no for each, and add an unmanaged-devices rule to NetworkManager.conf"
		return h
	}
	h.Verdict = OK
	h.Summary = "NetworkManager runs but manages none of " + strings.Join(names, ", ")
	return h
}

// brNFFacts judges the observed bridge-nf-call-iptables.
func brNFFacts(f *HostFacts) Hop {
	var err error
	switch {
	case f.BrNFMissing:
		err = fs.ErrNotExist
	case f.BrNFError != "":
		err = errors.New(f.BrNFError)
	}
	return brNFHop(f.BrNFPath, []byte(f.BrNF), err)
}

// nmManaged returns the managed= value of a NetworkManager device state
// file (/run/NetworkManager/devices/<ifindex>, a key file whose [device]
// group holds managed=true|false), "unknown" when it has none. The last
// assignment wins, as in GKeyFile.
func nmManaged(b []byte) string {
	m := "unknown"
	for _, line := range strings.Split(string(b), "\n") {
		if v, ok := strings.CutPrefix(strings.TrimSpace(line), "managed="); ok {
			m = strings.TrimSpace(v)
		}
	}
	return m
}
