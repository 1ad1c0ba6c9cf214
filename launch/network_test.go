package launch_test

import (
	"context"
	"errors"
	"net/netip"
	"testing"
	"testing/synctest"
	"time"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

func TestCreatedNetworkFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{Fresh: true})
		c := openFake(t, fake, nil)
		n, err := c.EnsureNetwork(context.Background(), launch.NetworkSpec{Name: "p", Type: launch.NetworkVLAN, PhysicalNetwork: "provider", SegmentationID: 42, Shared: true, External: true})
		if err != nil || n.ID == "" || n.Type != launch.NetworkVLAN || n.PhysicalNetwork != "provider" || n.SegmentationID != 42 || !n.Shared || !n.External || !n.Created {
			t.Fatalf("created = %+v, %v", n, err)
		}
		f, err := c.FindNetwork(context.Background(), n.ID)
		f.Created = true
		if err != nil || f.ID != n.ID || f.SegmentationID != 42 || !f.External || f.MTU != n.MTU {
			t.Fatalf("found = %+v, %v; created %+v", f, err, n)
		}
	})
}

// TestSubnetAndPortUpdatedAt reads what the DHCP and agents hops judge
// from the fake, which serves them as Neutron does: a subnet's
// enable_dhcp (Client.Subnet) and a port's updated_at (Port.UpdatedAt),
// which moves when the port's status does.
func TestSubnetAndPortUpdatedAt(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		ctx := context.Background()
		fake := fakecloud.New(nil)
		on, err := fake.AddNetwork(fakecloud.NetworkSpec{Name: "n-on", CIDR: netip.MustParsePrefix("10.0.1.0/24")})
		if err != nil {
			t.Fatal(err)
		}
		off, err := fake.AddNetwork(fakecloud.NetworkSpec{Name: "n-off", CIDR: netip.MustParsePrefix("10.0.2.0/24"), NoDHCP: true})
		if err != nil {
			t.Fatal(err)
		}
		updated := time.Now().Add(-15 * time.Second).Truncate(time.Second).UTC()
		p, err := fake.AddPort(fakecloud.PortSpec{NetworkID: off.ID, IPs: []netip.Addr{netip.MustParseAddr("10.0.2.10")}, Status: "BUILD", Updated: updated})
		if err != nil {
			t.Fatal(err)
		}
		p2, err := fake.AddPort(fakecloud.PortSpec{NetworkID: on.ID, IPs: []netip.Addr{netip.MustParseAddr("10.0.1.10")}})
		if err != nil {
			t.Fatal(err)
		}
		s, err := fake.AddServer(fakecloud.ServerSpec{Name: "two-nics", PortIDs: []string{p2.ID, p.ID}})
		if err != nil {
			t.Fatal(err)
		}
		c := openFake(t, fake, nil)
		fake.ResetRequests()
		for _, tc := range []struct {
			id, name string
			dhcp     bool
		}{{on.SubnetID, "n-onsubnet", true}, {off.SubnetID, "n-offsubnet", false}} {
			sn, err := c.Subnet(ctx, tc.id)
			if err != nil || sn.ID != tc.id || sn.Name != tc.name || sn.DHCP != tc.dhcp || !sn.CIDR.IsValid() {
				t.Errorf("Subnet(%s) = %+v, %v; want %s with DHCP %t", tc.id, sn, err, tc.name, tc.dhcp)
			}
		}
		if _, err := c.Subnet(ctx, "00000000-0000-4000-8000-000000000000"); !errors.Is(err, launch.ErrNotFound) {
			t.Errorf("Subnet(unknown) error %v; want ErrNotFound", err)
		}
		if _, err := c.Subnet(ctx, ""); err == nil {
			t.Error("Subnet(\"\") succeeded")
		}
		srv, err := c.Server(ctx, s.ID)
		if err != nil || len(srv.Ports) != 2 {
			t.Fatalf("Server: %+v, %v", srv, err)
		}
		for _, sp := range srv.Ports {
			switch sp.ID {
			case p.ID:
				if !sp.UpdatedAt.Equal(updated) || sp.Status != "BUILD" || sp.FixedIPs[0].SubnetID != off.SubnetID {
					t.Errorf("port %+v; want BUILD, updated at %s, on %s", sp, updated, off.SubnetID)
				}
			case p2.ID:
				if !sp.UpdatedAt.Equal(time.Now().Truncate(time.Second)) {
					t.Errorf("port %s updated at %s; want now (%s), as created", sp.ID, sp.UpdatedAt, time.Now())
				}
			}
		}
		onlyGETs(t, fake)
	})
}
