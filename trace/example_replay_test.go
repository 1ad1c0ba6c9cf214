package trace_test

import (
	"fmt"
	"log"

	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// A recorded observation (vmtrace -server cirros1 -record FILE on the
// node) is judged anywhere, without root, the node or the cloud: here the
// demo's, recorded with the Linux bridge agent dead.
func ExampleJudgeServer() {
	obs, err := trace.ReadObservationFile("testdata/observations/demo-agent-down.json")
	if err != nil {
		log.Fatal(err)
	}
	st, err := trace.JudgeServer(obs)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(st.ServerName, st.Verdict)
	for _, h := range st.Traces[0].Hops {
		if h.Verdict == trace.Fail || h.Verdict == trace.Warn {
			fmt.Printf("%s %s: %s\n", h.Kind, h.Verdict, h.Cause)
		}
	}
	// Output:
	// cirros1 warn
	// agents warn: the Linux bridge agent on compute1 is dead (last heartbeat 2m1s ago): the ports it wired keep working as it left them, but new ports stay DOWN (Nova's boot fails after vif_plugging_timeout) and security-group changes are not applied
}

// The observation carries the packages' own types: its ports are
// launch.Port, so the agents one port needs come from launch.AgentList
// and are judged by JudgeAgents with no conversion in between (as a boot
// check over launch would do with Client.Server and Client.AgentList).
func ExampleJudgeAgents() {
	obs, err := trace.ReadObservationFile("testdata/observations/demo-agent-down.json")
	if err != nil {
		log.Fatal(err)
	}
	srv := obs.API.Servers[0]
	var p launch.Port = srv.Ports[0]
	need := obs.API.Agents.Port(p, srv.Host, launch.Status(srv.Status))
	h := trace.JudgeAgents(*need)
	fmt.Println(p.MAC, p.FixedIPs[0].Address, h.Verdict)
	// Output:
	// fa:16:3e:89:17:3e 192.168.31.74 warn
}
