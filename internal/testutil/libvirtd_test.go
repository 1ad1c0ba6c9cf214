package testutil

import (
	"strings"
	"testing"
)

func TestIntegrationPrivateLibvirtd(t *testing.T) {
	d := NewPrivateLibvirtd(t)
	out := Virsh(t, d.URI("test"), "list", "--all", "--name")
	if strings.TrimSpace(out) != "test" {
		t.Fatalf("test driver through the private daemon lists %q, want the default domain \"test\"", out)
	}
	pid := d.PID()
	d.Kill(t)
	if socketAnswers(d.Socket) {
		t.Fatalf("socket still answers after killing pid %d", pid)
	}
	d.Start(t)
	if d.PID() == pid || !socketAnswers(d.ReadOnlySocket) {
		t.Fatal("restart did not bring a new daemon up")
	}
	if socketAnswers(SystemLibvirtSocket) != systemWasUp {
		t.Error("the private daemon changed the system socket's state")
	}
}

var systemWasUp = socketAnswers(SystemLibvirtSocket)
