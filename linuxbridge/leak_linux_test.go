package linuxbridge_test

import (
	"context"
	"os"
	"runtime"
	"sync"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationLeaks runs 1000 inspections of a namespace from 50
// goroutines: half open, inspect and close their own Inspector (entering
// the namespace each time), half share one. Afterwards the process has as
// many fds and goroutines as before and every thread is in its original
// namespace.
func TestIntegrationLeaks(t *testing.T) {
	testutil.RequireRoot(t)
	ns := testutil.NewNetNS(t)
	peer := testutil.NewNetNS(t)
	br := testutil.RandName("lbbr")
	ns.Bridge(t, br)
	for i := 0; i < 3; i++ {
		a, b := testutil.RandName("lbl"), testutil.RandName("lbp")
		ns.Veth(t, a, peer, b)
		ns.Enslave(t, a, br)
		ns.SetUp(t, a)
	}
	ns.Handle(t) // the harness's own handle, opened before the baseline

	runtime.GC()
	ourNS, err := os.Readlink("/proc/self/ns/net")
	if err != nil {
		t.Fatal(err)
	}
	fds0, gor0 := testutil.CountFDs(t), runtime.NumGoroutine()

	shared, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: ns.Dir}, ns.Name)
	if err != nil {
		t.Fatal(err)
	}
	ctx := context.Background()
	const workers, each = 50, 20
	var wg sync.WaitGroup
	errs := make(chan error, workers*each)
	for w := 0; w < workers; w++ {
		wg.Add(1)
		go func() {
			defer wg.Done()
			for i := 0; i < each; i++ {
				in := shared
				if w%2 == 0 {
					var err error
					if in, err = linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: ns.Dir}, ns.Name); err != nil {
						errs <- err
						continue
					}
				}
				snap, err := in.Snapshot(ctx)
				switch {
				case err != nil:
					errs <- err
				case len(snap.Bridges) != 1 || len(snap.Bridges[0].Ports) != 3:
					errs <- os.ErrInvalid
				}
				if in != shared {
					in.Close()
				}
			}
		}()
	}
	wg.Wait()
	close(errs)
	n := 0
	for err := range errs {
		if n++; n <= 5 {
			t.Errorf("inspection: %v", err)
		}
	}
	if err := shared.Close(); err != nil {
		t.Fatal(err)
	}

	if !testutil.Settle(func() bool { return testutil.CountFDs(t) <= fds0 }) {
		t.Errorf("fds: %d before, %d after 1000 inspections", fds0, testutil.CountFDs(t))
	}
	if !testutil.Settle(func() bool { return runtime.NumGoroutine() <= gor0 }) {
		t.Errorf("goroutines: %d before, %d after", gor0, runtime.NumGoroutine())
	}
	if bad := testutil.ForeignThreads(ourNS); len(bad) > 0 {
		t.Errorf("threads outside %s after the inspections: %v", ourNS, bad)
	}
	tasks, _ := os.ReadDir("/proc/self/task")
	t.Logf("1000 inspections (500 with Open/Close): fds %d -> %d, goroutines %d -> %d, %d threads all in %s",
		fds0, testutil.CountFDs(t), gor0, runtime.NumGoroutine(), len(tasks), ourNS)
}
