package demo

import (
	"context"
	"errors"
	"io/fs"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
	"time"

	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// guestFactsOf reads the domain's console through libvirtinspect (the log
// file its XML declares) and returns the guest hop's facts.
func guestFactsOf(t *testing.T, p *Path) trace.GuestFacts {
	t.Helper()
	ctx, cancel := context.WithTimeout(context.Background(), 20*time.Second)
	defer cancel()
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: p.LibvirtSocketRO, ReadOnly: true})
	if err != nil {
		t.Fatalf("libvirtinspect.Dial %s: %v", p.LibvirtSocketRO, err)
	}
	defer lv.Close()
	f := trace.GuestFacts{Domain: p.Domain, PortIP: p.IP, DHCPServer: netip.MustParseAddr("192.168.31.70")}
	l, err := lv.ConsoleLog(ctx, p.Domain, 0)
	switch {
	case errors.Is(err, libvirtinspect.ErrNoConsoleLog):
		f.Missing = trace.ConsoleNoLogFile
	case errors.Is(err, fs.ErrNotExist):
		f.Missing = trace.ConsoleFileMissing
	case errors.Is(err, fs.ErrPermission):
		f.Missing = trace.ConsoleNotPermitted
	case err != nil:
		t.Fatalf("ConsoleLog: %v", err)
	default:
		if l.Path != p.Console || l.Source != libvirtinspect.ConsoleSerialFile {
			t.Errorf("ConsoleLog read %s (%s), want the domain's serial file %s", l.Path, l.Source, p.Console)
		}
		f.ConsolePath, f.ConsoleBytes, f.ConsoleModTime, f.Events = l.Path, len(l.Data), l.ModTime, guestlog.Parse(l.Data)
		if dir := os.Getenv("VIFPATH_RECORD_DIR"); dir != "" {
			os.WriteFile(filepath.Join(dir, "console-"+time.Now().Format("150405.000")+".log"), l.Data, 0o644)
		}
	}
	return f
}

// TestIntegrationGuestConsoleDHCP boots the demo's libvirt TCG guest
// against the real dnsmasq and judges its console: it leased the port's
// address from the DHCP port. Then it kills dnsmasq, restarts the domain
// (a fresh qemu truncates the console file) and judges again: the guest
// sends DISCOVERs and gets no offer, and the guest hop says so.
func TestIntegrationGuestConsoleDHCP(t *testing.T) {
	imageDir := requireLibvirtGuest(t)
	dir, err := os.MkdirTemp("", "gm-demo-")
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { os.RemoveAll(dir) })
	p := buildLibvirtPath(t, imageDir, dir)
	t.Cleanup(func() {
		if err := p.Close(); err != nil {
			t.Errorf("Close: %v", err)
		}
	})

	h := trace.JudgeGuest(guestFactsOf(t, p))
	t.Logf("healthy: %s %s %v", h.Verdict, h.Summary, h.Evidence)
	if h.Verdict != trace.OK {
		t.Errorf("guest hop with dnsmasq serving: %s %q, want ok", h.Verdict, h.Summary)
	}

	if err := p.Break(BreakDnsmasq); err != nil {
		t.Fatal(err)
	}
	// The demo's domain is transient: keep its XML, destroy it and create
	// it again (a fresh qemu, which truncates the console file).
	xmlFile := filepath.Join(dir, "gm-domain.xml")
	if err := os.WriteFile(xmlFile, []byte(virshIn(t, p, "dumpxml", p.Domain)), 0o644); err != nil {
		t.Fatal(err)
	}
	virshIn(t, p, "destroy", p.Domain)
	virshIn(t, p, "create", xmlFile)
	// udhcpc -T 1 -A 2: a DISCOVER a second, up to 60; wait for three.
	deadline := time.Now().Add(3 * time.Minute)
	var f trace.GuestFacts
	for {
		f = guestFactsOf(t, p)
		if s := guestlog.Summarize(f.Events); s.Discovers >= 3 {
			break
		}
		if time.Now().After(deadline) {
			b, _ := os.ReadFile(p.Console)
			t.Fatalf("the restarted guest sent fewer than 3 DISCOVERs in 3 minutes; console:\n%s", b)
		}
		time.Sleep(time.Second)
	}
	h = trace.JudgeGuest(f)
	t.Logf("dnsmasq killed before boot: %s %s %v", h.Verdict, h.Summary, h.Evidence)
	if h.Verdict != trace.Fail || h.Cause == "" {
		t.Errorf("guest hop with dnsmasq killed before boot: %s %q, want fail (no offer)", h.Verdict, h.Summary)
	}
}
