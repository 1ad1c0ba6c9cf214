package linuxbridge

import (
	"bytes"
	"context"
	"fmt"
	"testing"
	"time"

	"github.com/google/go-cmp/cmp"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
)

// The per-device and per-entry decoders walk attributes with attrIter
// rather than netlink.AttributeDecoder, for speed. These are the same
// decoders on AttributeDecoder (the best it does: stopping once the
// reported attributes are read); TestIntegrationDecodeAgrees checks both
// read the same from a real kernel's messages and BenchmarkDecode times
// them on those messages in the same run.

func adDecodeLink(p []byte, l *rawLink) bool {
	if len(p) < ifinfomsgLen {
		return false
	}
	*l = rawLink{} // the fixed header as decodeLink reads it
	decodeLink(p[:ifinfomsgLen], l)
	l.name = ""
	ad, err := netlink.NewAttributeDecoder(p[ifinfomsgLen:])
	if err != nil {
		return false
	}
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_IFNAME:
			l.name = ad.String()
		case unix.IFLA_ADDRESS:
			if b := ad.Bytes(); len(b) > 0 {
				l.mac = hwaddr.MAC(b)
			}
		case unix.IFLA_MTU:
			l.mtu = int(ad.Uint32())
		case unix.IFLA_LINK:
			l.link = int(ad.Int32())
		case unix.IFLA_MASTER:
			l.master = int(ad.Uint32())
		case unix.IFLA_OPERSTATE:
			l.oper = ad.Uint8()
		case unix.IFLA_LINK_NETNSID:
			l.netnsid = int(ad.Int32())
		case unix.IFLA_STATS64:
			ad.Do(func(b []byte) error { l.stats = decodeStats64(b); return nil })
		case unix.IFLA_LINKINFO:
			ad.Nested(func(nad *netlink.AttributeDecoder) error { adDecodeLinkInfo(nad, l); return nil })
		case unix.IFLA_PROTINFO:
			if p[0] == unix.AF_BRIDGE {
				ad.Nested(func(nad *netlink.AttributeDecoder) error { adDecodeBrport(nad, &l.port); return nil })
			}
		}
	}
	return ad.Err() == nil && l.name != ""
}

func adDecodeLinkInfo(ad *netlink.AttributeDecoder, l *rawLink) {
	for ad.Next() {
		switch ad.Type() {
		case unix.IFLA_INFO_KIND:
			ad.Do(func(b []byte) error { l.kind = kindOf(b); return nil })
		case unix.IFLA_INFO_SLAVE_KIND:
			ad.Do(func(b []byte) error { l.bridgePort = kindOf(b) == kindBridge; return nil })
		case unix.IFLA_INFO_DATA:
			want := map[linkKind]uint16{kindBridge: unix.IFLA_BR_STP_STATE, kindTun: unix.IFLA_TUN_TYPE}[l.kind]
			ad.Nested(func(nad *netlink.AttributeDecoder) error {
				for want != 0 && nad.Next() {
					switch {
					case nad.Type() != want:
						continue
					case l.kind == kindBridge:
						l.stp = nad.Uint32() != 0
					default:
						l.tunTap = nad.Uint8() == unix.IFF_TAP
					}
					break
				}
				return nil
			})
		case unix.IFLA_INFO_SLAVE_DATA:
			if l.bridgePort {
				ad.Nested(func(nad *netlink.AttributeDecoder) error { adDecodeBrport(nad, &l.port); return nil })
			}
		}
	}
}

func adDecodeBrport(ad *netlink.AttributeDecoder, p *brport) {
	const all = 1<<6 - 1
	for seen := 0; seen != all && ad.Next(); {
		switch ad.Type() {
		case unix.IFLA_BRPORT_STATE:
			p.hasState, p.state, seen = true, ad.Uint8(), seen|1
		case unix.IFLA_BRPORT_PRIORITY:
			p.priority, seen = int(ad.Uint16()), seen|2
		case unix.IFLA_BRPORT_COST:
			p.cost, seen = int(ad.Uint32()), seen|4
		case unix.IFLA_BRPORT_MODE:
			p.hairpin, seen = ad.Uint8() != 0, seen|8
		case unix.IFLA_BRPORT_LEARNING:
			p.learning, seen = ad.Uint8() != 0, seen|16
		case unix.IFLA_BRPORT_UNICAST_FLOOD:
			p.flood, seen = ad.Uint8() != 0, seen|32
		}
	}
}

func adDecodeNeigh(p []byte, n *rawNeigh) bool {
	if len(p) < ndmsgLen || p[0] != unix.AF_BRIDGE {
		return false
	}
	*n = rawNeigh{}
	decodeNeigh(p[:ndmsgLen], n) // the fixed header
	ad, err := netlink.NewAttributeDecoder(p[ndmsgLen:])
	if err != nil {
		return false
	}
	var lladdr [32]byte
	nmac := -1
	for ad.Next() {
		switch ad.Type() {
		case unix.NDA_LLADDR:
			ad.Do(func(b []byte) error { nmac = copy(lladdr[:], b); return nil })
		case unix.NDA_MASTER:
			n.master = int(ad.Uint32())
		case unix.NDA_VLAN:
			n.vlan = int(ad.Uint16())
		}
	}
	if n.master != 0 && nmac > 0 {
		n.mac = hwaddr.MAC(bytes.Clone(lladdr[:nmac]))
	}
	return ad.Err() == nil && nmac >= 0
}

// decodeCorpus is the payloads of a real namespace's three dumps.
type decodeCorpus struct {
	links, brLinks, neighs [][]byte
}

// newDecodeCorpus builds a bridge with ports veth ports and a tap, and a
// bridge with STP, in a fresh namespace and records its full link dump,
// AF_BRIDGE link dump and FDB dump.
func newDecodeCorpus(tb testing.TB, ports int) *decodeCorpus {
	tb.Helper()
	testutil.RequireRoot(tb)
	host, peers := testutil.NewNetNS(tb), testutil.NewNetNS(tb)
	br, stp := testutil.RandName("nlbr"), testutil.RandName("nlstp")
	host.Bridge(tb, br)
	host.Bridge(tb, stp)
	host.Run(tb, "ip", "link", "set", stp, "type", "bridge", "stp_state", "1")
	for i := 0; i < ports; i++ {
		v := fmt.Sprintf("nlv%d", i)
		host.Veth(tb, v, peers, fmt.Sprintf("nlp%d", i))
		host.Enslave(tb, v, br)
		host.SetUp(tb, v)
	}
	tap := testutil.RandName("nltap")
	host.Tap(tb, tap)
	host.Enslave(tb, tap, stp)
	c := dialConnAt(tb, host.Path)
	defer c.close()
	var dc decodeCorpus
	record := func(typ uint16, hdr []byte, into *[][]byte) {
		tb.Helper()
		for try := 0; ; try++ {
			*into = (*into)[:0]
			err := c.dump(context.Background(), typ, hdr, nil, func(_ uint16, p []byte) error {
				*into = append(*into, bytes.Clone(p))
				return nil
			})
			if err == nil {
				return
			}
			if err != errDumpInterrupted || try == maxDumpTries {
				tb.Fatal(err)
			}
			time.Sleep(10 * time.Millisecond)
		}
	}
	hdr := make([]byte, ifinfomsgLen)
	record(unix.RTM_GETLINK, hdr, &dc.links)
	hdr[0] = unix.AF_BRIDGE
	record(unix.RTM_GETLINK, hdr, &dc.brLinks)
	nhdr := make([]byte, ndmsgLen)
	nhdr[0] = unix.AF_BRIDGE
	record(unix.RTM_GETNEIGH, nhdr, &dc.neighs)
	return &dc
}

// TestIntegrationDecodeAgrees: the attrIter decoders read exactly what the
// same decoders on netlink.AttributeDecoder read, message by message, from
// a real kernel's link, bridge-port and FDB dumps.
func TestIntegrationDecodeAgrees(t *testing.T) {
	dc := newDecodeCorpus(t, 20)
	opt := cmp.AllowUnexported(rawLink{}, brport{}, rawNeigh{})
	var ports, stp, tap, master int
	for _, set := range [][][]byte{dc.links, dc.brLinks} {
		for _, p := range set {
			var a, b rawLink
			okA, okB := decodeLink(p, &a), adDecodeLink(p, &b)
			if okA != okB {
				t.Errorf("link %s: decodeLink %v, on AttributeDecoder %v", a.name, okA, okB)
			}
			if diff := cmp.Diff(b, a, opt); diff != "" {
				t.Errorf("link %s (family %d) (-AttributeDecoder +attrIter):\n%s", a.name, p[0], diff)
			}
			if a.port.hasState {
				ports++
			}
			if a.stp {
				stp++
			}
			if a.tunTap {
				tap++
			}
		}
	}
	for _, p := range dc.neighs {
		var a, b rawNeigh
		okA, okB := decodeNeigh(p, &a), adDecodeNeigh(p, &b)
		if okA != okB {
			t.Errorf("fdb %s: decodeNeigh %v, on AttributeDecoder %v", a.mac, okA, okB)
		}
		if diff := cmp.Diff(b, a, opt); diff != "" {
			t.Errorf("fdb entry (-AttributeDecoder +attrIter):\n%s", diff)
		}
		if a.master != 0 {
			master++
		}
	}
	// Each port with a state in both link dumps, the STP bridge, the tap,
	// and at least each port's own MAC in the FDB: the comparison saw them.
	if ports != 2*21 || stp != 1 || tap != 1 || master < 21 {
		t.Errorf("decoded %d port states (want 42), %d STP bridges (want 1), %d taps (want 1), %d FDB entries with a master (want >= 21)", ports, stp, tap, master)
	}
	t.Logf("%d + %d link messages, %d FDB messages decoded alike", len(dc.links), len(dc.brLinks), len(dc.neighs))
}

// BenchmarkDecode decodes a real namespace's link, bridge-port and FDB
// messages (a bridge of 200 veth ports) with the package's decoders and,
// in the same run, with the same decoders on netlink.AttributeDecoder,
// and reports the time and allocations per message of each and the ratio.
func BenchmarkDecode(b *testing.B) {
	dc := newDecodeCorpus(b, 200)
	n := len(dc.links) + len(dc.brLinks) + len(dc.neighs)
	run := func(link func([]byte, *rawLink) bool, neigh func([]byte, *rawNeigh) bool) func() {
		return func() {
			var l rawLink
			var e rawNeigh
			for _, p := range dc.links {
				link(p, &l)
			}
			for _, p := range dc.brLinks {
				link(p, &l)
			}
			for _, p := range dc.neighs {
				neigh(p, &e)
			}
		}
	}
	ours, theirs := run(decodeLink, decodeNeigh), run(adDecodeLink, adDecodeNeigh)
	var oursT, theirsT time.Duration
	rounds := 0
	for b.Loop() {
		t0 := time.Now()
		ours()
		t1 := time.Now()
		theirs()
		oursT, theirsT = oursT+t1.Sub(t0), theirsT+time.Since(t1)
		rounds++
	}
	b.StopTimer()
	perMsg := func(d time.Duration) float64 { return float64(d.Nanoseconds()) / float64(rounds*n) }
	b.ReportMetric(perMsg(oursT), "ns/msg")
	b.ReportMetric(perMsg(theirsT), "attributedecoder-ns/msg")
	b.ReportMetric(float64(theirsT)/float64(oursT), "x-faster-than-attributedecoder")
	b.ReportMetric(testing.AllocsPerRun(5, ours)/float64(n), "allocs/msg")
	b.ReportMetric(testing.AllocsPerRun(5, theirs)/float64(n), "attributedecoder-allocs/msg")
	b.ReportMetric(float64(n), "msgs")
}
