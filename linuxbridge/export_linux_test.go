package linuxbridge

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
