package trace_test

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/trace"
)

// BenchmarkRunNetworkRole200 traces one port by MAC on a network node
// with 200 networks (200 qdhcp namespaces, 200 state directories whose
// hosts files hold 20 rows each): the hosts-file search finds the network,
// then the DHCP side and the ARP probe. In the same run it times the
// operator's commands for the same answers: grep -l of the MAC over the
// hosts files, ps for dnsmasq, cat of the hosts, lease and pid files, ip
// -j addr in the qdhcp namespace, and arping -c1 from it.
func BenchmarkRunNetworkRole200(b *testing.B) {
	testutil.RequireBinary(b, "arping", "iputils-arping")
	tp := newTopo(b, topoOpts{dhcp: true})
	setup := time.Now()
	for i := range 199 {
		id := randUUID()
		testutil.NewNetNSAt(b, tp.dir, "qdhcp-"+id)
		d := filepath.Join(tp.dns.StateDir, id)
		if err := os.MkdirAll(d, 0o755); err != nil {
			b.Fatal(err)
		}
		var rows strings.Builder
		for j := range 20 {
			fmt.Fprintf(&rows, "fa:16:3e:%02x:%02x:%02x,host-10-%d-0-%d.openstacklocal,10.%d.0.%d\n", i&0xff, i>>8, j, i, j+2, i, j+2)
		}
		if err := os.WriteFile(filepath.Join(d, "host"), []byte(rows.String()), 0o644); err != nil {
			b.Fatal(err)
		}
	}
	b.Logf("setup of 199 namespaces and state directories: %s", time.Since(setup).Round(time.Millisecond))
	cfg := *tp.cfg
	cfg.Role = trace.RoleNetwork
	ctx := context.Background()
	target := trace.Target{MAC: trace.MAC(tp.mac)}
	if tr, err := trace.Run(ctx, &cfg, target); err != nil || tr.Verdict != trace.OK || tr.NetworkID != tp.n.NetworkID {
		b.Fatalf("trace not ok before timing: %v\n%s", err, tr)
	}
	nsenter := func(args ...string) *exec.Cmd {
		return exec.Command("nsenter", append([]string{"--net=" + tp.n.QDHCP.Path, "--"}, args...)...)
	}
	hosts, _ := filepath.Glob(filepath.Join(tp.dns.StateDir, "*", "host"))
	dir := filepath.Join(tp.dns.StateDir, tp.n.NetworkID)
	timeTraceVsCLI(b, "network-role trace", &cfg, target, []*exec.Cmd{
		exec.Command("grep", append([]string{"-l", tp.mac.String()}, hosts...)...),
		exec.Command("ps", "-e", "-o", "pid,args"),
		exec.Command("cat", filepath.Join(dir, "host"), filepath.Join(dir, "leases"), filepath.Join(dir, "pid")),
		nsenter("ip", "-j", "addr"),
		nsenter("arping", "-c1", "-w1", "-I", tp.n.ServeIf, tp.ip.String()),
	})
}
