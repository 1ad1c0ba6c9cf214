package dhcpns

import (
	"errors"
	"fmt"
	"os"

	"github.com/vifpath/vifpath/internal/netns"
	"golang.org/x/sys/unix"
)

// doInNetNS runs fn inside the namespace at path through the module's one
// namespace helper (internal/netns: a fresh locked goroutine whose thread
// is moved back, or ended when that fails). fn must be short and
// synchronous; goroutines it starts do not run in the namespace.
func doInNetNS(path string, fn func() error) error {
	return explain(netns.Do(path, fn))
}

// doInNetNSFile is doInNetNS for a namespace file the caller holds open.
func doInNetNSFile(f *os.File, name string, fn func() error) error {
	return explain(netns.DoFile(f, name, fn))
}

// newNetNS creates an anonymous network namespace and returns a file for
// it; the namespace lives while the file (or anything created inside it)
// is open.
func newNetNS() (*os.File, error) {
	f, err := netns.NewFile()
	return f, explain(err)
}

// explain prefixes the helper's errors and says what to grant; fn's own
// errors pass through.
func explain(err error) error {
	var ne *netns.Error
	if !errors.As(err, &ne) {
		return err
	}
	if errors.Is(err, unix.EPERM) {
		return fmt.Errorf("dhcpns: %w (needs CAP_SYS_ADMIN)", err)
	}
	return fmt.Errorf("dhcpns: %w", err)
}
