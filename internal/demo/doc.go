// Package demo builds, in throwaway network namespaces, a small copy of
// what Neutron's Linux bridge agent and libvirt make on a compute node (the
// topology of the Pike launch-instance walkthrough), for the examples'
// -demo flags: a "brq" bridge for a network, an "eth2" uplink (a veth to a
// gateway namespace), a DHCP port's veth into a qdhcp-like namespace, a
// running guest's tap and a stopped guest's tap. It sends frames so the
// bridge learns the gateway's, the DHCP port's and the guest's MACs.
//
// Everything lives in namespaces under a fresh temporary directory, never
// in the host's namespace or /run/netns; Close removes it all.
//
// # Privileges
//
// Build needs CAP_SYS_ADMIN (unshare, mount, setns), CAP_NET_ADMIN (links,
// taps) and CAP_NET_RAW (frames): run as root.
//
// # Network namespaces
//
// Namespaces are created on goroutines locked to threads that then exit;
// namespaces are entered only through one helper that uses a fresh locked
// goroutine and restores (or discards) the thread.
package demo
