// Package acceptance holds vifpath's acceptance suite: the Pike
// launch-an-instance walkthrough replayed on a real OpenStack with vifpath's
// own packages only (launch for the API side; linuxbridge, dhcpns and
// libvirtinspect for what the compute/network node shows). It has no
// library code; the tests are behind the build tag "acceptance":
//
//	sudo aio/up.sh     # the all-in-one Zed cloud, see aio/README.md
//	sudo go test -tags acceptance -count=1 -v ./acceptance/
//
// # Privileges
//
// Root: the host-side checks open netlink and AF_PACKET sockets inside the
// qdhcp namespace and read libvirtd's socket and /proc.
//
// # Network namespaces
//
// The suite enters the cloud's qdhcp-<network> namespace only through
// dhcpns and linuxbridge (fresh goroutines, restored); it creates no
// namespace and sends nothing but ARP requests from the DHCP port to the
// guest's address.
package acceptance
