package dhcpns

// Process is a process found in /proc.
type Process struct {
	// PID is the process id.
	PID int `json:"pid"`
	// Comm is the command name from /proc/<pid>/stat.
	Comm string `json:"comm"`
	// State is the one-letter state from /proc/<pid>/stat ("S", "R", "Z", …).
	State string `json:"state"`
	// NetNSInode is the inode of the process's network namespace; 0 when it
	// could not be read (zombies have none).
	NetNSInode uint64 `json:"netns_inode,omitempty"`
	// Args is the command line (empty for a zombie).
	Args []string `json:"args,omitempty"`
	// Config is Args parsed, nil when Args is not a dnsmasq command line.
	Config *DnsmasqConfig `json:"config,omitempty"`
}

// Zombie reports whether the process has exited and waits to be reaped. A
// zombie still answers kill(pid, 0), but it serves nothing: it is dead.
func (p Process) Zombie() bool { return p.State == "Z" || p.State == "X" }

// Stopped reports whether the process is stopped by a signal or traced
// (state T or t): it exists, so Neutron counts it alive, but it answers
// nothing until it gets SIGCONT.
func (p Process) Stopped() bool { return p.State == "T" || p.State == "t" }

// Alive reports whether the process exists and is not a zombie.
func (p Process) Alive() bool { return p.PID > 0 && p.State != "" && !p.Zombie() }
