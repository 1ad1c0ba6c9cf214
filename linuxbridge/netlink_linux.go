package linuxbridge

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"golang.org/x/sys/unix"
)

// The lean netlink client: one NETLINK_ROUTE socket, dump requests, and
// decoders that read only the attributes the package reports. The decoders
// do not allocate per attribute; vishvananda/netlink's LinkList spends
// about 10 µs a link building objects we would throw away.

const (
	nlmsgHdrLen   = unix.SizeofNlMsghdr // 16
	ifinfomsgLen  = unix.SizeofIfInfomsg
	ndmsgLen      = unix.SizeofNdMsg
	ifaddrmsgLen  = unix.SizeofIfAddrmsg
	nlaHdrLen     = 4
	nlaTypeMask   = 0x3fff
	recvBufSize   = 64 << 10
	pollInterval  = 100 * time.Millisecond
	maxDumpTries  = 10
	sizeofStats64 = 8 * 8 // the eight counters Stats reports
)

var errDumpInterrupted = errors.New("netlink dump interrupted")

func nlAlign(n int) int { return (n + 3) &^ 3 }

// conn is a NETLINK_ROUTE socket bound to one namespace. It is not safe for
// concurrent use; Inspector serializes calls.
type conn struct {
	fd   int
	seq  uint32
	seq0 uint32 // the first sequence number, for tests that count requests
	// pending is the sequence number of a dump whose replies were not all
	// read (the caller's ctx ended, or a reply was malformed). The kernel
	// refuses a new dump (EBUSY) on the socket until they are.
	pending uint32
	buf     []byte
	req     []byte
}

// newConn opens the socket in the calling thread's network namespace.
func newConn() (*conn, error) { return newConnGroups(0) }

// newConnGroups opens a socket subscribed to the rtnetlink multicast
// groups (RTMGRP_*) in groups.
func newConnGroups(groups uint32) (*conn, error) {
	fd, err := unix.Socket(unix.AF_NETLINK, unix.SOCK_RAW|unix.SOCK_CLOEXEC|unix.SOCK_NONBLOCK, unix.NETLINK_ROUTE)
	if err != nil {
		return nil, fmt.Errorf("linuxbridge: open netlink socket: %w", err)
	}
	if err := unix.Bind(fd, &unix.SockaddrNetlink{Family: unix.AF_NETLINK, Groups: groups}); err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("linuxbridge: bind netlink socket: %w", err)
	}
	seq := uint32(time.Now().UnixNano())
	return &conn{fd: fd, seq: seq, seq0: seq, buf: make([]byte, recvBufSize)}, nil
}

func (c *conn) close() error { return unix.Close(c.fd) }

// dump sends one dump request (type typ, fixed header hdr, optional
// attributes attrs) and calls fn with each reply message's type and
// payload. The payload aliases the receive buffer: fn copies what it keeps.
// A dump the kernel flags as interrupted (NLM_F_DUMP_INTR) is read to the
// end and reported as errDumpInterrupted.
func (c *conn) dump(ctx context.Context, typ uint16, hdr []byte, attrs []byte, fn func(typ uint16, payload []byte) error) error {
	if c.pending != 0 {
		if err := c.drain(ctx); err != nil {
			return err
		}
	}
	c.seq++
	seq := c.seq
	n := nlmsgHdrLen + len(hdr) + len(attrs)
	if cap(c.req) < n {
		c.req = make([]byte, n)
	}
	req := c.req[:n]
	ne := binary.NativeEndian
	ne.PutUint32(req[0:], uint32(n))
	ne.PutUint16(req[4:], typ)
	ne.PutUint16(req[6:], unix.NLM_F_REQUEST|unix.NLM_F_DUMP)
	ne.PutUint32(req[8:], seq)
	ne.PutUint32(req[12:], 0)
	copy(req[nlmsgHdrLen:], hdr)
	copy(req[nlmsgHdrLen+len(hdr):], attrs)
	if err := unix.Sendto(c.fd, req, 0, &unix.SockaddrNetlink{Family: unix.AF_NETLINK}); err != nil {
		return fmt.Errorf("send netlink request: %w", err)
	}
	c.pending = seq
	return c.read(ctx, seq, fn)
}

// drain reads and drops the rest of an abandoned dump, for at most a
// second.
func (c *conn) drain(ctx context.Context) error {
	dctx, cancel := context.WithTimeout(ctx, time.Second)
	defer cancel()
	if err := c.read(dctx, c.pending, func(uint16, []byte) error { return nil }); err != nil && c.pending != 0 {
		return fmt.Errorf("drain an abandoned netlink dump: %w", err)
	}
	c.pending = 0
	return nil
}

// read reads the replies to request seq until its NLMSG_DONE or
// NLMSG_ERROR (then clearing c.pending), calling fn for each other message.
func (c *conn) read(ctx context.Context, seq uint32, fn func(typ uint16, payload []byte) error) error {
	ne := binary.NativeEndian
	interrupted := false
	var ferr error
	for {
		nr, err := c.recv(ctx)
		if err != nil {
			return err
		}
		b := c.buf[:nr]
		for len(b) >= nlmsgHdrLen {
			l := int(ne.Uint32(b[0:]))
			if l < nlmsgHdrLen || l > len(b) {
				return fmt.Errorf("malformed netlink message (length %d of %d)", l, len(b))
			}
			mtyp := ne.Uint16(b[4:])
			flags := ne.Uint16(b[6:])
			mseq := ne.Uint32(b[8:])
			payload := b[nlmsgHdrLen:l]
			next := nlAlign(l)
			if next > len(b) {
				next = len(b)
			}
			b = b[next:]
			if mseq != seq {
				continue // left over from an earlier, abandoned request
			}
			if flags&unix.NLM_F_DUMP_INTR != 0 {
				interrupted = true
			}
			switch mtyp {
			case unix.NLMSG_DONE:
				c.pending = 0
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload)); e < 0 {
						return unix.Errno(-e)
					}
				}
				if interrupted {
					return errDumpInterrupted
				}
				return ferr
			case unix.NLMSG_ERROR:
				c.pending = 0
				if len(payload) >= 4 {
					if e := int32(ne.Uint32(payload)); e < 0 {
						return unix.Errno(-e)
					}
				}
				return ferr
			case unix.NLMSG_NOOP, unix.NLMSG_OVERRUN:
				continue
			}
			if ferr == nil {
				ferr = fn(mtyp, payload)
			}
		}
	}
}

// recv reads one datagram, waiting at most until ctx is done.
func (c *conn) recv(ctx context.Context) (int, error) {
	for {
		n, err := unix.Read(c.fd, c.buf)
		switch {
		case err == nil:
			return n, nil
		case err == unix.EINTR:
			continue
		case err == unix.EAGAIN:
		default:
			return 0, fmt.Errorf("read netlink socket: %w", err)
		}
		if err := ctx.Err(); err != nil {
			return 0, err
		}
		wait := pollInterval
		if dl, ok := ctx.Deadline(); ok {
			if d := time.Until(dl); d < wait {
				wait = d
			}
		}
		ms := int(wait / time.Millisecond)
		if ms < 1 {
			ms = 1
		}
		fds := []unix.PollFd{{Fd: int32(c.fd), Events: unix.POLLIN}}
		if _, err := unix.Poll(fds, ms); err != nil && err != unix.EINTR {
			return 0, fmt.Errorf("poll netlink socket: %w", err)
		}
	}
}

// forEachAttr calls fn for each netlink attribute in b.
func forEachAttr(b []byte, fn func(typ uint16, v []byte)) {
	ne := binary.NativeEndian
	for len(b) >= nlaHdrLen {
		l := int(ne.Uint16(b[0:]))
		if l < nlaHdrLen || l > len(b) {
			return
		}
		fn(ne.Uint16(b[2:])&nlaTypeMask, b[nlaHdrLen:l])
		next := nlAlign(l)
		if next > len(b) {
			return
		}
		b = b[next:]
	}
}

func u8(v []byte) uint8 {
	if len(v) < 1 {
		return 0
	}
	return v[0]
}

func u16(v []byte) uint16 {
	if len(v) < 2 {
		return 0
	}
	return binary.NativeEndian.Uint16(v)
}

func u32(v []byte) uint32 {
	if len(v) < 4 {
		return 0
	}
	return binary.NativeEndian.Uint32(v)
}

// cstring returns v up to its first NUL, as a new string.
func cstring(v []byte) string {
	for i, c := range v {
		if c == 0 {
			return string(v[:i])
		}
	}
	return string(v)
}

func copyMAC(v []byte) hwaddr.MAC {
	if len(v) == 0 {
		return nil
	}
	m := make(hwaddr.MAC, len(v))
	copy(m, v)
	return m
}

// Link kinds the package tells apart (IFLA_INFO_KIND).
type linkKind uint8

const (
	kindNone linkKind = iota // no IFLA_LINKINFO: a physical NIC (or loopback)
	kindBridge
	kindVeth
	kindTun
	kindVLAN
	kindBond
	kindOther
)

// rawLink is what one RTM_NEWLINK message says about a device.
type rawLink struct {
	index      int
	flags      uint32
	arphrd     uint16
	name       string
	mac        hwaddr.MAC
	mtu        int
	link       int
	master     int
	oper       uint8
	netnsid    int
	stats      Stats
	kind       linkKind
	tunTap     bool
	stp        bool
	bridgePort bool // IFLA_INFO_SLAVE_KIND "bridge"
	port       brport
}

// brport is a bridge port's IFLA_BRPORT_* attributes.
type brport struct {
	hasState bool
	state    uint8
	priority int
	cost     int
	learning bool
	flood    bool
	hairpin  bool
}

// decodeLink decodes an RTM_NEWLINK payload.
func decodeLink(p []byte, l *rawLink) bool {
	if len(p) < ifinfomsgLen {
		return false
	}
	ne := binary.NativeEndian
	*l = rawLink{
		arphrd:  ne.Uint16(p[2:]),
		index:   int(int32(ne.Uint32(p[4:]))),
		flags:   ne.Uint32(p[8:]),
		netnsid: -1,
	}
	forEachAttr(p[ifinfomsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_IFNAME:
			l.name = cstring(v)
		case unix.IFLA_ADDRESS:
			l.mac = copyMAC(v)
		case unix.IFLA_MTU:
			l.mtu = int(u32(v))
		case unix.IFLA_LINK:
			l.link = int(int32(u32(v)))
		case unix.IFLA_MASTER:
			l.master = int(u32(v))
		case unix.IFLA_OPERSTATE:
			l.oper = u8(v)
		case unix.IFLA_LINK_NETNSID:
			l.netnsid = int(int32(u32(v)))
		case unix.IFLA_STATS64:
			l.stats = decodeStats64(v)
		case unix.IFLA_LINKINFO:
			decodeLinkInfo(v, l)
		}
	})
	return l.name != ""
}

// decodeStats64 reads the counters Stats reports from a struct
// rtnl_link_stats64 (IFLA_STATS64, IFLA_STATS_LINK_64).
func decodeStats64(v []byte) Stats {
	if len(v) < sizeofStats64 {
		return Stats{}
	}
	ne := binary.NativeEndian
	return Stats{
		RxPackets: ne.Uint64(v[0:]),
		TxPackets: ne.Uint64(v[8:]),
		RxBytes:   ne.Uint64(v[16:]),
		TxBytes:   ne.Uint64(v[24:]),
		RxErrors:  ne.Uint64(v[32:]),
		TxErrors:  ne.Uint64(v[40:]),
		RxDropped: ne.Uint64(v[48:]),
		TxDropped: ne.Uint64(v[56:]),
	}
}

func decodeLinkInfo(b []byte, l *rawLink) {
	var data, slaveData []byte
	forEachAttr(b, func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_INFO_KIND:
			switch string(trimNUL(v)) {
			case "bridge":
				l.kind = kindBridge
			case "veth":
				l.kind = kindVeth
			case "tun":
				l.kind = kindTun
			case "vlan":
				l.kind = kindVLAN
			case "bond":
				l.kind = kindBond
			default:
				l.kind = kindOther
			}
		case unix.IFLA_INFO_DATA:
			data = v
		case unix.IFLA_INFO_SLAVE_KIND:
			l.bridgePort = string(trimNUL(v)) == "bridge"
		case unix.IFLA_INFO_SLAVE_DATA:
			slaveData = v
		}
	})
	switch {
	case l.kind == kindBridge && data != nil:
		forEachAttr(data, func(typ uint16, v []byte) {
			if typ == unix.IFLA_BR_STP_STATE {
				l.stp = u32(v) != 0
			}
		})
	case l.kind == kindTun && data != nil:
		forEachAttr(data, func(typ uint16, v []byte) {
			if typ == unix.IFLA_TUN_TYPE {
				l.tunTap = u8(v) == unix.IFF_TAP
			}
		})
	}
	if l.bridgePort && slaveData != nil {
		decodeBrport(slaveData, &l.port)
	}
}

// decodeBrport reads IFLA_BRPORT_* attributes, from IFLA_INFO_SLAVE_DATA
// (what `ip -d link` reads) or IFLA_PROTINFO (what `bridge link` reads):
// the kernel fills both with the same function.
func decodeBrport(b []byte, p *brport) {
	forEachAttr(b, func(typ uint16, v []byte) {
		switch typ {
		case unix.IFLA_BRPORT_STATE:
			p.hasState = true
			p.state = u8(v)
		case unix.IFLA_BRPORT_PRIORITY:
			p.priority = int(u16(v))
		case unix.IFLA_BRPORT_COST:
			p.cost = int(u32(v))
		case unix.IFLA_BRPORT_MODE:
			p.hairpin = u8(v) != 0
		case unix.IFLA_BRPORT_LEARNING:
			p.learning = u8(v) != 0
		case unix.IFLA_BRPORT_UNICAST_FLOOD:
			p.flood = u8(v) != 0
		}
	})
}

func trimNUL(v []byte) []byte {
	for i, c := range v {
		if c == 0 {
			return v[:i]
		}
	}
	return v
}

// rawNeigh is one AF_BRIDGE RTM_NEWNEIGH message (an FDB entry).
type rawNeigh struct {
	ifindex int
	state   uint16
	flags   uint8
	mac     hwaddr.MAC
	master  int
	vlan    int
}

func decodeNeigh(p []byte, n *rawNeigh) bool {
	if len(p) < ndmsgLen || p[0] != unix.AF_BRIDGE {
		return false
	}
	ne := binary.NativeEndian
	*n = rawNeigh{
		ifindex: int(int32(ne.Uint32(p[4:]))),
		state:   ne.Uint16(p[8:]),
		flags:   p[10],
	}
	var mac []byte
	forEachAttr(p[ndmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.NDA_LLADDR:
			mac = v
		case unix.NDA_MASTER:
			n.master = int(u32(v))
		case unix.NDA_VLAN:
			n.vlan = int(u16(v))
		}
	})
	// Copy the MAC only for entries of a bridge's table: most messages of
	// the dump are devices' own multicast lists, which are dropped.
	if n.master != 0 {
		n.mac = copyMAC(mac)
	}
	return mac != nil
}

func fdbState(state uint16) FDBState {
	switch {
	case state&unix.NUD_PERMANENT != 0:
		return FDBPermanent
	case state&unix.NUD_NOARP != 0:
		return FDBStatic
	case state&unix.NUD_STALE != 0:
		return FDBStale
	case state&unix.NUD_REACHABLE != 0:
		return FDBReachable
	}
	return FDBUnknown
}

// decodeAddr decodes an RTM_NEWADDR payload into the link index and prefix.
func decodeAddr(p []byte) (int, [16]byte, int, int, bool) {
	var ip [16]byte
	if len(p) < ifaddrmsgLen {
		return 0, ip, 0, 0, false
	}
	family := int(p[0])
	bits := int(p[1])
	index := int(binary.NativeEndian.Uint32(p[4:]))
	var addr, local []byte
	forEachAttr(p[ifaddrmsgLen:], func(typ uint16, v []byte) {
		switch typ {
		case unix.IFA_ADDRESS:
			addr = v
		case unix.IFA_LOCAL:
			local = v
		}
	})
	if local != nil {
		addr = local
	}
	switch {
	case family == unix.AF_INET && len(addr) == 4:
		copy(ip[:], addr)
	case family == unix.AF_INET6 && len(addr) == 16:
		copy(ip[:], addr)
	default:
		return 0, ip, 0, 0, false
	}
	return index, ip, family, bits, true
}
