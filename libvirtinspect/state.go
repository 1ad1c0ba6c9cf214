package libvirtinspect

import (
	"encoding/json"
	"strconv"
)

// State is a domain's run state (libvirt's virDomainState). The zero value,
// StateNoState, is also what an unknown state decodes to.
type State int

// Domain states, numbered as libvirt numbers them.
const (
	StateNoState     State = 0
	StateRunning     State = 1
	StateBlocked     State = 2
	StatePaused      State = 3
	StateShutdown    State = 4 // being shut down
	StateShutoff     State = 5
	StateCrashed     State = 6
	StatePMSuspended State = 7
)

var stateNames = []string{"no state", "running", "idle", "paused", "in shutdown", "shut off", "crashed", "pmsuspended"}

// String returns the state as `virsh domstate` prints it ("running",
// "shut off", ...).
func (s State) String() string {
	if s >= 0 && int(s) < len(stateNames) {
		return stateNames[s]
	}
	return "state " + strconv.Itoa(int(s))
}

// MarshalJSON encodes the state as its String.
func (s State) MarshalJSON() ([]byte, error) { return json.Marshal(s.String()) }

// Reason says why a domain is in its state (libvirt's virDomain*Reason
// enums, which are numbered per state). The zero value means "unknown".
type Reason struct {
	State State `json:"-"`
	Code  int   `json:"-"`
}

// reasonNames are virsh's strings (tools/virsh-domain-monitor.c).
var reasonNames = map[State][]string{
	StateNoState: {"unknown"},
	StateRunning: {"unknown", "booted", "migrated", "restored", "from snapshot", "unpaused",
		"migration canceled", "save canceled", "event wakeup", "crashed", "post-copy", "post-copy failed"},
	StateBlocked: {"unknown"},
	StatePaused: {"unknown", "user", "migrating", "saving", "dumping", "I/O error", "watchdog",
		"from snapshot", "shutting down", "creating snapshot", "crashed", "starting up",
		"post-copy", "post-copy failed", "api error"},
	StateShutdown:    {"unknown", "user"},
	StateShutoff:     {"unknown", "shutdown", "destroyed", "crashed", "migrated", "saved", "failed", "from snapshot", "daemon"},
	StateCrashed:     {"unknown", "panicked"},
	StatePMSuspended: {"unknown"},
}

// String returns the reason as `virsh domstate --reason` prints it in
// parentheses ("booted", "user", "destroyed"); codes this package does not
// know print as "reason N".
func (r Reason) String() string {
	if names, ok := reasonNames[r.State]; ok && r.Code >= 0 && r.Code < len(names) {
		return names[r.Code]
	}
	return "reason " + strconv.Itoa(r.Code)
}

// MarshalJSON encodes the reason as its String.
func (r Reason) MarshalJSON() ([]byte, error) { return json.Marshal(r.String()) }
