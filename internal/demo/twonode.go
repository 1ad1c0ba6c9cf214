package demo

import (
	"net"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// The two-node demo's node names, as Nova and Neutron know the
// walkthrough's hosts.
const (
	ControllerName = "controller"
	ComputeName    = "compute1"
)

// Faults of the two-node demo's provider link (TwoNode.Break also takes
// BreakTapDown and BreakDnsmasq, faults of one node).
const (
	// BreakProviderWire sets the provider switch's port toward compute1
	// down: compute1's eth2 stays up but loses carrier (a pulled cable).
	BreakProviderWire Breakage = "provider-wire"
	// BreakUnknownUnicast makes the provider switch drop frames for
	// unknown unicast toward compute1 (flooding and learning off on its
	// port, its learned entries flushed), as a hypervisor's vNIC without
	// promiscuous mode does: broadcasts reach the VM, unicast to its MAC
	// does not.
	BreakUnknownUnicast Breakage = "unknown-unicast"
	// BreakWrongMapping maps compute1's provider network to eth1 (its
	// management NIC) as a wrong physical_interface_mappings does: the
	// agent's config says provider:eth1, eth1 is on the brq, eth2 (the
	// wire to the provider switch) on no bridge; and both bridges forget
	// what they learned on their provider ports, as if the mapping had
	// been wrong from the start.
	BreakWrongMapping Breakage = "wrong-mapping"
)

// TwoNodeBreakages lists the faults TwoNode.Break knows: the provider
// link's three, then two of one node.
func TwoNodeBreakages() []Breakage {
	return []Breakage{BreakProviderWire, BreakUnknownUnicast, BreakWrongMapping, BreakTapDown, BreakDnsmasq}
}

// TwoNode is the walkthrough's two nodes, built in throwaway namespaces by
// BuildTwoNode: the controller (ControllerNS: its brq<network> with eth2
// and the DHCP port's tap<port>, whose peer ns-<port> in the qdhcp
// namespace holds 192.168.31.70/27 where the real dnsmasq runs) and
// compute1 (Path.HostPath: its own brq<network> with eth2 and the VM's
// tap<port> to the namespace guest), each eth2 a veth to a port of the
// provider "switch" (a bridge in SwitchNS), and eth1 a management veth
// between the two nodes (10.64.33.64 and .65). Each node has its
// linuxbridge agent config (provider:eth2). The embedded Path holds
// compute1's side (HostPath, Tap, MAC, IP, AgentConfig) and the DHCP
// side (DHCP, DHCPIf, StateDir, dnsmasq); its Close removes it all.
//
// A TwoNode is not safe for concurrent use.
type TwoNode struct {
	*Path
	// ControllerNS and SwitchNS are the controller's and the provider
	// switch's namespaces; ControllerBridge the controller's brq (the
	// same name as Path.Bridge: the network's).
	ControllerNS, SwitchNS string
	// ControllerAgentConfig is the controller's linuxbridge agent config.
	ControllerAgentConfig string
	// Switch is the provider switch's bridge; SwitchPorts its ports
	// toward each node, by node name.
	Switch      string
	SwitchPorts map[string]string
	// DHCPMAC is the DHCP port's MAC (its ns- device's).
	DHCPMAC net.HardwareAddr

	api *launch.Client         // StartCloud's client of the fake cloud
	lv  *libvirtinspect.Client // Observe's client of compute1's libvirtd
}
