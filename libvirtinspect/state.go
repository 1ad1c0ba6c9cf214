package libvirtinspect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
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

// MarshalText encodes the state as its String, so JSON carries "running".
func (s State) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText reads what MarshalText writes: a virsh state name or
// "state N" for a number this package has no name for.
func (s *State) UnmarshalText(b []byte) error {
	t := string(b)
	for i, n := range stateNames {
		if t == n {
			*s = State(i)
			return nil
		}
	}
	if n, ok := strings.CutPrefix(t, "state "); ok {
		if v, err := strconv.Atoi(n); err == nil {
			*s = State(v)
			return nil
		}
	}
	return fmt.Errorf("libvirtinspect: unknown domain state %q: want a virsh state name such as %q or %q", t, stateNames[StateRunning], stateNames[StateShutoff])
}

// Reason says why a domain is in its state (libvirt's virDomain*Reason
// enums, which are numbered per state). The zero value means "unknown".
type Reason struct {
	// State is the state whose reason enum Code belongs to.
	State State `json:"-"`
	// Code is libvirt's reason number within that enum.
	Code int `json:"-"`
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

// reasonJSON is Reason on the wire: the state it belongs to, libvirt's
// number and virsh's text. The text is for people; decoding uses State and
// Code.
type reasonJSON struct {
	State State  `json:"state"`
	Code  int    `json:"code"`
	Text  string `json:"text"`
}

// MarshalJSON encodes the reason as {"state":"running","code":1,"text":"booted"}.
func (r Reason) MarshalJSON() ([]byte, error) {
	return json.Marshal(reasonJSON{r.State, r.Code, r.String()})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (r *Reason) UnmarshalJSON(b []byte) error {
	var v reasonJSON
	if err := json.Unmarshal(b, &v); err != nil {
		return fmt.Errorf("libvirtinspect: decode reason: %w", err)
	}
	*r = Reason{State: v.State, Code: v.Code}
	return nil
}
