package trace_test

import (
	"context"
	"fmt"
	"log"
	"net"
	"os"
	"strings"
	"time"

	"github.com/vifpath/vifpath/trace"
)

// Read the mappings the physical-port hop goes by from a linuxbridge
// agent configuration.
func ExampleParseAgentConfig() {
	m, err := trace.ParseAgentConfig(strings.NewReader(`[linux_bridge]
physical_interface_mappings = provider:eth2, physnet2:eth3
`))
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(m.Interfaces["provider"])
	fmt.Println(m)
	// Output:
	// eth2
	// physical_interface_mappings = physnet2:eth3,provider:eth2
}

// Trace the DHCP side of a port on the network node running its DHCP
// agent, without the API: the MAC finds the network through the hosts
// files (needs root).
func ExampleRun_networkNode() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	mac, _ := net.ParseMAC("fa:16:3e:57:19:35")
	tr, err := trace.Run(ctx, &trace.Config{Role: trace.RoleNetwork}, trace.Target{MAC: trace.MAC(mac)})
	if err != nil {
		log.Fatal(err)
	}
	tr.WriteText(os.Stdout)
}

// Trace the compute side of a tap on a compute node, with the provider
// NIC given instead of read from linuxbridge_agent.ini (needs root).
func ExampleRun_computeNode() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	cfg := &trace.Config{Role: trace.RoleCompute, InterfaceMappings: map[string]string{"provider": "eth2"}}
	tr, err := trace.Run(ctx, cfg, trace.Target{Tap: "tap31f2d3e9-8d"})
	if err != nil {
		log.Fatal(err)
	}
	h, _ := tr.Hop(trace.KindPhysicalPort, "")
	fmt.Println(h.Verdict, h.Name, h.Summary)
}
