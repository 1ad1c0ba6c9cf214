package demo_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/trace"
)

// Build the path, start its fake Nova/Neutron and trace the server by
// name, as vmtrace -cloud X -server NAME does on a real cloud. Needs
// root, dnsmasq and busybox (no Output: compile-only).
func ExamplePath_StartCloud() {
	ctx := context.Background()
	p, err := demo.BuildPath(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer p.Close() // also stops the cloud
	cloud, err := p.StartCloud(ctx)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	api, err := launch.Open(ctx, &launch.Config{Cloud: cloud.CloudName, CloudsFile: cloud.CloudsFile})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	st, err := trace.Server(ctx, &trace.Config{BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir,
		NMRunDir: p.NMRunDir, AgentConfig: p.AgentConfig, NodeName: cloud.NodeName}, api, cloud.ServerName)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	st.WriteText(os.Stdout) // server hop, port hop, then the path
}
