package libvirtinspect_test

import (
	"bytes"
	"context"
	"fmt"
	"io"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// Console lines of scripts/guest-image.sh's /init and its power-button
// action.
const (
	consoleACPIDReady = "vifpath-guest: acpid ready"
	consolePowerOff   = "vifpath-guest: power button, powering off"
	// consoleACPIDNotReady is /init's line when acpid did not open the
	// power button's event device: the guest will ignore the button.
	consoleACPIDNotReady = "vifpath-guest: acpid NOT ready"
)

// guestImage builds (or finds up to date) the tiny Linux guest of
// scripts/guest-image.sh in VIFPATH_GUEST_IMAGE_DIR (default
// /var/cache/vifpath/guest) and returns copies of its kernel and initrd in
// a fresh 0755 directory: the private libvirtd's DAC driver chowns a
// domain's kernel and initrd to the qemu user while it runs, and the
// shared cache must not be relabelled under a demo that uses it.
func guestImage(t *testing.T) (dir, kernel, initrd string) {
	t.Helper()
	testutil.RequireBinary(t, "bash", "bash")
	src := os.Getenv("VIFPATH_GUEST_IMAGE_DIR")
	if src == "" {
		src = "/var/cache/vifpath/guest"
	}
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Minute)
	defer cancel()
	t0 := time.Now()
	out, err := exec.CommandContext(ctx, "bash", "../scripts/guest-image.sh", src).CombinedOutput()
	if err != nil {
		testutil.SkipOrFail(t, "libvirtinspect: cannot build the guest image with scripts/guest-image.sh %s (needs the Debian mirror on the first run): %v: %s", src, err, out)
	}
	t.Logf("guest image (%v): %s", time.Since(t0).Round(time.Millisecond), strings.TrimSpace(string(out)))
	dir, err = os.MkdirTemp("", "lvguest-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	if err := os.Chmod(dir, 0o755); err != nil {
		t.Fatal(err)
	}
	copyFile := func(name string) string {
		t.Helper()
		in, err := os.Open(filepath.Join(src, name))
		if err != nil {
			t.Fatal(err)
		}
		defer in.Close()
		p := filepath.Join(dir, name)
		o, err := os.OpenFile(p, os.O_CREATE|os.O_WRONLY|os.O_TRUNC, 0o644)
		if err != nil {
			t.Fatal(err)
		}
		if _, err := io.Copy(o, in); err != nil {
			o.Close()
			t.Fatal(err)
		}
		if err := o.Close(); err != nil {
			t.Fatal(err)
		}
		return p
	}
	return dir, copyFile("vmlinuz"), copyFile("initrd.img")
}

// waitConsole waits until the console file holds want and returns how long
// that took; it fails at once when the console holds bad.
func waitConsole(t *testing.T, console, want, bad string, timeout time.Duration) time.Duration {
	t.Helper()
	t0 := time.Now()
	for {
		b, _ := os.ReadFile(console)
		if bytes.Contains(b, []byte(want)) {
			return time.Since(t0)
		}
		if bad != "" && bytes.Contains(b, []byte(bad)) {
			t.Fatalf("console %s says %q:\n%s", console, bad, b)
		}
		if time.Since(t0) > timeout {
			t.Fatalf("console %s does not say %q within %v:\n%s", console, want, timeout, b)
		}
		time.Sleep(20 * time.Millisecond)
	}
}

// TestIntegrationQemuACPIShutdown boots the Linux guest of
// scripts/guest-image.sh (Debian kernel, busybox initramfs whose /init runs
// acpid on the ACPI power button) as a qemu TCG domain in a private
// libvirtd, presses the power button (DomainShutdownFlags ACPI_POWER_BTN),
// and watches through libvirtinspect as the guest powers itself off: the
// state must end as "shut off (shutdown)", exactly as virsh domstate
// --reason has it, and the console must show the guest's power-button
// action. Then it starts the domain again ("running (booted)") and shuts it
// down once more with `virsh shutdown --mode acpi`. (The iPXE guest of
// TestIntegrationQemuGuest ignores the power button.) libvirtinspect has no
// API that waits for a state, so there is no "ctx cancelled mid-wait"
// case: each Lookup is bounded by the test's ctx.
func TestIntegrationQemuACPIShutdown(t *testing.T) {
	testutil.RequireRoot(t)
	testutil.RequireBinary(t, "qemu-system-x86_64", "qemu-system-x86")
	dir, kernel, initrd := guestImage(t)
	d := testutil.NewPrivateLibvirtd(t)
	virshURI := d.URI("qemu")
	adm := admin(t, d.Socket, "qemu:///system")
	name := "lv-acpi-" + randHex(8)
	console := filepath.Join(dir, "console.log")
	xml := fmt.Sprintf(`<domain type='qemu'>
  <name>%s</name>
  <memory unit='MiB'>160</memory>
  <vcpu>1</vcpu>
  <os>
    <type arch='x86_64' machine='pc'>hvm</type>
    <kernel>%s</kernel>
    <initrd>%s</initrd>
    <cmdline>console=ttyS0 quiet panic=-1 mitigations=off</cmdline>
  </os>
  <features><acpi/><apic/></features>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <emulator>/usr/bin/qemu-system-x86_64</emulator>
    <serial type='file'>
      <source path='%s' append='off'/>
      <target port='0'/>
    </serial>
    <memballoon model='none'/>
  </devices>
</domain>`, name, kernel, initrd, console)
	dom := defineTest(t, adm, xml, false)

	c := readOnlyClient(t, d.ReadOnlySocket)
	ctx := ctxT(t, 5*time.Minute)

	check := func(step string, st libvirtinspect.State, reason string) libvirtinspect.Domain {
		t.Helper()
		got, err := c.Lookup(ctx, name)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		vs := strings.TrimSpace(testutil.Virsh(t, virshURI, "domstate", "--reason", name))
		ours := got.State.String() + " (" + got.Reason.String() + ")"
		want := st.String() + " (" + reason + ")"
		if ours != vs || ours != want {
			t.Errorf("%s: ours %q, virsh %q, want %q", step, ours, vs, want)
		}
		return got
	}
	boot := func(step string) time.Duration {
		t.Helper()
		t0 := time.Now()
		if err := adm.DomainCreate(dom); err != nil {
			t.Fatalf("%s: start %s: %v", step, name, err)
		}
		created := time.Since(t0)
		got := check(step, libvirtinspect.StateRunning, "booted")
		if got.ID < 1 {
			t.Errorf("%s: running domain has id %d", step, got.ID)
		}
		ready := waitConsole(t, console, consoleACPIDReady, consoleACPIDNotReady, 2*time.Minute)
		line := ""
		if b, err := os.ReadFile(console); err == nil {
			if i := bytes.Index(b, []byte(consoleACPIDReady)); i >= 0 {
				line, _, _ = strings.Cut(string(b[i:]), "\n")
			}
		}
		t.Logf("%s: DomainCreate took %v; acpid ready on the console %v after it returned (%v in all): %q",
			step, created.Round(time.Millisecond), ready.Round(time.Millisecond), time.Since(t0).Round(time.Millisecond), strings.TrimSpace(line))
		return time.Since(t0)
	}
	// shutdown presses the power button with press and polls Lookup until
	// the domain is shut off; it returns the states seen on the way.
	shutdown := func(step string, press func() error) (time.Duration, []string) {
		t.Helper()
		t0 := time.Now()
		if err := press(); err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		var seen []string
		deadline := t0.Add(60 * time.Second)
		for {
			got, err := c.Lookup(ctx, name)
			if err != nil {
				t.Fatalf("%s: lookup while shutting down: %v", step, err)
			}
			s := got.State.String() + " (" + got.Reason.String() + ")"
			if len(seen) == 0 || seen[len(seen)-1] != s {
				seen = append(seen, s)
			}
			if got.State == libvirtinspect.StateShutoff {
				break
			}
			if time.Now().After(deadline) {
				b, _ := os.ReadFile(console)
				t.Fatalf("%s: still %q 60s after the power button (states %q); console:\n%s", step, s, seen, b)
			}
			time.Sleep(50 * time.Millisecond)
		}
		took := time.Since(t0)
		got := check(step, libvirtinspect.StateShutoff, "shutdown")
		if got.ID != -1 {
			t.Errorf("%s: shut-off domain has id %d, want -1", step, got.ID)
		}
		b, err := os.ReadFile(console)
		if err != nil {
			t.Fatal(err)
		}
		i, j := bytes.Index(b, []byte(consoleACPIDReady)), bytes.Index(b, []byte(consolePowerOff))
		line := ""
		if i < 0 || j < i {
			t.Errorf("%s: the console does not show %q after %q: the guest did not power itself off:\n%s", step, consolePowerOff, consoleACPIDReady, b)
		} else {
			line, _, _ = strings.Cut(string(b[j:]), "\n")
		}
		t.Logf("%s: power button to shut off %v, states seen %q; console: %q", step, took.Round(time.Millisecond), seen, strings.TrimSpace(line))
		return took, seen
	}

	boot1 := boot("first boot")
	down1, _ := shutdown("ACPI shutdown", func() error {
		return adm.DomainShutdownFlags(dom, libvirt.DomainShutdownAcpiPowerBtn)
	})
	doms, err := c.Domains(ctx)
	if err != nil {
		t.Fatal(err)
	}
	found := false
	for _, dm := range doms {
		if dm.Name == name {
			found = true
			if dm.ID != -1 || dm.State != libvirtinspect.StateShutoff || dm.Reason.String() != "shutdown" {
				t.Errorf("shut-off domain listed as %+v", dm)
			}
		}
	}
	if !found {
		t.Error("shut-off (still defined) domain not listed")
	}

	// Start it again (keep the first console for the failure log).
	if err := os.Rename(console, console+".1"); err != nil {
		t.Fatal(err)
	}
	boot2 := boot("second boot")
	down2, _ := shutdown("virsh shutdown --mode acpi", func() error {
		out, err := exec.Command("virsh", "-c", virshURI, "shutdown", name, "--mode", "acpi").CombinedOutput()
		if err != nil {
			return fmt.Errorf("virsh shutdown: %v: %s", err, out)
		}
		return nil
	})
	t.Logf("start to acpid ready: %v, %v; power button to shut off: %v, %v",
		boot1.Round(time.Millisecond), boot2.Round(time.Millisecond), down1.Round(time.Millisecond), down2.Round(time.Millisecond))
}
