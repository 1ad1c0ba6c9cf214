package sandbox

import (
	"context"
	"errors"
	"fmt"
	"os/exec"
	"strings"
	"time"
)

// The host's privileged libvirtd (Debian's paths).
const (
	// SystemLibvirtSocket is the system daemon's read-write socket.
	SystemLibvirtSocket = "/run/libvirt/libvirt-sock"
	// SystemLibvirtSocketRO is the system daemon's read-only socket.
	SystemLibvirtSocketRO = "/run/libvirt/libvirt-sock-ro"
	// systemVirtlogdSocket is virtlogd's, which the system qemu driver
	// logs through.
	systemVirtlogdSocket = "/run/libvirt/virtlogd-sock"
)

// StartSystemLibvirtd makes sure the host's privileged libvirtd answers
// at SystemLibvirtSocket. If it answers it is left as it is (another
// user, such as a Nova compute service, may share it and have its own
// /etc/libvirt/libvirtd.conf) and started is false. Otherwise it starts
// `virtlogd -d` (unless its socket answers) and `libvirtd -d` (there is
// no systemd) and waits up to 30 s for the socket; started is then true.
// The daemon is shared and keeps running: nothing here stops it (a
// private daemon, NewLibvirtd, is the one to stop, kill or freeze).
func StartSystemLibvirtd(ctx context.Context) (started bool, err error) {
	if SocketAnswers("unix", SystemLibvirtSocket) {
		return false, nil
	}
	libvirtd, err := LookBin("", "libvirtd", "libvirt-daemon-system")
	if err != nil {
		return false, err
	}
	virtlogd, err := LookBin("", "virtlogd", "libvirt-daemon-system")
	if err != nil {
		return false, err
	}
	if !SocketAnswers("unix", systemVirtlogdSocket) {
		if out, err := exec.CommandContext(ctx, virtlogd, "-d").CombinedOutput(); err != nil {
			return false, fmt.Errorf("sandbox: virtlogd -d: %w: %s", err, out)
		}
	}
	if out, err := exec.CommandContext(ctx, libvirtd, "-d").CombinedOutput(); err != nil {
		// Another test package may have started it at the same moment.
		if !SocketAnswers("unix", SystemLibvirtSocket) {
			return false, fmt.Errorf("sandbox: libvirtd -d: %w: %s", err, out)
		}
	}
	for deadline := time.Now().Add(30 * time.Second); !SocketAnswers("unix", SystemLibvirtSocket); {
		if time.Now().After(deadline) {
			return true, fmt.Errorf("sandbox: started libvirtd -d, but %s did not answer within 30s", SystemLibvirtSocket)
		}
		select {
		case <-ctx.Done():
			return true, ctx.Err()
		case <-time.After(20 * time.Millisecond):
		}
	}
	return true, nil
}

// LibvirtURI returns a virsh-style URI for driver ("test", "qemu")
// through the libvirtd socket at socket:
// "test+unix:///default?socket=…", "qemu+unix:///system?socket=…".
func LibvirtURI(driver, socket string) string {
	path := "/system"
	if driver == "test" {
		path = "/default"
	}
	return driver + "+unix://" + path + "?socket=" + socket
}

// Virsh runs `virsh -c uri args…` and returns its standard output; an
// error carries virsh's standard error.
func Virsh(ctx context.Context, uri string, args ...string) (string, error) {
	virsh, err := LookBin("", "virsh", "libvirt-clients")
	if err != nil {
		return "", err
	}
	out, err := exec.CommandContext(ctx, virsh, append([]string{"-c", uri}, args...)...).Output()
	if err != nil {
		var ee *exec.ExitError
		if errors.As(err, &ee) {
			return "", fmt.Errorf("sandbox: virsh %s: %w: %s", strings.Join(args, " "), err, ee.Stderr)
		}
		return "", fmt.Errorf("sandbox: virsh %s: %w", strings.Join(args, " "), err)
	}
	return string(out), nil
}
