package dhcpns

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sort"
	"strconv"
	"sync"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/netns"
	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"
)

// List returns the qdhcp-* namespaces under cfg.NetNSDir, sorted by name.
// A missing directory yields an empty list (no namespace was ever made).
func List(ctx context.Context, cfg *Config) ([]NamespaceInfo, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	dir := cfg.netnsDir()
	ents, err := os.ReadDir(dir)
	if err != nil {
		if errors.Is(err, fs.ErrNotExist) {
			return []NamespaceInfo{}, nil
		}
		return nil, fmt.Errorf("dhcpns: list namespaces in %s: %w", dir, err)
	}
	out := []NamespaceInfo{}
	for _, e := range ents {
		id, ok := NetworkIDFromNamespace(e.Name())
		if !ok {
			continue
		}
		p := filepath.Join(dir, e.Name())
		var st unix.Stat_t
		if err := unix.Stat(p, &st); err != nil {
			continue // deleted meanwhile
		}
		out = append(out, NamespaceInfo{Name: e.Name(), Path: p, NetworkID: id, Inode: st.Ino})
	}
	sort.Slice(out, func(i, j int) bool { return out[i].Name < out[j].Name })
	return out, nil
}

// Namespace is an open handle on one namespace: a netlink socket
// (NETLINK_ROUTE) created inside it. It is safe for concurrent use (calls
// are serialised on the socket). Close it: an open handle keeps a deleted
// namespace alive.
type Namespace struct {
	info NamespaceInfo
	cfg  *Config
	ns   *netns.Handle // closed; for Check

	mu sync.Mutex
	h  *netlink.Handle // nil once closed
}

// Open opens the namespace with the given name under cfg.NetNSDir. A
// missing namespace is an error satisfying errors.Is(err, fs.ErrNotExist).
func Open(ctx context.Context, cfg *Config, name string) (*Namespace, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	if name == "" || filepath.Base(name) != name {
		return nil, fmt.Errorf("dhcpns: open namespace %q: not a namespace name", name)
	}
	info := NamespaceInfo{Name: name, Path: filepath.Join(cfg.netnsDir(), name)}
	info.NetworkID, _ = NetworkIDFromNamespace(name)
	ns, err := netns.Open(info.Path)
	if err != nil {
		if errors.Is(err, ErrNoNetNS) {
			return nil, fmt.Errorf("dhcpns: open namespace %s: %w (is the DHCP agent serving this network? `ip netns` lists namespaces)", name, err)
		}
		return nil, fmt.Errorf("dhcpns: open namespace %s: %w", name, err)
	}
	// The netlink handle keeps the namespace alive; ns is kept for Check.
	defer ns.Close()
	info.Inode = ns.Inode()
	var h *netlink.Handle
	err = explain(ns.Do(func() error {
		var err error
		h, err = netlink.NewHandle(unix.NETLINK_ROUTE)
		return err
	}))
	if err != nil {
		if h != nil {
			h.Close()
		}
		return nil, fmt.Errorf("dhcpns: open namespace %s: netlink handle: %w", name, err)
	}
	cfg.logger().Debug("dhcpns: opened namespace", "name", name, "inode", info.Inode)
	return &Namespace{info: info, cfg: cfg, ns: ns, h: h}, nil
}

// OpenNetwork opens qdhcp-<networkID>.
func OpenNetwork(ctx context.Context, cfg *Config, networkID string) (*Namespace, error) {
	return Open(ctx, cfg, NamespaceName(networkID))
}

// Info returns the namespace's name, path, network ID and inode.
func (n *Namespace) Info() NamespaceInfo { return n.info }

// Close closes the netlink handle. It is idempotent.
func (n *Namespace) Close() error {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.h != nil {
		n.h.Close()
		n.h = nil
	}
	return nil
}

// checkAlive returns ErrNoNetNS if the bind mount no longer refers to
// the namespace the handle was opened in.
func (n *Namespace) checkAlive() error {
	if err := n.ns.Check(); err != nil {
		return fmt.Errorf("dhcpns: namespace deleted under a live handle: %w; close this handle and reopen (the old namespace lives on only while handles to it stay open)", err)
	}
	return nil
}

// Inspect reads the namespace's links, addresses, main-table routes and
// neighbours through the handle, without exec and without moving any
// thread. Interrupted dumps are retried. If the namespace was deleted since
// Open, the error satisfies errors.Is(err, ErrNoNetNS). The netlink
// dumps themselves cannot be interrupted; ctx is checked between them.
func (n *Namespace) Inspect(ctx context.Context) (*Snapshot, error) {
	n.mu.Lock()
	defer n.mu.Unlock()
	if n.h == nil {
		return nil, fmt.Errorf("dhcpns: inspect %s: %w", n.info.Name, ErrClosed)
	}
	if err := n.checkAlive(); err != nil {
		return nil, err
	}
	s := &Snapshot{Namespace: n.info, Time: time.Now()}
	names := map[int]string{}
	steps := []struct {
		op string
		fn func() error
	}{
		{"links", func() error {
			ls, err := retryDump(n.h.LinkList)
			if err != nil {
				return err
			}
			s.Links = make([]Link, 0, len(ls))
			for _, l := range ls {
				s.Links = append(s.Links, convLink(l))
				names[l.Attrs().Index] = l.Attrs().Name
			}
			for i := range s.Links {
				if l := &s.Links[i]; l.Kind == "veth" && l.PeerNetNSID < 0 && l.PeerIndex != 0 {
					l.PeerName = names[l.PeerIndex]
				}
			}
			return nil
		}},
		{"addresses", func() error {
			as, err := retryDump(func() ([]netlink.Addr, error) { return n.h.AddrList(nil, netlink.FAMILY_ALL) })
			if err != nil {
				return err
			}
			s.Addrs = make([]Addr, 0, len(as))
			for _, a := range as {
				s.Addrs = append(s.Addrs, convAddr(a, names))
			}
			return nil
		}},
		{"routes", func() error {
			rs, err := retryDump(func() ([]netlink.Route, error) { return n.h.RouteList(nil, netlink.FAMILY_ALL) })
			if err != nil {
				return err
			}
			s.Routes = make([]Route, 0, len(rs))
			for _, r := range rs {
				s.Routes = append(s.Routes, convRoute(r, names))
			}
			return nil
		}},
		{"neighbours", func() error {
			ns, err := retryDump(func() ([]netlink.Neigh, error) { return n.h.NeighList(0, netlink.FAMILY_ALL) })
			if err != nil {
				return err
			}
			s.Neighbors = make([]Neighbor, 0, len(ns))
			for _, x := range ns {
				if nb, ok := convNeigh(x, names); ok {
					s.Neighbors = append(s.Neighbors, nb)
				}
			}
			return nil
		}},
	}
	for _, st := range steps {
		if err := ctx.Err(); err != nil {
			return nil, err
		}
		if err := st.fn(); err != nil {
			return nil, &NamespaceError{Namespace: n.info.Name, Op: "inspect " + st.op, Err: err}
		}
	}
	return s, nil
}

func retryDump[T any](fn func() (T, error)) (T, error) {
	var v T
	var err error
	for range 5 {
		v, err = fn()
		if !errors.Is(err, netlink.ErrDumpInterrupted) {
			return v, err
		}
	}
	return v, fmt.Errorf("dump interrupted 5 times in a row (the table is changing fast): %w", err)
}

func convLink(l netlink.Link) Link {
	a := l.Attrs()
	out := Link{
		Index:       a.Index,
		Name:        a.Name,
		Kind:        l.Type(),
		MTU:         a.MTU,
		AdminUp:     a.Flags&net.FlagUp != 0,
		LowerUp:     a.RawFlags&unix.IFF_LOWER_UP != 0,
		State:       OperState(a.OperState),
		MasterIndex: a.MasterIndex,
		PeerNetNSID: -1,
	}
	if len(a.HardwareAddr) > 0 {
		out.MAC = append(hwaddr.MAC(nil), a.HardwareAddr...)
	}
	if a.ParentIndex != 0 {
		out.PeerIndex = a.ParentIndex
	}
	if l.Type() == "veth" && a.NetNsID >= 0 {
		out.PeerNetNSID = a.NetNsID
	}
	return out
}

func scopeName(s int) string {
	switch s {
	case unix.RT_SCOPE_UNIVERSE:
		return "global"
	case unix.RT_SCOPE_LINK:
		return "link"
	case unix.RT_SCOPE_HOST:
		return "host"
	case unix.RT_SCOPE_SITE:
		return "site"
	case unix.RT_SCOPE_NOWHERE:
		return "nowhere"
	}
	return strconv.Itoa(s)
}

func protoName(p int) string {
	switch p {
	case unix.RTPROT_KERNEL:
		return "kernel"
	case unix.RTPROT_BOOT:
		return "boot"
	case unix.RTPROT_STATIC:
		return "static"
	case unix.RTPROT_DHCP:
		return "dhcp"
	case unix.RTPROT_RA:
		return "ra"
	}
	return strconv.Itoa(p)
}

func ipnetPrefix(n *net.IPNet) netip.Prefix {
	if n == nil {
		return netip.Prefix{}
	}
	a, ok := netip.AddrFromSlice(n.IP)
	if !ok {
		return netip.Prefix{}
	}
	ones, _ := n.Mask.Size()
	return netip.PrefixFrom(a.Unmap(), ones)
}

func ipAddr(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	return a.Unmap()
}

func convAddr(a netlink.Addr, names map[int]string) Addr {
	return Addr{
		LinkIndex: a.LinkIndex,
		Link:      names[a.LinkIndex],
		Prefix:    ipnetPrefix(a.IPNet),
		Scope:     scopeName(a.Scope),
		Label:     a.Label,
	}
}

func convRoute(r netlink.Route, names map[int]string) Route {
	out := Route{
		Dst:       ipnetPrefix(r.Dst),
		Gateway:   ipAddr(r.Gw),
		PrefSrc:   ipAddr(r.Src),
		LinkIndex: r.LinkIndex,
		Link:      names[r.LinkIndex],
		Protocol:  protoName(int(r.Protocol)),
		Scope:     scopeName(int(r.Scope)),
		Metric:    r.Priority,
	}
	if !out.Dst.IsValid() {
		if r.Family == unix.AF_INET6 {
			out.Dst = netip.MustParsePrefix("::/0")
		} else {
			out.Dst = netip.MustParsePrefix("0.0.0.0/0")
		}
	}
	return out
}

var nudNames = []struct {
	bit  int
	name string
}{
	{netlink.NUD_INCOMPLETE, "INCOMPLETE"}, {netlink.NUD_REACHABLE, "REACHABLE"},
	{netlink.NUD_STALE, "STALE"}, {netlink.NUD_DELAY, "DELAY"}, {netlink.NUD_PROBE, "PROBE"},
	{netlink.NUD_FAILED, "FAILED"}, {netlink.NUD_NOARP, "NOARP"}, {netlink.NUD_PERMANENT, "PERMANENT"},
}

func convNeigh(x netlink.Neigh, names map[int]string) (Neighbor, bool) {
	ip := ipAddr(x.IP)
	if !ip.IsValid() {
		return Neighbor{}, false
	}
	nb := Neighbor{IP: ip, LinkIndex: x.LinkIndex, Link: names[x.LinkIndex], State: []string{}}
	if len(x.HardwareAddr) > 0 {
		nb.MAC = append(hwaddr.MAC(nil), x.HardwareAddr...)
	}
	for _, n := range nudNames {
		if x.State&n.bit != 0 {
			nb.State = append(nb.State, n.name)
		}
	}
	return nb, true
}

// InspectAll lists the qdhcp namespaces, finds the dnsmasq processes in one
// pass over /proc, and inspects every namespace with at most cfg.Workers at
// once. Each result carries its own error; one namespace's failure does not
// hide the others. The error is non-nil only if the list or the /proc scan
// failed, or ctx ended (then the results gathered so far are returned).
func InspectAll(ctx context.Context, cfg *Config) ([]InspectResult, error) {
	infos, err := List(ctx, cfg)
	if err != nil {
		return nil, err
	}
	return InspectNamespaces(ctx, cfg, infos)
}

// InspectNamespaces is InspectAll for a given list of namespaces (from List,
// possibly filtered).
func InspectNamespaces(ctx context.Context, cfg *Config, infos []NamespaceInfo) ([]InspectResult, error) {
	want := make(map[uint64]bool, len(infos))
	for _, in := range infos {
		want[in.Inode] = true
	}
	procs, err := scanDnsmasq(cfg.procDir(), want)
	if err != nil {
		return nil, err
	}
	res := make([]InspectResult, len(infos))
	jobs := make(chan int)
	var wg sync.WaitGroup
	for range min(cfg.workers(), max(1, len(infos))) {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := range jobs {
				r := &res[i]
				r.Namespace = infos[i]
				r.Dnsmasq = procs[infos[i].Inode]
				if r.Dnsmasq == nil {
					r.Dnsmasq = []Process{}
				}
				r.Snapshot, r.Err = inspectOne(ctx, cfg, infos[i])
				if r.Err != nil {
					r.Error = r.Err.Error()
				}
			}
		}()
	}
	var cerr error
feed:
	for i := range infos {
		select {
		case jobs <- i:
		case <-ctx.Done():
			cerr = ctx.Err()
			for j := i; j < len(infos); j++ {
				res[j].Namespace = infos[j]
				res[j].Err = cerr
				res[j].Error = cerr.Error()
			}
			break feed
		}
	}
	close(jobs)
	wg.Wait()
	if cerr == nil {
		cerr = ctx.Err()
	}
	return res, cerr
}

func inspectOne(ctx context.Context, cfg *Config, info NamespaceInfo) (*Snapshot, error) {
	ns, err := Open(ctx, cfg, info.Name)
	if err != nil {
		return nil, err
	}
	defer ns.Close()
	if ns.info.Inode != info.Inode {
		return nil, fmt.Errorf("dhcpns: %s changed between listing and opening: %w", info.Path, ErrNoNetNS)
	}
	return ns.Inspect(ctx)
}
