package demo

import "github.com/vifpath/vifpath/internal/fakecloud"

// Cloud is an in-process fake Keystone, Nova and Neutron
// (internal/fakecloud) that knows the Path as the walkthrough's cloud
// does: the network provider1 (flat, physical network "provider") with
// the Path's NetworkID and subnet provider1subnet 192.168.31.64/27
// (gateway 192.168.31.1, pool .70-.79, DNS 8.8.4.4); the DHCP port
// (DHCPPortID, network:dhcp, 192.168.31.70, the ns- device's MAC); and
// the server cirros1 (ACTIVE on the node NodeName, libvirt name
// instance-00000002) with its port (PortID, MAC, 192.168.31.74, bound to
// NodeName with vif_type bridge, ACTIVE). Its nova-compute service and
// Neutron agents (recorded from a real cloud) run on NodeName too.
// StartCloud serves it on
// 127.0.0.1 and writes a clouds.yaml for it, so launch.Open and
// trace.Server reach it exactly as they reach a real cloud.
//
// The fake's password is random per Cloud and lives only in the
// clouds.yaml (mode 0600) and the fake's memory; nothing prints it.
//
// Close stops the fake and removes the clouds.yaml; Path.Close calls it.
// A Cloud is not safe for concurrent use, but the fake it serves is.
type Cloud struct {
	// CloudName is the clouds.yaml entry naming the fake, and
	// CloudsFile that clouds.yaml (launch.Config.Cloud and CloudsFile).
	CloudName, CloudsFile string
	// AuthURL is the fake Keystone's v3 endpoint, on 127.0.0.1.
	AuthURL string
	// ServerID and ServerName are the Nova server's; InstanceName its
	// libvirt domain name (OS-EXT-SRV-ATTR:instance_name).
	ServerID, ServerName, InstanceName string
	// NodeName is the compute host Nova and the port bindings name: the
	// base name of Path.HostPath, "compute1" (trace.Config.NodeName).
	NodeName string
	// SubnetID is the ID of the network's subnet.
	SubnetID string

	srv      *fakecloud.Server
	password string
}
