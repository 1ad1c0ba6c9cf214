package demo

import (
	"log/slog"
	"net"
	"net/netip"
	"time"
)

// PathConfig tunes BuildPath. A nil *PathConfig means defaults.
type PathConfig struct {
	// Dir is the directory everything goes under (namespaces, Neutron's
	// state directory, an empty NetworkManager run directory). Empty
	// means a new temporary directory; either way Close removes what
	// BuildPath put in it, and the directory itself only if it made it.
	Dir string
	// Dnsmasq and Busybox are the binaries to run. Empty means "dnsmasq"
	// and "busybox" looked up in $PATH.
	Dnsmasq, Busybox string
	// Logger receives progress records. Nil means silent.
	Logger *slog.Logger
	// Guest chooses the VM: GuestNetNS (the zero value means it),
	// GuestLibvirt (an error when libvirtd, qemu or the guest image is
	// missing) or GuestAuto (the libvirt guest when possible, else the
	// namespace guest; Path.GuestWhy says why).
	Guest GuestKind
	// GuestImageDir holds the libvirt guest's vmlinuz and initrd.img
	// (scripts/guest-image.sh). Empty means DefaultGuestImageDir.
	GuestImageDir string
	// Libvirtd and Qemu are the libvirt guest's binaries. Empty means
	// "libvirtd" and "qemu-system-x86_64" looked up in $PATH.
	Libvirtd, Qemu string
	// GuestTimeout bounds the libvirt guest's boot to its renewed lease.
	// Zero means DefaultGuestTimeout.
	GuestTimeout time.Duration
	// StoppedGuest adds a second VM port whose guest is stopped, as a
	// shut-off instance leaves it: its tap<port> (a persistent tap with
	// no carrier, libvirt's rewrite of the port's MAC) on the bridge,
	// administratively down. bridgeinfo -demo shows it.
	StoppedGuest bool
}

// Path is the walkthrough's path of one VM NIC, built in throwaway
// namespaces by BuildPath: a "compute1" namespace (the node) holding
// brq<network> with an "eth2" uplink (a veth to a "gateway" namespace
// holding 192.168.31.1), the DHCP port's tap<port> (a veth to ns-<port>
// in qdhcp-<network>, 192.168.31.70/27, where the real dnsmasq runs with
// Neutron's command line and files), and the VM's tap<port> (fe:16:3e:…,
// libvirt's rewrite of the port's MAC), a veth to eth0 in a "guest"
// namespace that got 192.168.31.74 from dnsmasq with busybox udhcpc (or,
// with PathConfig.Guest GuestLibvirt, the tap libvirt made for a qemu TCG
// domain whose own udhcpc got it: see GuestInfo).
//
// Close removes it all. A Path is not safe for concurrent use.
type Path struct {
	// Dir holds everything; NetNSDir (== Dir) the namespaces' bind mounts.
	Dir, NetNSDir string
	// HostPath, Gateway, DHCP and Guest are the namespaces' paths (Guest
	// is empty for the libvirt guest).
	HostPath, Gateway, DHCP, Guest string
	// StateDir is shaped like /var/lib/neutron/dhcp: StateDir/<network>/
	// holds pid, host, addn_hosts, opts, leases and dnsmasq's log.
	StateDir string
	// NMRunDir is an empty directory standing for /run/NetworkManager
	// (nothing manages the demo's devices).
	NMRunDir string
	// AgentConfig is the node's linuxbridge agent configuration, as
	// Neutron's installer writes it: physical_interface_mappings =
	// provider:eth2 (trace.Config.AgentConfig).
	AgentConfig string
	// NetworkID is the (random) Neutron network ID; Bridge its brq;
	// Uplink the bridge's physical port, "eth2".
	NetworkID, Bridge, Uplink string
	// DHCPPortID is the DHCP port's ID; DHCPIf its ns-… device.
	DHCPPortID, DHCPIf string
	// PortID is the VM's Neutron port ID, Tap its tap…, MAC the port's
	// (and the guest's eth0's) MAC, IP its fixed IP.
	PortID, Tap string
	MAC         net.HardwareAddr
	IP          netip.Addr
	// StoppedPortID, StoppedTap and StoppedMAC are the stopped guest's
	// port, its tap and the port's MAC (PathConfig.StoppedGuest; empty
	// without it).
	StoppedPortID, StoppedTap string
	StoppedMAC                net.HardwareAddr
	// DnsmasqArgs is dnsmasq's command line; DnsmasqPID its pid (0 once
	// stopped).
	DnsmasqArgs []string
	DnsmasqPID  int
	// DHCPClientOutput is what udhcpc printed in the guest (for the
	// libvirt guest, its console's vifpath-guest lines).
	DHCPClientOutput string
	// GuestInfo says which guest ran and, for the libvirt guest, where
	// its libvirtd and domain are.
	GuestInfo
	// MetadataInfo says where the metadata proxy and its files are.
	MetadataInfo

	log *slog.Logger
	// pathState is the Linux build's state (dnsmasq, mounts, the
	// libvirt guest, the fake cloud).
	pathState
}
