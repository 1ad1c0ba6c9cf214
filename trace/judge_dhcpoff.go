package trace

import (
	"fmt"
	"slices"
	"strings"

	"github.com/vifpath/vifpath/launch"
)

// dhcpOff returns the subnets of the NIC's IPv4 fixed IPs when Neutron
// says DHCP is off on every one of them (`openstack subnet create
// --no-dhcp`): the DHCP agent writes no hosts row for such an address and
// dnsmasq leases nothing, by design. It returns nil when the port is not
// known through the API, has no IPv4 fixed IP, or any of them is on a
// subnet with DHCP on or one not read (an older observation): its DHCP
// hops are then judged as they always were, so a NIC on a DHCP-on subnet
// with no hosts row still fails.
func (v *view) dhcpOff() []*launch.Subnet {
	api := v.obs.API
	p := v.apiPort()
	if api == nil || p == nil || api.Subnets == nil {
		return nil
	}
	var off []*launch.Subnet
	for _, f := range p.FixedIPs {
		if !f.Address.Is4() {
			continue
		}
		sn := api.Subnets[f.SubnetID]
		if sn == nil || sn.DHCP {
			return nil
		}
		if !slices.Contains(off, sn) {
			off = append(off, sn)
		}
	}
	return off
}

// dhcpOffWhy is what the DHCP-off hops say: "DHCP is off on subnet NAME
// (ID, CIDR)", for each subnet.
func dhcpOffWhy(off []*launch.Subnet) string {
	var names []string
	for _, sn := range off {
		name := sn.ID
		if sn.Name != "" {
			name = sn.Name + " (" + sn.ID
			if sn.CIDR.IsValid() {
				name += ", " + sn.CIDR.String()
			}
			name += ")"
		}
		names = append(names, name)
	}
	return "DHCP is off on subnet " + strings.Join(names, ", ")
}

// dhcpOffNext is the next step of a hop the guest's own configuration
// decides on a DHCP-off subnet.
func dhcpOffNext(off []*launch.Subnet) string {
	return "openstack subnet show " + off[0].ID + " -c enable_dhcp; give the guest a static address (its console: ip addr) or boot it with a config drive (openstack server create --config-drive true); or turn DHCP on: openstack subnet set --dhcp " + off[0].ID
}

// judgeDHCPOff amends the hosts-entry and lease hops of a NIC whose
// subnets all have DHCP off: no row and no lease are not failures. The
// hop is OK when the guest answered the ARP probe of the port's address
// from its MAC (it holds the address, configured statically or by a
// config drive), a warning otherwise (it needs one).
func (v *view) judgeDHCPOff(h *Hop, off []*launch.Subnet) {
	if h.Verdict != Fail && h.Verdict != Warn {
		return
	}
	why := dhcpOffWhy(off)
	h.add("dhcp_off", "%s: the DHCP agent writes no hosts row and dnsmasq leases nothing for the port's address", why)
	h.Cause, h.Next = "", ""
	if n := v.netw; n != nil && v.id.MAC != nil && v.id.IP.IsValid() && answeredARP(n, v.id.IP, fmtMAC(v.id.MAC)) {
		h.Verdict = OK
		h.Summary = fmt.Sprintf("not needed: %s, and the guest holds %s (it answered ARP from %s)", why, v.id.IP, v.id.MAC)
		return
	}
	h.Verdict = Warn
	h.Summary = why + ": the guest needs a static address or config drive"
	h.Cause = why + " by design: the guest gets no address from DHCP, so it has none unless it is configured statically or by a config drive"
	h.Next = dhcpOffNext(off)
}

// guestSilent reports whether nothing was learned of the NIC's MAC on its
// tap in the snapshot after the probes: the guest sent no frame the bridge
// saw.
func (v *view) guestSilent() bool {
	if v.bridge == nil || v.tap == nil || v.id.MAC == nil {
		return false
	}
	snap, _ := v.after()
	for _, e := range snap.FDB {
		if e.MAC.Equal(v.id.MAC) && !e.Local() && e.Bridge == v.bridge.Name && e.Port == v.tap.Name {
			return false
		}
	}
	return true
}
