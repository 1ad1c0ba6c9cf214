package linuxbridge

import (
	"context"
	"encoding/binary"
	"errors"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// The full link dump (RTM_GETLINK, AF_UNSPEC) is the costly part of a
// snapshot after the FDB: the kernel fills about 1.5 KiB per device, under
// the RTNL lock the FDB dump also takes. Most of what a port's message
// carries is also in the lighter dumps `bridge link` and `ip -s link` use:
// the AF_BRIDGE link dump (name, MAC, MTU, master, state, flags, port
// attributes) and RTM_GETSTATS (counters). What only the full dump says is
// fixed for a device's life (its kind, whether a tun is a tap, the veth
// peer's namespace id), so an Inspector keeps it per ifindex from its last
// full dump and, while nothing changed, snapshots with the light dumps.
//
// "Nothing changed" is the kernel's word: a socket subscribed to link
// notifications (RTMGRP_LINK) in the inspected namespace. Any RTM_NEWLINK
// or RTM_DELLINK since the last full dump (a device added, removed, moved
// in or out, renamed, its state or master changed) or an overflow of that
// socket drops the cache, and the next snapshot makes a full dump again. A
// port the cache does not know does too.

// linkStatic is what only the full link dump says about a device, and
// never changes while the device exists.
type linkStatic struct {
	kind    linkKind
	tunTap  bool
	netnsid int
}

// fastUsable drains the notification socket and reports whether the cache
// may be used: it holds something and no link changed since it was made.
func (in *Inspector) fastUsable() bool {
	if in.cMon == nil {
		return false
	}
	if in.cMon.changed() {
		clear(in.static)
	}
	return len(in.static) > 0
}

// remember records the static part of every device of the last full dump.
func (in *Inspector) remember() {
	if in.static == nil {
		in.static = make(map[int]linkStatic, len(in.links))
	}
	clear(in.static)
	for i := range in.links {
		l := &in.links[i]
		in.static[l.index] = linkStatic{kind: l.kind, tunTap: l.tunTap, netnsid: l.netnsid}
	}
}

// loadLinksFull drains the notification socket, makes the full link dump
// and caches its static part. A change during the dump leaves a
// notification that drops the cache at the next call.
func (in *Inspector) loadLinksFull(ctx context.Context) error {
	in.fastUsable()
	if err := in.loadLinks(ctx); err != nil {
		return err
	}
	in.remember()
	return nil
}

// errStale says the light dumps met a port the cache does not know.
var errStale = errors.New("linuxbridge: link cache stale")

// loadLinksLight fills in.links with the bridges (a full dump filtered to
// kind "bridge") and their ports (the AF_BRIDGE link dump and RTM_GETSTATS),
// the ports' static part from the cache. errStale: a full dump is needed.
func (in *Inspector) loadLinksLight(ctx context.Context) error {
	links := in.links[:0]
	// Bridges, complete: the kernel skips (cheaply) every other kind.
	hdr := make([]byte, ifinfomsgLen)
	err := in.retry(ctx, "bridge link", func() error {
		links = links[:0]
		return in.c.dump(ctx, unix.RTM_GETLINK, hdr, bridgeKindFilter, func(typ uint16, p []byte) error {
			if typ != unix.RTM_NEWLINK {
				return nil
			}
			links = append(links, rawLink{})
			if !decodeLink(p, &links[len(links)-1]) || links[len(links)-1].kind != kindBridge {
				links = links[:len(links)-1]
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	nb := len(links)
	// Ports: the AF_BRIDGE link dump.
	hdr[0] = unix.AF_BRIDGE
	stale := false
	err = in.retry(ctx, "bridge port", func() error {
		links, stale = links[:nb], false
		return in.c.dump(ctx, unix.RTM_GETLINK, hdr, nil, func(typ uint16, p []byte) error {
			if typ != unix.RTM_NEWLINK || len(p) < ifinfomsgLen || p[0] != unix.AF_BRIDGE {
				return nil
			}
			var l rawLink
			if !decodeLink(p, &l) || l.master == 0 {
				return nil
			}
			st, ok := in.static[l.index]
			if !ok {
				stale = true
				return nil
			}
			l.bridgePort = true // decodeLink read IFLA_PROTINFO
			l.kind, l.tunTap, l.netnsid = st.kind, st.tunTap, st.netnsid
			links = append(links, l)
			return nil
		})
	})
	if err != nil {
		return err
	}
	if stale {
		return errStale
	}
	// Counters: RTM_GETSTATS with only IFLA_STATS_LINK_64.
	at := make(map[int]int, len(links)-nb)
	for i := nb; i < len(links); i++ {
		at[links[i].index] = i
	}
	shdr := make([]byte, ifStatsMsgLen)
	binary.NativeEndian.PutUint32(shdr[8:], 1<<(iflaStatsLink64-1))
	err = in.retry(ctx, "stats", func() error {
		return in.c.dump(ctx, rtmGetStats, shdr, nil, func(typ uint16, p []byte) error {
			if typ != rtmNewStats || len(p) < ifStatsMsgLen {
				return nil
			}
			i, ok := at[int(int32(binary.NativeEndian.Uint32(p[4:])))]
			if !ok {
				return nil
			}
			for it := (attrIter{b: p[ifStatsMsgLen:]}); it.next(); {
				if it.typ == iflaStatsLink64 {
					links[i].stats = decodeStats64(it.v)
				}
			}
			return nil
		})
	})
	if err != nil {
		return err
	}
	in.links = links
	if in.byIdx == nil {
		in.byIdx = make(map[int]int, len(in.links))
	}
	clear(in.byIdx)
	for i := range in.links {
		in.byIdx[in.links[i].index] = i
	}
	return nil
}

// RTM_GETSTATS (linux/rtnetlink.h, linux/if_link.h), which x/sys/unix
// does not define.
const (
	rtmNewStats     = 92
	rtmGetStats     = 94
	ifStatsMsgLen   = 12 // struct if_stats_msg
	iflaStatsLink64 = 1
)

// bridgeKindFilter asks a link dump for devices of kind "bridge" only
// (IFLA_LINKINFO { IFLA_INFO_KIND "bridge" }).
var bridgeKindFilter = func() []byte {
	ae := netlink.NewAttributeEncoder()
	ae.Nested(unix.IFLA_LINKINFO, func(nae *netlink.AttributeEncoder) error {
		nae.String(unix.IFLA_INFO_KIND, "bridge")
		return nil
	})
	b, err := ae.Encode()
	if err != nil {
		panic("linuxbridge: encode the bridge kind filter: " + err.Error())
	}
	return b
}()

// snapshotLinks returns Snapshot's link loader: the light dumps while the
// cache holds, else (or when they meet an unknown port) the full dump.
func (in *Inspector) snapshotLinks(ctx context.Context) func() error {
	return func() error {
		if in.fastUsable() {
			err := in.loadLinksLight(ctx)
			if !errors.Is(err, errStale) {
				return err
			}
			in.log.Debug("linuxbridge: a port the link cache does not know: full link dump")
		}
		return in.loadLinksFull(ctx)
	}
}
