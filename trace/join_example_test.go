package trace_test

import (
	"fmt"

	"github.com/vifpath/vifpath/trace"
)

// Join judges the halves two nodes recorded (vmtrace -role network
// -record, then -role compute -record) as one path; here the two-node
// demo's halves after the provider switch's port toward compute1 went
// down.
func ExampleJoin() {
	network, err := trace.ReadObservationFile("testdata/join/provider-wire.network.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	compute, err := trace.ReadObservationFile("testdata/join/provider-wire.compute.json")
	if err != nil {
		fmt.Println(err)
		return
	}
	nt, err := trace.Join(compute, network)
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, h := range nt.Traces[0].Failing() {
		on := "the link"
		if node, ok := h.Get("node"); ok {
			on = node
		}
		fmt.Printf("%s %s (%s)\n", h.Verdict, h.Kind, on)
	}
	link, _ := nt.Traces[0].Hop(trace.KindProviderLink, "")
	fmt.Println(nt.Verdict, link.Summary)
	// Output:
	// warn physical-port (compute1)
	// fail provider-link (the link)
	// warn arp (controller)
	// warn counters (compute1)
	// fail provider wire down: compute1's eth2 up but without carrier
}
