package linuxbridge_test

import (
	"context"
	"sync"
	"testing"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationChurn inspects a namespace while links are added to and
// deleted from its bridge as fast as the kernel allows: every inspection
// must succeed (interrupted dumps are retried, vanished links left out)
// and see the bridge with its stable ports.
func TestIntegrationChurn(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	br := testutil.RandName("lbbr")
	ns.Bridge(t, br)
	stable := map[string]bool{}
	for i := 0; i < 20; i++ {
		n := testutil.RandName("lbs")
		ns.Veth(t, n, ns, testutil.RandName("lbt"))
		ns.Enslave(t, n, br)
		stable[n] = true
	}
	in := inspectorIn(t, ns)
	h := ns.Handle(t)
	brIdx := ns.Link(t, br).Attrs().Index

	stop := make(chan struct{})
	var wg sync.WaitGroup
	churned := 0
	wg.Add(1)
	go func() {
		defer wg.Done()
		for {
			select {
			case <-stop:
				return
			default:
			}
			name := testutil.RandName("lbc")
			v := &netlink.Veth{LinkAttrs: netlink.LinkAttrs{Name: name, MasterIndex: brIdx}, PeerName: testutil.RandName("lbd")}
			if err := h.LinkAdd(v); err != nil {
				t.Errorf("churn: add %s: %v", name, err)
				return
			}
			if err := h.LinkDel(v); err != nil {
				t.Errorf("churn: del %s: %v", name, err)
				return
			}
			churned++
		}
	}()
	ctx := context.Background()
	req0 := linuxbridge.Requests(in)
	calls := 0
	for end := time.Now().Add(2 * time.Second); time.Now().Before(end); calls++ {
		snap, err := in.Snapshot(ctx)
		if err != nil {
			t.Errorf("Snapshot under churn: %v", err)
			break
		}
		if len(snap.Bridges) != 1 {
			t.Fatalf("Snapshot under churn: %d bridges, want 1", len(snap.Bridges))
		}
		seen := 0
		for _, p := range snap.Bridges[0].Ports {
			if stable[p.Name] {
				seen++
			}
		}
		if seen != len(stable) {
			t.Errorf("Snapshot under churn: %d of the %d stable ports", seen, len(stable))
		}
	}
	close(stop)
	wg.Wait()
	reqs := linuxbridge.Requests(in) - req0
	t.Logf("%d snapshots while %d veths came and went: %d netlink requests (%d retries of interrupted dumps)", calls, churned, reqs, int(reqs)-3*calls)
	if churned == 0 || calls == 0 {
		t.Errorf("no churn (%d) or no snapshots (%d)", churned, calls)
	}
}
