package firewall

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"strings"

	"github.com/google/nftables"
	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// nftReader lists one family's iptables-nft filter chains through
// nf_tables netlink: the rules with google/nftables (one GETRULE dump per
// chain), the chain's policy and counters, the ruleset generation and
// the ipsets' names by index with plain nfnetlink requests (google/nftables
// decodes neither chain counters nor ipset messages). Both sockets are
// opened on a thread inside the namespace (internal/netns) and stay
// bound to it; the caller's thread never moves. Not safe for concurrent
// use: one reader per goroutine.
type nftReader struct {
	family Family
	conn   *nftables.Conn
	nl     *netlink.Conn
	sets   map[uint16]string
}

// Netlink message types and attributes not in x/sys/unix.
const (
	nfnlSubsysIPSet     = 6
	ipsetCmdGetByIndex  = 15
	ipsetAttrProtocol   = 1
	ipsetAttrSetName    = 2
	ipsetAttrIndex      = 11
	ipsetProtocol       = 7
	nftaChainCounters   = 8
	nftaCounterBytes    = 1
	nftaCounterPackets  = 2
	nftaGenID           = 1
	nfnetlinkV0         = 0
	nftTableFilter      = "filter"
	nftMaxGenerationTry = 3
	nfDrop              = 0
	nfAccept            = 1
)

// openNFT opens a reader of family f's filter table in the namespace at
// netnsPath ("" the caller's). ctx's deadline, if any, becomes both
// sockets' deadline (a netlink request has no other way to be
// interrupted); a cancellation without a deadline is seen between
// chains only.
func openNFT(ctx context.Context, netnsPath string, f Family) (*nftReader, error) {
	r := &nftReader{family: f, sets: map[uint16]string{}}
	deadline, hasDeadline := ctx.Deadline()
	setDeadline := func(c *netlink.Conn) error {
		if !hasDeadline {
			return nil
		}
		return c.SetDeadline(deadline)
	}
	err := inNetNS(netnsPath, func() error {
		var err error
		if r.conn, err = nftables.New(nftables.AsLasting(), nftables.WithSockOptions(setDeadline)); err != nil {
			return fmt.Errorf("firewall: nf_tables netlink: %w", err)
		}
		if r.nl, err = netlink.Dial(unix.NETLINK_NETFILTER, nil); err != nil {
			return fmt.Errorf("firewall: nfnetlink: %w", err)
		}
		return setDeadline(r.nl)
	})
	if err != nil {
		r.Close()
		return nil, err
	}
	return r, nil
}

// Close closes both sockets; it may be called more than once.
func (r *nftReader) Close() {
	if r.conn != nil {
		r.conn.CloseLasting()
		r.conn = nil
	}
	if r.nl != nil {
		r.nl.Close()
		r.nl = nil
	}
}

func (r *nftReader) tableFamily() nftables.TableFamily {
	if r.family == IPv6 {
		return nftables.TableFamilyIPv6
	}
	return nftables.TableFamilyIPv4
}

// request sends one nfnetlink request of subsystem sub and command cmd
// and returns the attributes of its one reply.
func (r *nftReader) request(sub, cmd int, family byte, attrs []netlink.Attribute) ([]byte, error) {
	data, err := netlink.MarshalAttributes(attrs)
	if err != nil {
		return nil, err
	}
	msgs, err := r.nl.Execute(netlink.Message{
		Header: netlink.Header{Type: netlink.HeaderType(sub<<8 | cmd), Flags: netlink.Request},
		Data:   append([]byte{family, nfnetlinkV0, 0, 0}, data...),
	})
	if err != nil {
		return nil, err
	}
	if len(msgs) != 1 || len(msgs[0].Data) < 4 {
		return nil, fmt.Errorf("firewall: nfnetlink: %d replies, want one", len(msgs))
	}
	return msgs[0].Data[4:], nil
}

// generation returns the nf_tables ruleset generation: a read whose
// generation did not change saw one ruleset.
func (r *nftReader) generation() (uint32, error) {
	b, err := r.request(unix.NFNL_SUBSYS_NFTABLES, unix.NFT_MSG_GETGEN, unix.AF_UNSPEC, nil)
	if err != nil {
		return 0, fmt.Errorf("firewall: nf_tables generation: %w", err)
	}
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return 0, err
	}
	ad.ByteOrder = binary.BigEndian
	for ad.Next() {
		if ad.Type() == nftaGenID {
			return ad.Uint32(), ad.Err()
		}
	}
	return 0, fmt.Errorf("firewall: nf_tables generation: no NFTA_GEN_ID")
}

// setName resolves an ipset index to its name (IPSET_CMD_GET_BYINDEX),
// as iptables does (by index, through the kernel's own table).
func (r *nftReader) setName(index uint16) (string, error) {
	if n, ok := r.sets[index]; ok {
		return n, nil
	}
	idx := make([]byte, 2)
	binary.BigEndian.PutUint16(idx, index)
	b, err := r.request(nfnlSubsysIPSet, ipsetCmdGetByIndex, unix.AF_INET, []netlink.Attribute{
		{Type: ipsetAttrProtocol, Data: []byte{ipsetProtocol}},
		{Type: ipsetAttrIndex, Data: idx},
	})
	if err != nil {
		return "", fmt.Errorf("ipset index %d: %w", index, err)
	}
	name, err := decodeIPSetName(b)
	if err != nil {
		return "", err
	}
	r.sets[index] = name
	return name, nil
}

// decodeIPSetName reads IPSET_ATTR_SETNAME from a GET_BYINDEX reply's
// attributes.
func decodeIPSetName(b []byte) (string, error) {
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return "", fmt.Errorf("ipset reply: %w", err)
	}
	for ad.Next() {
		if ad.Type() == ipsetAttrSetName {
			n := strings.TrimRight(ad.String(), "\x00")
			if n == "" {
				return "", fmt.Errorf("ipset reply: empty name")
			}
			return n, nil
		}
	}
	if err := ad.Err(); err != nil {
		return "", fmt.Errorf("ipset reply: %w", err)
	}
	return "", fmt.Errorf("ipset reply: no IPSET_ATTR_SETNAME")
}

// nftChainHead is a chain's header: a base chain's policy and counters.
type nftChainHead struct {
	base           bool
	policy         string
	packets, bytes uint64
}

// chainHead reads one chain of the filter table (NFT_MSG_GETCHAIN);
// ok is false when it does not exist.
func (r *nftReader) chainHead(name string) (h nftChainHead, ok bool, err error) {
	b, err := r.request(unix.NFNL_SUBSYS_NFTABLES, unix.NFT_MSG_GETCHAIN, byte(r.tableFamily()), []netlink.Attribute{
		{Type: unix.NFTA_CHAIN_TABLE, Data: []byte(nftTableFilter + "\x00")},
		{Type: unix.NFTA_CHAIN_NAME, Data: []byte(name + "\x00")},
	})
	if errors.Is(err, unix.ENOENT) {
		return h, false, nil
	}
	if err != nil {
		return h, false, fmt.Errorf("chain %s: %w", name, err)
	}
	h, err = decodeChainHead(b)
	return h, err == nil, err
}

// decodeChainHead reads a NEWCHAIN message's attributes.
func decodeChainHead(b []byte) (nftChainHead, error) {
	var h nftChainHead
	ad, err := netlink.NewAttributeDecoder(b)
	if err != nil {
		return h, fmt.Errorf("chain reply: %w", err)
	}
	ad.ByteOrder = binary.BigEndian
	hasPolicy := false
	for ad.Next() {
		switch ad.Type() {
		case unix.NFTA_CHAIN_HOOK:
			h.base = true
		case unix.NFTA_CHAIN_POLICY:
			hasPolicy = true
			switch p := ad.Uint32(); p {
			case nfAccept:
				h.policy = "ACCEPT"
			case nfDrop:
				h.policy = "DROP"
			default:
				return h, fmt.Errorf("chain reply: policy %d", p)
			}
		case nftaChainCounters:
			ad.Nested(func(nd *netlink.AttributeDecoder) error {
				for nd.Next() {
					switch nd.Type() {
					case nftaCounterBytes:
						h.bytes = nd.Uint64()
					case nftaCounterPackets:
						h.packets = nd.Uint64()
					}
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return h, fmt.Errorf("chain reply: %w", err)
	}
	if h.base != hasPolicy {
		return h, fmt.Errorf("chain reply: base chain %v with policy %v", h.base, hasPolicy)
	}
	return h, nil
}

// chain lists one chain as iptables-save -c lines (":NAME POLICY
// [p:b]" and "[p:b] -A NAME SPEC"). ok is false when the chain does not
// exist; an error means it must be listed another way (a rule not
// decoded names itself).
func (r *nftReader) chain(name string) (text string, ok bool, err error) {
	h, ok, err := r.chainHead(name)
	if err != nil || !ok {
		return "", ok, err
	}
	rules, err := r.conn.GetRules(&nftables.Table{Name: nftTableFilter, Family: r.tableFamily()}, &nftables.Chain{Name: name})
	if err != nil {
		if errors.Is(err, unix.ENOENT) {
			return "", false, nil
		}
		return "", false, fmt.Errorf("chain %s: rules: %w", name, err)
	}
	var b strings.Builder
	if h.base {
		fmt.Fprintf(&b, ":%s %s [%d:%d]\n", name, h.policy, h.packets, h.bytes)
	} else {
		fmt.Fprintf(&b, ":%s - [0:0]\n", name)
	}
	for i, rl := range rules {
		if len(rl.UserData) > 0 {
			// iptables-nft 1.8.9 writes none; `nft` writes a comment
			// there, which iptables prints as -m comment.
			return "", false, fmt.Errorf("chain %s rule %d: user data (a comment nft wrote) not decoded", name, i+1)
		}
		t, err := decodeNFTRule(r.family, rl.Exprs, r.setName)
		if err != nil {
			return "", false, fmt.Errorf("chain %s rule %d: %w", name, i+1, err)
		}
		fmt.Fprintf(&b, "[%d:%d] -A %s", t.packets, t.bytes, name)
		if t.spec != "" {
			b.WriteString(" " + t.spec)
		}
		b.WriteString("\n")
	}
	return b.String(), true, nil
}
