package linuxbridge

import (
	"encoding/json"
	"fmt"
	"net"
)

// encoding/json would print a net.HardwareAddr as base64; these methods
// print MACs as "fa:16:3e:57:19:35" and parse them back.

func marshalMAC(m net.HardwareAddr) string {
	if len(m) == 0 {
		return ""
	}
	return m.String()
}

func unmarshalMAC(s string, dst *net.HardwareAddr) error {
	if s == "" {
		*dst = nil
		return nil
	}
	m, err := net.ParseMAC(s)
	if err != nil {
		return fmt.Errorf("linuxbridge: bad MAC in JSON: %w", err)
	}
	*dst = m
	return nil
}

// MarshalJSON writes the bridge with its MAC in colon notation.
func (b Bridge) MarshalJSON() ([]byte, error) {
	type plain Bridge
	return json.Marshal(struct {
		plain
		MAC string `json:"mac"`
	}{plain(b), marshalMAC(b.MAC)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (b *Bridge) UnmarshalJSON(data []byte) error {
	type plain Bridge
	v := struct {
		*plain
		MAC string `json:"mac"`
	}{plain: (*plain)(b)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return unmarshalMAC(v.MAC, &b.MAC)
}

// MarshalJSON writes the port with its MAC in colon notation.
func (p Port) MarshalJSON() ([]byte, error) {
	type plain Port
	return json.Marshal(struct {
		plain
		MAC string `json:"mac"`
	}{plain(p), marshalMAC(p.MAC)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (p *Port) UnmarshalJSON(data []byte) error {
	type plain Port
	v := struct {
		*plain
		MAC string `json:"mac"`
	}{plain: (*plain)(p)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return unmarshalMAC(v.MAC, &p.MAC)
}

// MarshalJSON writes the entry with its MAC in colon notation.
func (e FDBEntry) MarshalJSON() ([]byte, error) {
	type plain FDBEntry
	return json.Marshal(struct {
		plain
		MAC string `json:"mac"`
	}{plain(e), marshalMAC(e.MAC)})
}

// UnmarshalJSON reads what MarshalJSON writes.
func (e *FDBEntry) UnmarshalJSON(data []byte) error {
	type plain FDBEntry
	v := struct {
		*plain
		MAC string `json:"mac"`
	}{plain: (*plain)(e)}
	if err := json.Unmarshal(data, &v); err != nil {
		return err
	}
	return unmarshalMAC(v.MAC, &e.MAC)
}
