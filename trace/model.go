package trace

import (
	"fmt"
	"io"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
)

// Verdict is the outcome of one hop or of a whole trace. Its zero value,
// Unknown, means the hop could not be judged (not reached, not applicable,
// or its evidence could not be read).
type Verdict uint8

// Verdicts, from least to most severe (Unknown sorts below OK).
const (
	Unknown Verdict = iota
	OK
	Warn
	Fail
)

var verdictNames = [...]string{"unknown", "ok", "warn", "fail"}

// String returns "unknown", "ok", "warn" or "fail".
func (v Verdict) String() string {
	if int(v) < len(verdictNames) {
		return verdictNames[v]
	}
	return fmt.Sprintf("verdict(%d)", uint8(v))
}

// MarshalText implements encoding.TextMarshaler.
func (v Verdict) MarshalText() ([]byte, error) {
	if int(v) >= len(verdictNames) {
		return nil, fmt.Errorf("trace: invalid verdict %d", uint8(v))
	}
	return []byte(v.String()), nil
}

// UnmarshalText implements encoding.TextUnmarshaler (any case).
func (v *Verdict) UnmarshalText(b []byte) error {
	for i, n := range verdictNames {
		if strings.EqualFold(string(b), n) {
			*v = Verdict(i)
			return nil
		}
	}
	return fmt.Errorf("trace: unknown verdict %q: want unknown, ok, warn or fail", b)
}

// Kind says what a hop inspects. The zero value "" means unknown.
type Kind string

// Hop kinds, in path order. Run produces KindDomain through KindHostCheck
// (the domain and interface hops are Unknown without Config.Libvirt);
// Server prepends KindServer and KindPort.
const (
	KindServer       Kind = "server"
	KindPort         Kind = "port"
	KindDomain       Kind = "domain"
	KindInterface    Kind = "interface"
	KindTap          Kind = "tap"
	KindBridge       Kind = "bridge"
	KindPhysicalPort Kind = "physical-port"
	KindFDB          Kind = "fdb"
	KindDHCPNS       Kind = "dhcp-namespace"
	KindDHCPIf       Kind = "dhcp-interface"
	KindDnsmasq      Kind = "dnsmasq"
	KindHostsEntry   Kind = "hosts-entry"
	KindLease        Kind = "lease"
	KindARP          Kind = "arp"
	KindCounters     Kind = "counters"
	KindHostCheck    Kind = "host-check"

	// Hops of the firewall the linuxbridge agent builds for the tap
	// (compute side) and the probes through it (network side).
	KindSecurityGroup Kind = "security-group"
	KindAntiSpoofing  Kind = "anti-spoofing"
	KindReachability  Kind = "reachability"

	// Hops of the rest of the path. KindGuest is the guest's own account
	// of its DHCP exchange, from the console log the domain XML declares
	// (Config.NoConsole skips it). KindMetadata is the qdhcp namespace's
	// metadata proxy, with one HTTP GET to 169.254.169.254:80 from inside
	// the namespace after the ARP sweep (Config.NoMetadataProbe skips the
	// GET). KindMTU compares the MTU the guest is told (DHCP option 26,
	// the libvirt <mtu>, or on a compute-only node the network's MTU from
	// the API) with every element's. KindAgents, right after the port
	// hop, judges the agents the port needs (JudgeAgents) from the one
	// agent list an observation reads (APIFacts.Agents); without the API
	// it is Unknown.
	KindGuest    Kind = "guest"
	KindMetadata Kind = "metadata"
	KindMTU      Kind = "mtu"
	KindAgents   Kind = "agents"

	// KindProviderLink is the cross-node hop of a joined trace: the
	// provider network between the compute node's and the network node's
	// physical ports.
	KindProviderLink Kind = "provider-link"
)

// MAC is hwaddr.MAC, the module's one hardware-address type (colon text
// in JSON and flags).
//
// Deprecated: use hwaddr.MAC; this alias stays for v0 callers.
type MAC = hwaddr.MAC

// Evidence is one fact a verdict rests on, e.g. {"oper_state", "up"}.
type Evidence struct {
	// Key names the fact; Value is what was seen.
	Key   string `json:"key"`
	Value string `json:"value"`
}

// Hop is one step of the path with its verdict.
type Hop struct {
	// Kind says what was inspected.
	Kind Kind `json:"kind"`
	// Name identifies the object: a device, namespace, file or check name.
	Name string `json:"name"`
	// Verdict is the outcome.
	Verdict Verdict `json:"verdict"`
	// Summary says what was found in one line.
	Summary string `json:"summary"`
	// Evidence lists the facts read, in the order they were read.
	Evidence []Evidence `json:"evidence,omitempty"`
	// Cause is, for a warn or fail, the likely cause in one line.
	Cause string `json:"cause,omitempty"`
	// Next is, for a warn or fail, what to check next.
	Next string `json:"next,omitempty"`
}

// add appends one piece of evidence.
func (h *Hop) add(key string, format string, args ...any) {
	if h.Evidence == nil {
		h.Evidence = make([]Evidence, 0, 8) // most hops carry a few
	}
	v, ok := plainValue(format, args)
	if !ok {
		v = fmt.Sprintf(format, args...)
	}
	h.Evidence = append(h.Evidence, Evidence{Key: key, Value: v})
}

// put appends one piece of evidence whose value is the string v as it
// is: add(key, "%s", v) without boxing v for fmt (a node's judges add
// thousands).
func (h *Hop) put(key, v string) {
	if h.Evidence == nil {
		h.Evidence = make([]Evidence, 0, 8)
	}
	h.Evidence = append(h.Evidence, Evidence{Key: key, Value: v})
}

// plainValue is fmt.Sprintf(format, args...) for the common one-argument
// forms that need no formatting ("%s" of a string, "%t" of a bool, "%d"
// of an int); ok is false for anything else.
func plainValue(format string, args []any) (string, bool) {
	if len(args) != 1 {
		return "", false
	}
	switch a := args[0].(type) {
	case string:
		return a, format == "%s"
	case bool:
		return strconv.FormatBool(a), format == "%t"
	case int:
		return strconv.Itoa(a), format == "%d"
	}
	return "", false
}

// Get returns the value of the first evidence with the given key and
// whether there was one.
func (h *Hop) Get(key string) (string, bool) {
	for _, e := range h.Evidence {
		if e.Key == key {
			return e.Value, true
		}
	}
	return "", false
}

// Target names the VM NIC to trace without an OpenStack API: set exactly
// one of PortID, MAC and Tap.
type Target struct {
	// PortID is a Neutron port ID (full or at least its first 11
	// characters); the tap is "tap" + its first 11 characters.
	PortID string `json:"port_id,omitempty"`
	// MAC is the Neutron port's (guest NIC's) MAC, fa:16:3e:…; the tap is
	// the bridge port whose MAC is the same NIC (linuxbridge.SameNIC).
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// Tap is the tap device's name, e.g. "tap31f2d3e9-8d".
	Tap string `json:"tap,omitempty"`
	// Domain optionally names the libvirt domain holding the NIC: its
	// name ("instance-0000000a"), UUID or Nova instance UUID. It is not
	// one of the three targets, only a hint for the domain hop. Zero
	// value: the domain is found by the tap (the domain whose interface
	// targets it).
	Domain string `json:"domain,omitempty"`
}

// String returns the target as given.
func (t Target) String() string {
	switch {
	case t.PortID != "":
		return "port " + t.PortID
	case t.MAC != nil:
		return "mac " + t.MAC.String()
	case t.Tap != "":
		return "tap " + t.Tap
	}
	return "(no target)"
}

// Trace is the result of one run: the hops in path order and an overall
// verdict. It is a plain value.
type Trace struct {
	// Target is what was asked for.
	Target Target `json:"target"`
	// Role is the side of the path this node traced (Config's effective
	// role: aio, compute or network).
	Role Role `json:"role"`
	// ServerID, ServerName and PortID name the Nova server and Neutron
	// port of this NIC when known (from the API, or from the domain's Nova
	// metadata and the tap's name); "" otherwise.
	ServerID   string `json:"server_id,omitempty"`
	ServerName string `json:"server_name,omitempty"`
	PortID     string `json:"port_id,omitempty"`
	// Tap, PortMAC, NetworkID and IP are the identities the trace resolved
	// ("" / nil / zero when it could not).
	Tap       string     `json:"tap,omitempty"`
	PortMAC   hwaddr.MAC `json:"port_mac,omitempty"`
	NetworkID string     `json:"network_id,omitempty"`
	IP        netip.Addr `json:"ip,omitzero"`
	// Domain is the libvirt domain's name ("" when not found or no
	// libvirt client was given).
	Domain string `json:"domain,omitempty"`
	// Verdict is the worst verdict among Hops (Unknown only when every hop
	// is Unknown).
	Verdict Verdict `json:"verdict"`
	// Hops are the hops in path order.
	Hops []Hop `json:"hops"`
	// Started is when the run began; Duration how long it took.
	Started  time.Time     `json:"started"`
	Duration time.Duration `json:"duration"`
	// Link is this node's end of the provider link, on a compute or
	// network node's trace (nil on an all-in-one's and on a joined
	// trace): what JoinTraces needs to join this half with the other
	// node's.
	Link *LinkEnd `json:"link,omitempty"`
}

// Hop returns the first hop of the given kind and name ("" matches any
// name), and whether there is one.
func (t *Trace) Hop(kind Kind, name string) (Hop, bool) {
	for _, h := range t.Hops {
		if h.Kind == kind && (name == "" || h.Name == name) {
			return h, true
		}
	}
	return Hop{}, false
}

// Worst returns the overall verdict of hops: Fail if any failed, else Warn
// if any warned, else OK if any was OK, else Unknown.
func Worst(hops []Hop) Verdict {
	v := Unknown
	for _, h := range hops {
		if h.Verdict > v {
			v = h.Verdict
		}
	}
	return v
}

// Failing returns the hops whose verdict is Warn or Fail.
func (t *Trace) Failing() []Hop {
	var out []Hop
	for _, h := range t.Hops {
		if h.Verdict == Warn || h.Verdict == Fail {
			out = append(out, h)
		}
	}
	return out
}

// ServerTrace is the result of Server: the server's identity as Nova has
// it and one Trace per Neutron port, each starting with the server hop and
// that port's hop. It is a plain value.
type ServerTrace struct {
	// ServerID, ServerName, Status, Host and InstanceName are what Nova
	// said ("" when it did not say: Host and InstanceName need the admin
	// role; a server in ERROR has no instance name in the fault report).
	ServerID string `json:"server_id"`
	// Role is the side of the path this node traced (as in each Trace).
	Role         Role   `json:"role"`
	ServerName   string `json:"server_name,omitempty"`
	Status       string `json:"status,omitempty"`
	Host         string `json:"host,omitempty"`
	InstanceName string `json:"instance_name,omitempty"`
	// Verdict is the worst verdict of all Traces.
	Verdict Verdict `json:"verdict"`
	// Traces holds one trace per port, in Neutron's order; a server
	// without ports has one Trace holding the server hop and a failed port
	// hop.
	Traces []*Trace `json:"traces"`
}

// WriteText writes each port's trace (see Trace.WriteText), separated by a
// blank line.
func (s *ServerTrace) WriteText(w io.Writer) error {
	for i, t := range s.Traces {
		if i > 0 {
			if _, err := io.WriteString(w, "\n"); err != nil {
				return err
			}
		}
		if err := t.WriteText(w); err != nil {
			return err
		}
	}
	return nil
}
