package linuxbridge

import (
	"encoding/binary"
	"testing"

	"golang.org/x/sys/unix"
)

func nlAlign(n int) int { return (n + 3) &^ 3 }

// attr encodes one netlink attribute, as the kernel lays it out.
func attr(typ uint16, v []byte) []byte {
	b := make([]byte, nlAlign(nlaHdrLen+len(v)))
	binary.NativeEndian.PutUint16(b[0:], uint16(nlaHdrLen+len(v)))
	binary.NativeEndian.PutUint16(b[2:], typ)
	copy(b[nlaHdrLen:], v)
	return b
}

func cat(bs ...[]byte) []byte {
	var out []byte
	for _, b := range bs {
		out = append(out, b...)
	}
	return out
}

// linkMsg is an RTM_NEWLINK payload for a tap bridge port in the
// listening state with hairpin on, as the kernel lays it out.
func linkMsg() []byte {
	hdr := make([]byte, ifinfomsgLen)
	binary.NativeEndian.PutUint16(hdr[2:], unix.ARPHRD_ETHER)
	binary.NativeEndian.PutUint32(hdr[4:], 7)
	binary.NativeEndian.PutUint32(hdr[8:], unix.IFF_UP)
	u32b := func(v uint32) []byte { b := make([]byte, 4); binary.NativeEndian.PutUint32(b, v); return b }
	stats := make([]byte, 8*24)
	for i := 0; i < 8; i++ {
		binary.NativeEndian.PutUint64(stats[8*i:], uint64(i+1))
	}
	return cat(hdr,
		attr(unix.IFLA_IFNAME, []byte("tap31f2d3e9-8d\x00")),
		attr(unix.IFLA_ADDRESS, []byte{0xfe, 0x16, 0x3e, 0x57, 0x19, 0x35}),
		attr(unix.IFLA_MTU, u32b(1450)),
		attr(unix.IFLA_MASTER, u32b(3)),
		attr(unix.IFLA_OPERSTATE, []byte{6}),
		attr(unix.IFLA_STATS64, stats),
		attr(unix.IFLA_LINKINFO|unix.NLA_F_NESTED, cat(
			attr(unix.IFLA_INFO_KIND, []byte("tun\x00")),
			attr(unix.IFLA_INFO_DATA|unix.NLA_F_NESTED, attr(unix.IFLA_TUN_TYPE, []byte{unix.IFF_TAP})),
			attr(unix.IFLA_INFO_SLAVE_KIND, []byte("bridge\x00")),
			attr(unix.IFLA_INFO_SLAVE_DATA|unix.NLA_F_NESTED, cat(
				attr(unix.IFLA_BRPORT_STATE, []byte{1}),
				attr(unix.IFLA_BRPORT_PRIORITY, []byte{32, 0}),
				attr(unix.IFLA_BRPORT_COST, u32b(2)),
				attr(unix.IFLA_BRPORT_MODE, []byte{1}),
				attr(unix.IFLA_BRPORT_LEARNING, []byte{1}),
				attr(unix.IFLA_BRPORT_UNICAST_FLOOD, []byte{0}),
				attr(unix.IFLA_BRPORT_ISOLATED, []byte{1}),
			)),
		)),
	)
}

func TestDecodeLink(t *testing.T) {
	var l rawLink
	if !decodeLink(linkMsg(), &l) {
		t.Fatal("decodeLink failed")
	}
	p := makePort(&l)
	if p.Name != "tap31f2d3e9-8d" || p.Index != 7 || p.MTU != 1450 || p.Kind != PortTap || p.OperState != OperUp || !p.Up ||
		p.STPState != STPListening || p.Priority != 32 || p.Cost != 2 || !p.Hairpin || !p.Learning || p.Flood || !p.Isolated ||
		p.Stats.RxPackets != 1 || p.Stats.TxDropped != 8 || p.MAC.String() != "fe:16:3e:57:19:35" || l.master != 3 || p.Peer != nil ||
		p.Neutron.Kind != DeviceTap {
		t.Errorf("decoded %+v (master %d)", p, l.master)
	}
}

// FuzzDecode feeds arbitrary bytes to the netlink message decoders: they
// must never panic or read out of bounds.
func FuzzDecode(f *testing.F) {
	f.Add(linkMsg())
	f.Add([]byte{})
	f.Add(make([]byte, ifinfomsgLen+3))
	f.Fuzz(func(t *testing.T, b []byte) {
		var l rawLink
		decodeLink(b, &l)
		var n rawNeigh
		decodeNeigh(b, &n)
		decodeAddr(b)
	})
}
