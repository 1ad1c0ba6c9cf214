// Package netns is the module's one way into a Linux network namespace:
// the single audited place that moves an OS thread (STYLE rule 10).
//
// Do and DoFile run a short, synchronous fn on a fresh goroutine locked to
// its OS thread, with that thread inside the namespace. The helper saves
// the thread's own namespace first and moves the thread back after fn; it
// unlocks the thread only if that worked. When the restore fails the
// goroutine exits still locked, and the Go runtime ends the thread instead
// of handing it, inside the wrong namespace, to another goroutine (the main
// thread, which the runtime cannot end, is wedged instead: no goroutine runs
// on it again). The caller's goroutine and thread never change namespace. Goroutines fn
// starts do not run in the namespace: open what you need inside fn (a
// netlink handle, an AF_PACKET socket, a started exec.Cmd) and use it
// outside.
//
// Open is the one place a namespace file is opened by path: it checks the
// file is a network namespace and returns a Handle that enters it (Do),
// says whether the path still names it (Check: a socket bound to a deleted
// namespace keeps showing its stale devices), and gives its inode. Every
// package that takes a namespace path opens it here, so a missing one is
// the same error everywhere.
//
// NewFile makes an anonymous namespace (unshare(CLONE_NEWNET)) and Add one
// bind-mounted at a path, as `ip netns add` does; both go through the same
// helper.
//
// # Errors
//
// Errors are *Error values naming the step and the path. A missing
// namespace, or one deleted or replaced under a live Handle (Check),
// satisfies errors.Is(err, ErrNoNetNS) and errors.Is(err, fs.ErrNotExist);
// a file that is no network namespace errors.Is(err, ErrNotNetNS); a
// missing capability errors.Is(err, fs.ErrPermission).
// Packages wrap them with their own prefix and advice.
//
// # Privileges
//
// Entering or creating a namespace needs CAP_SYS_ADMIN; opening a
// namespace file needs read access to it (/run/netns/* is root's).
package netns
