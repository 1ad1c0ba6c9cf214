package trace

import (
	"errors"
	"io/fs"

	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// consoleFacts turns a console read into facts, its error into a typed
// reason (never by its text).
func consoleFacts(l *libvirtinspect.ConsoleLog, err error) *ConsoleFacts {
	f := &ConsoleFacts{}
	switch {
	case errors.Is(err, libvirtinspect.ErrNoConsoleLog):
		f.Missing = ConsoleNoLogFile
	case errors.Is(err, fs.ErrNotExist):
		f.Missing = ConsoleFileMissing
	case errors.Is(err, fs.ErrPermission):
		f.Missing = ConsoleNotPermitted
	case err != nil:
		f.Missing = ConsoleReadFailed
	default:
		f.Path, f.Bytes, f.ModTime, f.Events = l.Path, len(l.Data), l.ModTime, guestlog.Parse(l.Data)
	}
	if err != nil {
		f.Error = err.Error()
	}
	return f
}
