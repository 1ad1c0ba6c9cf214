package linuxbridge_test

import (
	"errors"
	"io/fs"
	"maps"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/linuxbridge"
)

func TestParseMappings(t *testing.T) {
	for _, c := range []struct {
		in   string
		want map[string]string
		err  string
	}{
		{in: "provider:eth2", want: map[string]string{"provider": "eth2"}},
		{in: " provider : eth2 , physnet2:eth3.7 ,", want: map[string]string{"provider": "eth2", "physnet2": "eth3.7"}},
		{in: "provider:eth2,\n physnet2:bond0", want: map[string]string{"provider": "eth2", "physnet2": "bond0"}},
		{in: "", want: map[string]string{}},
		{in: " , ,", want: map[string]string{}},
		{in: "provider", err: `invalid mapping "provider"`},
		{in: "a:b:c", err: `invalid mapping "a:b:c"`},
		{in: ":eth2", err: "missing physical network"},
		{in: "provider:", err: "missing device"},
		{in: "provider:eth2,provider:eth3", err: `physical network "provider" mapped twice`},
		{in: "a:eth2,b:eth2", err: `device "eth2" mapped twice`},
		{in: "a:averyveryverylongname", err: "not a Linux interface name"},
		{in: "a:eth2 # the provider NIC", err: "not a Linux interface name"},
		{in: "a:e/th", err: "not a Linux interface name"},
	} {
		got, err := linuxbridge.ParseMappings(c.in)
		switch {
		case c.err != "" && (err == nil || !strings.Contains(err.Error(), c.err)):
			t.Errorf("ParseMappings(%q) = %v, %v; want an error containing %q", c.in, got, err, c.err)
		case c.err == "" && err != nil:
			t.Errorf("ParseMappings(%q): %v", c.in, err)
		case c.err == "" && !maps.Equal(got, c.want):
			t.Errorf("ParseMappings(%q) = %v, want %v", c.in, got, c.want)
		}
	}
}

func TestParseAgentConfig(t *testing.T) {
	// The all-in-one's file (shared/aio/50-neutron.sh writes it with
	// crudini), with a continued value, comments, a quoted value and keys
	// of the same name in other sections.
	ini := `[DEFAULT]
physical_interface_mappings = wrong:eth9
[agent]
[linux_bridge]
# physical_interface_mappings = commented:eth8
physical_interface_mappings = provider:eth2,
    physnet2:eth3
bridge_mappings: "ext:br-ex"
; a comment
[LINUX_BRIDGE]
other = 1
[vxlan]
enable_vxlan = false
bridge_mappings = notthis:br0
`
	m, err := linuxbridge.ParseAgentConfig(strings.NewReader(ini))
	if err != nil {
		t.Fatal(err)
	}
	if want := map[string]string{"provider": "eth2", "physnet2": "eth3"}; !maps.Equal(m.Interfaces, want) {
		t.Errorf("interfaces %v, want %v", m.Interfaces, want)
	}
	if want := map[string]string{"ext": "br-ex"}; !maps.Equal(m.Bridges, want) {
		t.Errorf("bridges %v, want %v", m.Bridges, want)
	}
	if s := m.String(); s != "physical_interface_mappings = physnet2:eth3,provider:eth2; bridge_mappings = ext:br-ex" {
		t.Errorf("String() = %q", s)
	}

	// The last assignment wins; a blank line or a comment ends a value.
	m, err = linuxbridge.ParseAgentConfig(strings.NewReader("[linux_bridge]\nphysical_interface_mappings = a:eth1\nphysical_interface_mappings = b:eth2\n\n  c:eth3\n"))
	if err != nil || !maps.Equal(m.Interfaces, map[string]string{"b": "eth2"}) {
		t.Errorf("last assignment: %v, %v", m, err)
	}
	// No section: empty maps, no error.
	m, err = linuxbridge.ParseAgentConfig(strings.NewReader("[DEFAULT]\ndebug = true\n"))
	if err != nil || len(m.Interfaces) != 0 || len(m.Bridges) != 0 {
		t.Errorf("no [linux_bridge]: %v, %v", m, err)
	}
	for _, bad := range []string{"[linux_bridge\nx=1\n", "[linux_bridge]\njust a line\n", "[linux_bridge]\nphysical_interface_mappings = a:eth1:x\n"} {
		if _, err := linuxbridge.ParseAgentConfig(strings.NewReader(bad)); err == nil || !strings.Contains(err.Error(), "line ") {
			t.Errorf("ParseAgentConfig(%q) = %v, want an error naming the line", bad, err)
		}
	}
	// A missing file is fs.ErrNotExist; the path is recorded.
	dir := t.TempDir()
	if _, err := linuxbridge.ReadAgentConfig(filepath.Join(dir, "nope.ini")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v", err)
	}
	p := filepath.Join(dir, "linuxbridge_agent.ini")
	os.WriteFile(p, []byte(ini), 0o644)
	if m, err := linuxbridge.ReadAgentConfig(p); err != nil || m.Path != p || m.Interfaces["provider"] != "eth2" {
		t.Errorf("ReadAgentConfig = %+v, %v", m, err)
	}
}

func FuzzParseAgentConfig(f *testing.F) {
	f.Add("[linux_bridge]\nphysical_interface_mappings = provider:eth2\n")
	f.Add("[linux_bridge]\nphysical_interface_mappings = a:eth1,\n b:eth2\nbridge_mappings: 'x:br0'\n")
	f.Add("[linux_bridge\n")
	f.Add("[linux_bridge]\nphysical_interface_mappings = a:b:c,,:\n")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := linuxbridge.ParseAgentConfig(strings.NewReader(s))
		if err != nil {
			return
		}
		// Whatever parsed is a valid mapping set: it round-trips through
		// ParseMappings and no device is mapped twice.
		for _, mm := range []map[string]string{m.Interfaces, m.Bridges} {
			var items []string
			seen := map[string]bool{}
			for k, v := range mm {
				if k == "" || v == "" || strings.ContainsAny(k, ",:") || seen[v] {
					t.Fatalf("invalid mapping %q:%q in %v", k, v, mm)
				}
				seen[v] = true
				items = append(items, k+":"+v)
			}
			back, err := linuxbridge.ParseMappings(strings.Join(items, ","))
			if err != nil || !maps.Equal(back, mm) {
				t.Fatalf("round trip of %v: %v, %v", mm, back, err)
			}
		}
	})
}

func FuzzParseMappings(f *testing.F) {
	f.Add("provider:eth2")
	f.Add(" a : eth1 ,b:eth2.100,")
	f.Add("a:b:c")
	f.Fuzz(func(t *testing.T, s string) {
		m, err := linuxbridge.ParseMappings(s)
		if err != nil {
			return
		}
		for k, v := range m {
			if k != strings.TrimSpace(k) || k == "" || len(v) > 15 || strings.ContainsAny(v, " \t\n/:,") {
				t.Fatalf("ParseMappings(%q) gave %q:%q", s, k, v)
			}
		}
	})
}
