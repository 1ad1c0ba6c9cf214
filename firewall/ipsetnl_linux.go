package firewall

import (
	"encoding/binary"
	"fmt"

	"github.com/mdlayher/netlink"
	"golang.org/x/sys/unix"
)

// readIPSetsNL reads ipsets with their members through c: every set when
// all is set, else the sets named (a name with no set is left out, as a
// rule naming it matches nothing). A set whose members are not plain
// addresses or prefixes is left out too and named in skipped with why.
// The first request asks the kernel's ip_set protocol version, so a node
// without ip_set fails here even when no set is named.
func readIPSetsNL(c *nfConn, names []string, all bool) (sets []Set, skipped []string, err error) {
	proto := netlink.Attribute{Type: ipsetAttrProtocol, Data: []byte{ipsetProtocol}}
	if _, err := c.request(nfnlSubsysIPSet, ipsetCmdProtocol, unix.AF_INET, []netlink.Attribute{proto}, false); err != nil {
		return nil, nil, fmt.Errorf("firewall: ipset netlink protocol: %w", err)
	}
	var msgs []netlink.Message
	if all {
		if msgs, err = c.request(nfnlSubsysIPSet, ipsetCmdList, unix.AF_INET, []netlink.Attribute{proto}, true); err != nil {
			return nil, nil, fmt.Errorf("firewall: list ipsets: %w", err)
		}
	} else {
		for _, n := range names {
			m, err := c.request(nfnlSubsysIPSet, ipsetCmdList, unix.AF_INET, []netlink.Attribute{proto, strAttr(ipsetAttrSetName, n)}, true)
			if isNotFound(err) {
				continue
			}
			if err != nil {
				return nil, nil, fmt.Errorf("firewall: list ipset %s: %w", n, err)
			}
			msgs = append(msgs, m...)
		}
	}
	sets, skipped, err = joinIPSetMsgs(msgs)
	return sets, skipped, err
}

// ipsetNameByIndex resolves an ipset's kernel index to its name
// (IPSET_CMD_GET_BYINDEX), as iptables does.
func ipsetNameByIndex(c *nfConn, index uint16) (string, error) {
	idx := binary.BigEndian.AppendUint16(nil, index)
	b, err := c.requestOne(nfnlSubsysIPSet, ipsetCmdGetByIndex, unix.AF_INET, []netlink.Attribute{
		{Type: ipsetAttrProtocol, Data: []byte{ipsetProtocolByIndex}},
		{Type: ipsetAttrIndex, Data: idx},
	})
	if err != nil {
		return "", fmt.Errorf("ipset index %d: %w", index, err)
	}
	return decodeIPSetName(b)
}
