package firewall

import (
	"errors"
	"fmt"
	"net/netip"
	"strings"

	"github.com/mdlayher/netlink"
)

// ipsets are read with the kernel's ip_set netlink protocol
// (NFNL_SUBSYS_IPSET, IPSET_CMD_LIST), decoded here: only the set's name,
// type and members (address and prefix length) are needed.
// vishvananda/netlink's IpsetList decodes the same messages but logs every
// attribute it does not know (bucketsize, initval on current kernels) to
// the process-wide logger, and mdlayher/netlink, already the module's
// netlink library, needs only these few attribute numbers.

// ip_set netlink numbers (include/uapi/linux/netfilter/ipset/ip_set.h).
const (
	nfnlSubsysIPSet  = 6
	ipsetCmdProtocol = 1
	ipsetCmdList     = 7
	// ipsetCmdGetByIndex resolves a set's kernel index (what an xt set
	// match holds) to its name.
	ipsetCmdGetByIndex = 15

	// ipsetProtocol is the protocol version asked for: 6 is what every
	// kernel since 3.x accepts (7 adds nothing a listing needs).
	ipsetProtocol = 6
	// ipsetProtocolByIndex is the version GET_BYINDEX is asked with (as
	// ipset 7.x sends it).
	ipsetProtocolByIndex = 7

	ipsetAttrProtocol = 1
	ipsetAttrSetName  = 2
	ipsetAttrTypeName = 3
	ipsetAttrData     = 7
	ipsetAttrADT      = 8
	ipsetAttrIndex    = 11

	// Element attributes (IPSET_ATTR_DATA inside IPSET_ATTR_ADT).
	ipsetAttrIP        = 1
	ipsetAttrCIDR      = 3
	ipsetAttrTimeout   = 6
	ipsetAttrCADTFlags = 8
	ipsetAttrBytes     = 24
	ipsetAttrPackets   = 25
	ipsetAttrComment   = 26
	ipsetAttrIPv4      = 1
	ipsetAttrIPv6      = 2

	// ipsetFlagNomatch is IPSET_FLAG_NOMATCH: the member excludes.
	ipsetFlagNomatch = 1 << 2
)

// errIPSetNotModelled marks a set whose members are not plain addresses or
// prefixes (ports, interfaces, MACs, nomatch entries): the Set value
// cannot say what it matches.
var errIPSetNotModelled = errors.New("members are not plain addresses or prefixes")

// ipsetListMsg is one IPSET_CMD_LIST reply message decoded: the set it
// belongs to, its type when the message carries the header, and members.
type ipsetListMsg struct {
	name, typ string
	members   []netip.Prefix
	// bad is set when a member cannot be modelled (errIPSetNotModelled).
	bad error
}

// decodeIPSetList decodes one IPSET_CMD_LIST reply (without its nfgenmsg
// header). A large set comes in several messages with the same name;
// the caller joins them. It never panics.
func decodeIPSetList(b []byte) (ipsetListMsg, error) {
	var m ipsetListMsg
	ad, err := newDecoder(b)
	if err != nil {
		return m, err
	}
	for ad.Next() {
		switch ad.Type() {
		case ipsetAttrSetName:
			m.name = cstring(ad.Bytes())
		case ipsetAttrTypeName:
			m.typ = cstring(ad.Bytes())
		case ipsetAttrADT:
			ad.Nested(func(lad *netlink.AttributeDecoder) error {
				for lad.Next() {
					if lad.Type() != ipsetAttrData {
						continue
					}
					lad.Nested(func(ead *netlink.AttributeDecoder) error {
						p, err := ipsetMember(ead)
						switch {
						case err == nil:
							m.members = append(m.members, p)
						case errors.Is(err, errIPSetNotModelled):
							if m.bad == nil {
								m.bad = err
							}
						default:
							return err
						}
						return nil
					})
				}
				return nil
			})
		}
	}
	if err := ad.Err(); err != nil {
		return m, fmt.Errorf("firewall: decode ipset list: %w", err)
	}
	if m.name == "" {
		return m, errors.New("firewall: decode ipset list: a message without a set name")
	}
	return m, nil
}

// ipsetMember decodes one member: an address (IPSET_ATTR_IP) and prefix
// length (IPSET_ATTR_CIDR, absent for a host); timeouts, counters and
// comments do not change what it matches.
func ipsetMember(ead *netlink.AttributeDecoder) (netip.Prefix, error) {
	var addr netip.Addr
	cidr := -1
	for ead.Next() {
		switch ead.Type() {
		case ipsetAttrIP:
			ead.Nested(func(iad *netlink.AttributeDecoder) error {
				for iad.Next() {
					switch b := iad.Bytes(); {
					case iad.Type() == ipsetAttrIPv4 && len(b) == 4:
						addr = netip.AddrFrom4([4]byte(b))
					case iad.Type() == ipsetAttrIPv6 && len(b) == 16:
						addr = netip.AddrFrom16([16]byte(b))
					default:
						return fmt.Errorf("address attribute %d of %d bytes", iad.Type(), len(b))
					}
				}
				return nil
			})
		case ipsetAttrCIDR:
			if b := ead.Bytes(); len(b) == 1 {
				cidr = int(b[0])
			} else {
				return netip.Prefix{}, fmt.Errorf("cidr attribute of %d bytes", len(b))
			}
		case ipsetAttrCADTFlags:
			if f, ok := be32(ead.Bytes()); !ok || f&ipsetFlagNomatch != 0 {
				return netip.Prefix{}, fmt.Errorf("%w (nomatch)", errIPSetNotModelled)
			}
		case ipsetAttrTimeout, ipsetAttrBytes, ipsetAttrPackets, ipsetAttrComment:
		default:
			return netip.Prefix{}, fmt.Errorf("%w (attribute %d)", errIPSetNotModelled, ead.Type())
		}
	}
	if err := ead.Err(); err != nil {
		return netip.Prefix{}, err
	}
	if !addr.IsValid() {
		return netip.Prefix{}, fmt.Errorf("%w (no address)", errIPSetNotModelled)
	}
	if cidr < 0 {
		cidr = addr.BitLen()
	}
	p := netip.PrefixFrom(addr, cidr)
	if !p.IsValid() {
		return netip.Prefix{}, fmt.Errorf("member %s/%d", addr, cidr)
	}
	return p.Masked(), nil
}

// joinIPSetMsgs joins the IPSET_CMD_LIST replies of one or more sets
// (a large set spans several) into sets, in the order they came.
func joinIPSetMsgs(msgs []netlink.Message) ([]Set, []string, error) {
	index := map[string]int{}
	bad := map[string]error{}
	sets := []Set{}
	for _, m := range msgs {
		b, err := nfPayload(m)
		if err != nil {
			return nil, nil, err
		}
		l, err := decodeIPSetList(b)
		if err != nil {
			return nil, nil, err
		}
		i, ok := index[l.name]
		if !ok {
			i = len(sets)
			index[l.name] = i
			sets = append(sets, Set{Name: l.name, Members: []netip.Prefix{}})
		}
		if l.typ != "" {
			sets[i].Type = l.typ
		}
		sets[i].Members = append(sets[i].Members, l.members...)
		if l.bad != nil && bad[l.name] == nil {
			bad[l.name] = l.bad
		}
	}
	var skipped []string
	out := sets[:0]
	for _, s := range sets {
		if e := bad[s.Name]; e != nil {
			skipped = append(skipped, fmt.Sprintf("ipset %s (%s): %v, not read", s.Name, s.Type, e))
			continue
		}
		out = append(out, s)
	}
	return out, skipped, nil
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
