package demo

import "slices"

// WrongBridge is the bridge BreakWrongBridge moves the VM's tap to: the
// name of libvirt's default network's bridge, a bridge no Neutron agent
// made.
const WrongBridge = "virbr0"

// Breakage names a fault Break injects.
type Breakage string

// Faults Break can inject.
const (
	// BreakDnsmasq kills the network's dnsmasq (and reaps it), as when
	// the DHCP agent's process died.
	BreakDnsmasq Breakage = "dnsmasq"
	// BreakTapDown sets the VM's tap administratively down.
	BreakTapDown Breakage = "tap-down"
	// BreakUplink deletes the bridge's physical port, eth2 (the
	// walkthrough's provider NIC missing from the bridge).
	BreakUplink Breakage = "uplink"
	// BreakHostsEntry rewrites dnsmasq's hosts file without the VM's port
	// and makes dnsmasq reread it (SIGHUP), as when the DHCP agent missed
	// the port.
	BreakHostsEntry Breakage = "hosts-entry"
	// BreakWrongBridge moves the VM's tap from the network's brq bridge
	// to WrongBridge, a bridge no Neutron agent made (libvirt's default
	// network, or a tap plugged by hand). Another network's brq would be
	// judged a healthy bridge without the API saying which network the
	// port is on.
	BreakWrongBridge Breakage = "wrong-bridge"
	// BreakLeaseSeeded restarts dnsmasq as the DHCP agent does, rewriting
	// its files with the lease file seeded ("<expiry> <mac> <ip> * *"),
	// while the guest, which got its address earlier and runs no DHCP
	// client, does not renew: its lease row is only Neutron's seed.
	BreakLeaseSeeded Breakage = "lease-seeded"
	// BreakDupIP adds another host on the bridge holding the VM's IP (a
	// namespace, ImpostorNetNS, on another tap with its own MAC): both
	// answer ARP for the address, one with the wrong MAC (a duplicate
	// address).
	BreakDupIP Breakage = "dup-ip"
	// BreakFDBNeverLearned turns learning off on the VM's tap and deletes
	// the bridge's FDB entry for the VM's MAC: the bridge never learns it
	// (traffic to the VM is flooded).
	BreakFDBNeverLearned Breakage = "fdb-never-learned"
	// BreakICMPRule deletes the walkthrough's ICMP rule from the port's
	// ingress chain (neutron-linuxbri-i…): the ping falls to the
	// sg-fallback DROP.
	BreakICMPRule Breakage = "icmp-rule"
	// BreakSSHRule deletes the TCP/22 rule from the port's ingress chain.
	BreakSSHRule Breakage = "ssh-rule"
	// BreakARPSpoof removes the VM's address from its ebtables ARP
	// anti-spoofing chain (neutronARP-tap…): the VM's ARP is dropped.
	BreakARPSpoof Breakage = "arp-spoof"
	// BreakMetadata kills the metadata proxy (haproxy) in the qdhcp
	// namespace, leaving its pid file stale, as when it died.
	BreakMetadata Breakage = "metadata"
	// BreakMTU lowers the uplink eth2's MTU to 1400 (the bridge follows)
	// while DHCP keeps advertising 1500.
	BreakMTU Breakage = "mtu"
	// BreakAgentDown marks the Linux bridge agent on the node dead in
	// the fake cloud (its last heartbeat two minutes ago, past Neutron's
	// agent_down_time), as when neutron-linuxbridge-agent is killed:
	// only the API knows, so only a trace with the cloud (vmtrace -demo,
	// trace.Server) sees it, at the agents hop. It needs StartCloud.
	BreakAgentDown Breakage = "agent-down"
)

// FirewallBreakages lists the faults Break injects in the node's
// firewall (a subset of Breakages).
func FirewallBreakages() []Breakage {
	return []Breakage{BreakICMPRule, BreakSSHRule, BreakARPSpoof}
}

// MetadataMTUBreakages lists the faults Break injects in the metadata
// proxy and the MTU chain (a subset of Breakages: the trace's metadata
// and mtu hops).
func MetadataMTUBreakages() []Breakage {
	return []Breakage{BreakMetadata, BreakMTU}
}

// CloudBreakages lists the faults Break injects in the fake cloud only
// (a subset of Breakages): a trace without the API cannot see them.
func CloudBreakages() []Breakage {
	return []Breakage{BreakAgentDown}
}

// Breakages lists the faults Break knows.
func Breakages() []Breakage {
	return append([]Breakage{BreakDnsmasq, BreakTapDown, BreakUplink, BreakHostsEntry,
		BreakWrongBridge, BreakLeaseSeeded, BreakDupIP, BreakFDBNeverLearned}, slices.Concat(FirewallBreakages(), MetadataMTUBreakages(), CloudBreakages())...)
}
