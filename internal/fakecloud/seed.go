package fakecloud

import (
	"errors"
	"fmt"
	"net"
	"net/netip"
	"slices"
	"time"
)

// NetworkSpec describes a Neutron network with one IPv4 subnet, for
// AddNetwork. The bodies are copies of the recorded provider1 network and
// its subnet with these fields changed.
type NetworkSpec struct {
	// ID is the network's ID. Zero: a new one.
	ID string
	// Name is the network's name. Zero: "provider1".
	Name string
	// NetworkType is provider:network_type. Zero: "flat".
	NetworkType string
	// PhysicalNetwork is provider:physical_network. Zero: "provider".
	PhysicalNetwork string
	// SubnetID is the subnet's ID. Zero: a new one.
	SubnetID string
	// SubnetName is the subnet's name. Zero: Name + "subnet".
	SubnetName string
	// CIDR is the subnet's prefix. Required.
	CIDR netip.Prefix
	// Gateway is the subnet's gateway_ip (Neutron allows one outside
	// the subnet, as the walkthrough's). Zero: none (null).
	Gateway netip.Addr
	// PoolStart and PoolEnd bound the allocation pool. Zero: the
	// subnet's addresses after the first, up to the one before the last.
	PoolStart, PoolEnd netip.Addr
	// DNS are the subnet's dns_nameservers. Zero: none.
	DNS []netip.Addr
	// NoDHCP sets the subnet's enable_dhcp false (`openstack subnet
	// create --no-dhcp`): no DHCP agent hosts a network whose subnets
	// all have it. Zero: DHCP on.
	NoDHCP bool
}

// PortSpec describes a Neutron port, for AddPort. The body is a copy of
// the recorded server port (or, for device_owner network:dhcp, of the
// recorded DHCP port) with these fields changed.
type PortSpec struct {
	// ID is the port's ID. Zero: a new one.
	ID string
	// NetworkID is the port's network, added with AddNetwork. Required.
	NetworkID string
	// MAC is mac_address. Zero: a new fa:16:3e:… one.
	MAC net.HardwareAddr
	// IPs are the port's fixed IPs; each must be in a subnet of the
	// network. Zero: none.
	IPs []netip.Addr
	// DeviceID and DeviceOwner are the port's device_id and
	// device_owner ("compute:nova", "network:dhcp"). Zero: "" and
	// "compute:nova". AddServer sets them for the server's ports.
	DeviceID, DeviceOwner string
	// HostID is binding:host_id. Zero: Config.Host.
	HostID string
	// VIFType is binding:vif_type. Zero: "bridge".
	VIFType string
	// Status is the port's status. Zero: "ACTIVE".
	Status string
	// SecurityGroups are the IDs of the port's groups (the recorded
	// default group, or ones AddSecurityGroup added). Zero: the recorded
	// port's (default).
	SecurityGroups []string
	// NoPortSecurity sets port_security_enabled false (and no groups, as
	// Neutron requires). Zero: true.
	NoPortSecurity bool
	// AllowedAddressPairs are the port's allowed_address_pairs. Zero:
	// none.
	AllowedAddressPairs []AddressPair
	// Updated is the port's updated_at, the time Neutron last changed it
	// (a port update, or the agent reporting its status), at Neutron's
	// one-second precision. Zero: now, on Config.Now's clock, as for a
	// port just created.
	Updated time.Time
}

// AddressPair is one allowed address pair of a port: an address or
// prefix, and a MAC (nil: the port's, as Neutron fills it in).
type AddressPair struct {
	IP  string
	MAC net.HardwareAddr
}

// SecurityGroupSpec describes a security group, for AddSecurityGroup.
// The body is a copy of the recorded default group with these fields.
type SecurityGroupSpec struct {
	// ID is the group's ID. Zero: a new one.
	ID string
	// Name is the group's name. Required.
	Name string
	// Rules are the group's rules. Zero: none.
	Rules []SecurityGroupRuleSpec
}

// SecurityGroupRuleSpec describes one rule of a group; zero fields are
// the API's null.
type SecurityGroupRuleSpec struct {
	// ID is the rule's ID. Zero: a new one.
	ID string
	// Direction is ingress or egress; EtherType IPv4 or IPv6. Required.
	Direction, EtherType string
	// Protocol is icmp, tcp, udp, ipv6-icmp or a number. Zero: any.
	Protocol string
	// PortMin and PortMax are the port range (for ICMP type and code).
	// Zero: none.
	PortMin, PortMax int
	// RemoteIPPrefix and RemoteGroupID say who may send. Zero: anyone.
	RemoteIPPrefix, RemoteGroupID string
}

// AddSecurityGroup adds a security group with its rules and returns the
// spec with the IDs filled in.
func (c *Cloud) AddSecurityGroup(g SecurityGroupSpec) (SecurityGroupSpec, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if g.Name == "" {
		return g, fmt.Errorf("fakecloud: add security group: a name is required")
	}
	if g.ID == "" {
		g.ID = c.newID(0x5c)
	}
	if i, _ := find(c.secgroups, "id", g.ID); i >= 0 {
		return g, fmt.Errorf("fakecloud: add security group %s: the fake already has a group with this ID", g.ID)
	}
	grp := template("neutron-secgroups-default.json", "security_groups")
	delete(grp, "security_group_rules")
	now := c.cfg.Now().UTC().Format(time.RFC3339)
	grp["id"], grp["name"], grp["description"], grp["created_at"], grp["updated_at"] = g.ID, g.Name, "", now, now
	nullable := func(v any, zero bool) any {
		if zero {
			return nil
		}
		return v
	}
	for i := range g.Rules {
		r := &g.Rules[i]
		if r.ID == "" {
			r.ID = c.newID(0x5d)
		}
		c.rules = append(c.rules, obj{"id": r.ID, "security_group_id": g.ID, "direction": r.Direction, "ethertype": r.EtherType,
			"protocol": nullable(r.Protocol, r.Protocol == ""), "port_range_min": nullable(r.PortMin, r.PortMin == 0), "port_range_max": nullable(r.PortMax, r.PortMax == 0),
			"remote_ip_prefix": nullable(r.RemoteIPPrefix, r.RemoteIPPrefix == ""), "remote_group_id": nullable(r.RemoteGroupID, r.RemoteGroupID == ""),
			"remote_address_group_id": nil, "normalized_cidr": nullable(r.RemoteIPPrefix, r.RemoteIPPrefix == ""), "description": nil, "tags": []any{},
			"tenant_id": grp["tenant_id"], "project_id": grp["project_id"], "created_at": now, "updated_at": now, "revision_number": 0})
	}
	c.secgroups = append(c.secgroups, grp)
	return g, nil
}

// ServerSpec describes a Nova server that exists already (a recorded one,
// not one in BUILD), for AddServer. The body is a copy of the recorded
// server with these fields changed.
type ServerSpec struct {
	// ID is the server's ID. Zero: a new one.
	ID string
	// Name is the server's name. Required.
	Name string
	// Status is "ACTIVE" or "SHUTOFF". Zero: "ACTIVE".
	Status string
	// Host is OS-EXT-SRV-ATTR:host and hypervisor_hostname. Zero:
	// Config.Host.
	Host string
	// InstanceName is OS-EXT-SRV-ATTR:instance_name, libvirt's domain
	// name. Zero: instance-%08x of a counter.
	InstanceName string
	// PortIDs are ports added with AddPort: their device_id becomes the
	// server's ID, their device_owner compute:nova, and their fixed IPs
	// and MACs the server's addresses (keyed by network name).
	PortIDs []string
}

// AddNetwork adds a network and its subnet, as `openstack network create`
// and `openstack subnet create` would, and returns the spec with the IDs
// filled in.
func (c *Cloud) AddNetwork(n NetworkSpec) (NetworkSpec, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if !n.CIDR.IsValid() || !n.CIDR.Addr().Is4() {
		return n, fmt.Errorf("fakecloud: add network %q: want an IPv4 CIDR, got %v", n.Name, n.CIDR)
	}
	n.CIDR = n.CIDR.Masked()
	def := func(s *string, v string) {
		if *s == "" {
			*s = v
		}
	}
	def(&n.ID, c.newID(0x4e))
	def(&n.Name, "provider1")
	def(&n.NetworkType, "flat")
	def(&n.PhysicalNetwork, "provider")
	def(&n.SubnetID, c.newID(0x5b))
	def(&n.SubnetName, n.Name+"subnet")
	if i, _ := find(c.networks, "id", n.ID); i >= 0 {
		return n, fmt.Errorf("fakecloud: add network %s: the fake already has a network with this ID", n.ID)
	}
	if i, _ := find(c.subnets, "id", n.SubnetID); i >= 0 {
		return n, fmt.Errorf("fakecloud: add network %s: the fake already has a subnet %s", n.ID, n.SubnetID)
	}
	if !n.PoolStart.IsValid() {
		n.PoolStart = n.CIDR.Addr().Next()
	}
	if !n.PoolEnd.IsValid() {
		n.PoolEnd = lastAddr(n.CIDR).Prev()
	}
	if !n.CIDR.Contains(n.PoolStart) || !n.CIDR.Contains(n.PoolEnd) || n.PoolEnd.Less(n.PoolStart) {
		return n, fmt.Errorf("fakecloud: add network %s: allocation pool %s-%s is not inside %s", n.ID, n.PoolStart, n.PoolEnd, n.CIDR)
	}
	now := c.cfg.Now().UTC().Format(time.RFC3339)
	nw := template("neutron-networks.json", "networks")
	nw["id"], nw["name"], nw["subnets"] = n.ID, n.Name, []any{n.SubnetID}
	nw["provider:network_type"], nw["provider:physical_network"] = n.NetworkType, n.PhysicalNetwork
	nw["created_at"], nw["updated_at"] = now, now
	sn := template("neutron-subnets.json", "subnets")
	sn["id"], sn["name"], sn["network_id"], sn["cidr"] = n.SubnetID, n.SubnetName, n.ID, n.CIDR.String()
	sn["gateway_ip"] = nil
	if n.Gateway.IsValid() {
		sn["gateway_ip"] = n.Gateway.String()
	}
	sn["allocation_pools"] = []any{obj{"start": n.PoolStart.String(), "end": n.PoolEnd.String()}}
	dns := []any{}
	for _, a := range n.DNS {
		dns = append(dns, a.String())
	}
	sn["dns_nameservers"] = dns
	sn["enable_dhcp"] = !n.NoDHCP
	sn["created_at"], sn["updated_at"] = now, now
	c.networks = append(c.networks, nw)
	c.subnets = append(c.subnets, sn)
	return n, nil
}

func lastAddr(p netip.Prefix) netip.Addr {
	b := p.Addr().As4()
	host := uint32(1)<<(32-p.Bits()) - 1
	v := uint32(b[0])<<24 | uint32(b[1])<<16 | uint32(b[2])<<8 | uint32(b[3]) | host
	return netip.AddrFrom4([4]byte{byte(v >> 24), byte(v >> 16), byte(v >> 8), byte(v)})
}

// AddPort adds a port on a network AddNetwork added (or a recorded one)
// and returns the spec with the ID and MAC filled in.
func (c *Cloud) AddPort(p PortSpec) (PortSpec, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if p.ID == "" {
		p.ID = c.newID(0x90)
	}
	if i, _ := find(c.ports, "id", p.ID); i >= 0 {
		return p, fmt.Errorf("fakecloud: add port %s: the fake already has a port with this ID", p.ID)
	}
	if _, nw := find(c.networks, "id", p.NetworkID); nw == nil {
		return p, fmt.Errorf("fakecloud: add port %s: network %q is not in the fake: AddNetwork first", p.ID, p.NetworkID)
	}
	if p.MAC == nil {
		p.MAC = net.HardwareAddr{0xfa, 0x16, 0x3e, byte(c.seq >> 16), byte(c.seq >> 8), byte(c.seq)}
	}
	if len(p.MAC) != 6 {
		return p, fmt.Errorf("fakecloud: add port %s: MAC %v is not 6 bytes", p.ID, p.MAC)
	}
	if p.DeviceOwner == "" {
		p.DeviceOwner = "compute:nova"
	}
	if p.HostID == "" {
		p.HostID = c.cfg.Host
	}
	if p.VIFType == "" {
		p.VIFType = "bridge"
	}
	if p.Status == "" {
		p.Status = "ACTIVE"
	}
	fixed := []any{}
	for _, ip := range p.IPs {
		var subnet any
		for _, sn := range c.subnets {
			pfx, err := netip.ParsePrefix(fmt.Sprint(sn["cidr"]))
			if sn["network_id"] == p.NetworkID && err == nil && pfx.Contains(ip) {
				subnet = sn["id"]
			}
		}
		if subnet == nil {
			return p, fmt.Errorf("fakecloud: add port %s: %s is in no subnet of network %s", p.ID, ip, p.NetworkID)
		}
		for _, op := range c.ports {
			for _, f := range op["fixed_ips"].([]any) {
				if op["network_id"] == p.NetworkID && f.(obj)["ip_address"] == ip.String() {
					return p, fmt.Errorf("fakecloud: add port %s: %s is already port %v's (Neutron answers 409 IpAddressAlreadyAllocated)", p.ID, ip, op["id"])
				}
			}
		}
		fixed = append(fixed, obj{"subnet_id": subnet, "ip_address": ip.String()})
	}
	tmpl := "neutron-ports-by-device.json"
	if p.DeviceOwner == "network:dhcp" {
		tmpl = "neutron-ports-dhcp.json"
	}
	po := template(tmpl, "ports")
	now := c.cfg.Now().UTC().Format(time.RFC3339)
	po["id"], po["network_id"], po["mac_address"], po["fixed_ips"] = p.ID, p.NetworkID, p.MAC.String(), fixed
	po["device_id"], po["device_owner"], po["status"] = p.DeviceID, p.DeviceOwner, p.Status
	po["binding:host_id"], po["binding:vif_type"] = p.HostID, p.VIFType
	po["created_at"], po["updated_at"] = now, now
	if !p.Updated.IsZero() {
		po["updated_at"] = p.Updated.UTC().Format(time.RFC3339)
	}
	if p.SecurityGroups != nil {
		gs := []any{}
		for _, id := range p.SecurityGroups {
			if _, g := find(c.secgroups, "id", id); g == nil {
				return p, fmt.Errorf("fakecloud: add port %s: security group %q is not in the fake: AddSecurityGroup first", p.ID, id)
			}
			gs = append(gs, id)
		}
		po["security_groups"] = gs
	}
	if p.NoPortSecurity {
		po["port_security_enabled"], po["security_groups"] = false, []any{}
	}
	pairs := []any{}
	for _, ap := range p.AllowedAddressPairs {
		mac := ap.MAC
		if mac == nil {
			mac = p.MAC
		}
		pairs = append(pairs, obj{"ip_address": ap.IP, "mac_address": mac.String()})
	}
	po["allowed_address_pairs"] = pairs
	c.ports = append(c.ports, po)
	return p, nil
}

// AddServer adds a server that already runs (or is stopped) on a host,
// with the ports given, and returns the spec with the ID and instance
// name filled in.
func (c *Cloud) AddServer(s ServerSpec) (ServerSpec, error) {
	c.mu.Lock()
	defer c.mu.Unlock()
	if s.Name == "" {
		return s, errors.New("fakecloud: add server: the server needs a name")
	}
	if s.ID == "" {
		s.ID = c.newID(0x5e)
	}
	if s.Status == "" {
		s.Status = "ACTIVE"
	}
	if s.Host == "" {
		s.Host = c.cfg.Host
	}
	if s.InstanceName == "" {
		c.seq++
		s.InstanceName = fmt.Sprintf("instance-%08x", c.seq)
	}
	vmState, power := "active", 1
	switch s.Status {
	case "ACTIVE":
	case "SHUTOFF":
		vmState, power = "stopped", 4
	default:
		return s, fmt.Errorf("fakecloud: add server %s: status %q: want ACTIVE or SHUTOFF (servers in BUILD come from a POST)", s.Name, s.Status)
	}
	if sv := c.server(s.ID); sv != nil {
		return s, fmt.Errorf("fakecloud: add server %s: the fake already has a server %s", s.Name, s.ID)
	}
	var ports []obj
	for _, id := range s.PortIDs {
		_, po := find(c.ports, "id", id)
		if po == nil {
			return s, fmt.Errorf("fakecloud: add server %s: port %s is not in the fake: AddPort first", s.Name, id)
		}
		if d := fmt.Sprint(po["device_id"]); d != "" && d != s.ID {
			return s, fmt.Errorf("fakecloud: add server %s: port %s is in use by %s", s.Name, id, d)
		}
		ports = append(ports, po)
	}
	addrs := obj{}
	for _, po := range ports {
		po["device_id"], po["device_owner"] = s.ID, "compute:nova"
		netName := ""
		if _, nw := find(c.networks, "id", fmt.Sprint(po["network_id"])); nw != nil {
			netName = fmt.Sprint(nw["name"])
		}
		l, _ := addrs[netName].([]any)
		for _, f := range po["fixed_ips"].([]any) {
			l = append(l, obj{"version": 4, "addr": f.(obj)["ip_address"], "OS-EXT-IPS:type": "fixed", "OS-EXT-IPS-MAC:mac_addr": po["mac_address"]})
		}
		addrs[netName] = l
	}
	b := template("nova-server.json", "server")
	now := c.cfg.Now().UTC().Format(time.RFC3339)
	b["id"], b["name"], b["status"] = s.ID, s.Name, s.Status
	b["OS-EXT-STS:vm_state"], b["OS-EXT-STS:task_state"], b["OS-EXT-STS:power_state"] = vmState, nil, power
	b["OS-EXT-SRV-ATTR:host"], b["OS-EXT-SRV-ATTR:hypervisor_hostname"] = s.Host, s.Host
	b["OS-EXT-SRV-ATTR:instance_name"], b["OS-EXT-SRV-ATTR:hostname"] = s.InstanceName, s.Name
	b["created"], b["updated"] = now, now
	b["OS-SRV-USG:launched_at"] = c.cfg.Now().UTC().Format("2006-01-02T15:04:05.000000")
	b["addresses"] = addrs
	b["links"] = []any{
		obj{"rel": "self", "href": c.base + "/compute/v2.1/servers/" + s.ID},
		obj{"rel": "bookmark", "href": c.base + "/compute/servers/" + s.ID},
	}
	// A zero created time marks a server that is past BUILD: serverView
	// shows its body as is.
	c.servers = append(c.servers, &server{body: b})
	s.PortIDs = slices.Clone(s.PortIDs)
	return s, nil
}
