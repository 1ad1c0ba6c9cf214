package demo

import "testing"

func TestParseGuestKind(t *testing.T) {
	for in, want := range map[string]GuestKind{"": GuestAuto, "auto": GuestAuto, "netns": GuestNetNS, "libvirt": GuestLibvirt} {
		if got, err := ParseGuestKind(in); err != nil || got != want {
			t.Errorf("ParseGuestKind(%q) = %q, %v; want %q", in, got, err, want)
		}
	}
	for _, in := range []string{"kvm", "Libvirt", " netns"} {
		if got, err := ParseGuestKind(in); err == nil {
			t.Errorf("ParseGuestKind(%q) = %q, want an error", in, got)
		}
	}
}
