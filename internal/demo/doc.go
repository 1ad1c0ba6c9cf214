// Package demo builds, in throwaway network namespaces, a small copy of
// what Neutron's Linux bridge agent and libvirt make on a compute node (the
// topology of the Pike launch-instance walkthrough), for the examples'
// -demo flags. It is built from internal/sandbox, the namespaces, links
// and daemons the tests use too.
//
// BuildPath builds the whole path of one VM NIC as the Pike
// launch-instance walkthrough has it, for vmtrace -demo: the brq bridge
// with its "eth2" uplink to a gateway namespace holding 192.168.31.1, a
// qdhcp-<network> namespace whose ns-<port> veth (192.168.31.70/27) is on
// the bridge and where the real dnsmasq runs with Neutron's command line,
// hosts, opts and seeded lease files under a state directory shaped like
// /var/lib/neutron/dhcp, and a guest namespace on a tap<port> veth (with
// libvirt's fe:16:3e MAC) whose busybox udhcpc renews its lease.
// Path.StartCloud adds, on 127.0.0.1, a fake Keystone, Nova and Neutron
// (internal/fakecloud) that knows the path as the walkthrough's cloud
// does (server cirros1 on compute1, its port, the DHCP port, provider1
// and its subnet), with a clouds.yaml for launch.Open, so trace.Server
// traces it from the server down. Break injects one of eight faults
// (Breakages), one per verdict the trace must tell apart; Leftovers and
// Residue say what, if anything, survived Close. With
// PathConfig.StoppedGuest the bridge also holds a stopped guest's tap
// (down, no carrier), for bridgeinfo -demo.
//
// BuildTwoNode builds the walkthrough's two nodes instead (TwoNode): the
// controller (its brq with eth2, the DHCP port into the qdhcp namespace
// where dnsmasq runs) and compute1 (its own brq with eth2 and the guest's
// tap: the namespace guest's, or the libvirt guest's as below, run by a
// libvirtd inside compute1), each eth2 a veth to a port of a provider
// "switch" (a bridge in its own namespace), eth1 a management link
// between them; TwoNode.StartCloud serves a fake cloud that knows both
// hosts (fakecloud.Config.ControllerHost); TwoNode.Observe records each
// node's half with its role (by the server, through that cloud, once it
// is started) and TwoNode.Join joins them (trace.Join). Its Break also
// injects the link's faults: BreakProviderWire, BreakUnknownUnicast,
// BreakWrongMapping.
//
// The guest is a namespace by default (PathConfig.Guest GuestNetNS). With
// GuestLibvirt (or GuestAuto, when libvirtd, qemu and the image are
// there) it is a real qemu TCG domain shaped like Nova's Linux bridge
// domain: name instance-<hex>, the server's UUID, Nova's metadata with the
// port, <interface type='bridge'> on the brq with target tap<port> and the
// port's MAC, virtio. BuildPath runs its own libvirtd (a child, in its
// own mount namespace whose tmpfs hide the system daemon's state, and
// inside the compute1 network namespace, so libvirt makes the tap there),
// boots the Debian kernel and busybox initramfs scripts/guest-image.sh
// builds in DefaultGuestImageDir, and waits until the guest's udhcpc has
// renewed its seeded lease and bound the address. Path.LibvirtSocketRO is
// for a libvirtinspect.Client, so a trace judges the domain, its
// interface and its libvirt counters. Close destroys the domain and stops
// the daemon.
//
// Everything lives in namespaces under a fresh temporary directory, never
// in the host's namespace or /run/netns; Close removes it all. A process
// killed with SIGKILL cannot: BuildPath's dnsmasq (which clears its
// parent-death signal when it drops privileges), the libvirt guest's qemu
// and the namespace mounts stay (its libvirtd dies with the process), and
// ReclaimStale, which vmtrace -demo calls first, removes them once the
// owner recorded in the directory is gone.
//
// # Privileges
//
// BuildPath needs CAP_SYS_ADMIN (unshare, mount, setns), CAP_NET_ADMIN
// (links, taps) and CAP_NET_RAW (frames): run as root. It also runs
// dnsmasq (dnsmasq-base) and busybox udhcpc; dnsmasq reads its files as
// nobody, so the directory's parents must be searchable by others. The
// libvirt guest also runs libvirtd, unshare, taskset and
// qemu-system-x86_64 (scripts/deps.d/guest.txt), as root.
//
// # Network namespaces
//
// Namespaces are created on goroutines locked to threads that then exit;
// namespaces are entered only through one helper that uses a fresh locked
// goroutine and restores (or discards) the thread.
package demo
