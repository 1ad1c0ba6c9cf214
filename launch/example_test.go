package launch_test

import (
	"context"
	"errors"
	"fmt"
	"net/netip"
	"time"

	"github.com/vifpath/vifpath/launch"
)

// The walkthrough's controller steps against the cloud named by OS_CLOUD.
// Compile-only: it needs a real cloud.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	c, err := launch.Open(ctx, nil) // OS_CLOUD + clouds.yaml, or an openrc
	if err != nil {
		fmt.Println(err)
		return
	}
	if r, err := c.Preflight(ctx, &launch.PreflightOptions{Network: "provider"}); err == nil && !r.Ready {
		fmt.Println(r)
	}
	fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "m1.nano", VCPUs: 1, RAMMiB: 64, DiskGiB: 1})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules()); err != nil {
		fmt.Println(err)
		return
	}
	nw, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: "provider", Type: launch.NetworkFlat, PhysicalNetwork: "provider", Shared: true, External: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	if _, err := c.EnsureSubnet(ctx, launch.SubnetSpec{Name: "provider", Network: nw.ID, CIDR: netip.MustParsePrefix("203.0.113.0/24")}); err != nil {
		fmt.Println(err)
		return
	}
	srv, err := c.Launch(ctx, launch.ServerSpec{Name: "cirros1", Flavor: fl.ID, Image: "cirros", Network: nw.ID})
	var fe *launch.FaultError
	switch {
	case errors.As(err, &fe):
		fmt.Println(fe.Fault.Code, fe.Fault.Message, fe.Explain())
	case err != nil:
		fmt.Println(err)
	default:
		fmt.Println(srv.ID, srv.Host, srv.InstanceName, srv.Addresses)
	}
}

// Reading a server someone else launched, whatever its status, by name.
// Compile-only: it needs a real cloud.
func ExampleClient_Server() {
	ctx := context.Background()
	c, err := launch.Open(ctx, &launch.Config{Cloud: "aio"})
	if err != nil {
		fmt.Println(err)
		return
	}
	srv, err := c.Server(ctx, "cirros1")
	switch {
	case errors.Is(err, launch.ErrNotFound), errors.Is(err, launch.ErrAmbiguous):
		fmt.Println(err)
		return
	case err != nil:
		fmt.Println(err)
		return
	}
	fmt.Println(srv.Status, srv.Host, srv.InstanceName)
	if srv.Fault != nil {
		fmt.Println(srv.Fault.Code, srv.Fault.Message)
	}
	for _, p := range srv.Ports {
		fmt.Println(p.ID, p.MAC, p.VIFType, p.HostID)
	}
}
