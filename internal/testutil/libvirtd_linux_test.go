package testutil

import (
	"net"
	"strings"
	"testing"
	"time"

	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/sandbox"
)

func TestIntegrationPrivateLibvirtd(t *testing.T) {
	d := NewPrivateLibvirtd(t)
	out := Virsh(t, d.URI("test"), "list", "--all", "--name")
	if strings.TrimSpace(out) != "test" {
		t.Fatalf("test driver through the private daemon lists %q, want the default domain \"test\"", out)
	}
	pid := d.PID()
	if peer := socketPeerPID(SystemLibvirtSocket); peer == pid {
		t.Fatalf("the private daemon (pid %d) serves the system socket %s", pid, SystemLibvirtSocket)
	}
	d.Kill(t)
	if sandbox.SocketAnswers("unix", d.Socket) {
		t.Fatalf("socket still answers after killing pid %d", pid)
	}
	d.Start(t)
	if d.PID() == pid || !sandbox.SocketAnswers("unix", d.ReadOnlySocket) {
		t.Fatal("restart did not bring a new daemon up")
	}
	// Other test packages may start the shared system daemon at any moment,
	// so "is the system socket up" is not this test's to compare. What the
	// private daemon must never do is serve it: ask the kernel who does.
	if peer := socketPeerPID(SystemLibvirtSocket); peer != 0 && peer == d.PID() {
		t.Errorf("the restarted private daemon (pid %d) serves the system socket %s", peer, SystemLibvirtSocket)
	}
}

// socketPeerPID returns the pid of the process that accepted a connection on
// the unix socket at path (SO_PEERCRED), or 0 when nothing answers.
func socketPeerPID(path string) int {
	c, err := net.DialTimeout("unix", path, time.Second)
	if err != nil {
		return 0
	}
	defer c.Close()
	raw, err := c.(*net.UnixConn).SyscallConn()
	if err != nil {
		return 0
	}
	var pid int
	raw.Control(func(fd uintptr) {
		if cred, err := unix.GetsockoptUcred(int(fd), unix.SOL_SOCKET, unix.SO_PEERCRED); err == nil {
			pid = int(cred.Pid)
		}
	})
	return pid
}
