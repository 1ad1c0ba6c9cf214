package libvirtinspect_test

import (
	"context"
	"errors"
	"fmt"
	"io/fs"
	"os"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
)

// List every domain with its state, then the Nova metadata and interfaces
// of one, over the read-only socket. Needs a running libvirtd.
func Example() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		fmt.Println(err) // wraps ErrUnavailable: start libvirtd
		return
	}
	defer c.Close()
	doms, err := c.Domains(ctx) // one RPC
	if err != nil {
		fmt.Println(err)
		return
	}
	for _, d := range doms {
		fmt.Printf("%s %s (%s)\n", d.Name, d.State, d.Reason)
	}
	// By name, domain UUID or Nova instance UUID.
	det, err := c.Details(ctx, "3fc516db-bae9-4e60-a58c-0d8beace5d6e")
	if errors.Is(err, fs.ErrNotExist) {
		fmt.Println("no such instance on this host")
		return
	} else if err != nil {
		fmt.Println(err)
		return
	}
	if det.Nova != nil {
		fmt.Println(det.Nova.Name, det.Nova.Flavor.Name, det.Nova.ProjectName)
	}
	for _, i := range det.Interfaces {
		fmt.Println(i.Target, i.Type, i.Source, i.MAC, i.MTU)
	}
}

// Counters of every interface of every domain, in one RPC.
func ExampleClient_Stats() {
	ctx := context.Background()
	c, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{URI: "qemu:///system", ReadOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	stats, err := c.Stats(ctx, &libvirtinspect.StatsRequest{Groups: libvirtinspect.StatsState | libvirtinspect.StatsInterface})
	if libvirtinspect.IsConnectionLost(err) {
		fmt.Println("libvirtd went away; the next call reconnects:", err)
		return
	}
	for _, s := range stats {
		for _, n := range s.Interfaces {
			fmt.Println(s.Domain.Name, n.Name, "guest sent", n.RxPackets, "guest received", n.TxPackets)
		}
	}
}

// Decode a recorded `virsh domstats` without a daemon.
func ExampleDecodeStats() {
	s := libvirtinspect.DecodeStats(libvirtinspect.Domain{Name: "instance-00000002"}, []libvirtinspect.Param{
		{Field: "state.state", Value: int32(1)},
		{Field: "state.reason", Value: int32(5)},
		{Field: "net.0.name", Value: "tap31f2d3e9-8d"},
		{Field: "net.0.tx.pkts", Value: uint64(21)},
		{Field: "dirtyrate.calc_mode", Value: "page-sampling"},
	})
	fmt.Println(s.Domain.State, s.Domain.Reason, s.Interfaces[0].Name, s.Interfaces[0].RxPackets, s.Extra["dirtyrate.calc_mode"])
	// Output: running unpaused tap31f2d3e9-8d 21 page-sampling
}

// Which libvirt address sources answered, and why the others did not.
func ExampleClient_InterfaceAddresses() {
	ctx := context.Background()
	c, err := libvirtinspect.NewFromConfig(nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer c.Close()
	reps, err := c.InterfaceAddresses(ctx, "instance-00000002")
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	for _, r := range reps {
		fmt.Println(r.Source, len(r.Interfaces), r.Err, r.Note)
	}
}

// Interface counters are seen from the tap, as linuxbridge.Stats and `ip -s
// link` show them: Rx is what the guest sent. libvirt's own net.0.tx.* (the
// guest's side) become Rx*.
func ExampleInterfaceStats() {
	s := libvirtinspect.DecodeStats(libvirtinspect.Domain{Name: "instance-00000002"}, []libvirtinspect.Param{
		{Field: "net.0.name", Value: "tap31f2d3e9-8d"},
		{Field: "net.0.rx.pkts", Value: uint64(24)}, // the guest received
		{Field: "net.0.tx.pkts", Value: uint64(21)}, // the guest sent
	})
	n := s.Interfaces[0]
	fmt.Println(n.Name, "rx", n.RxPackets, "tx", n.TxPackets)
	// Output: tap31f2d3e9-8d rx 21 tx 24
}

// Every interface of every domain on the node, with its domain's state:
// one bulk RPC for the domains and one XML RPC each, pipelined. Needs a
// running libvirtd.
func ExampleClient_AllDetails() {
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Second)
	defer cancel()
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		fmt.Println(err)
		return
	}
	defer c.Close()
	all, err := c.AllDetails(ctx)
	if err != nil {
		fmt.Println(err) // some domains could not be read; all has the others
	}
	for _, d := range all {
		for _, i := range d.Interfaces {
			fmt.Println(d.Name, d.State, i.Target, i.MAC, i.Source)
		}
	}
}
