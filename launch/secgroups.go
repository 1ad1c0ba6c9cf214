package launch

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/portsecurity"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/ports"
	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// PortPolicy reads what Neutron asks the agent to enforce on a port: its
// MAC, fixed IPs, allowed address pairs, port_security_enabled, and each
// of its security groups with their rules. Only GET requests (one for
// the port, one per group, one for the groups' rules).
func (c *Client) PortPolicy(ctx context.Context, portID string) (*firewall.Policy, error) {
	if portID == "" {
		return nil, fmt.Errorf("launch: PortPolicy needs a port ID")
	}
	var port struct {
		ports.Port
		portsecurity.PortSecurityExt
	}
	if err := c.call(ctx, "get port "+portID, false, func(ctx context.Context) error {
		return ports.Get(ctx, c.network, portID).ExtractInto(&port)
	}); err != nil {
		return nil, fmt.Errorf("launch: get port %s: %w", portID, err)
	}
	mac, err := hwaddr.Parse(port.MACAddress)
	if err != nil {
		return nil, fmt.Errorf("launch: port %s has MAC %q: %w", portID, port.MACAddress, err)
	}
	p := &firewall.Policy{PortID: port.ID, MAC: mac, PortSecurityEnabled: port.PortSecurityEnabled, FixedIPs: []netip.Addr{}, SecurityGroups: []firewall.SecurityGroup{}}
	for _, ip := range port.FixedIPs {
		if a, err := netip.ParseAddr(ip.IPAddress); err == nil {
			p.FixedIPs = append(p.FixedIPs, a)
		}
	}
	for _, ap := range port.AllowedAddressPairs {
		pair := firewall.AddressPair{}
		if pr, err := netip.ParsePrefix(ap.IPAddress); err == nil {
			pair.IP = pr
		} else if a, err := netip.ParseAddr(ap.IPAddress); err == nil {
			pair.IP = netip.PrefixFrom(a, a.BitLen())
		} else {
			continue
		}
		if ap.MACAddress != "" {
			pair.MAC, _ = hwaddr.Parse(ap.MACAddress)
		}
		p.AllowedAddressPairs = append(p.AllowedAddressPairs, pair)
	}
	for _, gid := range port.SecurityGroups {
		var g *groups.SecGroup
		if err := c.call(ctx, "get security group "+gid, false, func(ctx context.Context) error {
			var err error
			g, err = groups.Get(ctx, c.network, gid).Extract()
			return err
		}); err != nil {
			return nil, fmt.Errorf("launch: get security group %s of port %s: %w", gid, portID, err)
		}
		var rs []rules.SecGroupRule
		if err := c.call(ctx, "list rules of security group "+gid, false, func(ctx context.Context) error {
			pages, err := rules.List(c.network, rules.ListOpts{SecGroupID: gid}).AllPages(ctx)
			if err != nil {
				return err
			}
			rs, err = rules.ExtractRules(pages)
			return err
		}); err != nil {
			return nil, fmt.Errorf("launch: list rules of security group %s: %w", gid, err)
		}
		sg := firewall.SecurityGroup{ID: g.ID, Name: g.Name, Rules: []firewall.SecurityGroupRule{}}
		for _, r := range rs {
			sg.Rules = append(sg.Rules, firewall.SecurityGroupRule{
				ID: r.ID, Direction: r.Direction, EtherType: r.EtherType, Protocol: r.Protocol,
				PortRangeMin: r.PortRangeMin, PortRangeMax: r.PortRangeMax,
				RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID,
			})
		}
		p.SecurityGroups = append(p.SecurityGroups, sg)
	}
	return p, nil
}
