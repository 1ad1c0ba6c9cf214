package linuxbridge_test

import (
	"context"
	"errors"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

const permHelperEnv = "LINUXBRIDGE_PERMISSION_HELPER_NETNS"

// TestMain runs the permission helper instead of the tests when
// TestIntegrationPermission starts the test binary as an unprivileged user.
func TestMain(m *testing.M) {
	if path := os.Getenv(permHelperEnv); path != "" {
		permissionHelper(path)
		os.Exit(0)
	}
	os.Exit(m.Run())
}

func permissionHelper(path string) {
	_, err := linuxbridge.Open(context.Background(), &linuxbridge.Config{NetNSPath: path})
	fmt.Printf("permission=%v notexist=%v err=%v\n", errors.Is(err, linuxbridge.ErrPermission), linuxbridge.IsNotFound(err), err)
	// The process's own namespace needs no privilege.
	in, err := linuxbridge.Open(context.Background(), nil)
	if err == nil {
		_, err = in.Bridges(context.Background())
		in.Close()
	}
	fmt.Printf("own=%v\n", err)
}

// TestIntegrationPermission runs Open as uid 65534 with no capabilities
// (setpriv from util-linux): entering another namespace must fail with
// ErrPermission naming CAP_SYS_ADMIN, while the process's own namespace
// still works.
func TestIntegrationPermission(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "setpriv", "util-linux")
	ns := testutil.NewNetNS(t)
	// The test binary, where uid 65534 can run it.
	dir, err := os.MkdirTemp("", "lbperm-")
	if err != nil {
		t.Fatal(err)
	}
	defer os.RemoveAll(dir)
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	bin := filepath.Join(dir, "linuxbridge.test")
	src, err := os.Open(os.Args[0])
	if err != nil {
		t.Fatal(err)
	}
	dst, err := os.OpenFile(bin, os.O_CREATE|os.O_WRONLY, 0o755)
	if err != nil {
		t.Fatal(err)
	}
	_, err = io.Copy(dst, src)
	src.Close()
	if cerr := dst.Close(); err == nil {
		err = cerr
	}
	if err != nil {
		t.Fatal(err)
	}
	cmd := exec.Command("setpriv", "--reuid=65534", "--regid=65534", "--clear-groups", "--inh-caps=-all", "--bounding-set=-all",
		bin)
	cmd.Env = append(os.Environ(), permHelperEnv+"="+ns.Path)
	cmd.Dir = dir
	out, err := cmd.CombinedOutput()
	if err != nil {
		t.Fatalf("helper: %v\n%s", err, out)
	}
	s := string(out)
	if !strings.Contains(s, "permission=true notexist=false") || !strings.Contains(s, "CAP_SYS_ADMIN") {
		t.Errorf("unprivileged Open of another namespace: want ErrPermission naming CAP_SYS_ADMIN, got:\n%s", s)
	}
	if !strings.Contains(s, "own=<nil>") || strings.Contains(s, "PASS") {
		t.Errorf("unprivileged inspection of the own namespace failed:\n%s", s)
	}
	t.Logf("helper said:\n%s", s)
}
