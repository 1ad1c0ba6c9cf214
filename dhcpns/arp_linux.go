package dhcpns

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"github.com/mdlayher/packet"
	"github.com/vifpath/vifpath/hwaddr"
	"golang.org/x/net/bpf"
	"golang.org/x/sys/unix"
)

// ARPProber sends ARP requests out of one interface inside one namespace
// over a single AF_PACKET socket, opened inside the namespace when the
// prober is created and used from any goroutine afterwards. It is safe for
// concurrent use: probes and sweeps on one prober run one at a time. Close
// it when done (closing the socket costs the kernel about 16 ms, so keep a
// prober for many probes rather than opening one per target).
type ARPProber struct {
	ifname string
	mac    hwaddr.MAC
	src    netip.Addr     // default sender address
	srcs   []netip.Prefix // the interface's IPv4 addresses
	ns     string

	mu     sync.Mutex // one probe at a time; guards conn
	conn   *packet.Conn
	buf    []byte
	closed bool
}

// OpenARPProber opens an ARP prober on interface ifname inside the
// namespace named namespace under cfg.NetNSDir (for a DHCP namespace,
// NamespaceName(networkID)). Each request's sender address is the
// interface's IPv4 address whose subnet holds the target, else its first
// address that is not link-local, else 0.0.0.0 (an RFC 5227 probe) if it
// has none. Needs CAP_SYS_ADMIN and CAP_NET_RAW.
func OpenARPProber(ctx context.Context, cfg *Config, namespace, ifname string) (*ARPProber, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	path := filepath.Join(cfg.netnsDir(), namespace)
	p := &ARPProber{ifname: ifname, ns: namespace, buf: make([]byte, 1514), src: netip.IPv4Unspecified()}
	err := doInNetNS(path, func() error {
		ifi, err := net.InterfaceByName(ifname)
		if err != nil {
			return fmt.Errorf("%w: interface %s: %v", ErrNotFound, ifname, err)
		}
		if len(ifi.HardwareAddr) != 6 {
			return fmt.Errorf("interface %s has no Ethernet address", ifname)
		}
		p.mac = hwaddr.MAC(ifi.HardwareAddr)
		if addrs, err := ifi.Addrs(); err == nil {
			for _, a := range addrs {
				if n, ok := a.(*net.IPNet); ok {
					if ip, ok := netip.AddrFromSlice(n.IP); ok && ip.Unmap().Is4() {
						ones, _ := n.Mask.Size()
						p.srcs = append(p.srcs, netip.PrefixFrom(ip.Unmap(), ones))
					}
				}
			}
		}
		// Default sender: the first address that is not link-local
		// (Neutron puts 169.254.169.254/32 on the DHCP port for metadata).
		for _, pf := range p.srcs {
			if !pf.Addr().IsLinkLocalUnicast() {
				p.src = pf.Addr()
				break
			}
		}
		if p.src.IsUnspecified() && len(p.srcs) > 0 {
			p.src = p.srcs[0].Addr()
		}
		// The ifindex is only meaningful here, inside the namespace.
		c, err := packet.Listen(ifi, packet.Raw, etherTypeARP, &packet.Config{Filter: arpReplyFilter})
		if err != nil {
			return fmt.Errorf("AF_PACKET socket on %s: %w (needs CAP_NET_RAW)", ifname, err)
		}
		p.conn = c
		// Replies to a large sweep queue up while requests go out: make
		// room (SO_RCVBUFFORCE needs CAP_NET_ADMIN; else the capped size).
		if rc, err := c.SyscallConn(); err == nil {
			rc.Control(func(fd uintptr) {
				if unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUFFORCE, 4<<20) != nil {
					unix.SetsockoptInt(int(fd), unix.SOL_SOCKET, unix.SO_RCVBUF, 4<<20)
				}
			})
		}
		return nil
	})
	if err != nil {
		if errors.Is(err, ErrNoNetNS) {
			err = fmt.Errorf("namespace %s: %w (`ip netns` lists namespaces)", path, ErrNoNetNS)
		}
		return nil, fmt.Errorf("dhcpns: open ARP prober on %s in %s: %w", ifname, namespace, err)
	}
	return p, nil
}

// Source returns the default sender IP address and the MAC the prober's
// requests use.
func (p *ARPProber) Source() (netip.Addr, hwaddr.MAC) { return p.src, p.mac }

// Close closes the socket. It is idempotent.
func (p *ARPProber) Close() error {
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil
	}
	p.closed = true
	return p.conn.Close()
}

// ProbeARP sends ARP requests for one target (this sends packets) and waits
// up to opts.Timeout for answers. A target that never answers gives a
// result with no replies and an error satisfying errors.Is(err,
// ErrNoReply).
func (p *ARPProber) ProbeARP(ctx context.Context, target netip.Addr, opts *ARPOptions) (ARPResult, error) {
	rs, err := p.SweepARP(ctx, []netip.Addr{target}, opts)
	if err != nil {
		return ARPResult{IP: target}, err
	}
	if !rs[0].Answered() {
		return rs[0], fmt.Errorf("dhcpns: ARP probe for %s on %s in %s: no answer within %v (the host is down, on another segment, or filters ARP): %w", target, p.ifname, p.ns, opts.timeout(), ErrNoReply)
	}
	return rs[0], nil
}

// SweepARP sends one ARP request per target (this sends packets) over the
// prober's socket, all at once, then collects replies, matching them by
// sender IP, until every target has answered (plus opts.Settle, to catch
// duplicate responders) or one opts.Timeout has passed since the sweep
// began. With opts.Attempts > 1, targets that have not answered get
// another request at even intervals within that Timeout. Results are in target order; a silent target has no replies.
// Cancelling ctx stops the sweep and returns ctx's error with the results
// gathered so far. Targets must be IPv4.
func (p *ARPProber) SweepARP(ctx context.Context, targets []netip.Addr, opts *ARPOptions) ([]ARPResult, error) {
	res := make([]ARPResult, len(targets))
	idx := make(map[netip.Addr][]int, len(targets))
	for i, t := range targets {
		if !t.Is4() {
			return nil, fmt.Errorf("dhcpns: ARP sweep: target %v is not IPv4", t)
		}
		res[i] = ARPResult{IP: t, Replies: []ARPReply{}}
		idx[t] = append(idx[t], i)
	}
	p.mu.Lock()
	defer p.mu.Unlock()
	if p.closed {
		return nil, fmt.Errorf("dhcpns: ARP sweep on %s: %w", p.ifname, ErrClosed)
	}
	if err := ctx.Err(); err != nil {
		return res, err
	}
	p.drain()

	// Cancellation: push the read deadline into the past.
	stop := context.AfterFunc(ctx, func() { p.conn.SetReadDeadline(time.Unix(1, 0)) })
	defer stop()

	sent := make(map[netip.Addr]time.Time, len(idx))
	seen := make(map[netip.Addr]map[string]bool, len(idx))
	frame := make([]byte, arpFrameLen)
	var unicast map[netip.Addr]hwaddr.MAC
	if opts != nil {
		unicast = opts.Unicast
	}
	bcast := &packet.Addr{HardwareAddr: net.HardwareAddr(broadcastMAC)}
	send := func() error {
		for t := range idx {
			if seen[t] != nil {
				continue // answered
			}
			dst, to := broadcastMAC, bcast
			if m := unicast[t]; len(m) == 6 {
				dst, to = m, &packet.Addr{HardwareAddr: net.HardwareAddr(m)}
			}
			arpRequest(frame, dst, p.mac, p.srcFor(t), t)
			sent[t] = time.Now()
			if _, err := p.conn.WriteTo(frame, to); err != nil {
				return fmt.Errorf("dhcpns: ARP sweep: send request for %s on %s: %w", t, p.ifname, err)
			}
		}
		return nil
	}
	if err := send(); err != nil {
		return res, err
	}
	attemptsLeft := opts.attempts() - 1
	interval := opts.timeout() / time.Duration(opts.attempts())
	nextSend := time.Now().Add(interval)
	deadline := time.Now().Add(opts.timeout())
	ctxDeadline, hasCtxDeadline := ctx.Deadline()
	if hasCtxDeadline && ctxDeadline.Before(deadline) {
		deadline = ctxDeadline
	}
	pending := len(sent)
	for {
		rd := deadline
		if attemptsLeft > 0 && pending > 0 && nextSend.Before(rd) {
			rd = nextSend
		}
		p.conn.SetReadDeadline(rd)
		if ctx.Err() != nil { // cancelled while we set it: undo
			p.conn.SetReadDeadline(time.Unix(1, 0))
		}
		n, _, err := p.conn.ReadFrom(p.buf)
		now := time.Now()
		if err != nil {
			if cerr := ctx.Err(); cerr != nil {
				return res, cerr
			}
			if errors.Is(err, os.ErrDeadlineExceeded) && now.Before(deadline) {
				// Time to resend to the targets that have not answered.
				attemptsLeft--
				nextSend = now.Add(interval)
				if err := send(); err != nil {
					return res, err
				}
				continue
			}
			if errors.Is(err, os.ErrDeadlineExceeded) {
				// The socket may time out just before ctx's own timer fires.
				if hasCtxDeadline && !now.Before(ctxDeadline) {
					return res, context.DeadlineExceeded
				}
				return res, nil
			}
			return res, fmt.Errorf("dhcpns: ARP sweep: read on %s: %w", p.ifname, err)
		}
		mac, ip, ok := parseARPReply(p.buf[:n], p.mac)
		if !ok {
			continue
		}
		is, ok := idx[ip]
		if !ok {
			continue
		}
		if m := unicast[ip]; len(m) == 6 && !m.Equal(mac) {
			continue // a unicast request counts only its target's answer
		}
		if seen[ip] == nil {
			seen[ip] = map[string]bool{}
			pending--
		}
		if seen[ip][string(mac)] {
			continue
		}
		seen[ip][string(mac)] = true
		for _, i := range is {
			res[i].Replies = append(res[i].Replies, ARPReply{MAC: mac, RTT: now.Sub(sent[ip])})
		}
		if pending == 0 {
			if s := now.Add(opts.settle()); s.Before(deadline) {
				deadline = s
			}
		}
	}
}

func (p *ARPProber) srcFor(t netip.Addr) netip.Addr {
	for _, pf := range p.srcs {
		if pf.Masked().Contains(t) && pf.Bits() < 32 {
			return pf.Addr()
		}
	}
	return p.src
}

// arpReplyFilter keeps only Ethernet/IPv4 ARP replies, so the socket's
// queue holds neither our own requests nor others' broadcasts.
var arpReplyFilter = mustAssemble([]bpf.Instruction{
	bpf.LoadAbsolute{Off: 12, Size: 2}, // EtherType
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: etherTypeARP, SkipTrue: 3},
	bpf.LoadAbsolute{Off: 14 + 6, Size: 2}, // ARP operation
	bpf.JumpIf{Cond: bpf.JumpNotEqual, Val: arpOpReply, SkipTrue: 1},
	bpf.RetConstant{Val: 0xffff},
	bpf.RetConstant{Val: 0},
})

func mustAssemble(prog []bpf.Instruction) []bpf.RawInstruction {
	raw, err := bpf.Assemble(prog)
	if err != nil {
		panic(err)
	}
	return raw
}

// drain discards frames queued before a sweep (broadcasts, late replies)
// with non-blocking reads (a read with a past deadline reads nothing).
func (p *ARPProber) drain() {
	rc, err := p.conn.SyscallConn()
	if err != nil {
		return
	}
	rc.Control(func(fd uintptr) {
		for range 100000 {
			if _, _, err := unix.Recvfrom(int(fd), p.buf, unix.MSG_DONTWAIT); err != nil {
				return
			}
		}
	})
}
