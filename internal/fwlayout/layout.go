package fwlayout

import (
	"fmt"
	"net/netip"
	"sort"
	"strings"

	"github.com/vifpath/vifpath/firewall"
	"github.com/vifpath/vifpath/hwaddr"
)

// Port is one port the agent filters.
type Port struct {
	// ID is the Neutron port ID (the tap is "tap" + ID[:11]).
	ID string
	// MAC is the port's MAC.
	MAC hwaddr.MAC
	// IPs are the port's fixed IPs.
	IPs []netip.Addr
	// Pairs are allowed address pairs (MAC nil: the port's MAC).
	Pairs []Pair
	// Groups are the port's security groups.
	Groups []Group
	// NoICMP, NoSSH leave out the walkthrough's two ingress rules from
	// the rendered chain though the groups hold them (the demo's faults).
	NoICMP, NoSSH bool
	// NoARPFor leaves out the ebtables --arp-ip-src rule of these
	// addresses (anti-spoofing dropping the VM's ARP).
	NoARPFor []netip.Addr
	// NoSpoofFor leaves out the spoof chain's IP/MAC rule of these
	// addresses (either family; an IPv6 link-local included).
	NoSpoofFor []netip.Addr
	// NoND leaves out the ICMPv6 neighbour solicitation and
	// advertisement RETURNs from the IPv6 ingress chain (IPv6 broken
	// even with the groups open).
	NoND bool
}

// Pair is an allowed address pair.
type Pair struct {
	IP  netip.Prefix
	MAC hwaddr.MAC
}

// Group is a security group with its rules and its members' addresses.
type Group struct {
	ID      string
	Rules   []Rule
	Members []netip.Addr
}

// Rule is a security group rule as Neutron's API holds it.
type Rule struct {
	Direction      string // ingress or egress
	Ethertype      string // IPv4 or IPv6
	Protocol       string // "", icmp, tcp, udp
	PortMin        int    // 0: none
	PortMax        int
	RemoteIPPrefix string
	RemoteGroupID  string
}

// Tap is the port's tap name.
func (p Port) Tap() string { return firewall.TapName(p.ID) }

const (
	cmtSGJump   = "Direct traffic from the VM interface to the security group chain."
	cmtInput    = "Direct incoming traffic from VM to the security group chain."
	cmtVMChain  = "Jump to the VM specific chain."
	cmtAssoc    = "Direct packets associated with a known session to the RETURN chain."
	cmtInvalid  = "Drop packets that appear related to an existing connection (e.g. TCP ACK/FIN) but do not have an entry in conntrack."
	cmtUnmatch  = "Send unmatched traffic to the fallback chain."
	cmtFallback = "Default drop rule for unmatched traffic."
	cmtPair     = "Allow traffic from defined IP/MAC pairs."
	cmtPairDrop = "Drop traffic without an IP/MAC allow rule."
	cmtDHCP     = "Allow DHCP client traffic."
	cmtDHCPSpf  = "Prevent DHCP Spoofing by VM."
	cmtICMPv6   = "Allow IPv6 ICMP traffic."
	cmtRADrop   = "Drop IPv6 Router Advts from VM Instance."
)

func q(s string) string { return `"` + s + `"` }

// IPTablesRestore renders the IPv4 filter table for ports as
// iptables-restore input (as the agent's iptables_manager applies it).
func IPTablesRestore(ports []Port) string { return FilterRestore(ports, firewall.IPv4) }

// IP6TablesRestore renders the IPv6 filter table for ports as
// ip6tables-restore input: the agent writes a port's chains in both
// families whatever its addresses (neutron/agent/linux/iptables_firewall.py).
func IP6TablesRestore(ports []Port) string { return FilterRestore(ports, firewall.IPv6) }

// icmpv6 rules the agent writes whatever the groups say
// (neutron/agent/firewall.py and neutron_lib constants).
var (
	// ICMPv6IngressTypes are admitted into every port: MLD query, NS, NA.
	icmpv6IngressTypes = []int{130, 135, 136}
	// icmpv6UnspecTypes are admitted from :: to ff02::/16 out of every
	// port (DAD): MLD report, NS, MLDv2 report.
	icmpv6UnspecTypes = []int{131, 135, 143}
)

func is(f firewall.Family, a netip.Addr) bool { return a.Is4() == (f == firewall.IPv4) }

// spoofPairs are the (MAC, address) pairs of the port's spoof chain in
// family f, in the agent's order: allowed address pairs, then fixed IPs
// (each IPv6 one followed once by the link-local of its MAC); a port
// without fixed IPs gets its MAC alone (an invalid prefix).
func (p Port) spoofPairs(f firewall.Family) []Pair {
	var out []Pair
	add := func(pr Pair) {
		for _, o := range out {
			if o.IP == pr.IP && o.MAC.Equal(pr.MAC) {
				return
			}
		}
		out = append(out, pr)
	}
	withLLA := func(ip netip.Prefix, mac hwaddr.MAC) {
		add(Pair{IP: ip, MAC: mac})
		if f == firewall.IPv6 {
			add(Pair{IP: netip.PrefixFrom(firewall.LinkLocal(mac), 128), MAC: mac})
		}
	}
	for _, pr := range p.Pairs {
		m := pr.MAC
		if m == nil {
			m = p.MAC
		}
		if is(f, pr.IP.Addr()) {
			withLLA(pr.IP, m)
		}
	}
	for _, ip := range p.IPs {
		if is(f, ip) {
			withLLA(netip.PrefixFrom(ip, ip.BitLen()), p.MAC)
		}
	}
	if len(p.IPs) == 0 {
		out = append(out, Pair{MAC: p.MAC})
	}
	return out
}

// FilterRestore renders the filter table of family f for ports as
// (ip6)iptables-restore input, rule for rule as the agent writes it.
func FilterRestore(ports []Port, f firewall.Family) string {
	var b strings.Builder
	c := firewall.ChainPrefix
	v6 := f == firewall.IPv6
	chains := []string{"neutron-filter-top", c + "FORWARD", c + "INPUT", c + "OUTPUT", c + "local", firewall.SGChain, firewall.FallbackChain}
	for _, p := range ports {
		chains = append(chains, firewall.PortChain(p.ID, firewall.Ingress), firewall.PortChain(p.ID, firewall.Egress))
		if len(p.spoofPairs(f)) > 0 {
			chains = append(chains, firewall.PortChain(p.ID, firewall.Spoof))
		}
	}
	sort.Strings(chains)
	b.WriteString("*filter\n:INPUT ACCEPT [0:0]\n:FORWARD ACCEPT [0:0]\n:OUTPUT ACCEPT [0:0]\n")
	for _, ch := range chains {
		fmt.Fprintf(&b, ":%s - [0:0]\n", ch)
	}
	w := func(chain, spec string) { fmt.Fprintf(&b, "-A %s %s\n", chain, spec) }
	w("INPUT", "-j "+c+"INPUT")
	w("FORWARD", "-j neutron-filter-top")
	w("FORWARD", "-j "+c+"FORWARD")
	w("OUTPUT", "-j neutron-filter-top")
	w("OUTPUT", "-j "+c+"OUTPUT")
	w("neutron-filter-top", "-j "+c+"local")
	for _, p := range ports {
		tap := p.Tap()
		w(c+"FORWARD", "-m physdev --physdev-out "+tap+" --physdev-is-bridged -m comment --comment "+q(cmtSGJump)+" -j "+firewall.SGChain)
		w(c+"FORWARD", "-m physdev --physdev-in "+tap+" --physdev-is-bridged -m comment --comment "+q(cmtSGJump)+" -j "+firewall.SGChain)
		w(c+"INPUT", "-m physdev --physdev-in "+tap+" --physdev-is-bridged -m comment --comment "+q(cmtInput)+" -j "+firewall.PortChain(p.ID, firewall.Egress))
	}
	ethertype := "IPv4"
	if v6 {
		ethertype = "IPv6"
	}
	groupRules := func(p Port, dir string) []string {
		var out []string
		seen := map[string]bool{}
		for _, g := range p.Groups {
			for _, r := range g.Rules {
				if r.Direction != dir || r.Ethertype != ethertype {
					continue
				}
				if dir == "ingress" && (p.NoICMP && isICMP(r.Protocol) || p.NoSSH && r.Protocol == "tcp" && r.PortMin == 22) {
					continue
				}
				spec := ruleSpec(r)
				if !seen[spec] {
					seen[spec] = true
					out = append(out, spec)
				}
			}
		}
		return out
	}
	for _, p := range ports {
		in, out, spoof := firewall.PortChain(p.ID, firewall.Ingress), firewall.PortChain(p.ID, firewall.Egress), firewall.PortChain(p.ID, firewall.Spoof)
		// Ingress: ND admitted first (IPv6), conntrack, the server's
		// provider rules (RA and DHCP replies), the groups' rules.
		if v6 {
			for _, t := range icmpv6IngressTypes {
				if !(p.NoND && (t == 135 || t == 136)) {
					w(in, fmt.Sprintf("-p ipv6-icmp -m icmp6 --icmpv6-type %d -j RETURN", t))
				}
			}
		}
		w(in, "-m state --state RELATED,ESTABLISHED -m comment --comment "+q(cmtAssoc)+" -j RETURN")
		hasIP := false
		for _, ip := range p.IPs {
			hasIP = hasIP || is(f, ip)
		}
		if v6 && hasIP {
			w(in, "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -j RETURN")
		}
		for _, ip := range p.IPs {
			switch {
			case ip.Is4() && !v6:
				w(in, "-d "+ip.String()+"/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
			case ip.Is6() && v6:
				w(in, "-d "+ip.String()+"/128 -p udp -m udp --sport 547 --dport 546 -j RETURN")
			}
		}
		if v6 {
			w(in, "-d fe80::/64 -p udp -m udp --sport 547 --dport 546 -j RETURN")
		} else {
			w(in, "-d 255.255.255.255/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
		}
		for _, spec := range groupRules(p, "ingress") {
			w(in, spec)
		}
		w(in, "-m state --state INVALID -m comment --comment "+q(cmtInvalid)+" -j DROP")
		w(in, "-m comment --comment "+q(cmtUnmatch)+" -j "+firewall.FallbackChain)
		// Egress: traffic from the unspecified address, the spoof chain,
		// then what a checked source may send.
		pairs := p.spoofPairs(f)
		if v6 {
			for _, t := range icmpv6UnspecTypes {
				w(out, fmt.Sprintf("-s ::/128 -d ff02::/16 -p ipv6-icmp -m icmp6 --icmpv6-type %d -m comment --comment %s -j RETURN", t, q(cmtICMPv6)))
			}
		} else {
			w(out, "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -m comment --comment "+q(cmtDHCP)+" -j RETURN")
		}
		if len(pairs) > 0 {
			w(out, "-j "+spoof)
		}
		if v6 {
			w(out, "-p ipv6-icmp -m icmp6 --icmpv6-type 134 -m comment --comment "+q(cmtRADrop)+" -j DROP")
			w(out, "-p ipv6-icmp -m comment --comment "+q(cmtICMPv6)+" -j RETURN")
			w(out, "-p udp -m udp --sport 546 --dport 547 -m comment --comment "+q(cmtDHCP)+" -j RETURN")
			w(out, "-p udp -m udp --sport 547 --dport 546 -m comment --comment "+q(cmtDHCPSpf)+" -j DROP")
		} else {
			w(out, "-p udp -m udp --sport 68 --dport 67 -m comment --comment "+q(cmtDHCP)+" -j RETURN")
			w(out, "-p udp -m udp --sport 67 --dport 68 -m comment --comment "+q(cmtDHCPSpf)+" -j DROP")
		}
		w(out, "-m state --state RELATED,ESTABLISHED -m comment --comment "+q(cmtAssoc)+" -j RETURN")
		for _, spec := range groupRules(p, "egress") {
			w(out, spec)
		}
		w(out, "-m state --state INVALID -m comment --comment "+q(cmtInvalid)+" -j DROP")
		w(out, "-m comment --comment "+q(cmtUnmatch)+" -j "+firewall.FallbackChain)
		// Spoof.
		for _, pr := range pairs {
			m := strings.ToUpper(pr.MAC.String())
			if !pr.IP.IsValid() {
				w(spoof, "-m mac --mac-source "+m+" -m comment --comment "+q(cmtPair)+" -j RETURN")
				continue
			}
			if containsAddr(p.NoSpoofFor, pr.IP.Addr()) {
				continue
			}
			w(spoof, "-s "+pr.IP.String()+" -m mac --mac-source "+m+" -m comment --comment "+q(cmtPair)+" -j RETURN")
		}
		if len(pairs) > 0 {
			w(spoof, "-m comment --comment "+q(cmtPairDrop)+" -j DROP")
		}
	}
	for _, p := range ports {
		tap := p.Tap()
		w(firewall.SGChain, "-m physdev --physdev-out "+tap+" --physdev-is-bridged -m comment --comment "+q(cmtVMChain)+" -j "+firewall.PortChain(p.ID, firewall.Ingress))
		w(firewall.SGChain, "-m physdev --physdev-in "+tap+" --physdev-is-bridged -m comment --comment "+q(cmtVMChain)+" -j "+firewall.PortChain(p.ID, firewall.Egress))
	}
	w(firewall.SGChain, "-j ACCEPT")
	w(firewall.FallbackChain, "-m comment --comment "+q(cmtFallback)+" -j DROP")
	b.WriteString("COMMIT\n")
	return b.String()
}

func isICMP(proto string) bool {
	return proto == "icmp" || proto == "ipv6-icmp" || proto == "icmpv6"
}

func containsAddr(as []netip.Addr, a netip.Addr) bool {
	for _, x := range as {
		if x == a {
			return true
		}
	}
	return false
}

// ruleSpec renders one API rule as the agent does (ipset for a remote
// group, -s for a remote prefix other than /0).
func ruleSpec(r Rule) string {
	var a []string
	fam := firewall.IPv4
	proto := r.Protocol
	if r.Ethertype == "IPv6" {
		fam = firewall.IPv6
		if isICMP(proto) || proto == "58" {
			proto = "ipv6-icmp" // the agent's IPV6_ICMP_LEGACY_PROTO_LIST
		}
	}
	if r.RemoteGroupID == "" && r.RemoteIPPrefix != "" && !strings.HasSuffix(r.RemoteIPPrefix, "/0") {
		if r.Direction == "ingress" {
			a = append(a, "-s", r.RemoteIPPrefix)
		} else {
			a = append(a, "-d", r.RemoteIPPrefix)
		}
	}
	if proto != "" {
		a = append(a, "-p", proto)
		if r.PortMin != 0 && (proto == "tcp" || proto == "udp") {
			a = append(a, "-m", proto)
		}
	}
	if r.PortMin != 0 {
		switch proto {
		case "icmp", "ipv6-icmp":
			t := fmt.Sprint(r.PortMin)
			if r.PortMax != 0 {
				t += fmt.Sprintf("/%d", r.PortMax)
			}
			if proto == "icmp" {
				a = append(a, "-m", "icmp", "--icmp-type", t)
			} else {
				a = append(a, "-m", "icmp6", "--icmpv6-type", t)
			}
		default:
			if r.PortMax == 0 || r.PortMax == r.PortMin {
				a = append(a, "--dport", fmt.Sprint(r.PortMin))
			} else {
				a = append(a, "-m", "multiport", "--dports", fmt.Sprintf("%d:%d", r.PortMin, r.PortMax))
			}
		}
	}
	if r.RemoteGroupID != "" {
		dir := "src"
		if r.Direction == "egress" {
			dir = "dst"
		}
		a = append(a, "-m", "set", "--match-set", firewall.IPSetName(r.RemoteGroupID, fam), dir)
	}
	a = append(a, "-j", "RETURN")
	return strings.Join(a, " ")
}

// IPSetRestore renders `ipset restore` input for the groups of the
// ports: one hash:net set per group and family (NIPv4…, NIPv6…) with
// the members of that family.
func IPSetRestore(ports []Port) string {
	var b strings.Builder
	done := map[string]bool{}
	for _, p := range ports {
		for _, g := range p.Groups {
			for _, f := range []firewall.Family{firewall.IPv6, firewall.IPv4} {
				name := firewall.IPSetName(g.ID, f)
				if done[name] {
					continue
				}
				done[name] = true
				fam := map[firewall.Family]string{firewall.IPv4: "inet", firewall.IPv6: "inet6"}[f]
				fmt.Fprintf(&b, "create %s hash:net family %s hashsize 1024 maxelem 65536\n", name, fam)
				for _, m := range g.Members {
					if is(f, m) {
						fmt.Fprintf(&b, "add %s %s\n", name, m)
					}
				}
			}
		}
	}
	return b.String()
}

// EbtablesRestore renders ebtables-restore input for the nat table: per
// port the MAC chain (--among-src, then DROP) and the ARP chain
// (--arp-ip-src per IPv4 address, then DROP), jumped to from PREROUTING,
// as arp_protect.py installs them.
func EbtablesRestore(ports []Port) string {
	var b strings.Builder
	b.WriteString("*nat\n:PREROUTING ACCEPT\n:OUTPUT ACCEPT\n:POSTROUTING ACCEPT\n")
	for _, p := range ports {
		fmt.Fprintf(&b, ":%s DROP\n:%s DROP\n", firewall.EbARPChain(p.Tap()), firewall.EbMACChain(p.Tap()))
	}
	for _, p := range ports {
		fmt.Fprintf(&b, "-A PREROUTING -i %s -j %s\n", p.Tap(), firewall.EbMACChain(p.Tap()))
	}
	for _, p := range ports {
		fmt.Fprintf(&b, "-A PREROUTING -p ARP -i %s -j %s\n", p.Tap(), firewall.EbARPChain(p.Tap()))
	}
	for _, p := range ports {
		var addrs []string
	next:
		for _, ip := range p.IPs {
			for _, skip := range p.NoARPFor {
				if skip == ip {
					continue next
				}
			}
			if ip.Is4() {
				addrs = append(addrs, ip.String())
			}
		}
		for _, pr := range p.Pairs {
			if pr.IP.Addr().Is4() {
				addrs = append(addrs, pr.IP.String())
			}
		}
		sort.Sort(sort.Reverse(sort.StringSlice(addrs))) // -I each in sorted order
		for _, a := range addrs {
			fmt.Fprintf(&b, "-A %s -p ARP --arp-ip-src %s -j ACCEPT\n", firewall.EbARPChain(p.Tap()), a)
		}
		fmt.Fprintf(&b, "-A %s -j DROP\n", firewall.EbARPChain(p.Tap()))
		macs := []string{p.MAC.String()}
		for _, pr := range p.Pairs {
			if pr.MAC != nil {
				macs = append(macs, pr.MAC.String())
			}
		}
		sort.Strings(macs)
		fmt.Fprintf(&b, "-A %s -i %s --among-src %s -j RETURN\n", firewall.EbMACChain(p.Tap()), p.Tap(), strings.Join(macs, ","))
		fmt.Fprintf(&b, "-A %s -j DROP\n", firewall.EbMACChain(p.Tap()))
	}
	return b.String()
}

// Snapshot parses the rendered layout of ports into the firewall.Snapshot
// firewall.Read would take of a node where the agent installed it with
// backend b (both families, ebtables nat as `ebtables -L --Lc` lists it,
// the ipsets), counters zero: a fixture for the judges with no I/O.
func Snapshot(ports []Port, b firewall.Backend) (*firewall.Snapshot, error) {
	s := &firewall.Snapshot{BridgeNFCallIptables: "1", BridgeNFCallIP6tables: "1"}
	for _, f := range []firewall.Family{firewall.IPv4, firewall.IPv6} {
		ts, err := firewall.ParseIPTablesSave(FilterRestore(ports, f), b, f)
		if err != nil {
			return nil, err
		}
		s.Tables = append(s.Tables, ts...)
	}
	saved, err := firewall.ParseIPTablesSave(EbtablesRestore(ports), firewall.BackendNFT, "")
	if err != nil {
		return nil, err
	}
	var l strings.Builder
	l.WriteString("Bridge table: nat\n")
	for _, c := range saved[0].Chains {
		fmt.Fprintf(&l, "\nBridge chain: %s, entries: %d, policy: %s\n", c.Name, len(c.Rules), c.Policy)
		for _, r := range c.Rules {
			l.WriteString(r.Spec + " , pcnt = 0 -- bcnt = 0\n")
		}
	}
	if s.Ebtables, err = firewall.ParseEbtablesList(l.String(), firewall.BackendNFT); err != nil {
		return nil, err
	}
	if s.Sets, err = firewall.ParseIPSetSave(IPSetRestore(ports)); err != nil {
		return nil, err
	}
	return s, nil
}
