package linuxbridge

import "testing"

// Requests returns how many netlink requests in has sent, so tests can
// check that a call costs a fixed number of them.
func Requests(in *Inspector) uint32 {
	in.mu.Lock()
	defer in.mu.Unlock()
	if in.c == nil {
		return 0
	}
	return in.c.reqs + in.cAddr.reqs + in.cFDB.reqs
}

// dialConnAt opens one socket inside the namespace at path, as Open does.
func dialConnAt(tb testing.TB, path string) *conn {
	tb.Helper()
	h, err := openNetNS(path)
	if err != nil {
		tb.Fatal(err)
	}
	defer h.Close()
	var c *conn
	if err := h.Do(func() (err error) { c, err = dialConn(0); return err }); err != nil {
		tb.Fatal(err)
	}
	return c
}
