// Package sentinel is the module's one way to declare a sentinel error:
// a comparable value callers test with errors.Is, which can also match a
// standard error (fs.ErrNotExist, fs.ErrPermission, fs.ErrClosed) so a
// caller that knows nothing of vifpath can still branch on it.
//
// Every package declares its sentinels with New in its errors.go:
//
//	var ErrNotFound = sentinel.New("linuxbridge: not found", fs.ErrNotExist)
//
// and wraps them with what was asked, what was found and what to do:
//
//	fmt.Errorf("linuxbridge: bridge %s: %w: check `ip link show type bridge`", name, ErrNotFound)
package sentinel
