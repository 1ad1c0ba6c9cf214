package trace

import (
	"fmt"
	"strings"
)

// MTURole says what an element of the MTU chain is. The zero value ""
// means unknown.
type MTURole string

// MTU roles, in path order.
const (
	// MTULibvirt is the domain interface's <mtu size> (what virtio tells
	// the guest NIC when set).
	MTULibvirt MTURole = "libvirt"
	// MTUTap, MTUBridge and MTUPhysical are the tap, the brq bridge and
	// the bridge's uplink (the physical NIC, its VLAN device, or the
	// vxlan device), from linuxbridge's snapshot.
	MTUTap      MTURole = "tap"
	MTUBridge   MTURole = "bridge"
	MTUPhysical MTURole = "physical"
	// MTUUnderlay is the NIC that carries a VXLAN network's encapsulated
	// frames (its Overhead is the encapsulation's).
	MTUUnderlay MTURole = "underlay"
	// MTUDHCPServe is the qdhcp namespace's serving interface.
	MTUDHCPServe MTURole = "dhcp-interface"
)

// MTUElement is one element of the path with its MTU.
type MTUElement struct {
	// Role says what it is; Name names it ("tap31f2d3e9-8d", "eth2").
	Role MTURole `json:"role"`
	Name string  `json:"name"`
	// MTU is its MTU; 0 when unknown (not judged).
	MTU int `json:"mtu"`
	// Overhead is how many bytes of the guest's frame budget the element
	// spends on encapsulation (EncapOverhead; 0 for the guest's own
	// frames): it carries guest packets up to MTU - Overhead.
	Overhead int `json:"overhead,omitempty"`
}

// Carries returns the largest guest packet the element passes.
func (e MTUElement) Carries() int { return e.MTU - e.Overhead }

// EncapOverhead is the bytes an overlay network's encapsulation adds to
// each guest packet, as Neutron subtracts them when it computes a
// network's MTU: VXLAN 50 (IPv4 underlay) or 70 (IPv6), GRE 42 or 62,
// Geneve 58 or 78 (its default 30-byte option budget). Flat and VLAN
// networks give 0: Linux carries the 802.1Q tag outside the device's MTU,
// and Neutron does not subtract it either.
func EncapOverhead(networkType string, ipv6Underlay bool) int {
	extra := 0
	if ipv6Underlay {
		extra = 20
	}
	switch strings.ToLower(networkType) {
	case "vxlan":
		return 50 + extra
	case "gre":
		return 42 + extra
	case "geneve":
		return 58 + extra
	}
	return 0
}

// MTUFacts is what the MTU hop judges: the network's MTU from the API,
// what DHCP advertises, and each element's MTU. It is a plain value.
type MTUFacts struct {
	// NetworkID and NetworkType ("flat", "vlan", "vxlan") are the
	// network's; NetworkMTU its MTU from the API (0: unknown).
	NetworkID   string `json:"network_id,omitempty"`
	NetworkType string `json:"network_type,omitempty"`
	NetworkMTU  int    `json:"network_mtu,omitempty"`
	// DHCPCmdlineMTU is option 26 on dnsmasq's command line
	// (--dhcp-option-force=option:mtu,N; Neutron's), DHCPOptsMTU in the
	// opts file; 0 when absent or unread.
	DHCPCmdlineMTU int `json:"dhcp_cmdline_mtu,omitempty"`
	DHCPOptsMTU    int `json:"dhcp_opts_mtu,omitempty"`
	// Elements are the path's elements, in path order.
	Elements []MTUElement `json:"elements"`
}

// guestMTU returns what the guest is told its MTU is and who told it:
// DHCP's option 26 (the smaller when the command line and opts file
// differ), else the libvirt interface's MTU, else the network's MTU from
// the API (what Neutron's DHCP advertises), else the Ethernet default.
func (f MTUFacts) guestMTU() (int, string) {
	switch {
	case f.DHCPCmdlineMTU > 0 && f.DHCPOptsMTU > 0:
		if f.DHCPOptsMTU < f.DHCPCmdlineMTU {
			return f.DHCPOptsMTU, "DHCP option 26 (opts file)"
		}
		return f.DHCPCmdlineMTU, "DHCP option 26 (dnsmasq command line)"
	case f.DHCPCmdlineMTU > 0:
		return f.DHCPCmdlineMTU, "DHCP option 26 (dnsmasq command line)"
	case f.DHCPOptsMTU > 0:
		return f.DHCPOptsMTU, "DHCP option 26 (opts file)"
	}
	for _, e := range f.Elements {
		if e.Role == MTULibvirt && e.MTU > 0 {
			return e.MTU, "the libvirt interface's <mtu>"
		}
	}
	if f.NetworkMTU > 0 {
		// A compute-only node reads no DHCP options: Neutron's dnsmasq
		// advertises the network's MTU (option 26), so that is what the
		// guest is told.
		return f.NetworkMTU, "the network's MTU (API: Neutron's DHCP advertises it)"
	}
	return 1500, "the Ethernet default (no DHCP option 26, no libvirt <mtu>)"
}

// JudgeMTU judges the MTU chain: every element must carry a packet as
// large as the guest is told it may send (DHCP's option 26, else the
// libvirt <mtu>, else 1500). An element that carries less fails, named,
// with the size it drops above; the bridge device itself is the exception:
// its MTU limits only the host's own traffic on the bridge, never a
// bridged frame, so a lower one is noted in the evidence and does not
// change the verdict. DHCP advertising more than the network's MTU fails; command line and opts file disagreeing warns. Elements whose
// MTU is unknown are listed and not judged. It is a pure function of f.
func JudgeMTU(f MTUFacts) Hop {
	h := Hop{Kind: KindMTU, Name: f.NetworkID}
	if h.Name == "" {
		h.Name = "mtu"
	}
	told, by := f.guestMTU()
	jAdd(&h, "guest_told", "%d by %s", told, by)
	if f.NetworkMTU > 0 {
		jAdd(&h, "network_mtu", "%d (%s)", f.NetworkMTU, orNone(f.NetworkType))
	}
	if f.DHCPCmdlineMTU > 0 {
		jAdd(&h, "dhcp_cmdline", "option:mtu,%d", f.DHCPCmdlineMTU)
	}
	if f.DHCPOptsMTU > 0 {
		jAdd(&h, "dhcp_opts", "option:mtu,%d", f.DHCPOptsMTU)
	}
	var small []string
	var unknown, bridgeLow []string
	known := 0
	for _, e := range f.Elements {
		label := string(e.Role) + " " + e.Name
		if e.MTU <= 0 {
			jAdd(&h, label, "unknown")
			unknown = append(unknown, label)
			continue
		}
		known++
		if e.Overhead > 0 {
			jAdd(&h, label, "%d (carries %d after %d bytes of encapsulation)", e.MTU, e.Carries(), e.Overhead)
		} else {
			jAdd(&h, label, "%d", e.MTU)
		}
		if e.Role == MTUBridge && e.Carries() < told {
			// The bridge device's own MTU bounds only what the host
			// sends or receives on an address of the bridge: a bridged
			// frame is checked against its egress port's MTU (each
			// port is an element of its own). Measured on the aio
			// cloud: brq at 1400, its ports at 1500, a 1500-byte ping
			// with DF set crossed it both ways.
			bridgeLow = append(bridgeLow, fmt.Sprintf("%s (MTU %d)", e.Name, e.MTU))
			continue
		}
		if e.Carries() < told {
			if e.Overhead > 0 {
				small = append(small, fmt.Sprintf("%s %s (MTU %d - %d = %d)", e.Role, e.Name, e.MTU, e.Overhead, e.Carries()))
			} else {
				small = append(small, fmt.Sprintf("%s %s (MTU %d)", e.Role, e.Name, e.MTU))
			}
		}
	}
	switch {
	case len(small) > 0:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the guest is told MTU %d but %s carries less", told, strings.Join(small, ", "))
		h.Cause = "packets larger than the smallest element are dropped there: small packets (ping, DHCP, SSH banners) pass, large ones (scp, TLS, HTTP bodies) stall"
		h.Next = fmt.Sprintf("raise the MTU of %s to at least %d (physical NICs: plus the encapsulation overhead), or lower the network's MTU (openstack network set --mtu) and restart the guest's DHCP", small[0], told)
	case f.NetworkMTU > 0 && told > f.NetworkMTU:
		h.Verdict = Fail
		h.Summary = fmt.Sprintf("the guest is told MTU %d by %s but the network's MTU is %d", told, by, f.NetworkMTU)
		h.Cause = "the guest will send packets the network does not carry"
		h.Next = "make DHCP advertise the network's MTU (restart neutron-dhcp-agent after changing the network's MTU)"
	case f.DHCPCmdlineMTU > 0 && f.DHCPOptsMTU > 0 && f.DHCPCmdlineMTU != f.DHCPOptsMTU:
		h.Verdict = Warn
		h.Summary = fmt.Sprintf("dnsmasq's command line advertises MTU %d but its opts file %d", f.DHCPCmdlineMTU, f.DHCPOptsMTU)
		h.Cause = "a stale option from an earlier network MTU"
		h.Next = "restart neutron-dhcp-agent so it rewrites both"
	case known == 0:
		h.Summary = fmt.Sprintf("the guest is told MTU %d; no element's MTU was read", told)
	default:
		h.Verdict = OK
		h.Summary = fmt.Sprintf("every element carries the MTU %d the guest is told", told)
		if len(unknown) > 0 {
			h.Summary += fmt.Sprintf(" (%d not read: %s)", len(unknown), strings.Join(unknown, ", "))
		}
		if len(bridgeLow) > 0 {
			h.Summary += fmt.Sprintf("; bridge %s is lower, which limits only the host's own traffic on the bridge, not bridged frames", strings.Join(bridgeLow, ", "))
		}
	}
	if len(bridgeLow) > 0 {
		jAdd(&h, "bridge_mtu", "%s below %d: not judged, the bridge forwards frames up to each egress port's MTU", strings.Join(bridgeLow, ", "), told)
	}
	return h
}
