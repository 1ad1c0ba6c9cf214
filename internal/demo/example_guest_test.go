package demo_test

import (
	"context"
	"fmt"
	"os"

	"github.com/vifpath/vifpath/internal/demo"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/trace"
)

// Build the path with a libvirt TCG domain as the guest (after
// `bash scripts/guest-image.sh`), and trace it with the demo's libvirtd,
// so the domain, interface and counter hops are judged too. Needs root,
// dnsmasq, libvirtd and qemu (no Output: compile-only).
func ExampleBuildPath_libvirtGuest() {
	ctx := context.Background()
	p, err := demo.BuildPath(ctx, &demo.PathConfig{Guest: demo.GuestAuto})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	defer p.Close()
	cfg := &trace.Config{BridgeNetNSPath: p.HostPath, NetNSDir: p.NetNSDir, StateDir: p.StateDir, NMRunDir: p.NMRunDir}
	if p.GuestKind == demo.GuestLibvirt {
		lv, err := libvirtinspect.Dial(ctx, &libvirtinspect.Config{Socket: p.LibvirtSocketRO, ReadOnly: true})
		if err != nil {
			fmt.Fprintln(os.Stderr, err)
			return
		}
		defer lv.Close()
		cfg.Libvirt = lv
		fmt.Printf("domain %s booted to its lease in %v\n", p.Domain, p.GuestBoot)
	} else {
		fmt.Println("namespace guest:", p.GuestWhy)
	}
	tr, err := trace.Run(ctx, cfg, trace.Target{PortID: p.PortID})
	if err != nil {
		fmt.Fprintln(os.Stderr, err)
		return
	}
	fmt.Println(tr.Verdict)
}
