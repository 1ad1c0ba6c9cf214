package dhcpns_test

import (
	"context"
	"fmt"

	"github.com/vifpath/vifpath/dhcpns"
)

// What serves metadata in a network's DHCP namespace, and one request to
// it from inside the namespace (needs root; compile-only).
func ExampleFindMetadataProxy() {
	ctx := context.Background()
	net := "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	m, err := dhcpns.FindMetadataProxy(ctx, nil, net)
	if err != nil {
		panic(err)
	}
	fmt.Println(m.Kind, m.PIDFromFile, "alive:", m.Alive, "listening:", m.Listening)
	r, err := dhcpns.ProbeMetadata(ctx, nil, net, nil)
	if err != nil {
		panic(err)
	}
	fmt.Println("answered:", r.Answered, r.Status)
}

func ExampleMetadataRoute() {
	opts, _ := dhcpns.ParseOptsBytes([]byte("tag:subnet-d6ea,option:classless-static-route,169.254.169.254/32,192.168.31.70,0.0.0.0/0,192.168.31.1\n"))
	via, ok := dhcpns.MetadataRoute(opts)
	fmt.Println(via, ok)
	// Output: 192.168.31.70 true
}
