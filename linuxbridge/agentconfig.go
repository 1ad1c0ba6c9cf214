package linuxbridge

import (
	"bufio"
	"bytes"
	"fmt"
	"io"
	"os"
	"slices"
	"strings"
)

// DefaultAgentConfig is where Neutron's linuxbridge agent reads its
// configuration (Config.AgentConfig's zero value).
const DefaultAgentConfig = "/etc/neutron/plugins/ml2/linuxbridge_agent.ini"

// AgentMappings are the two mappings of the linuxbridge agent's
// [linux_bridge] section that say where a network leaves the node. It is a
// plain value.
type AgentMappings struct {
	// Path is the file they were read from ("" when given in Config).
	Path string `json:"path,omitempty"`
	// Interfaces is physical_interface_mappings: physical network →
	// interface (e.g. "provider" → "eth2"). A flat network's bridge
	// enslaves the interface, a VLAN network's <interface>.<VLAN ID>.
	Interfaces map[string]string `json:"physical_interface_mappings,omitempty"`
	// Bridges is bridge_mappings: physical network → an existing bridge
	// the agent plugs that network's taps into instead of a brq bridge.
	Bridges map[string]string `json:"bridge_mappings,omitempty"`
}

// ReadAgentConfig reads the mappings from the linuxbridge agent's
// configuration file (see ParseAgentConfig). A missing file is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadAgentConfig(path string) (*AgentMappings, error) {
	b, err := os.ReadFile(path)
	if err != nil {
		return nil, fmt.Errorf("linuxbridge: read the linuxbridge agent's configuration: %w", err)
	}
	m, err := ParseAgentConfig(bytes.NewReader(b))
	if err != nil {
		return nil, fmt.Errorf("linuxbridge: agent configuration %s: %w", path, err)
	}
	m.Path = path
	return m, nil
}

// ParseAgentConfig reads physical_interface_mappings and bridge_mappings
// from the [linux_bridge] section of an oslo.config INI file
// (linuxbridge_agent.ini): "key = value" or "key: value", lines starting
// with # or ; are comments, indented lines continue the previous value,
// the last assignment of a key wins, and section names are matched
// case-insensitively (oslo.config's rules; a comment or blank line ends a
// value). Each value is parsed by ParseMappings. Other
// sections and keys are ignored. A file without them gives empty maps.
func ParseAgentConfig(r io.Reader) (*AgentMappings, error) {
	sc := bufio.NewScanner(r)
	sc.Buffer(make([]byte, 0, 64*1024), 1<<20)
	var section, key string
	values := map[string]string{}
	lines := map[string]int{}
	n := 0
	for sc.Scan() {
		n++
		line := strings.TrimRight(sc.Text(), "\r")
		switch {
		case strings.TrimSpace(line) == "":
			key = "" // a blank line ends a value
		case line[0] == ' ' || line[0] == '\t':
			if key != "" {
				values[key] += "\n" + strings.TrimSpace(line)
			}
		case line[0] == '#' || line[0] == ';':
			key = ""
		case line[0] == '[':
			end := strings.IndexByte(line, ']')
			if end < 0 {
				return nil, fmt.Errorf("line %d: section header %q has no ]", n, line)
			}
			section, key = strings.ToLower(strings.TrimSpace(line[1:end])), ""
		default:
			i := strings.IndexAny(line, "=:")
			if i < 0 {
				return nil, fmt.Errorf("line %d: %q is neither key = value nor a section", n, line)
			}
			k := strings.TrimSpace(line[:i])
			key = ""
			if section == "linux_bridge" && (k == "physical_interface_mappings" || k == "bridge_mappings") {
				key = k
				values[k] = unquote(strings.TrimSpace(line[i+1:]))
				lines[k] = n
			}
		}
	}
	if err := sc.Err(); err != nil {
		return nil, err
	}
	m := &AgentMappings{Interfaces: map[string]string{}, Bridges: map[string]string{}}
	for k, dst := range map[string]*map[string]string{"physical_interface_mappings": &m.Interfaces, "bridge_mappings": &m.Bridges} {
		v, ok := values[k]
		if !ok {
			continue
		}
		mm, err := ParseMappings(v)
		if err != nil {
			return nil, fmt.Errorf("line %d: [linux_bridge] %s: %w", lines[k], k, err)
		}
		*dst = mm
	}
	return m, nil
}

func unquote(s string) string {
	if len(s) >= 2 && (s[0] == '"' || s[0] == '\'') && s[len(s)-1] == s[0] {
		return s[1 : len(s)-1]
	}
	return s
}

// ParseMappings parses a Neutron mapping list, "physnet:device[,…]", as
// neutron_lib's parse_mappings does: items are comma-separated, surrounding
// whitespace (newlines included) is ignored and empty items skipped; each
// item has exactly one ":", a non-empty key and value; keys and values are
// unique. The value must be a valid Linux interface name (at most 15
// bytes, no whitespace, "/" or ":").
func ParseMappings(s string) (map[string]string, error) {
	out := map[string]string{}
	for _, item := range strings.Split(s, ",") {
		item = strings.TrimSpace(item)
		if item == "" {
			continue
		}
		parts := strings.Split(item, ":")
		if len(parts) != 2 {
			return nil, fmt.Errorf("invalid mapping %q: want physical_network:device", item)
		}
		k, v := strings.TrimSpace(parts[0]), strings.TrimSpace(parts[1])
		switch {
		case k == "":
			return nil, fmt.Errorf("missing physical network in mapping %q", item)
		case v == "":
			return nil, fmt.Errorf("missing device in mapping %q", item)
		case !validIfName(v):
			return nil, fmt.Errorf("mapping %q: %q is not a Linux interface name", item, v)
		}
		if _, dup := out[k]; dup {
			return nil, fmt.Errorf("physical network %q mapped twice (%q)", k, item)
		}
		for pk, pv := range out {
			if pv == v {
				return nil, fmt.Errorf("device %q mapped twice (to %q and %q)", v, pk, k)
			}
		}
		out[k] = v
	}
	return out, nil
}

func validIfName(s string) bool {
	if len(s) == 0 || len(s) > 15 || s == "." || s == ".." {
		return false
	}
	return !strings.ContainsFunc(s, func(r rune) bool { return r <= ' ' || r == '/' || r == ':' || r == 0x7f })
}

// String returns the mappings in the agent's own notation, sorted:
// "physical_interface_mappings = a:eth1,b:eth2; bridge_mappings = …".
func (m *AgentMappings) String() string {
	f := func(mm map[string]string) string {
		var items []string
		for k, v := range mm {
			items = append(items, k+":"+v)
		}
		slices.Sort(items)
		return strings.Join(items, ",")
	}
	s := "physical_interface_mappings = " + f(m.Interfaces)
	if len(m.Bridges) > 0 {
		s += "; bridge_mappings = " + f(m.Bridges)
	}
	return s
}
