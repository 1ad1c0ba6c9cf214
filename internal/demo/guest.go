package demo

import (
	"fmt"
	"time"
)

// GuestKind chooses what stands for the VM in BuildPath.
type GuestKind string

// Guests BuildPath can run.
const (
	// GuestAuto is GuestLibvirt when libvirtd, qemu and the guest image
	// are available, else GuestNetNS (Path.GuestWhy and
	// PathConfig.Logger say why).
	GuestAuto GuestKind = "auto"
	// GuestNetNS is a "guest" network namespace on a tap-named veth whose
	// busybox udhcpc leases the address once. PathConfig.Guest's zero
	// value means GuestNetNS: it takes milliseconds, the libvirt guest
	// seconds.
	GuestNetNS GuestKind = "netns"
	// GuestLibvirt is a real qemu TCG domain, shaped like Nova's Linux
	// bridge domain, defined in a libvirtd the demo runs inside its
	// compute1 namespace; libvirt makes the tap. The guest is the kernel
	// and initramfs scripts/guest-image.sh builds; its udhcpc renews.
	GuestLibvirt GuestKind = "libvirt"
)

// DefaultGuestImageDir is where scripts/guest-image.sh puts the libvirt
// guest's vmlinuz and initrd.img by default.
const DefaultGuestImageDir = "/var/cache/vifpath/guest"

// GuestKinds lists the GuestKind values ParseGuestKind accepts.
func GuestKinds() []GuestKind { return []GuestKind{GuestAuto, GuestNetNS, GuestLibvirt} }

// ParseGuestKind parses "auto", "netns" or "libvirt" ("" is auto, as
// vmtrace -demo -guest defaults).
func ParseGuestKind(s string) (GuestKind, error) {
	if s == "" {
		return GuestAuto, nil
	}
	for _, k := range GuestKinds() {
		if string(k) == s {
			return k, nil
		}
	}
	return "", fmt.Errorf("demo: unknown guest %q: want one of %v", s, GuestKinds())
}

// GuestInfo is what BuildPath says about the guest it ran (embedded in
// Path).
type GuestInfo struct {
	// GuestKind is the guest that ran: GuestNetNS or GuestLibvirt.
	// GuestWhy, for GuestAuto that fell back to GuestNetNS, says why the
	// libvirt guest was not possible ("" otherwise).
	GuestKind GuestKind `json:"guest"`
	GuestWhy  string    `json:"guest_why,omitempty"`
	// LibvirtSocket and LibvirtSocketRO are the read-write and read-only
	// sockets of the demo's libvirtd, LibvirtURI its qemu driver's URI
	// through the read-write socket ("qemu+unix:///system?socket=…"):
	// open a libvirtinspect.Client on them. Empty for GuestNetNS.
	LibvirtSocket   string `json:"libvirt_socket,omitempty"`
	LibvirtSocketRO string `json:"libvirt_socket_ro,omitempty"`
	LibvirtURI      string `json:"libvirt_uri,omitempty"`
	// Domain is the guest domain's name (Nova's instance-<hex id>) and
	// DomainUUID its UUID, which is the Nova server's (also in the
	// domain's Nova metadata). QemuPID is qemu's pid (0 once stopped).
	Domain     string `json:"domain,omitempty"`
	DomainUUID string `json:"domain_uuid,omitempty"`
	QemuPID    int    `json:"qemu_pid,omitempty"`
	// Console is the guest's serial console log (under Dir; removed by
	// Close).
	Console string `json:"console,omitempty"`
	// GuestBoot is the time from libvirt having started the domain (qemu
	// running) until dnsmasq had written the guest's renewed lease row and
	// the guest's console said it bound the address: boot to lease, under
	// TCG.
	GuestBoot time.Duration `json:"guest_boot_ns,omitempty"`
}
