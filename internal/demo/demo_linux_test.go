package demo

import (
	"context"
	"os"
	"testing"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationBuild builds the demo, checks it with linuxbridge, closes
// it and checks nothing is left: no mount, no directory, no thread in a
// demo namespace.
func TestIntegrationBuild(t *testing.T) {
	testutil.RequireRoot(t)
	ourNS, _ := os.Readlink("/proc/self/ns/net")
	topo, err := Build(context.Background(), nil)
	if err != nil {
		t.Fatal(err)
	}
	in, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: topo.HostPath})
	if err != nil {
		topo.Close()
		t.Fatal(err)
	}
	br, err := in.BridgeForNetwork(context.Background(), topo.NetworkID)
	if err != nil {
		t.Error(err)
	} else if len(br.Ports) != 4 {
		t.Errorf("demo bridge %s has %d ports, want 4", br.Name, len(br.Ports))
	}
	for _, p := range topo.Ports {
		if p.Running {
			if es, err := in.WhereIs(context.Background(), hwaddr.MAC(p.MAC)); err != nil || es[0].Port != p.Device {
				t.Errorf("%s (%s): WhereIs = %v, %v", p.ID, p.MAC, es, err)
			}
		}
	}
	in.Close()
	if err := topo.Close(); err != nil {
		t.Errorf("Close: %v", err)
	}
	if err := topo.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
	if _, err := os.Stat(topo.Dir); !os.IsNotExist(err) {
		t.Errorf("%s still exists after Close (%v)", topo.Dir, err)
	}
	var bad []string
	for i := 0; i < 50; i++ { // exiting threads take a moment to go
		bad = bad[:0]
		tasks, _ := os.ReadDir("/proc/self/task")
		for _, e := range tasks {
			if l, _ := os.Readlink("/proc/self/task/" + e.Name() + "/ns/net"); l != "" && l != ourNS {
				bad = append(bad, e.Name()+"="+l)
			}
		}
		if len(bad) == 0 {
			break
		}
		time.Sleep(20 * time.Millisecond)
	}
	if len(bad) > 0 {
		t.Errorf("threads outside %s: %v", ourNS, bad)
	}
}
