package dhcpns

import (
	"encoding/binary"
	"net"
	"net/netip"
	"time"

	"github.com/insomniacslk/dhcp/dhcpv4"
	"github.com/vifpath/vifpath/hwaddr"
)

// DHCPProbeOptions tune ProbeDHCP. A nil *DHCPProbeOptions means defaults.
type DHCPProbeOptions struct {
	// Bridge is the network's bridge. Zero value: Neutron's name,
	// "brq" + the first 11 characters of the network ID.
	Bridge string
	// BridgeNetNSPath is the path of the network namespace holding the
	// bridge (the module names every namespace path field NetNSPath, as
	// linuxbridge.Config.NetNSPath). Zero value: the process's own
	// namespace (/proc/self/ns/net), where the linuxbridge agent puts brq
	// bridges.
	BridgeNetNSPath string
	// BridgeNetNS is BridgeNetNSPath, used when that is empty.
	//
	// Deprecated: use BridgeNetNSPath.
	BridgeNetNS string
	// Timeout bounds the whole probe. Zero value: 3 s. A ctx deadline that
	// comes earlier wins.
	Timeout time.Duration
	// Retransmit is the interval between DISCOVERs while no OFFER came.
	// Zero value: 250 ms.
	Retransmit time.Duration
}

// orDefault returns a copy of o (nil: the zero DHCPProbeOptions) with every
// zero field set to its documented default, except Bridge, which depends
// on the network.
func (o *DHCPProbeOptions) orDefault() DHCPProbeOptions {
	var d DHCPProbeOptions
	if o != nil {
		d = *o
	}
	if d.BridgeNetNSPath == "" {
		d.BridgeNetNSPath = d.BridgeNetNS
	}
	if d.BridgeNetNSPath == "" {
		d.BridgeNetNSPath = "/proc/self/ns/net"
	}
	d.BridgeNetNS = d.BridgeNetNSPath
	if d.Timeout <= 0 {
		d.Timeout = 3 * time.Second
	}
	if d.Retransmit <= 0 {
		d.Retransmit = 250 * time.Millisecond
	}
	return d
}

func (o *DHCPProbeOptions) timeout() time.Duration { return o.orDefault().Timeout }

func (o *DHCPProbeOptions) retransmit() time.Duration { return o.orDefault().Retransmit }

// DHCPOffer is what a DHCP server offered to a DISCOVER.
type DHCPOffer struct {
	// ClientMAC is the MAC the DISCOVER asked for (chaddr).
	ClientMAC hwaddr.MAC `json:"client_mac"`
	// IP is the offered address (yiaddr) with the offered subnet mask.
	IP netip.Addr `json:"ip"`
	// Prefix is IP with the subnet mask option's length, invalid if absent.
	Prefix netip.Prefix `json:"prefix,omitzero"`
	// Server is the server identifier (option 54).
	Server netip.Addr `json:"server"`
	// ServerMAC is the Ethernet source of the OFFER.
	ServerMAC hwaddr.MAC `json:"server_mac"`
	// LeaseTime is option 51, zero if absent.
	LeaseTime time.Duration `json:"lease_time"`
	// Routers is option 3.
	Routers []netip.Addr `json:"routers,omitempty"`
	// DNS is option 6.
	DNS []netip.Addr `json:"dns,omitempty"`
	// Domain is option 15.
	Domain string `json:"domain,omitempty"`
	// Hostname is option 12.
	Hostname string `json:"hostname,omitempty"`
	// MTU is option 26, 0 if absent.
	MTU int `json:"mtu,omitempty"`
	// RTT is the time from the DISCOVER that was answered to the OFFER.
	RTT time.Duration `json:"rtt"`
}

// discoverFrame builds an Ethernet/IPv4/UDP frame carrying a DISCOVER for
// clientMAC with the broadcast flag (so the OFFER comes back to the
// broadcast MAC, not to clientMAC, and the probe never steals the real
// port's MAC in the bridge's FDB), sent from srcMAC.
func discoverFrame(srcMAC, clientMAC hwaddr.MAC, xid dhcpv4.TransactionID) ([]byte, error) {
	d, err := dhcpv4.NewDiscovery(net.HardwareAddr(clientMAC),
		dhcpv4.WithTransactionID(xid),
		dhcpv4.WithBroadcast(true),
		dhcpv4.WithRequestedOptions(dhcpv4.OptionIPAddressLeaseTime, dhcpv4.OptionInterfaceMTU, dhcpv4.OptionHostName, dhcpv4.OptionServerIdentifier))
	if err != nil {
		return nil, err
	}
	payload := d.ToBytes()
	b := make([]byte, 14+20+8+len(payload))
	copy(b[0:6], []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
	copy(b[6:12], srcMAC)
	binary.BigEndian.PutUint16(b[12:14], etherTypeIPv4)
	ip := b[14:34]
	ip[0] = 0x45
	binary.BigEndian.PutUint16(ip[2:4], uint16(20+8+len(payload)))
	ip[8] = 64
	ip[9] = 17 // UDP
	copy(ip[16:20], []byte{255, 255, 255, 255})
	binary.BigEndian.PutUint16(ip[10:12], ipChecksum(ip))
	udp := b[34:42]
	binary.BigEndian.PutUint16(udp[0:2], 68)
	binary.BigEndian.PutUint16(udp[2:4], 67)
	binary.BigEndian.PutUint16(udp[4:6], uint16(8+len(payload)))
	// UDP checksum 0: none (allowed over IPv4).
	copy(b[42:], payload)
	return b, nil
}

func ipChecksum(h []byte) uint16 {
	var sum uint32
	for i := 0; i+1 < len(h); i += 2 {
		sum += uint32(binary.BigEndian.Uint16(h[i:]))
	}
	for sum > 0xffff {
		sum = sum>>16 + sum&0xffff
	}
	return ^uint16(sum)
}

// parseOfferFrame returns the OFFER carried by an Ethernet/IPv4/UDP frame
// to port 68 with transaction id xid, and false for anything else. The UDP
// checksum is not verified: with TX offload on the server's veth it is
// wrong in captures although the packet is fine.
func parseOfferFrame(b []byte, xid dhcpv4.TransactionID) (*DHCPOffer, bool) {
	if len(b) < 14+20+8 || binary.BigEndian.Uint16(b[12:14]) != etherTypeIPv4 {
		return nil, false
	}
	ip := b[14:]
	ihl := int(ip[0]&0x0f) * 4
	if ip[0]>>4 != 4 || ihl < 20 || len(ip) < ihl+8 || ip[9] != 17 {
		return nil, false
	}
	udp := ip[ihl:]
	if binary.BigEndian.Uint16(udp[2:4]) != 68 {
		return nil, false
	}
	ulen := int(binary.BigEndian.Uint16(udp[4:6]))
	if ulen < 8 || ulen > len(udp) {
		return nil, false
	}
	d, err := dhcpv4.FromBytes(udp[8:ulen])
	if err != nil || d.TransactionID != xid || d.OpCode != dhcpv4.OpcodeBootReply || d.MessageType() != dhcpv4.MessageTypeOffer {
		return nil, false
	}
	o := &DHCPOffer{
		ClientMAC: append(hwaddr.MAC(nil), d.ClientHWAddr...),
		IP:        ipAddr4(d.YourIPAddr),
		Server:    ipAddr4(d.ServerIdentifier()),
		ServerMAC: append(hwaddr.MAC(nil), b[6:12]...),
		LeaseTime: d.IPAddressLeaseTime(0),
		Domain:    d.DomainName(),
		Hostname:  d.HostName(),
	}
	if m := d.SubnetMask(); m != nil && o.IP.IsValid() {
		if ones, bits := m.Size(); bits == 32 {
			o.Prefix = netip.PrefixFrom(o.IP, ones)
		}
	}
	for _, r := range d.Router() {
		if a := ipAddr4(r); a.IsValid() {
			o.Routers = append(o.Routers, a)
		}
	}
	for _, r := range d.DNS() {
		if a := ipAddr4(r); a.IsValid() {
			o.DNS = append(o.DNS, a)
		}
	}
	if v := d.Options.Get(dhcpv4.OptionInterfaceMTU); len(v) == 2 {
		o.MTU = int(binary.BigEndian.Uint16(v))
	}
	return o, true
}

func ipAddr4(ip net.IP) netip.Addr {
	a, ok := netip.AddrFromSlice(ip)
	if !ok {
		return netip.Addr{}
	}
	a = a.Unmap()
	if a.IsUnspecified() {
		return netip.Addr{}
	}
	return a
}
