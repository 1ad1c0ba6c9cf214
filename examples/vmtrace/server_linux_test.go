package main

import (
	"context"
	"encoding/json"
	"fmt"
	"net/http"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/trace"
)

// The recorded cloud's vm2 and its port (fakecloud's testdata).
const (
	vm2ID  = "3fc516db-bae9-4e60-a58c-0d8beace5d6e"
	vm2MAC = "fa:16:3e:57:19:35"
)

// TestIntegrationServerAgainstFakeCloud runs vmtrace -cloud fake -server
// against the fake Nova/Neutron served over real HTTP (clouds.yaml through
// OS_CLIENT_CONFIG_FILE, Keystone v3 auth), with the local side in an empty
// throwaway namespace: the server and port hops come from the API (ok),
// the tap vm2's port names does not exist here (fail, exit 1); libvirt is
// off (-libvirt-uri none), so the domain hops are unknown. By name and by
// ID give the same server; an unknown name exits 1 naming it; only GETs
// reach the cloud.
func TestIntegrationServerAgainstFakeCloud(t *testing.T) {
	testutil.RequireRoot(t)
	fake := fakecloud.New(nil)
	fake.Start(t)
	path := filepath.Join(t.TempDir(), "clouds.yaml")
	if err := os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		t.Fatal(err)
	}
	t.Setenv("OS_CLIENT_CONFIG_FILE", path)
	ns := testutil.NewNetNS(t)
	dir := t.TempDir()
	local := []string{"-netns", ns.Path, "-netns-dir", dir, "-state-dir", dir, "-nm-run-dir", dir, "-no-arp", "-interval", "-1ns", "-libvirt-uri", "none", "-node", fakecloud.Host}
	ctx := context.Background()

	var byName, byID trace.ServerTrace
	for _, c := range []struct {
		ref string
		st  *trace.ServerTrace
	}{{"vm2", &byName}, {vm2ID, &byID}} {
		code, out, errs := runArgs(ctx, append([]string{"-cloud", "fake", "-server", c.ref, "-json"}, local...)...)
		if code != exitFail {
			t.Errorf("-server %s: exit %d, want %d (no tap here); stderr %s", c.ref, code, exitFail, errs)
		}
		if err := json.Unmarshal([]byte(out), c.st); err != nil {
			t.Fatalf("-server %s -json: %v\n%s\nstderr: %s", c.ref, err, out, errs)
		}
	}
	if byName.ServerID != vm2ID || byID.ServerID != vm2ID || byName.ServerName != "vm2" || byName.Status != "ACTIVE" || byName.Host != fakecloud.Host || byName.InstanceName != "instance-00000002" || byName.Verdict != trace.Fail {
		t.Fatalf("server trace %+v", byName)
	}
	if len(byName.Traces) != 1 || len(byID.Traces) != 1 {
		t.Fatalf("traces: %d by name, %d by id", len(byName.Traces), len(byID.Traces))
	}
	tr := byName.Traces[0]
	if len(tr.Hops) < 3 {
		t.Fatalf("hops %+v", tr.Hops)
	}
	sh, ph := tr.Hops[0], tr.Hops[1]
	if sh.Kind != trace.KindServer || sh.Verdict != trace.OK || sh.Name != "vm2" {
		t.Errorf("server hop %+v", sh)
	}
	if v, _ := ph.Get("mac"); ph.Kind != trace.KindPort || ph.Verdict != trace.OK || v != vm2MAC {
		t.Errorf("port hop %+v", ph)
	}
	tap, _ := ph.Get("tap")
	if h, ok := tr.Hop(trace.KindTap, ""); !ok || h.Verdict != trace.Fail || h.Name != tap {
		t.Errorf("tap hop %+v (found %v), want fail for %s", h, ok, tap)
	}
	if h, ok := tr.Hop(trace.KindDomain, ""); ok && h.Verdict != trace.Unknown {
		t.Errorf("domain hop without libvirt %+v, want unknown", h)
	}
	if len(byID.Traces[0].Hops) != len(tr.Hops) || byID.Traces[0].Hops[1].Name != ph.Name {
		t.Errorf("by ID: %+v", byID.Traces[0].Hops)
	}

	// Text, DOT and Mermaid name the server and the port.
	for _, f := range []struct{ flag, want string }{{"", "vm2"}, {"-dot", "digraph"}, {"-mermaid", "flowchart"}} {
		args := append([]string{"-cloud", "fake", "-server", "vm2"}, local...)
		if f.flag != "" {
			args = append(args, f.flag)
		}
		code, out, errs := runArgs(ctx, args...)
		if f.flag == "" {
			t.Logf("vmtrace -server vm2:\n%s", out)
		}
		if code != exitFail || !strings.Contains(out, f.want) || !strings.Contains(out, ph.Name[:11]) {
			t.Errorf("%s: exit %d, output lacks %q or the port:\n%s\nstderr: %s", f.flag, code, f.want, out, errs)
		}
	}

	for _, r := range fake.Requests() {
		if r.Method != http.MethodGet && !strings.HasPrefix(r.Path, "/identity/") {
			t.Errorf("vmtrace sent %s %s to the cloud", r.Method, r.Path)
		}
	}

	// An explicit libvirt URI whose daemon is absent: the domain hop says
	// so (not ok); an unparsable URI is a usage error.
	sock := filepath.Join(dir, "no-libvirt-sock")
	args := append([]string{"-cloud", "fake", "-server", "vm2", "-json"}, local...)
	args = append(args, "-libvirt-uri", "qemu+unix:///system?socket="+sock)
	code, out, errs := runArgs(ctx, args...)
	var st trace.ServerTrace
	if err := json.Unmarshal([]byte(out), &st); err != nil || code != exitFail || len(st.Traces) != 1 {
		t.Fatalf("absent libvirtd: exit %d, %v, stderr %s", code, err, errs)
	}
	if h, ok := st.Traces[0].Hop(trace.KindDomain, ""); !ok || h.Verdict == trace.OK || !strings.Contains(fmt.Sprint(h), sock) {
		t.Errorf("domain hop with an absent libvirtd %+v", h)
	} else {
		t.Logf("domain hop with an absent libvirtd: %s %s", h.Verdict, h.Summary)
	}
	if code, _, errs := runArgs(ctx, append(append([]string{"-server", "vm2"}, local[:len(local)-4]...), "-libvirt-uri", "bogus+carrier-pigeon://x/y")...); code != exitUsage || !strings.Contains(errs, "-libvirt-uri") {
		t.Errorf("bad -libvirt-uri: exit %d, stderr %q", code, errs)
	}

	code, out, errs = runArgs(ctx, append([]string{"-cloud", "fake", "-server", "no-such-vm"}, local...)...)
	if code != exitFail || out != "" || !strings.Contains(errs, `"no-such-vm"`) || !strings.Contains(errs, "not found") {
		t.Errorf("unknown server: exit %d, stdout %q, stderr %q", code, out, errs)
	}
	code, _, errs = runArgs(ctx, append([]string{"-cloud", "nosuchcloud", "-server", "vm2"}, local...)...)
	if code != exitFail || !strings.Contains(errs, "nosuchcloud") {
		t.Errorf("unknown cloud: exit %d, stderr %q", code, errs)
	}
}
