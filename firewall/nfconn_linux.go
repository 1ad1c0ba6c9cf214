package firewall

import (
	"context"
	"errors"
	"fmt"
	"time"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nfConn is a NETLINK_NETFILTER socket opened inside the namespace Read
// looks at (the socket stays bound to it: no thread moves afterwards),
// with the caller's context turned into socket deadlines. Not safe for
// concurrent use.
type nfConn struct {
	c    *netlink.Conn
	stop func() bool
}

// dialNetfilter opens the socket from a thread inside netnsPath (through
// inNetNS, the module's one namespace helper). ctx's deadline and
// cancellation interrupt any request in flight.
func dialNetfilter(ctx context.Context, netnsPath string) (*nfConn, error) {
	var c *netlink.Conn
	err := inNetNS(netnsPath, func() error {
		var err error
		c, err = netlink.Dial(unix.NETLINK_NETFILTER, nil)
		return err
	})
	if err != nil {
		if c != nil {
			c.Close()
		}
		return nil, fmt.Errorf("firewall: netfilter netlink socket: %w", err)
	}
	if dl, ok := ctx.Deadline(); ok {
		c.SetDeadline(dl)
	}
	stop := context.AfterFunc(ctx, func() { c.SetDeadline(time.Unix(1, 0)) })
	return &nfConn{c: c, stop: stop}, nil
}

// Close closes the socket; it is idempotent.
func (n *nfConn) Close() error {
	if n == nil || n.c == nil {
		return nil
	}
	n.stop()
	err := n.c.Close()
	n.c = nil
	return err
}

// request sends one nfnetlink request (a dump when dump is set) and
// returns the replies' payloads after their nfgenmsg header. A dump the
// kernel marks interrupted (the ruleset changed under it) is asked again,
// at most three times more.
func (n *nfConn) request(subsys, msg uint8, family uint8, attrs []netlink.Attribute, dump bool) ([]netlink.Message, error) {
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return nil, err
	}
	flags := netlink.Request
	if dump {
		flags |= netlink.Dump
	}
	// A lone request gets its reply (or an error) and no ack: with an
	// ack, a second datagram would wait for the next request's receive.
	req := netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(uint16(subsys)<<8 | uint16(msg)), Flags: flags},
		Data:   append(nfgenHeader(family), data...),
	}
	for try := 0; ; try++ {
		msgs, err := n.c.Execute(req)
		if err != nil {
			return nil, err
		}
		intr := false
		var out []netlink.Message
		for _, m := range msgs {
			if m.Header.Flags&netlink.DumpInterrupted != 0 {
				intr = true
			}
			if m.Header.Type == netlink.Error || m.Header.Type == netlink.Done || len(m.Data) == 0 {
				continue
			}
			out = append(out, m)
		}
		if !intr {
			return out, nil
		}
		if try == 3 {
			return nil, errors.New("firewall: netlink dump interrupted four times: the ruleset keeps changing")
		}
	}
}

// requestOne sends one request that is not a dump and returns its one
// reply's payload after the nfgenmsg header.
func (n *nfConn) requestOne(subsys, msg uint8, family uint8, attrs []netlink.Attribute) ([]byte, error) {
	msgs, err := n.request(subsys, msg, family, attrs, false)
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 {
		return nil, fmt.Errorf("firewall: netlink: %d replies, want one", len(msgs))
	}
	return nfPayload(msgs[0])
}

func strAttr(typ uint16, s string) netlink.Attribute {
	return netlink.Attribute{Type: typ, Data: append([]byte(s), 0)}
}

// isNotFound reports whether a netlink request failed with ENOENT (no such
// table, chain or set).
func isNotFound(err error) bool { return errors.Is(err, unix.ENOENT) }
