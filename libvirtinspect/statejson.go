package libvirtinspect

import (
	"encoding/json"
	"fmt"
	"strconv"
	"strings"
)

// UnmarshalJSON decodes what MarshalJSON encodes (the state's String), or
// a number.
func (s *State) UnmarshalJSON(b []byte) error {
	var name string
	if err := json.Unmarshal(b, &name); err != nil {
		var n int
		if err := json.Unmarshal(b, &n); err != nil {
			return fmt.Errorf("libvirtinspect: state %s: want a name or a number", b)
		}
		*s = State(n)
		return nil
	}
	for i, n := range stateNames {
		if n == name {
			*s = State(i)
			return nil
		}
	}
	if rest, ok := strings.CutPrefix(name, "state "); ok {
		if n, err := strconv.Atoi(rest); err == nil {
			*s = State(n)
			return nil
		}
	}
	return fmt.Errorf("libvirtinspect: unknown domain state %q", name)
}
