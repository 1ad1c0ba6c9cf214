package dhcpns

import "github.com/vifpath/vifpath/hwaddr"

// CheckStatus is the outcome of one health check. The zero value means
// unknown.
type CheckStatus int

// Check outcomes, from best to worst (Skipped sorts as unknown).
const (
	StatusUnknown CheckStatus = iota
	StatusOK
	StatusSkipped
	StatusWarn
	StatusFail
)

var statusNames = [...]string{"unknown", "ok", "skipped", "warn", "fail"}

// String returns "ok", "warn", "fail", "skipped" or "unknown".
func (s CheckStatus) String() string {
	if s < 0 || int(s) >= len(statusNames) {
		return "unknown"
	}
	return statusNames[s]
}

// MarshalText implements encoding.TextMarshaler.
func (s CheckStatus) MarshalText() ([]byte, error) { return []byte(s.String()), nil }

// UnmarshalText implements encoding.TextUnmarshaler; it reads what
// MarshalText writes.
func (s *CheckStatus) UnmarshalText(b []byte) error {
	return unmarshalEnum(b, statusNames[:], (*int)(s), "check status")
}

// Check names, in the order CheckHealth runs them.
const (
	CheckNamespace = "namespace"
	CheckDnsmasq   = "dnsmasq"
	CheckInterface = "interface"
	CheckHost      = "host"
	CheckLease     = "lease"
)

// Check is one verdict with the evidence it rests on.
type Check struct {
	// Name is one of the Check* constants.
	Name string `json:"name"`
	// Status is the verdict.
	Status CheckStatus `json:"status"`
	// Summary says the verdict in one line, and what to do when it is not ok.
	Summary string `json:"summary"`
	// Evidence lists what was read: paths, pids, states, file lines.
	Evidence []string `json:"evidence,omitempty"`
	// Reason says why the check is not ok, as a typed fact (ReasonNone
	// when it is ok or has no particular reason).
	Reason Reason `json:"reason,omitzero"`
}

// DnsmasqStatus is what FindDnsmasq found for one network.
type DnsmasqStatus struct {
	// NetworkID is the network asked about.
	NetworkID string `json:"network_id"`
	// NamespaceInode is the inode of qdhcp-<network>, 0 if it is missing.
	NamespaceInode uint64 `json:"namespace_inode,omitempty"`
	// PIDFile is the pid file read (StateDir/<network>/pid).
	PIDFile string `json:"pid_file"`
	// PIDFromFile is the pid it holds, 0 if it could not be read.
	PIDFromFile int `json:"pid_from_file,omitempty"`
	// PIDFileError says why the pid file could not be used, "" if it could.
	PIDFileError string `json:"pid_file_error,omitempty"`
	// Process is the process the pid file names, nil if there is none.
	Process *Process `json:"process,omitempty"`
	// InNamespace are the dnsmasq processes whose network namespace is
	// qdhcp-<network>, from one pass over /proc.
	InNamespace []Process `json:"in_namespace"`
	// Alive is Neutron's own liveness rule: the pid file's process exists,
	// is not a zombie, and its command line names the network.
	Alive bool `json:"alive"`
	// InsideNamespace is true when that process runs in qdhcp-<network>.
	InsideNamespace bool `json:"inside_namespace"`
	// CmdlineHasNetwork is true when its command line names the network.
	CmdlineHasNetwork bool `json:"cmdline_has_network"`
}

// Config returns the parsed command line of the serving dnsmasq (the pid
// file's process, else the first found in the namespace), or nil.
func (s *DnsmasqStatus) Config() *DnsmasqConfig {
	if s.Process != nil && s.Process.Config != nil {
		return s.Process.Config
	}
	for _, p := range s.InNamespace {
		if p.Config != nil {
			return p.Config
		}
	}
	return nil
}

// Health is the DHCP health of one network, with evidence. It is a plain
// value.
type Health struct {
	// NetworkID is the network asked about.
	NetworkID string `json:"network_id"`
	// MAC is the port MAC asked about, nil if none (host and lease checks
	// are then skipped).
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// Status is the worst status among Checks.
	Status CheckStatus `json:"status"`
	// Checks are the verdicts in order: namespace, dnsmasq, interface, host,
	// lease.
	Checks []Check `json:"checks"`
	// Namespace is the namespace found, nil if missing.
	Namespace *NamespaceInfo `json:"namespace,omitempty"`
	// Snapshot is the namespace's tables, nil if it could not be inspected.
	Snapshot *Snapshot `json:"snapshot,omitempty"`
	// Dnsmasq is what the process search found.
	Dnsmasq *DnsmasqStatus `json:"dnsmasq,omitempty"`
	// ServingInterface is the interface dnsmasq serves on ("" if unknown).
	ServingInterface string `json:"serving_interface,omitempty"`
	// Host is the hosts-file entry for MAC, nil if none.
	Host *Host `json:"host,omitempty"`
	// Lease is the lease row for MAC, nil if none.
	Lease *Lease `json:"lease,omitempty"`
}

// Check returns the named check, and false if it was not run.
func (h *Health) Check(name string) (Check, bool) {
	for _, c := range h.Checks {
		if c.Name == name {
			return c, true
		}
	}
	return Check{}, false
}

func (h *Health) add(c Check) {
	h.Checks = append(h.Checks, c)
	s := c.Status
	if s == StatusSkipped {
		s = StatusOK
	}
	if s > h.Status {
		h.Status = s
	}
}
