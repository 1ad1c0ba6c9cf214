package trace

import (
	"io"

	"github.com/vifpath/vifpath/linuxbridge"
)

// DefaultAgentConfig is where Neutron's linuxbridge agent reads its
// configuration (Config.AgentConfig's zero value).
const DefaultAgentConfig = linuxbridge.DefaultAgentConfig

// AgentMappings is linuxbridge.AgentMappings.
//
// Deprecated: use linuxbridge.AgentMappings; this alias stays for v0
// callers.
type AgentMappings = linuxbridge.AgentMappings

// ReadAgentConfig is linuxbridge.ReadAgentConfig.
//
// Deprecated: use linuxbridge.ReadAgentConfig.
func ReadAgentConfig(path string) (*AgentMappings, error) { return linuxbridge.ReadAgentConfig(path) }

// ParseAgentConfig is linuxbridge.ParseAgentConfig.
//
// Deprecated: use linuxbridge.ParseAgentConfig.
func ParseAgentConfig(r io.Reader) (*AgentMappings, error) { return linuxbridge.ParseAgentConfig(r) }

// ParseMappings is linuxbridge.ParseMappings.
//
// Deprecated: use linuxbridge.ParseMappings.
func ParseMappings(s string) (map[string]string, error) { return linuxbridge.ParseMappings(s) }
