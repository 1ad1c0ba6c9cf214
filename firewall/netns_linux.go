package firewall

import (
	"fmt"

	"github.com/vifpath/vifpath/internal/netns"
)

// inNetNS runs fn with its thread inside the network namespace at path
// (the caller's own when path is ""), through the module's one namespace
// helper, internal/netns: a fresh locked goroutine, moved back after fn,
// its thread ended if that fails. fn starts processes (which inherit the
// thread's namespace) and reads the thread's /proc/net; the caller's
// thread never moves.
func inNetNS(path string, fn func() error) error {
	if path == "" {
		return fn()
	}
	if err := netns.Do(path, fn); err != nil {
		return fmt.Errorf("firewall: read in %s: %w: check Config.NetNSPath (`ip netns list`); entering it needs CAP_SYS_ADMIN", path, err)
	}
	return nil
}
