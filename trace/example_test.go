package trace_test

import (
	"context"
	"fmt"
	"log"
	"os"
	"time"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// Trace a VM NIC by its tap on an all-in-one node (needs root) and print
// the table, then a Mermaid diagram.
func ExampleRun() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	tr, err := trace.Run(ctx, nil, trace.Target{Tap: "tap31f2d3e9-8d"})
	if err != nil {
		log.Fatal(err)
	}
	tr.WriteText(os.Stdout)
	for _, h := range tr.Failing() {
		fmt.Printf("%s %s: %s; next: %s\n", h.Kind, h.Name, h.Cause, h.Next)
	}
	tr.WriteMermaid(os.Stdout)
}

func ExampleTrace_WriteText() {
	tr := &trace.Trace{Target: trace.Target{Tap: "tap31f2d3e9-8d"}, Hops: []trace.Hop{
		{Kind: trace.KindTap, Name: "tap31f2d3e9-8d", Verdict: trace.OK, Summary: "up on brqc3e375fb-0a, forwarding"},
		{Kind: trace.KindPhysicalPort, Name: "eth2", Verdict: trace.Fail, Summary: "eth2 is down (up false, carrier false)",
			Cause: "the provider NIC is down", Next: "ip link set eth2 up"},
	}}
	tr.Verdict = trace.Worst(tr.Hops)
	tr.WriteText(os.Stdout)
	// Output:
	// trace tap tap31f2d3e9-8d: FAIL in 0s
	// first failing hop:
	// 2 FAIL physical-port eth2: eth2 is down (up false, carrier false)
	//   cause: the provider NIC is down
	//   next:  ip link set eth2 up
	//
	// #  VERDICT  KIND           NAME            SUMMARY
	// 1  OK       tap            tap31f2d3e9-8d  up on brqc3e375fb-0a, forwarding
	// 2  FAIL     physical-port  eth2            eth2 is down (up false, carrier false)
}

// Trace every port of a Nova server from its compute node (needs root and
// the admin role for the server's host and instance name), with the
// libvirt domain and interface hops.
func ExampleServer() {
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	api, err := launch.Open(ctx, &launch.Config{Cloud: "aio"})
	if err != nil {
		log.Fatal(err)
	}
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer lv.Close()
	st, err := trace.Server(ctx, &trace.Config{Libvirt: lv}, api, "9b8c4b1e-3f0a-4a53-8f0e-1d2a6c7e5b40")
	if err != nil {
		log.Fatal(err)
	}
	st.WriteText(os.Stdout)
	fmt.Println("overall:", st.Verdict)
}
