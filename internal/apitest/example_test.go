package apitest_test

import (
	"context"
	"fmt"
	"log"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// A node doctor on an all-in-one node, written against the three
// packages with no conversion between their types: the guest MAC libvirt
// reports is the hwaddr.MAC linuxbridge's WhereIs and dhcpns's CheckHealth
// take; the tap's counters from libvirt and from the bridge count the same
// way (Rx: what the guest sent); a deleted namespace is ErrNoNetNS in both
// namespace packages. Needs root (libvirt socket, setns).
func Example_nodeDoctor() {
	ctx := context.Background()
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer lv.Close()
	br, err := linuxbridge.Open(ctx, nil)
	if err != nil {
		log.Fatal(err)
	}
	defer br.Close()

	doms, err := lv.Domains(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range doms {
		ifs, err := lv.Interfaces(ctx, d.UUID)
		if err != nil {
			continue
		}
		for _, i := range ifs {
			where, err := br.WhereIs(ctx, i.MAC)
			switch {
			case linuxbridge.IsNotFound(err):
				fmt.Println(d.Name, i.MAC, "not learned by any bridge")
				continue
			case err != nil:
				log.Fatal(err)
			}
			b, err := br.Bridge(ctx, where[0].Bridge)
			if err != nil {
				log.Fatal(err)
			}
			network := b.Neutron.IDPrefix // brq + the network ID's first 11 characters
			nss, _ := dhcpns.List(ctx, nil)
			for _, ns := range nss {
				if len(ns.NetworkID) < len(network) || ns.NetworkID[:len(network)] != network {
					continue
				}
				h, err := dhcpns.CheckHealth(ctx, nil, ns.NetworkID, i.MAC)
				if err != nil {
					log.Fatal(err)
				}
				tap, _ := b.Port(i.Target)
				fmt.Println(d.Name, d.State, i.MAC, "on", b.Name, "DHCP", h.Status,
					"tap rx (guest sent)", tap.Stats.RxPackets)
			}
		}
	}
}
