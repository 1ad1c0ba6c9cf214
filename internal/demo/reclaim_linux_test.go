package demo

import (
	"context"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
)

// TestMain runs, when VIFPATH_DEMO_RECLAIM_CHILD=1, as the demo process
// TestIntegrationReclaimStale kills: it builds a path, says where, and
// waits to be killed. Otherwise it runs the tests.
func TestMain(m *testing.M) {
	if os.Getenv("VIFPATH_DEMO_RECLAIM_CHILD") == "1" {
		p, err := BuildPath(context.Background(), nil)
		if err != nil {
			fmt.Println("ERROR", err)
			os.Exit(1)
		}
		fmt.Printf("BUILT %s %d\n", p.Dir, p.DnsmasqPID)
		time.Sleep(time.Minute)
		os.Exit(2)
	}
	os.Exit(m.Run())
}

// TestIntegrationReclaimStale kills a demo with SIGKILL after BuildPath (so
// nothing of Close runs), checks that its dnsmasq and namespace mounts
// survive, and that ReclaimStale leaves a live demo's directory alone but
// removes every trace of the dead one.
func TestIntegrationReclaimStale(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "dnsmasq", "dnsmasq-base")
	testutil.RequireBinary(t, "busybox", "busybox")
	tmp := searchableTempDir(t)
	cmd := exec.Command(os.Args[0])
	cmd.Env = append(os.Environ(), "VIFPATH_DEMO_RECLAIM_CHILD=1", "TMPDIR="+tmp)
	out, err := cmd.StdoutPipe()
	if err != nil {
		t.Fatal(err)
	}
	if err := cmd.Start(); err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() {
		cmd.Process.Kill()
		cmd.Wait()
		ReclaimStale(tmp)
	})
	var dir string
	var dnsmasq int
	buf := make([]byte, 4096)
	var got strings.Builder
	deadline := time.Now().Add(30 * time.Second)
	for dir == "" && time.Now().Before(deadline) {
		n, err := out.Read(buf)
		got.Write(buf[:n])
		for _, line := range strings.Split(got.String(), "\n") {
			if _, e := fmt.Sscanf(line, "BUILT %s %d", &dir, &dnsmasq); e == nil {
				break
			}
			dir = ""
		}
		if err != nil {
			break
		}
	}
	if dir == "" {
		t.Fatalf("the child demo did not build its path: %q", got.String())
	}
	if filepath.Dir(dir) != tmp {
		t.Fatalf("child's dir %s is not under TMPDIR %s", dir, tmp)
	}
	// A live demo's directory is not touched.
	if done, err := ReclaimStale(tmp); len(done) != 0 || err != nil {
		t.Fatalf("ReclaimStale with the demo alive: %v, %v; want nothing done", done, err)
	}
	if err := cmd.Process.Signal(syscall.SIGKILL); err != nil {
		t.Fatal(err)
	}
	cmd.Wait()
	// What SIGKILL leaves: dnsmasq (it cleared its parent-death signal
	// when it dropped privileges) and the namespace mounts.
	before := Residue(dir, true)
	var procs, mounts int
	for _, r := range before {
		switch {
		case strings.HasPrefix(r, "process "):
			procs++
		case strings.HasPrefix(r, "mount "):
			mounts++
		}
	}
	if mounts < 4 {
		t.Errorf("after SIGKILL, %d mounts under %s; want the demo's 4 namespaces (residue %v)", mounts, dir, before)
	}
	if processAlive(dnsmasq) && procs == 0 {
		t.Errorf("dnsmasq %d is alive but Residue does not list it: %v", dnsmasq, before)
	}
	done, err := ReclaimStale(tmp)
	if err != nil {
		t.Fatalf("ReclaimStale: %v (did %v)", err, done)
	}
	if left := Residue(dir, false); len(left) != 0 {
		t.Errorf("after ReclaimStale: %v (it did %v)", left, done)
	}
	if processAlive(dnsmasq) {
		t.Errorf("dnsmasq %d still runs after ReclaimStale", dnsmasq)
	}
	if !strings.Contains(strings.Join(done, "\n"), "removed "+dir) {
		t.Errorf("ReclaimStale reported %v; want it to say it removed %s", done, dir)
	}
	t.Logf("SIGKILL left %d processes and %d mounts; ReclaimStale: %v", procs, mounts, done)
}
