package apitest_test

import (
	"context"
	"encoding/json"
	"fmt"
	"log"
	"net/http"
	"os"
	"path/filepath"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/internal/fakecloud"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
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

// A node doctor over libvirtinspect and trace: every NIC of every domain
// on this node, traced from the MAC libvirt reports. The Interface's MAC
// is the hwaddr.MAC trace.Target takes, the trace's IP is a netip.Addr
// like dhcpns's and libvirtinspect's, and the libvirt client is the one
// trace.Config takes: nothing is converted between the packages. Needs
// root (libvirt socket, setns, the ARP probe).
func Example_nodeDoctorTrace() {
	ctx := context.Background()
	lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		log.Fatal(err)
	}
	defer lv.Close()
	cfg := &trace.Config{Libvirt: lv, Role: trace.RoleAllInOne}

	doms, err := lv.Domains(ctx)
	if err != nil {
		log.Fatal(err)
	}
	for _, d := range doms {
		ifs, err := lv.Interfaces(ctx, d.UUID)
		if err != nil {
			fmt.Println(d.Name, err)
			continue
		}
		for _, i := range ifs {
			t, err := trace.Run(ctx, cfg, trace.Target{MAC: i.MAC})
			if err != nil {
				fmt.Println(d.Name, i.MAC, err)
				continue
			}
			line := fmt.Sprint(d.Name, " ", i.MAC, " ", t.Verdict)
			if t.IP.IsValid() {
				line += " ip " + t.IP.String()
			}
			if h, ok := t.FirstFailing(); ok {
				line += " at " + string(h.Kind) + ": " + h.Summary
			}
			fmt.Println(line)
		}
	}
}

// A boot check over launch, run here against the in-process fake cloud:
// boot a server, then hand its port's identities to the other packages
// as they are. launch.Port.MAC is the hwaddr.MAC that trace.Target,
// dhcpns.CheckHealth and linuxbridge.WhereIs take (it was a
// net.HardwareAddr that needed hwaddr.MAC(p.MAC)), its fixed IP a
// netip.Addr, and the Port round-trips through JSON as it is.
func Example_bootCheck() {
	ctx := context.Background()
	fake := fakecloud.New(nil)
	dir, err := os.MkdirTemp("", "vc-bootcheck")
	if err != nil {
		log.Fatal(err)
	}
	defer os.RemoveAll(dir)
	clouds := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(clouds, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		log.Fatal(err)
	}
	c, err := launch.Open(ctx, &launch.Config{Cloud: "fake", CloudsFile: clouds,
		HTTPClient: &http.Client{Transport: fake.Transport()}, PollFirst: time.Millisecond})
	if err != nil {
		log.Fatal(err)
	}
	defer c.Cleanup(ctx)

	s, err := c.Launch(ctx, launch.ServerSpec{Name: "bootcheck", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider1"})
	if err != nil {
		log.Fatal(err)
	}
	fmt.Println("server", s.Name, s.Status)
	for _, p := range s.Ports {
		target := trace.Target{PortID: p.ID, MAC: p.MAC} // what trace.Run takes on the node
		ip := p.FixedIPs[0].Address
		fmt.Println("port MAC is a Neutron MAC:", p.MAC.String()[:8] == "fa:16:3e", "fixed IPv4:", ip.Is4())
		fmt.Println("target", target.MAC.Equal(s.Addresses[0].MAC))

		b, err := json.Marshal(p)
		if err != nil {
			log.Fatal(err)
		}
		var back launch.Port
		if err := json.Unmarshal(b, &back); err != nil {
			log.Fatal(err)
		}
		fmt.Println("round trip", back.MAC.Equal(p.MAC) && back.FixedIPs[0].Address == ip)
	}
	// Output:
	// server bootcheck ACTIVE
	// port MAC is a Neutron MAC: true fixed IPv4: true
	// target true
	// round trip true
}
