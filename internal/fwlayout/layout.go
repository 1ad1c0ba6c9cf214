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
)

func q(s string) string { return `"` + s + `"` }

// IPTablesRestore renders the IPv4 filter table for ports as
// iptables-restore input (as the agent's iptables_manager applies it).
func IPTablesRestore(ports []Port) string {
	var b strings.Builder
	c := firewall.ChainPrefix
	chains := []string{"neutron-filter-top", c + "FORWARD", c + "INPUT", c + "OUTPUT", c + "local", firewall.SGChain, firewall.FallbackChain}
	for _, p := range ports {
		chains = append(chains, firewall.PortChain(p.ID, firewall.Ingress), firewall.PortChain(p.ID, firewall.Egress), firewall.PortChain(p.ID, firewall.Spoof))
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
	for _, p := range ports {
		in, out, spoof := firewall.PortChain(p.ID, firewall.Ingress), firewall.PortChain(p.ID, firewall.Egress), firewall.PortChain(p.ID, firewall.Spoof)
		// Ingress.
		w(in, "-m state --state RELATED,ESTABLISHED -m comment --comment "+q(cmtAssoc)+" -j RETURN")
		for _, ip := range p.IPs {
			if ip.Is4() {
				w(in, "-d "+ip.String()+"/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
			}
		}
		w(in, "-d 255.255.255.255/32 -p udp -m udp --sport 67 --dport 68 -j RETURN")
		seen := map[string]bool{}
		for _, g := range p.Groups {
			for _, r := range g.Rules {
				if r.Direction != "ingress" || r.Ethertype != "IPv4" {
					continue
				}
				if p.NoICMP && r.Protocol == "icmp" || p.NoSSH && r.Protocol == "tcp" && r.PortMin == 22 {
					continue
				}
				spec := ruleSpec(r)
				if !seen[spec] {
					seen[spec] = true
					w(in, spec)
				}
			}
		}
		w(in, "-m state --state INVALID -m comment --comment "+q(cmtInvalid)+" -j DROP")
		w(in, "-m comment --comment "+q(cmtUnmatch)+" -j "+firewall.FallbackChain)
		// Egress.
		w(out, "-s 0.0.0.0/32 -d 255.255.255.255/32 -p udp -m udp --sport 68 --dport 67 -m comment --comment "+q(cmtDHCP)+" -j RETURN")
		w(out, "-j "+spoof)
		w(out, "-p udp -m udp --sport 68 --dport 67 -m comment --comment "+q(cmtDHCP)+" -j RETURN")
		w(out, "-p udp -m udp --sport 67 --dport 68 -m comment --comment "+q(cmtDHCPSpf)+" -j DROP")
		w(out, "-m state --state RELATED,ESTABLISHED -m comment --comment "+q(cmtAssoc)+" -j RETURN")
		seen = map[string]bool{}
		for _, g := range p.Groups {
			for _, r := range g.Rules {
				if r.Direction != "egress" || r.Ethertype != "IPv4" {
					continue
				}
				spec := ruleSpec(r)
				if !seen[spec] {
					seen[spec] = true
					w(out, spec)
				}
			}
		}
		w(out, "-m state --state INVALID -m comment --comment "+q(cmtInvalid)+" -j DROP")
		w(out, "-m comment --comment "+q(cmtUnmatch)+" -j "+firewall.FallbackChain)
		// Spoof.
		mac := strings.ToUpper(p.MAC.String())
		for _, pr := range p.Pairs {
			m := mac
			if pr.MAC != nil {
				m = strings.ToUpper(pr.MAC.String())
			}
			if pr.IP.Addr().Is4() {
				w(spoof, "-s "+pr.IP.String()+" -m mac --mac-source "+m+" -m comment --comment "+q(cmtPair)+" -j RETURN")
			}
		}
		for _, ip := range p.IPs {
			if ip.Is4() {
				w(spoof, "-s "+ip.String()+"/32 -m mac --mac-source "+mac+" -m comment --comment "+q(cmtPair)+" -j RETURN")
			}
		}
		w(spoof, "-m comment --comment "+q(cmtPairDrop)+" -j DROP")
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

// ruleSpec renders one API rule as the agent does (ipset for a remote
// group, -s for a remote prefix other than /0).
func ruleSpec(r Rule) string {
	var a []string
	if r.RemoteGroupID == "" && r.RemoteIPPrefix != "" && !strings.HasSuffix(r.RemoteIPPrefix, "/0") {
		if r.Direction == "ingress" {
			a = append(a, "-s", r.RemoteIPPrefix)
		} else {
			a = append(a, "-d", r.RemoteIPPrefix)
		}
	}
	if r.Protocol != "" {
		a = append(a, "-p", r.Protocol)
		if r.PortMin != 0 && (r.Protocol == "tcp" || r.Protocol == "udp") {
			a = append(a, "-m", r.Protocol)
		}
	}
	if r.PortMin != 0 {
		switch r.Protocol {
		case "icmp":
			t := fmt.Sprint(r.PortMin)
			if r.PortMax != 0 {
				t += fmt.Sprintf("/%d", r.PortMax)
			}
			a = append(a, "-m", "icmp", "--icmp-type", t)
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
		a = append(a, "-m", "set", "--match-set", firewall.IPSetName(r.RemoteGroupID, firewall.IPv4), dir)
	}
	a = append(a, "-j", "RETURN")
	return strings.Join(a, " ")
}

// IPSetRestore renders `ipset restore` input for the groups named as
// remote groups by the ports' rules.
func IPSetRestore(ports []Port) string {
	var b strings.Builder
	done := map[string]bool{}
	for _, p := range ports {
		for _, g := range p.Groups {
			name := firewall.IPSetName(g.ID, firewall.IPv4)
			if done[name] {
				continue
			}
			done[name] = true
			fmt.Fprintf(&b, "create %s hash:net family inet hashsize 1024 maxelem 65536\n", name)
			for _, m := range g.Members {
				if m.Is4() {
					fmt.Fprintf(&b, "add %s %s\n", name, m)
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
