package firewall

import (
	"regexp"
	"slices"
	"strings"
)

// EbtablesTool is the ebtables the linuxbridge agent runs, as Read found
// it (read-only: where `ebtables` resolves in the agent's PATH, the first
// bytes of a wrapper script, `ebtables --version`).
type EbtablesTool struct {
	// Path is where `ebtables` resolves in the agent's search path
	// (Config.EbtablesPath); "" when none was found.
	Path string `json:"path,omitempty"`
	// Wrapper is set when Path is a script in front of the real tool:
	// WrapperAIO for the project's aio/ebtables-among.sh (recognised by
	// its marker line), WrapperOther for any other script.
	Wrapper string `json:"wrapper,omitempty"`
	// Real is the binary the version was read from (Config.Ebtables).
	Real string `json:"real,omitempty"`
	// Version is `ebtables --version`'s first line ("ebtables 1.8.9
	// (nf_tables)"); "" when it could not be run.
	Version string `json:"version,omitempty"`
	// Backend is nft or legacy, from the version line.
	Backend Backend `json:"backend,omitempty"`
}

// Wrapper kinds of EbtablesTool.Wrapper.
const (
	// WrapperAIO is aio/ebtables-among.sh, which turns a delete by spec
	// of an among rule into a delete by number.
	WrapperAIO = "aio-ebtables-among"
	// WrapperOther is a script this package does not know.
	WrapperOther = "script"
)

// wrapperMarker is the line aio/ebtables-among.sh carries.
const wrapperMarker = "vifpath-aio-ebtables-wrapper"

// AmongDeleteFails lists the ebtables-nft versions known to fail deleting
// a rule with an --among-src match by its spec (`ebtables -t nat -D CHAIN
// -i tap… --among-src MAC -j RETURN` exits 4, "RULE_DELETE failed
// (Invalid argument)", even with the spec exactly as added): 1.8.9,
// Debian 12's, seen on the project's cloud and re-checked against the
// real binary by TestIntegrationEbtablesAmongDelete.
var AmongDeleteFails = []string{"1.8.9"}

var ebVersionRE = regexp.MustCompile(`v?(\d+\.\d+(?:\.\d+)?)`)

// VersionNumber is the version's number ("1.8.9"), "" when unknown.
func (t EbtablesTool) VersionNumber() string {
	m := ebVersionRE.FindStringSubmatch(t.Version)
	if m == nil {
		return ""
	}
	return m[1]
}

// AmongDeleteFails reports whether this tool cannot delete an among rule
// by its spec and nothing in front of it works around that: an nft
// backend at a version in AmongDeleteFails, with no aio wrapper.
func (t EbtablesTool) AmongDeleteFails() bool {
	return t.Backend == BackendNFT && slices.Contains(AmongDeleteFails, t.VersionNumber()) && t.Wrapper != WrapperAIO
}

func parseEbtablesVersion(out string) (string, Backend) {
	line, _, _ := strings.Cut(strings.TrimSpace(out), "\n")
	line = strings.TrimSpace(line)
	switch {
	case strings.Contains(line, "nf_tables"):
		return line, BackendNFT
	case strings.Contains(line, "legacy"):
		return line, BackendLegacy
	}
	return line, ""
}

// AmongRules returns the rules of the agent's anti-spoofing chains
// (neutronMAC-…, neutronARP-…) that use an among match: the ones the
// agent deletes by spec when it re-wires a port.
func (s *Snapshot) AmongRules() []EbRule {
	if s.Ebtables == nil {
		return nil
	}
	var out []EbRule
	for _, c := range s.Ebtables.Chains {
		if !strings.HasPrefix(c.Name, EbMACPrefix) && !strings.HasPrefix(c.Name, EbARPPrefix) {
			continue
		}
		for _, r := range c.Rules {
			if len(r.AmongSrc) > 0 || strings.Contains(r.Spec, "--among-") {
				out = append(out, r)
			}
		}
	}
	return out
}
