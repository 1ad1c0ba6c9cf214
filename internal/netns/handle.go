package netns

import "os"

// Handle is a network namespace opened by path: the open file, which
// keeps the namespace alive while it is open, and the device and inode the
// path named when it was opened. Check compares them with what the path
// names now, so a caller bound to the namespace (a netlink socket opened
// inside it) learns when the namespace was deleted or replaced under the
// same name. Path, Inode, Check and Do are safe for concurrent use; Close
// must not run while a Do does.
type Handle struct {
	f        *os.File
	path     string
	dev, ino uint64
}

// Path returns the path the Handle was opened with.
func (h *Handle) Path() string { return h.path }

// Inode returns the namespace's inode (what /proc/<pid>/ns/net of a
// process inside it links to: "net:[<inode>]").
func (h *Handle) Inode() uint64 { return h.ino }

// Close closes the namespace file. It is idempotent; Check still works.
func (h *Handle) Close() error {
	if h.f == nil {
		return nil
	}
	err := h.f.Close()
	h.f = nil
	return err
}
