package libvirtinspect

import (
	"encoding/json"
	"fmt"
)

// UnmarshalJSON decodes what MarshalText encodes (the state's String, read
// by UnmarshalText), or a number.
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
	return s.UnmarshalText([]byte(name))
}
