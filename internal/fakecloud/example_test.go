package fakecloud_test

import (
	"context"
	"fmt"
	"net/netip"

	"github.com/vifpath/vifpath/internal/fakecloud"
)

// A program (the demo) serves a fake holding one server on one network,
// and hands a client the clouds.yaml that reaches it.
func Example() {
	ctx := context.Background()
	s, err := fakecloud.Start(ctx, &fakecloud.Config{Fresh: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer s.Close()
	c := s.Cloud()
	n, _ := c.AddNetwork(fakecloud.NetworkSpec{Name: "provider1", CIDR: netip.MustParsePrefix("192.168.31.64/27")})
	p, _ := c.AddPort(fakecloud.PortSpec{NetworkID: n.ID, IPs: []netip.Addr{netip.MustParseAddr("192.168.31.74")}})
	sv, err := c.AddServer(fakecloud.ServerSpec{Name: "provider-instance", Host: "compute1", PortIDs: []string{p.ID}})
	if err != nil {
		fmt.Println(err)
		return
	}
	_ = c.CloudsYAML("demo") // for launch.Open(ctx, &launch.Config{Cloud: "demo", CloudsFile: …})
	fmt.Println(sv.Name, sv.Status, sv.Host)
	// Output: provider-instance ACTIVE compute1
}
