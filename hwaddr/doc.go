// Package hwaddr provides MAC, the one hardware-address type every vifpath
// package uses: a net.HardwareAddr that reads and writes text in colon
// notation ("fa:16:3e:8c:4d:2a"), in JSON, flags and logs alike, where a
// plain net.HardwareAddr would marshal to base64.
//
// MAC converts to and from net.HardwareAddr without copying
// (hwaddr.MAC(hw), net.HardwareAddr(m)), so values read by netlink,
// packet sockets or go-libvirt drop in directly.
//
// # Privileges
//
// None: the package only parses and formats.
package hwaddr
