package demo

import (
	"cmp"
	"context"
	"crypto/rand"
	"encoding/hex"
	"errors"
	"fmt"
	"net"
	"net/netip"
	"os"
	"path/filepath"

	"github.com/vifpath/vifpath/launch"

	"github.com/vifpath/vifpath/internal/fakecloud"
	"github.com/vifpath/vifpath/internal/sandbox"
)

// The walkthrough's server: `openstack server create … cirros1` became
// libvirt's instance-00000002 on the compute node.
const (
	demoServerName   = "cirros1"
	demoInstanceName = "instance-00000002"
	demoCloudName    = "vifpath-demo"
)

// StartCloud starts the Path's fake cloud (see Cloud) on 127.0.0.1 and
// writes its clouds.yaml under Path.Dir. The fake stops when ctx ends,
// Cloud.Close or Path.Close is called. A Path has at most one Cloud.
func (p *Path) StartCloud(ctx context.Context) (_ *Cloud, err error) {
	return p.startCloud(ctx, "")
}

// startCloud is StartCloud; a controller name makes the fake two nodes
// (fakecloud.Config.ControllerHost) with the DHCP port bound there.
func (p *Path) startCloud(ctx context.Context, controller string) (_ *Cloud, err error) {
	if p.cloud != nil {
		return nil, errors.New("demo: the path's cloud is already started: use the Cloud StartCloud returned")
	}
	if p.Dir == "" || p.PortID == "" {
		return nil, errors.New("demo: StartCloud needs a Path from BuildPath")
	}
	dhcpMAC, err := p.dhcpMAC()
	if err != nil {
		return nil, err
	}
	pw := make([]byte, 16)
	rand.Read(pw)
	c := &Cloud{
		CloudName:    demoCloudName,
		CloudsFile:   filepath.Join(p.Dir, "clouds.yaml"),
		ServerID:     sandbox.RandUUID(),
		ServerName:   demoServerName,
		InstanceName: demoInstanceName,
		NodeName:     filepath.Base(p.HostPath),
		password:     "demo-" + hex.EncodeToString(pw),
	}
	if p.Domain != "" {
		// The libvirt guest is the server: Nova names the domain
		// instance-%08x and gives it the server's UUID.
		c.ServerID, c.InstanceName = p.DomainUUID, p.Domain
	}
	c.srv, err = fakecloud.Start(ctx, &fakecloud.Config{Fresh: true, Password: c.password, Host: c.NodeName, ControllerHost: controller})
	if err != nil {
		return nil, fmt.Errorf("demo: start the fake cloud: %w", err)
	}
	defer func() {
		if err != nil {
			c.Close()
		}
	}()
	c.AuthURL = c.srv.AuthURL()
	fc := c.srv.Cloud()
	n, err := fc.AddNetwork(fakecloud.NetworkSpec{
		ID: p.NetworkID, Name: "provider1", NetworkType: "flat", PhysicalNetwork: "provider",
		SubnetName: "provider1subnet", CIDR: pathSubnet, Gateway: pathGateway,
		PoolStart: pathDHCPIP, PoolEnd: pathOtherIP, DNS: []netip.Addr{netip.MustParseAddr("8.8.4.4")},
	})
	if err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	c.SubnetID = n.SubnetID
	// Neutron names a DHCP port's device after the agent's host and the
	// network: dhcp<uuid5(host)>-<network>.
	if _, err := fc.AddPort(fakecloud.PortSpec{
		ID: p.DHCPPortID, NetworkID: p.NetworkID, MAC: dhcpMAC, IPs: []netip.Addr{pathDHCPIP},
		DeviceID: "dhcp" + sandbox.RandUUID() + "-" + p.NetworkID, DeviceOwner: "network:dhcp", HostID: cmp.Or(controller, c.NodeName),
	}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if _, err := fc.AddPort(fakecloud.PortSpec{
		ID: p.PortID, NetworkID: p.NetworkID, MAC: p.MAC, IPs: []netip.Addr{p.IP}, HostID: c.NodeName,
	}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if _, err := fc.AddServer(fakecloud.ServerSpec{
		ID: c.ServerID, Name: c.ServerName, Host: c.NodeName, InstanceName: c.InstanceName, PortIDs: []string{p.PortID},
	}); err != nil {
		return nil, fmt.Errorf("demo: %w", err)
	}
	if err := os.WriteFile(c.CloudsFile, []byte(fc.CloudsYAML(c.CloudName)), 0o600); err != nil {
		return nil, fmt.Errorf("demo: write the fake cloud's clouds.yaml: %w", err)
	}
	// The walkthrough opens ICMP and SSH in the default group before it
	// boots the server; the demo node's firewall has those rules
	// (FirewallPort), so the API must ask for them too.
	api, err := launch.Open(ctx, &launch.Config{Cloud: c.CloudName, CloudsFile: c.CloudsFile})
	if err != nil {
		return nil, fmt.Errorf("demo: open the fake cloud: %w", err)
	}
	if _, err := api.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules()); err != nil {
		return nil, fmt.Errorf("demo: open ICMP and SSH in the default group: %w", err)
	}
	p.cloud = c
	return c, nil
}

// dhcpMAC reads the MAC of the DHCP port's ns- device in the qdhcp
// namespace (BuildPath gives it a random fa:16:3e one).
func (p *Path) dhcpMAC() (net.HardwareAddr, error) {
	h, err := sandbox.NetNSAt(p.DHCP).NewHandle()
	if err != nil {
		return nil, err
	}
	defer h.Close()
	l, err := h.LinkByName(p.DHCPIf)
	if err != nil {
		return nil, fmt.Errorf("demo: the DHCP port's %s in %s: %w", p.DHCPIf, p.DHCP, err)
	}
	return l.Attrs().HardwareAddr, nil
}

// Server is the fake cloud itself, for what the demo does to the cloud
// side (os-stop through Nova, a failed binding, Requests).
func (c *Cloud) Server() *fakecloud.Server { return c.srv }

// Close stops the fake cloud (joining its goroutines) and removes its
// clouds.yaml. It is idempotent and safe on a nil *Cloud.
func (c *Cloud) Close() error {
	if c == nil || c.srv == nil {
		return nil
	}
	errs := []error{c.srv.Close()}
	if err := os.Remove(c.CloudsFile); err != nil && !errors.Is(err, os.ErrNotExist) {
		errs = append(errs, fmt.Errorf("demo: %w", err))
	}
	c.srv = nil
	return errors.Join(errs...)
}
