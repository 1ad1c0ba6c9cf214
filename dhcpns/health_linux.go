package dhcpns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strconv"
	"strings"
	"sync"

	"github.com/vifpath/vifpath/hwaddr"
)

// FindDnsmasq finds the dnsmasq serving a network: it reads the pid file
// under cfg.StateDir/<network>/pid and that process's /proc entry, and makes
// one pass over cfg.ProcDir for dnsmasq processes whose /proc/<pid>/ns/net
// is qdhcp-<network>. It reports what it found; an error only for ctx or an
// unreadable /proc.
func FindDnsmasq(ctx context.Context, cfg *Config, networkID string) (*DnsmasqStatus, error) {
	return findDnsmasq(ctx, cfg, networkID, nil)
}

// findDnsmasq is FindDnsmasq; procs, when not nil, is a scanDnsmasq result
// covering this network's namespace inode (CheckHealthAll's one scan), so
// /proc is not scanned again.
func findDnsmasq(ctx context.Context, cfg *Config, networkID string, procs *dnsmasqTable) (*DnsmasqStatus, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	st := &DnsmasqStatus{NetworkID: networkID, PIDFile: filepath.Join(cfg.stateDir(), networkID, "pid"), InNamespace: []Process{}}
	st.NamespaceInode = namespaceInode(cfg, networkID)
	if st.NamespaceInode != 0 {
		var m map[uint64][]Process
		if procs != nil && procs.covers(st.NamespaceInode) {
			m = procs.byInode
		} else {
			var err error
			if m, err = scanDnsmasq(cfg.procDir(), map[uint64]bool{st.NamespaceInode: true}); err != nil {
				return nil, err
			}
		}
		if ps := m[st.NamespaceInode]; ps != nil {
			st.InNamespace = ps
		}
	}
	b, err := os.ReadFile(st.PIDFile)
	switch {
	case err != nil:
		st.PIDFileError = err.Error()
	default:
		pid, perr := strconv.Atoi(strings.TrimSpace(string(b)))
		if perr != nil || pid <= 0 {
			st.PIDFileError = fmt.Sprintf("pid file holds %q, not a pid", strings.TrimSpace(string(b)))
			break
		}
		st.PIDFromFile = pid
		p, err := readProcess(cfg.procDir(), pid)
		if err != nil {
			st.PIDFileError = fmt.Sprintf("no process %d in %s (stale pid file)", pid, cfg.procDir())
			break
		}
		st.Process = &p
		st.CmdlineHasNetwork = slices.ContainsFunc(p.Args, func(a string) bool { return strings.Contains(a, networkID) })
		st.Alive = p.Alive() && st.CmdlineHasNetwork
		st.InsideNamespace = st.NamespaceInode != 0 && p.NetNSInode == st.NamespaceInode
	}
	return st, nil
}

// CheckHealth gives the DHCP health of one network: the namespace is
// present; dnsmasq is alive and inside it; the serving interface is up with
// an address in the subnet; and, when mac is not nil, the hosts file has an
// entry for mac and the lease file a row renewed by the guest (not only
// Neutron's seed). Every check carries its evidence. The error is non-nil
// only when ctx ends or /proc cannot be read: a missing namespace is a
// failed check, not an error.
func CheckHealth(ctx context.Context, cfg *Config, networkID string, mac hwaddr.MAC) (*Health, error) {
	return checkHealth(ctx, cfg, networkID, mac, nil)
}

// CheckHealthAll is CheckHealth (without a MAC) for many networks at once:
// it scans /proc for dnsmasq processes once for all their namespaces, not
// once per network, and checks at most cfg.Workers networks at a time.
// healths[i] is the health of networkIDs[i], the same as
// CheckHealth(ctx, cfg, networkIDs[i], nil) would give. The error is
// non-nil only when ctx ends or /proc cannot be read (then healths is nil).
func CheckHealthAll(ctx context.Context, cfg *Config, networkIDs []string) ([]*Health, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	procs := &dnsmasqTable{want: make(map[uint64]bool, len(networkIDs))}
	for _, id := range networkIDs {
		if ino := namespaceInode(cfg, id); ino != 0 {
			procs.want[ino] = true
		}
	}
	if len(procs.want) > 0 {
		m, err := scanDnsmasq(cfg.procDir(), procs.want)
		if err != nil {
			return nil, err
		}
		procs.byInode = m
	}
	out := make([]*Health, len(networkIDs))
	errs := make([]error, len(networkIDs))
	var wg sync.WaitGroup
	sem := make(chan struct{}, cfg.workers())
	for i, id := range networkIDs {
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			out[i], errs[i] = checkHealth(ctx, cfg, id, nil, procs)
		}()
	}
	wg.Wait()
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, err := range errs {
		if err != nil {
			return nil, err
		}
	}
	return out, nil
}

// dnsmasqTable is one scanDnsmasq pass over /proc for a set of namespace
// inodes.
type dnsmasqTable struct {
	want    map[uint64]bool
	byInode map[uint64][]Process
}

// covers says whether the scan looked for dnsmasq in namespace ino (a
// namespace re-created since has a new inode and needs its own scan).
func (t *dnsmasqTable) covers(ino uint64) bool { return t.want[ino] }

// namespaceInode is the inode of qdhcp-<networkID> under cfg's netns
// directory, 0 when it is missing.
func namespaceInode(cfg *Config, networkID string) uint64 {
	if fi, err := os.Stat(filepath.Join(cfg.netnsDir(), NamespaceName(networkID))); err == nil {
		return inodeOf(fi)
	}
	return 0
}

func checkHealth(ctx context.Context, cfg *Config, networkID string, mac hwaddr.MAC, procs *dnsmasqTable) (*Health, error) {
	h := &Health{NetworkID: networkID, MAC: mac}
	nsPath := filepath.Join(cfg.netnsDir(), NamespaceName(networkID))
	ns, err := Open(ctx, cfg, NamespaceName(networkID))
	if err != nil {
		if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		}
		h.add(Check{Name: CheckNamespace, Status: StatusFail,
			Summary:  fmt.Sprintf("namespace %s is missing or unusable: is the DHCP agent up and hosting this network?", NamespaceName(networkID)),
			Evidence: []string{err.Error()}})
	} else {
		defer ns.Close()
		info := ns.Info()
		h.Namespace = &info
		h.add(Check{Name: CheckNamespace, Status: StatusOK, Summary: "namespace " + info.Name + " present",
			Evidence: []string{fmt.Sprintf("%s: inode %d", nsPath, info.Inode)}})
		if s, err := ns.Inspect(ctx); err == nil {
			h.Snapshot = s
		} else if cerr := ctx.Err(); cerr != nil {
			return nil, cerr
		} else {
			h.Checks[0].Evidence = append(h.Checks[0].Evidence, "inspect: "+err.Error())
		}
	}

	d, err := findDnsmasq(ctx, cfg, networkID, procs)
	if err != nil {
		return nil, err
	}
	h.Dnsmasq = d
	h.add(dnsmasqCheck(d, cfg))
	conf := d.Config()
	h.add(h.interfaceCheck(conf))

	if mac == nil {
		h.add(Check{Name: CheckHost, Status: StatusSkipped, Summary: "no MAC given"})
		h.add(Check{Name: CheckLease, Status: StatusSkipped, Summary: "no MAC given"})
		return h, nil
	}
	hostsFile := filepath.Join(cfg.stateDir(), networkID, "host")
	leaseFile := filepath.Join(cfg.stateDir(), networkID, "leases")
	if conf != nil && conf.HostsFile != "" {
		hostsFile = conf.HostsFile
	}
	if conf != nil && conf.LeaseFile != "" {
		leaseFile = conf.LeaseFile
	}
	h.add(h.hostCheck(hostsFile, mac))
	h.add(h.leaseCheck(leaseFile, mac))
	return h, nil
}

func dnsmasqCheck(d *DnsmasqStatus, cfg *Config) Check {
	c := Check{Name: CheckDnsmasq}
	ev := func(f string, a ...any) { c.Evidence = append(c.Evidence, fmt.Sprintf(f, a...)) }
	if d.PIDFromFile != 0 {
		ev("%s: pid %d", d.PIDFile, d.PIDFromFile)
	} else {
		ev("%s: %s", d.PIDFile, d.PIDFileError)
	}
	if p := d.Process; p != nil {
		ev("%s/%d/stat: comm %s state %s", cfg.procDir(), p.PID, p.Comm, p.State)
		if p.NetNSInode != 0 {
			ev("%s/%d/ns/net: net:[%d] (namespace inode %d)", cfg.procDir(), p.PID, p.NetNSInode, d.NamespaceInode)
		}
		ev("command line names network %s: %v", d.NetworkID, d.CmdlineHasNetwork)
	}
	for _, p := range d.InNamespace {
		ev("dnsmasq pid %d (state %s) runs in the namespace", p.PID, p.State)
	}
	switch {
	case d.Process != nil && d.Process.Zombie():
		c.Status, c.Reason = StatusFail, ReasonDnsmasqZombie
		c.Summary = fmt.Sprintf("dnsmasq pid %d is dead (zombie, state %s): restart the DHCP agent or `kill -HUP` it to respawn dnsmasq", d.Process.PID, d.Process.State)
	case d.Alive && d.Process.Stopped():
		c.Status, c.Reason = StatusFail, ReasonDnsmasqStopped
		c.Summary = fmt.Sprintf("dnsmasq pid %d is stopped (state %s): Neutron counts it alive, but it answers no DHCP until `kill -CONT %d`", d.Process.PID, d.Process.State, d.Process.PID)
	case d.Alive && d.InsideNamespace:
		c.Status = StatusOK
		c.Summary = fmt.Sprintf("dnsmasq pid %d alive inside %s", d.Process.PID, NamespaceName(d.NetworkID))
	case d.Alive && d.NamespaceInode == 0:
		c.Status, c.Reason = StatusFail, ReasonNamespaceGone
		c.Summary = fmt.Sprintf("dnsmasq pid %d alive but namespace %s is missing", d.Process.PID, NamespaceName(d.NetworkID))
	case d.Alive:
		c.Status, c.Reason = StatusFail, ReasonOtherNamespace
		c.Summary = fmt.Sprintf("dnsmasq pid %d is alive but runs in another namespace (net:[%d], want net:[%d])", d.Process.PID, d.Process.NetNSInode, d.NamespaceInode)
	case d.Process != nil && !d.CmdlineHasNetwork:
		c.Status, c.Reason = StatusFail, ReasonStalePIDFile
		c.Summary = fmt.Sprintf("pid file names pid %d (%s), which is not this network's dnsmasq: stale pid file, restart the DHCP agent", d.Process.PID, d.Process.Comm)
	case len(d.InNamespace) > 0:
		c.Status, c.Reason = StatusWarn, ReasonPIDFileMismatch
		c.Summary = fmt.Sprintf("dnsmasq pid %d runs in the namespace but the pid file does not name it (%s): Neutron will think it is dead", d.InNamespace[0].PID, d.PIDFileError)
	default:
		c.Status, c.Reason = StatusFail, ReasonNoDnsmasq
		c.Summary = "no dnsmasq serves this network: restart the DHCP agent (neutron-dhcp-agent) and check its log"
	}
	return c
}

func (h *Health) interfaceCheck(conf *DnsmasqConfig) Check {
	c := Check{Name: CheckInterface}
	s := h.Snapshot
	if s == nil {
		c.Status = StatusSkipped
		c.Summary = "namespace not inspected"
		return c
	}
	var subnets []netip.Prefix
	if conf != nil {
		for _, r := range conf.Ranges {
			if p, ok := r.Prefix(); ok {
				subnets = append(subnets, p)
				c.Evidence = append(c.Evidence, fmt.Sprintf("--dhcp-range=%s: subnet %s", r.Raw, p))
			}
		}
	}
	// The serving interface: --interface (Pike), else the ns- link (Zed),
	// else the link with an address in a served subnet.
	var name string
	if conf != nil && len(conf.Interfaces) > 0 {
		name = conf.Interfaces[0]
		c.Evidence = append(c.Evidence, "--interface="+name)
	}
	if name == "" {
		for _, l := range s.Links {
			if strings.HasPrefix(l.Name, nsPortPrefix) {
				name = l.Name
				c.Evidence = append(c.Evidence, "serving interface by Neutron's name: "+name)
				break
			}
		}
	}
	if name == "" {
		for _, a := range s.Addrs {
			if slices.ContainsFunc(subnets, func(p netip.Prefix) bool { return p.Contains(a.Prefix.Addr()) }) {
				name = a.Link
				c.Evidence = append(c.Evidence, "serving interface by address in the subnet: "+name)
				break
			}
		}
	}
	if name == "" {
		c.Status = StatusFail
		c.Summary = "no serving interface (no --interface, no ns-* link, no address in the subnet): the DHCP port is not plugged; resync the DHCP agent"
		return c
	}
	h.ServingInterface = name
	l, ok := s.LinkByName(name)
	if !ok {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("serving interface %s does not exist in the namespace", name)
		return c
	}
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s: kind %s mac %s mtu %d admin-up %v carrier %v state %s", l.Name, l.Kind, l.MAC, l.MTU, l.AdminUp, l.LowerUp, l.State))
	var v4 []netip.Prefix
	for _, a := range s.AddrsOf(name) {
		c.Evidence = append(c.Evidence, fmt.Sprintf("%s: address %s scope %s", name, a.Prefix, a.Scope))
		if a.Prefix.Addr().Is4() {
			v4 = append(v4, a.Prefix)
		}
	}
	if !l.AdminUp || !l.LowerUp {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("serving interface %s is down (admin-up %v, carrier %v): check its tap on the bridge", name, l.AdminUp, l.LowerUp)
		return c
	}
	inSubnet := false
	for _, p := range v4 {
		if len(subnets) == 0 || slices.ContainsFunc(subnets, func(s netip.Prefix) bool { return s.Contains(p.Addr()) }) {
			inSubnet = true
		}
	}
	switch {
	case len(v4) == 0:
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("serving interface %s has no IPv4 address: dnsmasq stays silent without one in the range; resync the DHCP agent", name)
	case !inSubnet:
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("serving interface %s has no address in the served subnet %v", name, subnets)
	case len(subnets) == 0:
		c.Status, c.Reason = StatusWarn, ReasonSubnetUnknown
		c.Summary = fmt.Sprintf("serving interface %s is up with an address, but the subnet is unknown (dnsmasq command line not read)", name)
	default:
		c.Status = StatusOK
		c.Summary = fmt.Sprintf("serving interface %s is up with an address in the subnet", name)
	}
	return c
}

func (h *Health) hostCheck(path string, mac hwaddr.MAC) Check {
	c := Check{Name: CheckHost}
	b, err := os.ReadFile(path)
	if err != nil {
		c.Status = StatusFail
		c.Summary = "cannot read the hosts file: " + err.Error()
		return c
	}
	hosts, err := ParseHostsBytes(b)
	if err != nil {
		c.Evidence = append(c.Evidence, err.Error())
	}
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s: %d entries", path, len(hosts)))
	hst, ok := FindHost(hosts, mac)
	if !ok {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("MAC %s is not in the hosts file: dnsmasq (static ranges) will not answer it; check the Neutron port's MAC and the DHCP agent's sync", mac)
		return c
	}
	h.Host = &hst
	c.Status = StatusOK
	c.Summary = fmt.Sprintf("MAC %s has %s (%s) in the hosts file", mac, hst.IP, hst.Hostname)
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s line %d", path, hst.Line))
	return c
}

func (h *Health) leaseCheck(path string, mac hwaddr.MAC) Check {
	c := Check{Name: CheckLease}
	ls, err := ReadLeaseFile(path)
	if ls == nil {
		c.Status = StatusFail
		if errors.Is(err, fs.ErrNotExist) {
			c.Summary = "no lease file"
		} else {
			c.Summary = "cannot read the lease file: " + err.Error()
		}
		return c
	}
	if err != nil {
		c.Evidence = append(c.Evidence, err.Error())
	}
	l, ok := ls.Find(mac)
	if !ok {
		c.Status = StatusFail
		c.Summary = fmt.Sprintf("no lease row for %s: Neutron did not seed it and the guest never got a lease", mac)
		c.Evidence = append(c.Evidence, fmt.Sprintf("%s: %d rows", path, len(ls.Rows)))
		return c
	}
	h.Lease = &l
	c.Evidence = append(c.Evidence, fmt.Sprintf("%s line %d: expiry %s mac %s ip %s hostname %q client-id %q (%s)", path, l.Line, l.Expiry.Format("2006-01-02T15:04:05Z"), l.MAC, l.IP, l.Hostname, l.ClientID, l.Origin))
	switch l.Origin {
	case OriginRenewed:
		c.Status = StatusOK
		c.Summary = fmt.Sprintf("the guest renewed its lease of %s (client id %s)", l.IP, l.ClientID)
	default:
		c.Status = StatusWarn
		c.Summary = fmt.Sprintf("lease row for %s is only Neutron's seed (%s, no client id): the guest has not completed DHCP; check its console and probe it", l.IP, l.Origin)
	}
	return c
}

func inodeOf(fi fs.FileInfo) uint64 { return sysIno(fi) }
