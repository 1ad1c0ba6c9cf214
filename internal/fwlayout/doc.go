// Package fwlayout renders and installs the firewall the Neutron
// linuxbridge agent (iptables firewall driver with ipset, and
// arp_protect's ebtables chains) builds for its ports: the same chains,
// jumps, comments, ipsets and ebtables nat rules, in the order the agent
// writes them, as recorded from the project's Zed all-in-one cloud
// (firewall/testdata/zed-aio). Tests and the demo install it in
// throwaway namespaces; it is never used on a real node.
//
// Rendering is pure; Install runs iptables-restore, ipset restore and
// ebtables-restore through nsenter inside a namespace the caller made.
package fwlayout
