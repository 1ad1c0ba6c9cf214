package metrics_test

import (
	"context"
	"fmt"
	"strings"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/testutil"
	"github.com/vifpath/vifpath/metrics"
	"github.com/vifpath/vifpath/trace"
)

// A collector over a node trace (here a fixed one; on a node,
// trace.Node): one round, then the NIC's verdict state-set as a scrape
// shows it.
func Example() {
	nt := &trace.NodeTrace{Node: "compute1", Role: trace.RoleCompute, Verdict: trace.Fail,
		Traces: []*trace.Trace{{Tap: "tapd9ed8e2a-fb", PortID: "d9ed8e2a-fb", ServerName: "cirros1", Verdict: trace.Fail,
			Hops: []trace.Hop{{Kind: trace.KindTap, Name: "tapd9ed8e2a-fb", Verdict: trace.Fail}}}}}
	c, err := metrics.New(&metrics.Config{Trace: func(context.Context) (*trace.NodeTrace, error) { return nt, nil }})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	if err := c.RunOnce(context.Background()); err != nil {
		fmt.Println(err)
		return
	}
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	n, _ := testutil.GatherAndCount(reg, "vifpath_nic_verdict", "vifpath_hop_verdict")
	fmt.Println(n, "verdict series")
	err = testutil.GatherAndCompare(reg, strings.NewReader(`
# HELP vifpath_nic_verdict State-set of a VM NIC's trace verdict (the worst of its hops): 1 for the current verdict, 0 for the others.
# TYPE vifpath_nic_verdict gauge
vifpath_nic_verdict{node="compute1",port="d9ed8e2a-fb",role="compute",server="cirros1",server_id="",tap="tapd9ed8e2a-fb",verdict="fail"} 1
vifpath_nic_verdict{node="compute1",port="d9ed8e2a-fb",role="compute",server="cirros1",server_id="",tap="tapd9ed8e2a-fb",verdict="ok"} 0
vifpath_nic_verdict{node="compute1",port="d9ed8e2a-fb",role="compute",server="cirros1",server_id="",tap="tapd9ed8e2a-fb",verdict="unknown"} 0
vifpath_nic_verdict{node="compute1",port="d9ed8e2a-fb",role="compute",server="cirros1",server_id="",tap="tapd9ed8e2a-fb",verdict="warn"} 0
`), "vifpath_nic_verdict")
	fmt.Println("compare:", err)
	// Output:
	// 8 verdict series
	// compare: <nil>
}
