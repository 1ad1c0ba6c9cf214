// Command dhcpprobe shows the DHCP side of Neutron networks on this node in
// one command: what `ip netns`, `ip -n qdhcp-… a`, `arp -n`,
// `ps -ef | grep dnsmasq`, the lease file and `arping` show, with a verdict.
//
// Usage:
//
//	dhcpprobe                         every qdhcp namespace with its health
//	dhcpprobe -network ID             one network, checks with evidence
//	dhcpprobe -network ID -mac MAC    … plus the hosts entry and lease of a port
//	dhcpprobe -network ID -arp IP[,IP…]   ARP sweep from the serving interface (sends)
//	dhcpprobe -network ID -dhcp MAC   DISCOVER for MAC on the network's bridge, print the OFFER (sends; no lease taken)
//
// Add -json for machine-readable output. Needs root.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"io"
	"net/netip"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
)

func main() {
	if err := run(context.Background(), os.Args[1:], os.Stdout); err != nil {
		fmt.Fprintln(os.Stderr, "dhcpprobe:", err)
		os.Exit(1)
	}
}

// report is what -json prints.
type report struct {
	Networks []*dhcpns.Health   `json:"networks"`
	ARP      []dhcpns.ARPResult `json:"arp,omitempty"`
	Offer    *dhcpns.DHCPOffer  `json:"offer,omitempty"`
}

func run(ctx context.Context, args []string, out io.Writer) error {
	fs := flag.NewFlagSet("dhcpprobe", flag.ContinueOnError)
	network := fs.String("network", "", "Neutron network ID (default: every qdhcp namespace)")
	macFlag := fs.String("mac", "", "port MAC whose hosts entry and lease to check (needs -network)")
	arpFlag := fs.String("arp", "", "comma-separated IPv4 addresses to ARP from the serving interface (needs -network; sends packets)")
	dhcpFlag := fs.String("dhcp", "", "client MAC to send a DHCP DISCOVER for (needs -network; sends packets, takes no lease)")
	jsonOut := fs.Bool("json", false, "print JSON")
	netnsDir := fs.String("netns-dir", "", "netns run directory (default /run/netns)")
	stateDir := fs.String("state-dir", "", "Neutron DHCP state directory (default /var/lib/neutron/dhcp)")
	procDir := fs.String("proc-dir", "", "procfs mount (default /proc)")
	bridgeNS := fs.String("bridge-netns", "", "path of the namespace holding the brq bridge (default: this process's)")
	timeout := fs.Duration("timeout", time.Second, "ARP per-target timeout")
	attempts := fs.Int("arp-attempts", 1, "ARP requests per silent target, spread over -timeout")
	dhcpTimeout := fs.Duration("dhcp-timeout", 3*time.Second, "DHCP probe timeout")
	if err := fs.Parse(args); err != nil {
		return err
	}
	cfg := &dhcpns.Config{NetNSDir: *netnsDir, StateDir: *stateDir, ProcDir: *procDir}
	var mac hwaddr.MAC
	if *macFlag != "" || *dhcpFlag != "" {
		s := *macFlag
		if s == "" {
			s = *dhcpFlag
		}
		m, err := hwaddr.Parse(s)
		if err != nil {
			return fmt.Errorf("bad MAC %q: %w", s, err)
		}
		mac = m
	}
	if *network == "" && (mac != nil || *arpFlag != "") {
		return errors.New("-mac, -arp and -dhcp need -network")
	}

	var rep report
	if *network == "" {
		list, err := dhcpns.List(ctx, cfg)
		if err != nil {
			return err
		}
		for _, ns := range list {
			h, err := dhcpns.CheckHealth(ctx, cfg, ns.NetworkID, nil)
			if err != nil {
				return err
			}
			rep.Networks = append(rep.Networks, h)
		}
	} else {
		h, err := dhcpns.CheckHealth(ctx, cfg, *network, mac)
		if err != nil {
			return err
		}
		rep.Networks = append(rep.Networks, h)
		if *arpFlag != "" {
			if h.ServingInterface == "" {
				return fmt.Errorf("-arp: no serving interface found in %s (see the interface check)", dhcpns.NamespaceName(*network))
			}
			var targets []netip.Addr
			for _, s := range strings.Split(*arpFlag, ",") {
				a, err := netip.ParseAddr(strings.TrimSpace(s))
				if err != nil {
					return fmt.Errorf("-arp: %w", err)
				}
				targets = append(targets, a)
			}
			p, err := dhcpns.OpenARPProber(ctx, cfg, dhcpns.NamespaceName(*network), h.ServingInterface)
			if err != nil {
				return err
			}
			rep.ARP, err = p.SweepARP(ctx, targets, &dhcpns.ARPOptions{Timeout: *timeout, Attempts: *attempts})
			p.Close()
			if err != nil {
				return err
			}
		}
		if *dhcpFlag != "" {
			o, err := dhcpns.ProbeDHCP(ctx, cfg, *network, mac, &dhcpns.DHCPProbeOptions{BridgeNetNSPath: *bridgeNS, Timeout: *dhcpTimeout})
			if err != nil && !errors.Is(err, dhcpns.ErrNoReply) {
				return err
			}
			rep.Offer = o
			if err != nil && !*jsonOut {
				fmt.Fprintln(out, "DHCP:", err)
			}
		}
	}

	if *jsonOut {
		enc := json.NewEncoder(out)
		enc.SetIndent("", "  ")
		return enc.Encode(rep)
	}
	printText(out, &rep, *network != "")
	return nil
}

func printText(out io.Writer, rep *report, detail bool) {
	tw := tabwriter.NewWriter(out, 0, 4, 2, ' ', 0)
	if !detail {
		fmt.Fprintln(tw, "NETWORK\tSTATUS\tDNSMASQ\tINTERFACE\tSUMMARY")
		for _, h := range rep.Networks {
			pid := "-"
			if h.Dnsmasq != nil && h.Dnsmasq.Process != nil {
				pid = fmt.Sprintf("%d (%s)", h.Dnsmasq.Process.PID, h.Dnsmasq.Process.State)
			}
			summary := "ok"
			for _, c := range h.Checks {
				if c.Status == dhcpns.StatusFail || c.Status == dhcpns.StatusWarn {
					summary = c.Name + ": " + c.Summary
					break
				}
			}
			fmt.Fprintf(tw, "%s\t%s\t%s\t%s\t%s\n", h.NetworkID, h.Status, pid, orDash(h.ServingInterface), summary)
		}
		if len(rep.Networks) == 0 {
			fmt.Fprintln(tw, "(no qdhcp namespaces)")
		}
		tw.Flush()
		return
	}
	for _, h := range rep.Networks {
		fmt.Fprintf(out, "network %s: %s\n", h.NetworkID, h.Status)
		for _, c := range h.Checks {
			fmt.Fprintf(out, "  %-9s %-7s %s\n", c.Name, c.Status, c.Summary)
			for _, e := range c.Evidence {
				fmt.Fprintf(out, "  %-9s %-7s   %s\n", "", "", e)
			}
		}
		if s := h.Snapshot; s != nil {
			fmt.Fprintln(out, "  neighbours (arp -n):")
			for _, n := range s.Neighbors {
				if n.IP.Is4() && !(len(n.State) == 1 && n.State[0] == "NOARP") {
					fmt.Fprintf(out, "    %-16s %-18s %-14s %s\n", n.IP, orDash(n.MAC.String()), n.Link, strings.Join(n.State, ","))
				}
			}
		}
	}
	if len(rep.ARP) > 0 {
		fmt.Fprintln(tw, "ARP\tMAC\tRTT\tNOTE")
		for _, r := range rep.ARP {
			if !r.Answered() {
				fmt.Fprintf(tw, "%s\t-\t-\tno answer\n", r.IP)
				continue
			}
			for i, rp := range r.Replies {
				note := ""
				if r.Duplicate() {
					note = fmt.Sprintf("DUPLICATE responder %d of %d", i+1, len(r.Replies))
				}
				fmt.Fprintf(tw, "%s\t%s\t%v\t%s\n", r.IP, rp.MAC, rp.RTT.Round(time.Microsecond), note)
			}
		}
		tw.Flush()
	}
	if o := rep.Offer; o != nil {
		fmt.Fprintf(out, "DHCP OFFER for %s: %s from %s (%s) lease %v routers %v dns %v mtu %d domain %q rtt %v\n",
			o.ClientMAC, o.Prefix, o.Server, o.ServerMAC, o.LeaseTime, o.Routers, o.DNS, o.MTU, o.Domain, o.RTT.Round(time.Microsecond))
	}
}

func orDash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}
