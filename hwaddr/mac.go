package hwaddr

import (
	"bytes"
	"fmt"
	"net"
)

// MAC is a hardware address. Its text form (String, MarshalText, and so
// JSON and flag.TextVar) is colon notation in lower case; the zero value
// (nil) is "" and reads back as nil. It is a net.HardwareAddr, so the two
// convert freely.
type MAC net.HardwareAddr

// Parse reads a MAC in any form net.ParseMAC accepts (colons, hyphens or
// dots). An empty string is an error: use UnmarshalText to accept "" as
// nil.
func Parse(s string) (MAC, error) {
	hw, err := net.ParseMAC(s)
	if err != nil {
		return nil, fmt.Errorf("hwaddr: bad MAC %q: want colon notation such as fa:16:3e:8c:4d:2a", s)
	}
	return MAC(hw), nil
}

// MustParse is Parse that panics on error, for constants in tests and
// examples.
func MustParse(s string) MAC {
	m, err := Parse(s)
	if err != nil {
		panic(err)
	}
	return m
}

// String returns the address in colon notation, "" for nil.
func (m MAC) String() string { return net.HardwareAddr(m).String() }

// Equal reports whether m and o are the same address (nil equals empty).
func (m MAC) Equal(o MAC) bool { return bytes.Equal(m, o) }

// IsZero reports whether m is nil or empty.
func (m MAC) IsZero() bool { return len(m) == 0 }

// MarshalText implements encoding.TextMarshaler: colon notation, empty
// for nil.
func (m MAC) MarshalText() ([]byte, error) { return []byte(m.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler: empty text is nil,
// anything else must parse (see Parse).
func (m *MAC) UnmarshalText(b []byte) error {
	if len(b) == 0 {
		*m = nil
		return nil
	}
	v, err := Parse(string(b))
	if err != nil {
		return err
	}
	*m = v
	return nil
}
