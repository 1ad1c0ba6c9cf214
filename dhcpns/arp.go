package dhcpns

import (
	"encoding/binary"
	"net/netip"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
)

// ARPReply is one answer to an ARP request.
type ARPReply struct {
	// MAC is the responder's hardware address (ARP sender hardware address).
	MAC hwaddr.MAC `json:"mac"`
	// RTT is the time from sending the latest request for the target to
	// reading this reply.
	RTT time.Duration `json:"rtt"`
}

// ARPResult is the outcome for one target of an ARP probe or sweep.
type ARPResult struct {
	// IP is the target.
	IP netip.Addr `json:"ip"`
	// Replies lists each distinct responder, first answer first.
	Replies []ARPReply `json:"replies"`
}

// Answered reports whether any host answered.
func (r ARPResult) Answered() bool { return len(r.Replies) > 0 }

// Duplicate reports whether more than one MAC answered for the IP (an
// address conflict, or a stale VM still holding the address).
func (r ARPResult) Duplicate() bool { return len(r.Replies) > 1 }

// ARPOptions tune a probe or sweep. A nil *ARPOptions means defaults.
type ARPOptions struct {
	// Timeout is how long each target is waited for after its request was
	// sent. The sweep sends all requests first, so it waits one Timeout in
	// total, not one per silent target. Zero value: 1 s. A ctx deadline
	// that comes earlier wins.
	Timeout time.Duration
	// Settle is how long to keep listening for duplicate responders once
	// every target has answered. Zero value: 2 ms. Negative: stop at once.
	Settle time.Duration
	// Attempts is how many requests go to a target that has not answered:
	// they are spread evenly over Timeout, so the sweep still waits one
	// Timeout in total. Zero value: 1 (as `arping -c1`).
	Attempts int
	// Unicast sends the requests for each target it lists to that MAC
	// instead of the broadcast address (the frame's Ethernet destination;
	// the ARP target hardware address stays zero, as in any request), as
	// `arping -t MAC` does, and counts only replies from that MAC. Such a
	// request reaches the target only when the path delivers unicast to
	// its MAC: a switch that does not flood unknown unicast, or a
	// hypervisor's NIC without promiscuous mode, passes the broadcast
	// request and drops this one. Targets it does not list are broadcast.
	// Zero value (nil): every request is broadcast.
	Unicast map[netip.Addr]hwaddr.MAC
}

// orDefault returns a copy of o (nil: the zero ARPOptions) with every
// zero field set to its documented default; a negative Settle becomes 0.
func (o *ARPOptions) orDefault() ARPOptions {
	var d ARPOptions
	if o != nil {
		d = *o
	}
	if d.Timeout <= 0 {
		d.Timeout = time.Second
	}
	switch {
	case d.Settle == 0:
		d.Settle = 2 * time.Millisecond
	case d.Settle < 0:
		d.Settle = 0
	}
	if d.Attempts <= 0 {
		d.Attempts = 1
	}
	return d
}

func (o *ARPOptions) attempts() int { return o.orDefault().Attempts }

func (o *ARPOptions) timeout() time.Duration { return o.orDefault().Timeout }

func (o *ARPOptions) settle() time.Duration { return o.orDefault().Settle }

const (
	etherTypeARP  = 0x0806
	arpFrameLen   = 14 + 28
	arpOpRequest  = 1
	arpOpReply    = 2
	etherTypeIPv4 = 0x0800
)

// broadcastMAC is Ethernet's broadcast address.
var broadcastMAC = hwaddr.MAC{0xff, 0xff, 0xff, 0xff, 0xff, 0xff}

// arpRequest builds an ARP request frame for target from (srcMAC, srcIP)
// to the Ethernet destination dst (broadcastMAC, or the target's MAC for
// a unicast request) into b (at least arpFrameLen bytes).
func arpRequest(b []byte, dst, srcMAC hwaddr.MAC, srcIP, target netip.Addr) []byte {
	b = b[:arpFrameLen]
	copy(b[0:6], dst)
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeARP)
	a := b[14:]
	binary.BigEndian.PutUint16(a[0:2], 1) // Ethernet
	binary.BigEndian.PutUint16(a[2:4], etherTypeIPv4)
	a[4], a[5] = 6, 4
	binary.BigEndian.PutUint16(a[6:8], arpOpRequest)
	copy(a[8:14], srcMAC)
	s4 := srcIP.As4()
	copy(a[14:18], s4[:])
	copy(a[18:24], make([]byte, 6))
	t4 := target.As4()
	copy(a[24:28], t4[:])
	return b
}

// parseARPReply returns the sender of an Ethernet/IPv4 ARP reply addressed
// to ourMAC (target hardware address). ok is false for anything else.
func parseARPReply(b []byte, ourMAC hwaddr.MAC) (mac hwaddr.MAC, ip netip.Addr, ok bool) {
	if len(b) < arpFrameLen || binary.BigEndian.Uint16(b[12:14]) != etherTypeARP {
		return nil, netip.Addr{}, false
	}
	a := b[14:]
	if binary.BigEndian.Uint16(a[0:2]) != 1 || binary.BigEndian.Uint16(a[2:4]) != etherTypeIPv4 || a[4] != 6 || a[5] != 4 ||
		binary.BigEndian.Uint16(a[6:8]) != arpOpReply {
		return nil, netip.Addr{}, false
	}
	if ourMAC != nil && string(a[18:24]) != string(ourMAC) {
		return nil, netip.Addr{}, false
	}
	return hwaddr.MAC(append([]byte(nil), a[8:14]...)), netip.AddrFrom4([4]byte(a[14:18])), true
}
