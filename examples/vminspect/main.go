// Command vminspect prints what `virsh list --all`, `domiflist`, `domifaddr`
// and `domstats` print, for every domain (or one) in one command, through
// the libvirtinspect package: the domain list with state and reason and the
// Nova metadata, each domain's interfaces, the addresses each libvirt source
// knows (and why a source failed), and bulk statistics fetched in one RPC.
//
// Usage:
//
//	vminspect [-uri qemu:///system] [-socket /run/libvirt/libvirt-sock-ro] [-rw]
//	          [-domain name|uuid] [-timeout 10s] [-json]
//
// By default it uses the read-only socket, which is enough.
package main

import (
	"context"
	"encoding/json"
	"flag"
	"fmt"
	"os"
	"strings"
	"text/tabwriter"
	"time"

	"github.com/vifpath/vifpath/libvirtinspect"
)

// report is one domain's full picture.
type report struct {
	Details   *libvirtinspect.Details     `json:"details"`
	Addresses []libvirtinspect.AddrReport `json:"addresses"`
	Stats     *libvirtinspect.DomainStats `json:"stats,omitempty"`
	Error     string                      `json:"error,omitempty"`
}

func main() {
	uri := flag.String("uri", "", "libvirt URI (default qemu:///system over the local socket)")
	sock := flag.String("socket", "", "local libvirtd socket (default /run/libvirt/libvirt-sock-ro, or libvirt-sock with -rw)")
	rw := flag.Bool("rw", false, "use the read-write socket (the agent address source needs it)")
	domain := flag.String("domain", "", "only this domain (name, UUID or Nova instance UUID)")
	timeout := flag.Duration("timeout", 30*time.Second, "overall deadline")
	asJSON := flag.Bool("json", false, "print JSON")
	flag.Parse()

	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	c, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{URI: *uri, Socket: *sock, ReadOnly: !*rw})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	defer c.Close()

	var doms []libvirtinspect.Domain
	if *domain != "" {
		d, err := c.Lookup(ctx, *domain)
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		doms = []libvirtinspect.Domain{d}
	} else if doms, err = c.Domains(ctx); err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	stats, err := c.Stats(ctx, nil)
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		os.Exit(1)
	}
	byUUID := map[string]*libvirtinspect.DomainStats{}
	for i := range stats {
		byUUID[stats[i].Domain.UUID] = &stats[i]
	}
	var reps []report
	for _, d := range doms {
		r := report{Stats: byUUID[d.UUID]}
		if r.Details, err = c.Details(ctx, d.UUID); err != nil {
			r.Error = err.Error()
			r.Details = &libvirtinspect.Details{Domain: d}
		} else if d.ID >= 0 {
			r.Addresses, err = c.InterfaceAddresses(ctx, d.UUID)
			if err != nil {
				r.Error = err.Error()
			}
		}
		reps = append(reps, r)
	}
	if *asJSON {
		e := json.NewEncoder(os.Stdout)
		e.SetIndent("", "  ")
		if err := e.Encode(reps); err != nil {
			fmt.Fprintln(os.Stderr, err)
			os.Exit(1)
		}
		return
	}
	print(reps)
}

func dash(s string) string {
	if s == "" {
		return "-"
	}
	return s
}

func print(reps []report) {
	w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
	fmt.Fprintln(w, "ID\tNAME\tSTATE\tUUID\tNOVA NAME\tFLAVOR\tPROJECT")
	for _, r := range reps {
		d := r.Details
		id := "-"
		if d.ID >= 0 {
			id = fmt.Sprint(d.ID)
		}
		nname, flavor, project := "-", "-", "-"
		if d.Nova != nil {
			nname, flavor, project = d.Nova.Name, d.Nova.Flavor.Name, dash(d.Nova.ProjectName)
		}
		fmt.Fprintf(w, "%s\t%s\t%s (%s)\t%s\t%s\t%s\t%s\n", id, d.Name, d.State, d.Reason, d.UUID, nname, flavor, project)
	}
	w.Flush()
	for _, r := range reps {
		d := r.Details
		fmt.Printf("\n== %s\n", d.Name)
		if r.Error != "" {
			fmt.Printf("   error: %s\n", r.Error)
		}
		w := tabwriter.NewWriter(os.Stdout, 0, 4, 2, ' ', 0)
		fmt.Fprintln(w, "   INTERFACE\tTYPE\tSOURCE\tMODEL\tMAC\tMTU")
		for _, i := range d.Interfaces {
			mtu := "-"
			if i.MTU > 0 {
				mtu = fmt.Sprint(i.MTU)
			}
			src := i.Source
			if i.PCI != "" {
				src = "pci " + i.PCI
			}
			fmt.Fprintf(w, "   %s\t%s\t%s\t%s\t%s\t%s\n", dash(i.Target), i.Type, dash(src), dash(i.Model), i.MAC, mtu)
		}
		w.Flush()
		for _, a := range r.Addresses {
			var got []string
			for _, i := range a.Interfaces {
				for _, p := range i.Addrs {
					got = append(got, i.Name+" "+p.String())
				}
			}
			switch {
			case a.Err != nil:
				fmt.Printf("   addresses via %s: failed: %v\n", a.Source, a.Err)
			case len(got) == 0:
				fmt.Printf("   addresses via %s: none\n", a.Source)
			default:
				fmt.Printf("   addresses via %s: %s\n", a.Source, strings.Join(got, ", "))
			}
			if a.Note != "" {
				fmt.Printf("     note: %s\n", a.Note)
			}
		}
		if s := r.Stats; s != nil {
			if s.CPU != nil {
				fmt.Printf("   cpu: %.3fs", float64(s.CPU.TimeNs)/1e9)
				if s.Balloon != nil {
					fmt.Printf("  balloon: %d/%d KiB", s.Balloon.CurrentKiB, s.Balloon.MaximumKiB)
				}
				fmt.Println()
			}
			for _, n := range s.Interfaces {
				// Seen from the tap, as `ip -s link` shows it: rx is what the guest sent.
				fmt.Printf("   %s: rx %d B/%d pkts (%d errs, %d drop)  tx %d B/%d pkts (%d errs, %d drop)\n",
					n.Name, n.RxBytes, n.RxPackets, n.RxErrors, n.RxDropped, n.TxBytes, n.TxPackets, n.TxErrors, n.TxDropped)
			}
			for _, b := range s.Blocks {
				fmt.Printf("   %s: rd %d reqs/%d B  wr %d reqs/%d B  alloc %d cap %d phys %d\n",
					b.Name, b.RdReqs, b.RdBytes, b.WrReqs, b.WrBytes, b.Allocation, b.Capacity, b.Physical)
			}
			if len(s.Extra) > 0 {
				fmt.Printf("   (%d more stats fields in -json)\n", len(s.Extra))
			}
		}
	}
}
