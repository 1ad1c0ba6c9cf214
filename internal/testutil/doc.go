// Package testutil builds the real kernel objects and daemons that vifpath's
// integration tests run against: throwaway network namespaces, bridges, veth
// pairs, tap devices, addresses and real frames between namespaces.
//
// Beyond kernel objects it runs the daemons vifpath inspects: the real
// dnsmasq with Neutron's command line and state files, with busybox udhcpc
// guests on the same bridge (NewDHCPNetwork, StartDnsmasq, AddGuest,
// RunDHCPClient); the shared system libvirtd or a private one in its own
// mount namespace that a test may stop, kill or freeze (SystemLibvirtd,
// NewPrivateLibvirtd), a private sshd (NewPrivateSSHD) and Prometheus
// (StartPrometheus). Package fakecloud serves an in-process Keystone,
// Nova, Neutron and Glance from bodies recorded on a real cloud.
//
// The kernel objects and daemons (namespaces, links, dnsmasq, udhcpc,
// libvirtd, sshd, Prometheus) and the leak checks come from
// internal/sandbox, which the demo uses too; this package is its
// testing.TB adapter (as internal/testutil/fakecloud is
// internal/fakecloud's) plus the Require*/SkipOrFail helpers.
//
// Every helper takes a testing.TB, calls t.Helper and registers t.Cleanup, so
// nothing a test creates outlives it. Names carry random suffixes that fit the
// kernel's 15-character interface-name limit, so packages can run their tests
// in parallel.
//
// # Privileges
//
// Creating namespaces and links needs root (CAP_SYS_ADMIN for unshare, setns
// and the bind mount under /run/netns, CAP_NET_ADMIN for links, CAP_NET_RAW
// for raw frames). RequireRoot skips a test that lacks them when a person
// runs `go test` unprivileged, and fails it when the CI environment variable
// is set, so a green CI means the real thing ran.
//
// # Network namespaces
//
// A namespace is created on a fresh goroutine locked to its OS thread that is
// never unlocked: when the goroutine ends, the Go runtime terminates that
// thread instead of returning it to the pool. The test's own goroutine never
// changes namespace. Work inside a namespace goes through NetNS.Do, which
// follows the same rule, or through a netlink handle bound to it.
package testutil
