package trace_test

import (
	"fmt"

	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/trace"
)

// The guest hop from a console log: three DISCOVERs without an offer put
// the fault outside the guest.
func ExampleJudgeGuest() {
	console := []byte("udhcpc: started, v1.35.0\nudhcpc: broadcasting discover\nudhcpc: broadcasting discover\nudhcpc: broadcasting discover\n")
	h := trace.JudgeGuest(trace.GuestFacts{Domain: "instance-00000002", ConsoleBytes: len(console), Events: guestlog.Parse(console)})
	fmt.Println(h.Verdict, h.Summary)
	// Output: fail the guest sent 3 DISCOVERs and got no offer
}

// The MTU hop: an uplink lowered below what DHCP advertises.
func ExampleJudgeMTU() {
	h := trace.JudgeMTU(trace.MTUFacts{NetworkID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6", NetworkType: "flat", NetworkMTU: 1500, DHCPCmdlineMTU: 1500,
		Elements: []trace.MTUElement{
			{Role: trace.MTUTap, Name: "tap31f2d3e9-8d", MTU: 1500},
			{Role: trace.MTUPhysical, Name: "eth2", MTU: 1400},
		}})
	fmt.Println(h.Verdict, h.Summary)
	// Output: fail the guest is told MTU 1500 but physical eth2 (MTU 1400) carries less
}
