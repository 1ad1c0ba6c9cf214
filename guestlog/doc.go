// Package guestlog parses what a guest prints about its network on its
// console: busybox udhcpc (cirros and the project's guest image), ISC
// dhclient, systemd-networkd, cloud-init's metadata attempts and the
// kernel's link messages. It turns a console log into typed events (a DHCP
// DISCOVER sent, an offer or lease received with its address and server,
// no lease, link up or down, metadata reached or failed) and sums them up
// in a Summary a verdict can rest on.
//
// It is pure: it reads bytes it is given and never does I/O. Get the
// bytes from libvirtinspect.ReadConsoleLog (the serial console's log file
// the domain XML declares, on the compute node) or from Nova's
// os-getConsoleOutput (`openstack console log show`).
//
// # Privileges
//
// None.
//
// # Example
//
//	events := guestlog.Parse(consoleBytes)
//	s := guestlog.Summarize(events)
//	if s.Discovers > 0 && s.LastLease == nil {
//		fmt.Printf("the guest sent %d DISCOVERs and got no lease\n", s.Discovers)
//	}
package guestlog
