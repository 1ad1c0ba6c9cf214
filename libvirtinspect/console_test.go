package libvirtinspect

import (
	"bytes"
	"encoding/json"
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"strings"
	"syscall"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func TestConsoleLogPathNovaDomain(t *testing.T) {
	x := novaDomainXML(t)
	want := []Serial{{Type: "pty", SourcePath: "/dev/pts/0", LogFile: "/var/lib/nova/instances/3fc516db-bae9-4e60-a58c-0d8beace5d6e/console.log", Port: 0}}
	if d := cmp.Diff(want, x.Serials); d != "" {
		t.Errorf("serials (-want +got):\n%s", d)
	}
	p, src, ok := x.ConsoleLogPath()
	if !ok || p != want[0].LogFile || src != ConsoleLogFile {
		t.Errorf("ConsoleLogPath = %q, %q, %v; want Nova's console.log, log-file", p, src, ok)
	}
	if x.Interfaces[0].MTU != 1500 {
		t.Errorf("interface MTU = %d, want 1500 (the domain's <mtu size>)", x.Interfaces[0].MTU)
	}
}

func TestConsoleLogPathFileSerialAndNone(t *testing.T) {
	x, err := ParseDomainXML([]byte(`<domain type='qemu'><name>d</name><devices><serial type='file'><source path='/tmp/c.log'/><target port='0'/></serial></devices></domain>`))
	if err != nil {
		t.Fatal(err)
	}
	if p, src, ok := x.ConsoleLogPath(); !ok || p != "/tmp/c.log" || src != ConsoleSerialFile {
		t.Errorf("ConsoleLogPath = %q, %q, %v; want /tmp/c.log serial-file", p, src, ok)
	}
	x, err = ParseDomainXML([]byte(`<domain type='qemu'><name>d</name><devices><serial type='pty'><target port='0'/></serial></devices></domain>`))
	if err != nil {
		t.Fatal(err)
	}
	if _, _, ok := x.ConsoleLogPath(); ok {
		t.Error("a pty serial without <log file> gave a console log path")
	}
	if !errors.Is(ErrNoConsoleLog, fs.ErrNotExist) {
		t.Error("ErrNoConsoleLog does not satisfy fs.ErrNotExist")
	}
}

func TestReadConsoleLogTail(t *testing.T) {
	dir := t.TempDir()
	p := filepath.Join(dir, "console.log")
	var in bytes.Buffer
	for i := 0; i < 100; i++ {
		in.WriteString("line " + strings.Repeat("x", 90) + "\r\n")
	}
	if err := os.WriteFile(p, in.Bytes(), 0o600); err != nil {
		t.Fatal(err)
	}
	l, err := ReadConsoleLog(p, 1000)
	if err != nil {
		t.Fatal(err)
	}
	if !l.Truncated || len(l.Data) > 1000 || !bytes.HasPrefix(l.Data, []byte("line ")) || l.Offset+int64(len(l.Data)) != l.Size {
		t.Errorf("tail: truncated %v, %d bytes from %d of %d, starts %q: want the last whole lines within 1000 bytes", l.Truncated, len(l.Data), l.Offset, l.Size, l.Data[:10])
	}
	full, err := ReadConsoleLog(p, 0)
	if err != nil || full.Truncated || !bytes.Equal(full.Data, in.Bytes()) {
		t.Errorf("whole file: err %v, truncated %v, %d bytes; want all %d", err, full.Truncated, len(full.Data), in.Len())
	}
	b, err := json.Marshal(full)
	if err != nil {
		t.Fatal(err)
	}
	var back ConsoleLog
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(*full, back); d != "" {
		t.Errorf("JSON round trip (-want +got):\n%s", d)
	}
	if _, err := ReadConsoleLog(filepath.Join(dir, "none"), 0); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	fifo := filepath.Join(dir, "fifo")
	if err := syscall.Mkfifo(fifo, 0o600); err != nil {
		t.Skipf("mkfifo: %v", err)
	}
	if _, err := ReadConsoleLog(fifo, 0); err == nil {
		t.Error("ReadConsoleLog read a FIFO; want it refused (only regular files)")
	}
}
