package libvirtinspect

import (
	"bytes"
	"context"
	"errors"
	"fmt"
	"io"
	"io/fs"
	"os"
	"time"

	"github.com/vifpath/vifpath/internal/sentinel"
)

// DefaultConsoleMax is how many bytes of a console log ReadConsoleLog
// returns when max is 0: the tail, which holds the latest boot.
const DefaultConsoleMax = 64 << 10

// ErrNoConsoleLog is returned when a domain's XML declares no file its
// serial console is written to (no <serial><log file>, no <serial
// type='file'>). It satisfies errors.Is(err, fs.ErrNotExist).
//
// This package does not fall back to the console stream
// (virDomainOpenConsole): a domain's console stream is exclusive, so
// opening it either fails while someone holds it or, with
// VIR_DOMAIN_CONSOLE_FORCE, takes it from them, and while it is held a
// user's `virsh console` is refused. It also carries only output from
// the moment it is opened, not the boot. Use Nova's os-getConsoleOutput
// (`openstack console log show`) instead.
var ErrNoConsoleLog = sentinel.New("libvirtinspect: the domain declares no console log file", fs.ErrNotExist)

// ConsoleSource says where console output was read from. The zero value
// "" means unknown.
type ConsoleSource string

// Console sources, in the order ConsoleLogPath prefers them.
const (
	// ConsoleLogFile is a <serial><log file='…'/> that virtlogd writes
	// (Nova: <instance dir>/console.log).
	ConsoleLogFile ConsoleSource = "log-file"
	// ConsoleSerialFile is a <serial type='file'><source path='…'/>: the
	// guest's serial output goes to that file directly.
	ConsoleSerialFile ConsoleSource = "serial-file"
)

// ConsoleLogPath returns the file the domain's first serial console is
// written to, and what kind of file it is. ok is false when no serial
// declares one (ErrNoConsoleLog's case).
func (d *DomainXML) ConsoleLogPath() (path string, src ConsoleSource, ok bool) {
	for _, s := range d.Serials {
		if s.LogFile != "" {
			return s.LogFile, ConsoleLogFile, true
		}
	}
	for _, s := range d.Serials {
		if s.Type == "file" && s.SourcePath != "" {
			return s.SourcePath, ConsoleSerialFile, true
		}
	}
	return "", "", false
}

// ConsoleLog is the tail of a domain's console output as read from its
// log file. It is a plain value.
type ConsoleLog struct {
	// Domain is the domain asked for ("" for ReadConsoleLog).
	Domain string `json:"domain,omitempty"`
	// Path is the file read; Source what kind of file it is.
	Path   string        `json:"path"`
	Source ConsoleSource `json:"source,omitempty"`
	// Size and ModTime are the file's size and modification time when
	// it was read: a ModTime long past says the guest printed nothing
	// since.
	Size    int64     `json:"size"`
	ModTime time.Time `json:"mod_time"`
	// Offset is where Data starts in the file; Truncated is true when
	// Offset > 0 (the head was left out to stay within max bytes; Data
	// then starts at a line boundary).
	Offset    int64 `json:"offset"`
	Truncated bool  `json:"truncated,omitempty"`
	// Data is the output as the guest wrote it (CR LF line ends, terminal
	// escapes; see guestlog.Parse).
	Data []byte `json:"data"`
}

// ReadConsoleLog reads at most max bytes (DefaultConsoleMax when max <= 0)
// from the end of a console log file, read-only. It refuses anything but a
// regular file (a pty or a FIFO would block or steal the guest's output).
// A missing file satisfies errors.Is(err, fs.ErrNotExist); Nova's
// console.log belongs to root (virtlogd writes it), so reading it needs
// root or the file's group.
func ReadConsoleLog(path string, max int) (*ConsoleLog, error) {
	if max <= 0 {
		max = DefaultConsoleMax
	}
	f, err := os.OpenFile(path, os.O_RDONLY|oNoCTTYNonblock, 0)
	if err != nil {
		if errors.Is(err, fs.ErrPermission) {
			return nil, fmt.Errorf("libvirtinspect: read console log %s: %w (virtlogd writes it as root: run as root)", path, err)
		}
		return nil, fmt.Errorf("libvirtinspect: read console log %s: %w", path, err)
	}
	defer f.Close()
	fi, err := f.Stat()
	if err != nil {
		return nil, fmt.Errorf("libvirtinspect: read console log %s: %w", path, err)
	}
	if !fi.Mode().IsRegular() {
		return nil, fmt.Errorf("libvirtinspect: read console log %s: it is a %s, not a regular file: not read, so the console is left to its owner", path, fi.Mode().Type())
	}
	out := &ConsoleLog{Path: path, Size: fi.Size(), ModTime: fi.ModTime().UTC()}
	off := max64(0, fi.Size()-int64(max))
	b, err := io.ReadAll(io.NewSectionReader(f, off, int64(max)))
	if err != nil {
		return nil, fmt.Errorf("libvirtinspect: read console log %s: %w", path, err)
	}
	if off > 0 {
		out.Truncated = true
		if i := bytes.IndexByte(b, '\n'); i >= 0 && i+1 < len(b) {
			b = b[i+1:]
			off += int64(i + 1)
		}
	}
	out.Offset, out.Data = off, b
	return out, nil
}

func max64(a, b int64) int64 {
	if a > b {
		return a
	}
	return b
}

// ConsoleLog reads the tail (at most max bytes; DefaultConsoleMax when
// max <= 0) of the domain's console output from the file its XML declares
// (ConsoleLogPath), read-only. The file is read on this machine: call it
// on the compute node the domain runs on (a remote URI gives the right
// path but not the file). A domain without such a file gives
// ErrNoConsoleLog.
func (c *Client) ConsoleLog(ctx context.Context, ref string, max int) (*ConsoleLog, error) {
	s, err := c.XML(ctx, ref)
	if err != nil {
		return nil, err
	}
	x, err := ParseDomainXML([]byte(s))
	if err != nil {
		return nil, &OpError{Op: "read console log", URI: c.uri, Domain: ref, Err: err}
	}
	path, src, ok := x.ConsoleLogPath()
	if !ok {
		return nil, &OpError{Op: "read console log", URI: c.uri, Domain: ref, Err: ErrNoConsoleLog}
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := ReadConsoleLog(path, max)
	if err != nil {
		return nil, &OpError{Op: "read console log", URI: c.uri, Domain: ref, Err: err}
	}
	l.Domain, l.Source = ref, src
	return l, nil
}
