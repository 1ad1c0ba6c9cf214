package libvirtinspect

import (
	"context"
	"strconv"
	"strings"

	libvirt "github.com/digitalocean/go-libvirt"
)

// StatsGroup selects groups of `virsh domstats` (libvirt's
// virDomainStatsTypes). Combine with |. The zero value asks for every group
// the hypervisor supports.
type StatsGroup uint32

// Stats groups.
const (
	StatsState     StatsGroup = 1 << 0
	StatsCPU       StatsGroup = 1 << 1
	StatsBalloon   StatsGroup = 1 << 2
	StatsVCPU      StatsGroup = 1 << 3
	StatsInterface StatsGroup = 1 << 4
	StatsBlock     StatsGroup = 1 << 5
	StatsPerf      StatsGroup = 1 << 6
	StatsIOThread  StatsGroup = 1 << 7
	StatsMemory    StatsGroup = 1 << 8
	StatsDirtyRate StatsGroup = 1 << 9
	StatsVM        StatsGroup = 1 << 10
)

// StatsRequest chooses what Stats returns. A nil *StatsRequest means every
// group of every domain.
type StatsRequest struct {
	// Groups to fetch. Zero: all groups the hypervisor supports (the test
	// driver supports only StatsState).
	Groups StatsGroup
	// ActiveOnly limits the result to running domains. Zero: running and
	// stopped domains (virsh domstats without --list-*).
	ActiveOnly bool
	// Wait waits for domains that are busy with a job. Zero (false): the
	// NOWAIT flag is sent, so a domain locked by a long job returns what
	// is available instead of stalling every other domain.
	Wait bool
}

// DomainStats is one domain's record from Stats. Groups that were not asked
// for or not returned are nil/empty.
type DomainStats struct {
	// Domain is the domain the record is about.
	Domain Domain `json:"domain"`
	// State is the state group (state.*).
	State *StateStats `json:"state,omitempty"`
	// CPU is the cpu-total group (cpu.*).
	CPU *CPUStats `json:"cpu,omitempty"`
	// Balloon is the balloon group (balloon.*).
	Balloon *BalloonStats `json:"balloon,omitempty"`
	// VCPU is the vcpu group (vcpu.*).
	VCPU *VCPUStats `json:"vcpu,omitempty"`
	// Interfaces are the interface group's blocks (net.N.*), by N.
	Interfaces []InterfaceStats `json:"interfaces,omitempty"`
	// Blocks are the block group's blocks (block.N.*), by N.
	Blocks []BlockStats `json:"blocks,omitempty"`
	// Extra keeps every parameter this package does not decode, keyed by
	// its libvirt name ("dirtyrate.calc_mode", "perf.cmt"), with its value
	// as int64, uint64, float64, bool or string.
	Extra map[string]any `json:"extra,omitempty"`
}

// StateStats is the state group.
type StateStats struct {
	// State is state.state.
	State State `json:"state"`
	// Reason is state.reason, read against State.
	Reason Reason `json:"reason"`
}

// CPUStats is the cpu-total group; times in nanoseconds.
type CPUStats struct {
	// TimeNs is cpu.time: CPU time the domain used in total.
	TimeNs uint64 `json:"time_ns"`
	// UserNs and SystemNs are cpu.user and cpu.system.
	UserNs   uint64 `json:"user_ns"`
	SystemNs uint64 `json:"system_ns"`
}

// BalloonStats is the balloon group; sizes in KiB.
type BalloonStats struct {
	// CurrentKiB and MaximumKiB are balloon.current and balloon.maximum:
	// the memory the guest has now and may have at most.
	CurrentKiB uint64 `json:"current_kib"`
	MaximumKiB uint64 `json:"maximum_kib"`
	// RSSKiB is balloon.rss: the qemu process's resident set on the host.
	RSSKiB uint64 `json:"rss_kib"`
	// LastUpdate is the guest's last stats update (seconds since the
	// epoch); 0 when the guest never reported.
	LastUpdate int64 `json:"last_update,omitempty"`
}

// VCPUStats is the vcpu group.
type VCPUStats struct {
	// Current and Maximum are vcpu.current and vcpu.maximum.
	Current int `json:"current"`
	Maximum int `json:"maximum"`
	// VCPUs are the vcpu.N.* blocks, by N.
	VCPUs []VCPUStat `json:"vcpus,omitempty"`
}

// VCPUStat is one virtual CPU.
type VCPUStat struct {
	// State is vcpu.N.state (libvirt's virVcpuState: 0 offline, 1
	// running, 2 blocked).
	State int `json:"state"`
	// TimeNs, WaitNs and DelayNs are vcpu.N.time, .wait and .delay.
	TimeNs  uint64 `json:"time_ns"`
	WaitNs  uint64 `json:"wait_ns"`
	DelayNs uint64 `json:"delay_ns"`
}

// InterfaceStats is one net.N.* block, with counters seen from the host
// device Name (the tap), as every counter in this module is
// (linuxbridge.Stats, `ip -s link`): Rx is what the tap received, which is
// what the guest sent; Tx is what the tap transmitted, which the guest
// received. libvirt reports them the other way round, from the guest's
// side, so `virsh domstats` prints net.N.rx.* for what is TxBytes,
// TxPackets, TxErrors and TxDropped here, and net.N.tx.* for the Rx
// fields.
type InterfaceStats struct {
	// Name is the host device (the tap, Interface.Target).
	Name string `json:"name"`
	// RxBytes and RxPackets are what the tap received: the guest sent them
	// (libvirt's net.N.tx.bytes and tx.pkts).
	RxBytes   uint64 `json:"rx_bytes"`
	RxPackets uint64 `json:"rx_packets"`
	// RxErrors and RxDropped are libvirt's net.N.tx.errs and tx.drop.
	RxErrors  uint64 `json:"rx_errors"`
	RxDropped uint64 `json:"rx_dropped"`
	// TxBytes and TxPackets are what the tap transmitted: the guest
	// received them (libvirt's net.N.rx.bytes and rx.pkts).
	TxBytes   uint64 `json:"tx_bytes"`
	TxPackets uint64 `json:"tx_packets"`
	// TxErrors and TxDropped are libvirt's net.N.rx.errs and rx.drop
	// (TxDropped: frames the bridge sent the guest that it did not take).
	TxErrors  uint64 `json:"tx_errors"`
	TxDropped uint64 `json:"tx_dropped"`
}

// BlockStats is one block.N.* block; times in nanoseconds, sizes in bytes.
type BlockStats struct {
	// Name is the target device ("vda").
	Name string `json:"name"`
	// Path is the source file or device, "" for network disks.
	Path string `json:"path,omitempty"`
	// BackingIndex is the position in the backing chain, 0 for the top.
	BackingIndex int `json:"backing_index,omitempty"`
	// The rest are block.N.rd.reqs, rd.bytes, rd.times, wr.*, fl.*,
	// allocation, capacity and physical.
	RdReqs     uint64 `json:"rd_reqs"`
	RdBytes    uint64 `json:"rd_bytes"`
	RdTimesNs  uint64 `json:"rd_times_ns"`
	WrReqs     uint64 `json:"wr_reqs"`
	WrBytes    uint64 `json:"wr_bytes"`
	WrTimesNs  uint64 `json:"wr_times_ns"`
	FlReqs     uint64 `json:"fl_reqs"`
	FlTimesNs  uint64 `json:"fl_times_ns"`
	Allocation uint64 `json:"allocation"`
	Capacity   uint64 `json:"capacity"`
	Physical   uint64 `json:"physical"`
}

// Stats fetches the chosen stats groups of all domains in ONE RPC
// (ConnectGetAllDomainStats, what `virsh domstats` sends).
//
// It runs on a second connection to the same libvirtd, the Client's stats
// connection, opened with the same Dialer and URI on the first Stats call
// (AUTH_LIST and CONNECT_OPEN, once per connection) and again after it was
// lost, and decodes the reply with a hand-written XDR decoder, which is
// several times cheaper than go-libvirt's reflection decoder for hundreds
// of domains. Cancellation, AbandonTimeout and Close work as for every
// other call.
func (c *Client) Stats(ctx context.Context, req *StatsRequest) ([]DomainStats, error) {
	if req == nil {
		req = &StatsRequest{}
	}
	flags := libvirt.ConnectGetAllDomainsStatsActive
	if !req.ActiveOnly {
		flags |= libvirt.ConnectGetAllDomainsStatsInactive
	}
	if !req.Wait {
		flags |= libvirt.ConnectGetAllDomainsStatsNowait
	}
	// On the stats connection, decoded by hand (statsrpc.go).
	return c.statsRPC(ctx, "domain stats", uint32(req.Groups), uint32(flags))
}

// Param is one typed parameter as libvirt sends it, for DecodeStats.
type Param struct {
	// Field is the parameter's name ("net.0.rx.bytes").
	Field string `json:"field"`
	// Value is int32, uint32, int64, uint64, float64, bool or string.
	Value any `json:"value"`
}

// DecodeStats decodes one domain's stats parameters (the `key=value` lines
// of `virsh domstats`) into a DomainStats. It is exported so recorded
// output can be decoded without a daemon; Stats uses it.
func DecodeStats(d Domain, params []Param) DomainStats {
	s := DomainStats{Domain: d}
	for _, p := range params {
		s.set(p.Field, p.Value)
	}
	if s.State != nil {
		s.Domain.State, s.Domain.Reason = s.State.State, s.State.Reason
	}
	return s
}

func decodeStats(r libvirt.DomainStatsRecord) DomainStats {
	ps := make([]Param, len(r.Params))
	for i, p := range r.Params {
		v := p.Value.I
		if p.Value.D == 6 { // boolean travels as int32
			if n, ok := v.(int32); ok {
				v = n != 0
			}
		}
		ps[i] = Param{Field: p.Field, Value: v}
	}
	return DecodeStats(fromLibvirt(r.Dom), ps)
}

func u64(v any) (uint64, bool) {
	switch n := v.(type) {
	case uint64:
		return n, true
	case int64:
		return uint64(n), n >= 0
	case uint32:
		return uint64(n), true
	case int32:
		return uint64(n), n >= 0
	case float64:
		return uint64(n), n >= 0
	case string:
		x, err := strconv.ParseUint(n, 10, 64)
		return x, err == nil
	}
	return 0, false
}

func i64(v any) (int64, bool) {
	switch n := v.(type) {
	case int64:
		return n, true
	case uint64:
		return int64(n), true
	case uint32:
		return int64(n), true
	case int32:
		return int64(n), true
	case string:
		x, err := strconv.ParseInt(n, 10, 64)
		return x, err == nil
	}
	return 0, false
}

// index splits "net.3.rx.bytes" into 3 and "rx.bytes".
func index(rest string) (int, string, bool) {
	i := strings.IndexByte(rest, '.')
	if i <= 0 {
		return 0, "", false
	}
	n, err := strconv.Atoi(rest[:i])
	if err != nil || n < 0 || n > 1<<16 {
		return 0, "", false
	}
	return n, rest[i+1:], true
}

func (s *DomainStats) extra(k string, v any) {
	if s.Extra == nil {
		s.Extra = map[string]any{}
	}
	switch n := v.(type) {
	case int32:
		v = int64(n)
	case uint32:
		v = uint64(n)
	}
	s.Extra[k] = v
}

func (s *DomainStats) set(k string, v any) {
	u, uok := u64(v)
	str, _ := v.(string)
	known := true
	group, rest, _ := strings.Cut(k, ".")
	switch group {
	case "state":
		if s.State == nil {
			s.State = &StateStats{}
		}
		n, ok := i64(v)
		switch {
		case rest == "state" && ok:
			s.State.State = State(n)
			s.State.Reason.State = State(n)
		case rest == "reason" && ok:
			s.State.Reason.Code = int(n)
		default:
			known = false
		}
	case "cpu":
		if s.CPU == nil {
			s.CPU = &CPUStats{}
		}
		switch {
		case rest == "time" && uok:
			s.CPU.TimeNs = u
		case rest == "user" && uok:
			s.CPU.UserNs = u
		case rest == "system" && uok:
			s.CPU.SystemNs = u
		default:
			known = false
		}
	case "balloon":
		if s.Balloon == nil {
			s.Balloon = &BalloonStats{}
		}
		switch {
		case rest == "current" && uok:
			s.Balloon.CurrentKiB = u
		case rest == "maximum" && uok:
			s.Balloon.MaximumKiB = u
		case rest == "rss" && uok:
			s.Balloon.RSSKiB = u
		case rest == "last-update" && uok:
			s.Balloon.LastUpdate = int64(u)
		default:
			known = false
		}
	case "vcpu":
		if s.VCPU == nil {
			s.VCPU = &VCPUStats{}
		}
		switch {
		case rest == "current" && uok:
			s.VCPU.Current = int(u)
		case rest == "maximum" && uok:
			s.VCPU.Maximum = int(u)
		default:
			i, f, ok := index(rest)
			if !ok || i > 4096 {
				known = false
				break
			}
			for len(s.VCPU.VCPUs) <= i {
				s.VCPU.VCPUs = append(s.VCPU.VCPUs, VCPUStat{})
			}
			c := &s.VCPU.VCPUs[i]
			switch {
			case f == "state" && uok:
				c.State = int(u)
			case f == "time" && uok:
				c.TimeNs = u
			case f == "wait" && uok:
				c.WaitNs = u
			case f == "delay" && uok:
				c.DelayNs = u
			default:
				known = false
			}
		}
	case "net":
		if rest == "count" {
			if s.Interfaces == nil && u > 0 && u <= 4096 {
				s.Interfaces = make([]InterfaceStats, 0, u)
			}
			return
		}
		i, f, ok := index(rest)
		if !ok || i > 4096 {
			known = false
			break
		}
		for len(s.Interfaces) <= i {
			s.Interfaces = append(s.Interfaces, InterfaceStats{})
		}
		n := &s.Interfaces[i]
		switch {
		case f == "name":
			n.Name = str
		// libvirt counts from the guest's side; InterfaceStats from the
		// tap's: its rx is our tx.
		case f == "rx.bytes" && uok:
			n.TxBytes = u
		case f == "rx.pkts" && uok:
			n.TxPackets = u
		case f == "rx.errs" && uok:
			n.TxErrors = u
		case f == "rx.drop" && uok:
			n.TxDropped = u
		case f == "tx.bytes" && uok:
			n.RxBytes = u
		case f == "tx.pkts" && uok:
			n.RxPackets = u
		case f == "tx.errs" && uok:
			n.RxErrors = u
		case f == "tx.drop" && uok:
			n.RxDropped = u
		default:
			known = false
		}
	case "block":
		if rest == "count" {
			if s.Blocks == nil && u > 0 && u <= 4096 {
				s.Blocks = make([]BlockStats, 0, u)
			}
			return
		}
		i, f, ok := index(rest)
		if !ok || i > 4096 {
			known = false
			break
		}
		for len(s.Blocks) <= i {
			s.Blocks = append(s.Blocks, BlockStats{})
		}
		b := &s.Blocks[i]
		switch {
		case f == "name":
			b.Name = str
		case f == "path":
			b.Path = str
		case f == "backingIndex" && uok:
			b.BackingIndex = int(u)
		case f == "rd.reqs" && uok:
			b.RdReqs = u
		case f == "rd.bytes" && uok:
			b.RdBytes = u
		case f == "rd.times" && uok:
			b.RdTimesNs = u
		case f == "wr.reqs" && uok:
			b.WrReqs = u
		case f == "wr.bytes" && uok:
			b.WrBytes = u
		case f == "wr.times" && uok:
			b.WrTimesNs = u
		case f == "fl.reqs" && uok:
			b.FlReqs = u
		case f == "fl.times" && uok:
			b.FlTimesNs = u
		case f == "allocation" && uok:
			b.Allocation = u
		case f == "capacity" && uok:
			b.Capacity = u
		case f == "physical" && uok:
			b.Physical = u
		default:
			known = false
		}
	default:
		known = false
	}
	if !known {
		s.extra(k, v)
	}
}
