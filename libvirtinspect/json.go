package libvirtinspect

import (
	"encoding/json"
	"net"
)

// net.HardwareAddr has no text marshaller, so encoding/json would print
// MACs as base64. These marshallers print "fa:16:3e:57:19:35" and read it
// back.

func macText(m net.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}

func macParse(s string) (net.HardwareAddr, error) {
	if s == "" {
		return nil, nil
	}
	return net.ParseMAC(s)
}

// MarshalJSON encodes the interface with its MAC as text.
func (i Interface) MarshalJSON() ([]byte, error) {
	type plain Interface
	return json.Marshal(struct {
		plain
		MAC string `json:"mac,omitempty"`
	}{plain(i), macText(i.MAC)})
}

// UnmarshalJSON decodes what MarshalJSON encodes.
func (i *Interface) UnmarshalJSON(b []byte) error {
	type plain Interface
	var v struct {
		*plain
		MAC string `json:"mac,omitempty"`
	}
	v.plain = (*plain)(i)
	if err := json.Unmarshal(b, &v); err != nil {
		return err
	}
	m, err := macParse(v.MAC)
	i.MAC = m
	return err
}

// MarshalJSON encodes the addresses with the MAC as text.
func (a IfAddrs) MarshalJSON() ([]byte, error) {
	type plain IfAddrs
	return json.Marshal(struct {
		plain
		MAC string `json:"mac,omitempty"`
	}{plain(a), macText(a.MAC)})
}
