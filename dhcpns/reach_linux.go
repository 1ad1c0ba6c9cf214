package dhcpns

import (
	"context"
	"crypto/rand"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"
	"sync"
	"time"

	"golang.org/x/net/icmp"
	"golang.org/x/net/ipv4"
	"golang.org/x/sys/unix"
)

// ProbeReach sends, from inside the namespace named namespace under
// cfg.NetNSDir (a qdhcp-… namespace), one ICMP echo and one TCP SYN to
// each IPv4 target at once and reports what came back. It sends only to
// the given addresses (a VM's fixed IPs). The sockets are opened inside
// the namespace on a fresh locked thread and used from here; the caller's
// thread never moves. Needs CAP_SYS_ADMIN and CAP_NET_RAW.
func ProbeReach(ctx context.Context, cfg *Config, namespace string, targets []netip.Addr, opts *ReachOptions) ([]ReachResult, error) {
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	for _, t := range targets {
		if !t.Is4() {
			return nil, fmt.Errorf("dhcpns: probe reach: target %s is not IPv4: pass the port's IPv4 fixed IPs", t)
		}
	}
	path := filepath.Join(cfg.netnsDir(), namespace)
	timeout, port := opts.timeout(), opts.port()
	var (
		ic   *icmp.PacketConn
		tcps = make([]int, len(targets))
	)
	for i := range tcps {
		tcps[i] = -1
	}
	closeAll := func() {
		if ic != nil {
			ic.Close()
		}
		for _, fd := range tcps {
			if fd >= 0 {
				unix.Close(fd)
			}
		}
	}
	err := doInNetNS(path, func() error {
		var err error
		ic, err = icmp.ListenPacket("ip4:icmp", "0.0.0.0")
		if err != nil {
			return fmt.Errorf("dhcpns: probe reach: open ICMP socket in %s: %w (needs CAP_NET_RAW)", namespace, err)
		}
		for i := range targets {
			fd, err := unix.Socket(unix.AF_INET, unix.SOCK_STREAM|unix.SOCK_NONBLOCK|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return fmt.Errorf("dhcpns: probe reach: open TCP socket in %s: %w", namespace, err)
			}
			tcps[i] = fd
		}
		return nil
	})
	if err != nil {
		closeAll()
		if errors.Is(err, os.ErrNotExist) {
			return nil, fmt.Errorf("%w: namespace %s: %v", ErrNotFound, namespace, err)
		}
		return nil, err
	}
	defer closeAll()

	res := make([]ReachResult, len(targets))
	deadline := time.Now().Add(timeout)
	if d, ok := ctx.Deadline(); ok && d.Before(deadline) {
		deadline = d
	}
	var wg sync.WaitGroup
	for i, t := range targets {
		res[i] = ReachResult{Target: t, TCPPort: port, ICMP: ReachSilent, TCP: ReachSilent}
		wg.Add(1)
		go func() {
			defer wg.Done()
			res[i].TCP, res[i].Errno, res[i].Source = synProbe(tcps[i], t, port, deadline)
		}()
	}
	icmpProbe(ic, targets, res, deadline)
	wg.Wait()
	return res, ctx.Err()
}

// synProbe connects a non-blocking socket and waits for the handshake's
// first answer.
func synProbe(fd int, t netip.Addr, port uint16, deadline time.Time) (ReachOutcome, string, netip.Addr) {
	sa := &unix.SockaddrInet4{Port: int(port), Addr: t.As4()}
	err := unix.Connect(fd, sa)
	src := func() netip.Addr {
		if ls, err := unix.Getsockname(fd); err == nil {
			if a, ok := ls.(*unix.SockaddrInet4); ok {
				return netip.AddrFrom4(a.Addr)
			}
		}
		return netip.Addr{}
	}
	if err == nil {
		return ReachAnswered, "", src()
	}
	if !errors.Is(err, unix.EINPROGRESS) {
		return classify(err), errnoName(err), src()
	}
	for {
		ms := int(time.Until(deadline) / time.Millisecond)
		if ms <= 0 {
			return ReachSilent, "", src()
		}
		pfd := []unix.PollFd{{Fd: int32(fd), Events: unix.POLLOUT}}
		n, err := unix.Poll(pfd, ms)
		if errors.Is(err, unix.EINTR) {
			continue
		}
		if err != nil || n == 0 {
			return ReachSilent, "", src()
		}
		soerr, err := unix.GetsockoptInt(fd, unix.SOL_SOCKET, unix.SO_ERROR)
		if err != nil {
			return ReachSilent, errnoName(err), src()
		}
		if soerr == 0 {
			return ReachAnswered, "", src()
		}
		e := unix.Errno(soerr)
		return classify(e), errnoName(e), src()
	}
}

func classify(err error) ReachOutcome {
	switch {
	case errors.Is(err, unix.ECONNREFUSED):
		return ReachRefused
	case errors.Is(err, unix.ETIMEDOUT):
		return ReachSilent
	default:
		return ReachUnreachable
	}
}

func errnoName(err error) string {
	var e unix.Errno
	if errors.As(err, &e) {
		return unix.ErrnoName(e)
	}
	return err.Error()
}

// icmpProbe sends one echo to each target and reads replies until every
// target answered or the deadline.
func icmpProbe(c *icmp.PacketConn, targets []netip.Addr, res []ReachResult, deadline time.Time) {
	// A fresh echo ID per probe: conntrack keys ICMP echo flows on it, so a
	// repeated ID would ride an earlier probe's ESTABLISHED entry (30 s)
	// past a rule deleted since.
	var idb [2]byte
	rand.Read(idb[:])
	id := int(idb[0])<<8 | int(idb[1])
	sent := make([]time.Time, len(targets))
	for i, t := range targets {
		m := icmp.Message{Type: ipv4.ICMPTypeEcho, Body: &icmp.Echo{ID: id, Seq: i + 1, Data: []byte("vifpath-reach")}}
		b, err := m.Marshal(nil)
		if err != nil {
			continue
		}
		sent[i] = time.Now()
		if _, err := c.WriteTo(b, &net.IPAddr{IP: t.AsSlice()}); err != nil {
			res[i].ICMP = classify(err)
		}
	}
	pending := 0
	for i := range res {
		if res[i].ICMP == ReachSilent { // (only ICMP: the SYN probes write the other fields meanwhile)
			pending++
		}
	}
	buf := make([]byte, 1500)
	c.SetReadDeadline(deadline)
	for pending > 0 {
		n, from, err := c.ReadFrom(buf)
		if err != nil {
			return
		}
		m, err := icmp.ParseMessage(1, buf[:n])
		if err != nil {
			continue
		}
		fa, ok := from.(*net.IPAddr)
		if !ok {
			continue
		}
		src, _ := netip.AddrFromSlice(fa.IP)
		src = src.Unmap()
		switch m.Type {
		case ipv4.ICMPTypeEchoReply:
			e, ok := m.Body.(*icmp.Echo)
			if !ok || e.ID != id || e.Seq < 1 || e.Seq > len(targets) {
				continue
			}
			i := e.Seq - 1
			if targets[i] != src || res[i].ICMP != ReachSilent {
				continue
			}
			res[i].ICMP, res[i].ICMPRTT = ReachAnswered, time.Since(sent[i])
			pending--
		case ipv4.ICMPTypeDestinationUnreachable:
			du, ok := m.Body.(*icmp.DstUnreach)
			if !ok || len(du.Data) < 20 {
				continue
			}
			dst, _ := netip.AddrFromSlice(du.Data[16:20])
			for i, t := range targets {
				if t == dst && res[i].ICMP == ReachSilent {
					res[i].ICMP = ReachUnreachable
					pending--
				}
			}
		}
	}
}
