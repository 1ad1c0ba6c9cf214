package demo

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
