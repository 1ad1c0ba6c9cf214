package testutil

import (
	"fmt"
	"os"
	"os/exec"
	"testing"
)

// InCI reports whether the tests run under continuous integration (the CI
// environment variable is set to anything but "" or "false"). Under CI a
// missing privilege or binary is a failure, not a skip.
func InCI() bool {
	v := os.Getenv("CI")
	return v != "" && v != "false" && v != "0"
}

// SkipOrFail skips the test with the reason when a person runs it, and fails
// it under CI, where every tier must really run.
func SkipOrFail(tb testing.TB, format string, args ...any) {
	tb.Helper()
	msg := fmt.Sprintf(format, args...)
	if InCI() {
		tb.Fatalf("CI=%s: cannot run: %s", os.Getenv("CI"), msg)
	}
	tb.Skip(msg)
}

// RequireRoot skips (or, under CI, fails) unless the process runs as root,
// which the integration tests need for CAP_NET_ADMIN, CAP_NET_RAW and
// CAP_SYS_ADMIN.
func RequireRoot(tb testing.TB) {
	tb.Helper()
	if os.Geteuid() != 0 {
		SkipOrFail(tb, "integration test needs root (CAP_NET_ADMIN, CAP_NET_RAW, CAP_SYS_ADMIN): run `sudo go test` or `make test`")
	}
}

// RequireBinary returns the path of the named program, or skips (fails under
// CI) with the Debian package that provides it.
func RequireBinary(tb testing.TB, name, debianPackage string) string {
	tb.Helper()
	p, err := exec.LookPath(name)
	if err != nil {
		SkipOrFail(tb, "%s not found in PATH: install it with `apt-get install %s` (or run `make deps`)", name, debianPackage)
	}
	return p
}
