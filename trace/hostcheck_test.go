package trace

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strconv"
	"strings"
	"testing"
)

func TestBrNFHop(t *testing.T) {
	for _, tc := range []struct {
		content string
		err     error
		want    Verdict
		summary string
	}{
		{"1\n", nil, OK, "1: bridged IPv4 crosses iptables"},
		{"0\n", nil, Warn, "0: bridged IPv4 bypasses iptables"},
		{"", &fs.PathError{Op: "open", Path: "x", Err: fs.ErrNotExist}, Warn, "br_netfilter is not loaded"},
		{"", errors.New("permission denied"), Unknown, "cannot read it: permission denied"},
		{"7", nil, Unknown, `unexpected value "7"`},
	} {
		h := brNFHop("/proc/sys/net/bridge/bridge-nf-call-iptables", []byte(tc.content), tc.err)
		if h.Verdict != tc.want || !strings.HasPrefix(h.Summary, tc.summary) {
			t.Errorf("%q/%v: %s %q, want %s %q", tc.content, tc.err, h.Verdict, h.Summary, tc.want, tc.summary)
		}
		if h.Verdict == Warn && (h.Cause == "" || h.Next == "") {
			t.Errorf("%q: warn without cause/next", tc.content)
		}
		if p, _ := h.Get("path"); p != "/proc/sys/net/bridge/bridge-nf-call-iptables" {
			t.Errorf("path evidence %q", p)
		}
	}
}

func writeFile(t *testing.T, path, content string) {
	t.Helper()
	if err := os.MkdirAll(filepath.Dir(path), 0o755); err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(path, []byte(content), 0o644); err != nil {
		t.Fatal(err)
	}
}

func TestNMHop(t *testing.T) {
	devs := map[string]int{"brq59fe11c2-21": 7, "eth2": 4, "tap14d72434-b8": 9}
	names := []string{"brq59fe11c2-21", "eth2", "tap14d72434-b8"}
	proc := t.TempDir()
	writeFile(t, filepath.Join(proc, "4242", "stat"), "4242 (NetworkManager) S")

	// No run dir: NetworkManager absent is unknown, not a failure.
	if h := nmHop(filepath.Join(t.TempDir(), "none"), proc, devs, names, true); h.Verdict != Unknown || !strings.Contains(h.Summary, "not running") {
		t.Errorf("absent: %+v", h)
	}
	// A stale pid file.
	run := t.TempDir()
	writeFile(t, filepath.Join(run, "NetworkManager.pid"), "999999\n")
	if h := nmHop(run, proc, devs, names, true); h.Verdict != Unknown || !strings.Contains(h.Summary, "stale") {
		t.Errorf("stale: %+v", h)
	}
	// Running; it manages eth2 and the tap, as on the walkthrough's
	// compute node before `nmcli d set … managed no`.
	writeFile(t, filepath.Join(run, "NetworkManager.pid"), "4242\n")
	writeFile(t, filepath.Join(run, "devices", "7"), "[device]\nmanaged=false\n")
	writeFile(t, filepath.Join(run, "devices", "4"), "[device]\nmanaged=true\nperm-hw-addr-fake=52:54:00:00:00:01\n")
	writeFile(t, filepath.Join(run, "devices", "9"), "[device]\nmanaged=true\n")
	h := nmHop(run, proc, devs, names, true)
	if h.Verdict != Fail || h.Summary != "NetworkManager manages eth2, tap14d72434-b8" || h.Cause == "" || h.Next == "" {
		t.Errorf("managed: %+v", h)
	}
	if v, _ := h.Get("pid"); v != "4242" {
		t.Errorf("pid evidence %q", v)
	}
	if v, _ := h.Get("brq59fe11c2-21"); !strings.HasSuffix(v, "managed=false") {
		t.Errorf("bridge evidence %q", v)
	}
	// Nothing managed.
	for _, i := range []int{4, 9} {
		writeFile(t, filepath.Join(run, "devices", strconv.Itoa(i)), "[device]\nmanaged=false\n")
	}
	if h := nmHop(run, proc, devs, names, true); h.Verdict != OK {
		t.Errorf("unmanaged: %+v", h)
	}
	// Bridges in another namespace: NetworkManager's ifindexes do not
	// apply.
	writeFile(t, filepath.Join(run, "devices", "4"), "[device]\nmanaged=true\n")
	if h := nmHop(run, proc, devs, names, false); h.Verdict != Unknown || !strings.Contains(h.Summary, "another namespace") {
		t.Errorf("other namespace: %+v", h)
	}
}

func FuzzNMManaged(f *testing.F) {
	f.Add([]byte("[device]\nmanaged=true\nperm-hw-addr-fake=52:54:00:00:00:01\n"))
	f.Add([]byte("[device]\nmanaged=false\n"))
	f.Add([]byte(""))
	f.Add([]byte("managed=\r\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		m := nmManaged(b)
		if m == "" && !strings.Contains(string(b), "managed=") {
			t.Errorf("nmManaged(%q) = empty without a managed= line", b)
		}
		if strings.ContainsAny(m, "\n") {
			t.Errorf("nmManaged(%q) = %q spans lines", b, m)
		}
	})
}

func TestNMManaged(t *testing.T) {
	for in, want := range map[string]string{
		"[device]\nmanaged=true\n":                "true",
		"[device]\nmanaged=false\nmanaged=true\n": "true",
		"[device]\n  managed=false \n":            "false",
		"[device]\n":                              "unknown",
	} {
		if got := nmManaged([]byte(in)); got != want {
			t.Errorf("nmManaged(%q) = %q, want %q", in, got, want)
		}
	}
}
