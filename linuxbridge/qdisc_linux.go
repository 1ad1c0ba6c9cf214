package linuxbridge

import (
	"context"
	"encoding/binary"
	"fmt"

	"golang.org/x/sys/unix"
)

// tcmsgLen is the size of struct tcmsg (family, padding, ifindex, handle,
// parent, info).
const tcmsgLen = 20

// The qdisc attributes read (linux/rtnetlink.h, linux/gen_stats.h).
const (
	tcaKind        = 1 // TCA_KIND
	tcaStats       = 3 // TCA_STATS: struct tc_stats
	tcaStats2      = 7 // TCA_STATS2, nested
	tcaStatsBasic  = 1 // TCA_STATS_BASIC: struct gnet_stats_basic
	tcaStatsQueue  = 3 // TCA_STATS_QUEUE: struct gnet_stats_queue
	tcHandleRoot   = 0xFFFFFFFF
	tcHandleIngres = 0xFFFFFFF1 // TC_H_INGRESS, also clsact's parent
)

// rawQdisc is one qdisc from an RTM_GETQDISC dump.
type rawQdisc struct {
	index int
	q     Qdisc
}

// qdiscParent names a qdisc's parent handle as tc prints it.
func qdiscParent(h uint32) string {
	switch h {
	case tcHandleRoot:
		return "root"
	case tcHandleIngres:
		return "ingress"
	}
	return fmt.Sprintf("%x:%x", h>>16, h&0xffff)
}

// decodeQdisc decodes an RTM_NEWQDISC message; ok is false when it is too
// short or names no device or kind.
func decodeQdisc(p []byte, q *rawQdisc) bool {
	if len(p) < tcmsgLen {
		return false
	}
	ne := binary.NativeEndian
	q.index = int(int32(ne.Uint32(p[4:])))
	q.q = Qdisc{Parent: qdiscParent(ne.Uint32(p[12:]))}
	queue := false
	it := attrIter{b: p[tcmsgLen:]}
	for it.next() {
		switch it.typ {
		case tcaKind:
			q.q.Kind = cstring(it.v)
		case tcaStats2:
			in := attrIter{b: it.v}
			for in.next() {
				switch {
				case in.typ == tcaStatsBasic && len(in.v) >= 12:
					q.q.Packets = uint64(ne.Uint32(in.v[8:]))
				case in.typ == tcaStatsQueue && len(in.v) >= 12:
					q.q.Drops, queue = uint64(ne.Uint32(in.v[8:])), true
				}
			}
		case tcaStats:
			if !queue && len(it.v) >= 16 { // the compat copy, when no TCA_STATS2
				q.q.Packets, q.q.Drops = uint64(ne.Uint32(it.v[8:])), uint64(ne.Uint32(it.v[12:]))
			}
		}
	}
	return q.index > 0 && q.q.Kind != ""
}

// loadQdiscs dumps every device's qdiscs (RTM_GETQDISC) into in.qdiscs,
// leaving out noqueue (a device without a queue: every Neutron tap's).
func (in *Inspector) loadQdiscs(ctx context.Context) error {
	hdr := make([]byte, tcmsgLen)
	return in.retry(ctx, "qdisc", func() error {
		in.qdiscs = in.qdiscs[:0]
		return in.cAddr.dump(ctx, unix.RTM_GETQDISC, hdr, nil, func(typ uint16, p []byte) error {
			if typ != unix.RTM_NEWQDISC {
				return nil
			}
			var q rawQdisc
			if decodeQdisc(p, &q) && q.q.Kind != "noqueue" {
				in.qdiscs = append(in.qdiscs, q)
			}
			return nil
		})
	})
}
