package trace_test

import (
	"encoding/json"
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

// JoinTraces joins halves already judged, as vmtrace -json prints them or
// an exporter serves them on /traces.json: here each node's half of the
// two-node demo after its switch stopped flooding unknown unicast toward
// compute1, judged, printed as JSON and read back.
func ExampleJoinTraces() {
	var halves []*trace.NodeTrace
	for _, f := range []string{"testdata/join/unknown-unicast.network.json", "testdata/join/unknown-unicast.compute.json"} {
		obs, err := trace.ReadObservationFile(f)
		if err != nil {
			fmt.Println(err)
			return
		}
		judged, err := trace.JudgeTrace(obs) // what vmtrace -json prints on that node
		if err != nil {
			fmt.Println(err)
			return
		}
		b, _ := json.Marshal(judged)
		h, err := trace.DecodeHalf(b)
		if err != nil {
			fmt.Println(err)
			return
		}
		halves = append(halves, h)
	}
	nt, err := trace.JoinTraces(halves...)
	if err != nil {
		fmt.Println(err)
		return
	}
	link, _ := nt.Traces[0].Hop(trace.KindProviderLink, "")
	fmt.Println(nt.Node, nt.Verdict)
	fmt.Println(link.Name, link.Verdict)
	// Output:
	// compute1+controller fail
	// compute1:eth2 <-> controller:eth2 fail
}
