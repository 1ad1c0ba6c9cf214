package dhcpns_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/netip"
	"strings"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
)

// Parse a lease file and tell the rows a guest renewed from Neutron's seed.
func ExampleParseLeases() {
	leases := "1795586508 fa:16:3e:57:19:35 192.168.31.72 host-192-168-31-72 01:fa:16:3e:57:19:35\n" +
		"1795586400 fa:16:3e:11:22:33 192.168.31.80 * *\n"
	ls, err := dhcpns.ParseLeases(strings.NewReader(leases))
	if err != nil {
		log.Fatal(err)
	}
	for _, l := range ls.Rows {
		fmt.Println(l.MAC, l.IP, l.Origin)
	}
	// Output:
	// fa:16:3e:57:19:35 192.168.31.72 renewed
	// fa:16:3e:11:22:33 192.168.31.80 seeded
}

// Parse Neutron's dnsmasq command line as /proc/<pid>/cmdline holds it.
func ExampleParseCmdline() {
	cmdline := "dnsmasq\x00--no-hosts\x00--bind-interfaces\x00--interface=ns-8e7ff5b5-3f\x00" +
		"--dhcp-range=set:tag0,192.168.31.64,static,255.255.255.224,86400s\x00" +
		"--dhcp-leasefile=/var/lib/neutron/dhcp/59fe11c2-2131-4a9b-b708-e855c3c6ac25/leases\x00"
	c, err := dhcpns.ParseCmdline([]byte(cmdline))
	if err != nil {
		log.Fatal(err)
	}
	p, _ := c.Ranges[0].Prefix()
	fmt.Println(c.NetworkID, c.Bind, c.Interfaces, p, c.Ranges[0].Mode, c.Ranges[0].LeaseTime)
	// Output:
	// 59fe11c2-2131-4a9b-b708-e855c3c6ac25 bind-interfaces [ns-8e7ff5b5-3f] 192.168.31.64/27 static 24h0m0s
}

// The DHCP health of one network and one VM port (needs root).
func ExampleCheckHealth() {
	mac := hwaddr.MustParse("fa:16:3e:57:19:35")
	h, err := dhcpns.CheckHealth(context.Background(), nil, "c3e375fb-0ac1-4b91-9c66-d297e7d090e6", mac)
	if err != nil {
		log.Fatal(err)
	}
	for _, c := range h.Checks {
		fmt.Printf("%-9s %-4s %s\n", c.Name, c.Status, c.Summary)
	}
}

// The DHCP health of every qdhcp namespace on this node, with one /proc
// scan for all their dnsmasq processes (needs root).
func ExampleCheckHealthAll() {
	ctx := context.Background()
	nss, err := dhcpns.List(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	var ids []string
	for _, ns := range nss {
		ids = append(ids, ns.NetworkID)
	}
	hs, err := dhcpns.CheckHealthAll(ctx, nil, ids)
	if err != nil {
		log.Fatal(err)
	}
	for _, h := range hs {
		fmt.Println(h.NetworkID, h.Status)
	}
}

// Sweep a subnet with ARP from inside a qdhcp namespace (sends packets;
// needs root).
func ExampleARPProber_SweepARP() {
	ctx := context.Background()
	p, err := dhcpns.OpenARPProber(ctx, nil, dhcpns.NamespaceName("c3e375fb-0ac1-4b91-9c66-d297e7d090e6"), "ns-10a8e6a2-5d")
	if err != nil {
		log.Fatal(err)
	}
	defer p.Close()
	var targets []netip.Addr
	for a := netip.MustParseAddr("192.168.31.65"); a.Less(netip.MustParseAddr("192.168.31.95")); a = a.Next() {
		targets = append(targets, a)
	}
	rs, err := p.SweepARP(ctx, targets, &dhcpns.ARPOptions{Timeout: 500 * time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	for _, r := range rs {
		if r.Answered() {
			fmt.Println(r.IP, r.Replies[0].MAC, r.Replies[0].RTT, r.Duplicate())
		}
	}
}

// Ask the network's dnsmasq what it would offer a port, without taking a
// lease (creates a probe endpoint on brq…; needs root).
func ExampleProbeDHCP() {
	mac := hwaddr.MustParse("fa:16:3e:57:19:35")
	o, err := dhcpns.ProbeDHCP(context.Background(), nil, "c3e375fb-0ac1-4b91-9c66-d297e7d090e6", mac, nil)
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println(o.IP, o.Server, o.LeaseTime, o.Routers, o.MTU, o.RTT)
}

// The main path on a network node: open the network's qdhcp namespace and
// read its links, addresses, routes and neighbours once.
func ExampleOpen() {
	ctx := context.Background()
	ns, err := dhcpns.OpenNetwork(ctx, nil, "c3e375fb-0ac1-4b91-9c66-d297e7d090e6")
	if dhcpns.IsNotFound(err) {
		fmt.Println("no DHCP namespace for this network on this node")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	defer ns.Close()
	snap, err := ns.Inspect(ctx)
	if err != nil {
		log.Fatal(err) // errors.Is(err, dhcpns.ErrNoNetNS) if it was deleted meanwhile
	}
	for _, l := range snap.Links {
		fmt.Println(l.Name, l.MAC, l.State)
	}
}

// A lease row in JSON: the MAC is colon text (it was base64 before the
// module had one MAC type), and the JSON reads back into a Lease.
func ExampleLease() {
	ls, _ := dhcpns.ParseLeases(strings.NewReader("1795586400 fa:16:3e:11:22:33 192.168.31.80 * *\n"))
	b, _ := json.Marshal(ls.Rows[0])
	fmt.Println(string(b))
	var back dhcpns.Lease
	if err := json.Unmarshal(b, &back); err != nil {
		log.Fatal(err)
	}
	fmt.Println(back.MAC, back.IP, back.Origin)
	// Output:
	// {"expiry":"2026-11-25T06:00:00Z","mac":"fa:16:3e:11:22:33","ip":"192.168.31.80","origin":"seeded","line":1}
	// fa:16:3e:11:22:33 192.168.31.80 seeded
}
