// Command launch runs the controller side of the launch-an-instance
// walkthrough in one go: preflight, flavor, keypair, ICMP and SSH rules on
// the default group, image lookup, flat provider network and subnet, the
// server, its address and its noVNC console. Every step is get-or-create:
// run it twice and the second run creates nothing.
//
//	launch -cloud aio -flavor m1.nano -image cirros -network provider \
//	    -subnet-range 203.0.113.0/24 -name cirros1 [-json] [-cleanup]
//
// It authenticates from clouds.yaml (-cloud, else OS_CLOUD) or an openrc's
// OS_* variables.
package main

import (
	"context"
	"encoding/json"
	"errors"
	"flag"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"strings"
	"time"

	"github.com/vifpath/vifpath/launch"
)

type report struct {
	Preflight *launch.PreflightReport `json:"preflight"`
	Flavor    *launch.Flavor          `json:"flavor"`
	Keypair   *launch.Keypair         `json:"keypair,omitempty"`
	Rules     []launch.Rule           `json:"rules"`
	Image     *launch.Image           `json:"image"`
	Network   *launch.Network         `json:"network"`
	Subnet    *launch.Subnet          `json:"subnet"`
	Server    *launch.Server          `json:"server,omitempty"`
	Fault     *launch.FaultError      `json:"fault,omitempty"`
	Console   string                  `json:"console,omitempty"`
	Created   []string                `json:"created"`
}

func main() {
	var (
		cloud   = flag.String("cloud", "", "clouds.yaml entry (default: OS_CLOUD, else the OS_* variables)")
		flavor  = flag.String("flavor", "m1.nano", "flavor name (made with -vcpus/-ram/-disk if missing)")
		vcpus   = flag.Int("vcpus", 1, "flavor vCPUs")
		ram     = flag.Int("ram", 64, "flavor RAM in MiB")
		disk    = flag.Int("disk", 1, "flavor root disk in GiB")
		image   = flag.String("image", "cirros", "image name or ID")
		network = flag.String("network", "provider", "provider network name")
		physnet = flag.String("physnet", "provider", "physical network of the flat provider network")
		subnet  = flag.String("subnet-range", "203.0.113.0/24", "subnet CIDR")
		pool    = flag.String("pool", "", "allocation pool start-end (default: Neutron's)")
		gateway = flag.String("gateway", "", "gateway (default: Neutron's)")
		dns     = flag.String("dns", "8.8.4.4", "DNS server handed out by DHCP")
		name    = flag.String("name", "cirros1", "server name")
		key     = flag.String("key", "mykey", "keypair name (\"\" for none)")
		keyFile = flag.String("key-file", "", "public key to import, or (if missing) where to write a generated private key (default: ./<key>.pem)")
		timeout = flag.Duration("timeout", 10*time.Minute, "overall deadline")
		jsonOut = flag.Bool("json", false, "print JSON")
		cleanup = flag.Bool("cleanup", false, "delete what this run created before exiting")
		debug   = flag.Bool("v", false, "log each API request to stderr")
	)
	flag.Parse()
	ctx, cancel := context.WithTimeout(context.Background(), *timeout)
	defer cancel()
	var log *slog.Logger
	if *debug {
		log = slog.New(slog.NewTextHandler(os.Stderr, &slog.HandlerOptions{Level: slog.LevelDebug}))
	}
	c, err := launch.Open(ctx, &launch.Config{Cloud: *cloud, Logger: log})
	if err != nil {
		fatal(err)
	}
	r, err := run(ctx, c, *flavor, *vcpus, *ram, *disk, *image, *network, *physnet, *subnet, *pool, *gateway, *dns, *name, *key, *keyFile)
	r.Created = c.Created()
	var fe *launch.FaultError
	if errors.As(err, &fe) {
		r.Fault = fe
	}
	if *jsonOut {
		enc := json.NewEncoder(os.Stdout)
		enc.SetIndent("", "  ")
		enc.Encode(r)
	} else {
		printText(r)
	}
	if *cleanup {
		if cerr := c.Cleanup(context.Background()); cerr != nil {
			fmt.Fprintln(os.Stderr, "cleanup:", cerr)
		}
	}
	if err != nil {
		fatal(err)
	}
}

func run(ctx context.Context, c *launch.Client, flavor string, vcpus, ram, disk int, image, network, physnet, cidr, pool, gateway, dns, name, key, keyFile string) (*report, error) {
	r := &report{}
	var err error
	if r.Flavor, err = c.EnsureFlavor(ctx, launch.FlavorSpec{Name: flavor, VCPUs: vcpus, RAMMiB: ram, DiskGiB: disk}); err != nil {
		return r, err
	}
	// Services, agents and `nova-status upgrade check` for this flavor:
	// a host whose resource provider can take it.
	if r.Preflight, err = c.Preflight(ctx, &launch.PreflightOptions{Flavor: r.Flavor.ID}); err != nil {
		return r, err
	}
	if key != "" {
		spec := launch.KeypairSpec{Name: key}
		if keyFile == "" {
			keyFile = key + ".pem"
		}
		if b, rerr := os.ReadFile(keyFile); rerr == nil && len(b) > 8 && string(b[:4]) == "ssh-" {
			spec.PublicKey = string(b)
		} else {
			spec.PrivateKeyPath = keyFile
		}
		if r.Keypair, err = c.EnsureKeypair(ctx, spec); err != nil {
			return r, err
		}
	}
	if r.Rules, err = c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules()); err != nil {
		return r, err
	}
	if r.Image, err = c.FindImage(ctx, image); err != nil {
		return r, err
	}
	if r.Network, err = c.EnsureNetwork(ctx, launch.NetworkSpec{Name: network, Type: launch.NetworkFlat, PhysicalNetwork: physnet, Shared: true, External: true}); err != nil {
		return r, err
	}
	spec := launch.SubnetSpec{Name: network, Network: r.Network.ID}
	if spec.CIDR, err = netip.ParsePrefix(cidr); err != nil {
		return r, fmt.Errorf("-subnet-range: %w", err)
	}
	if pool != "" {
		s, e, ok := strings.Cut(pool, "-")
		if !ok {
			return r, fmt.Errorf("-pool %q: want start-end", pool)
		}
		if spec.PoolStart, err = netip.ParseAddr(s); err != nil {
			return r, fmt.Errorf("-pool: %w", err)
		}
		if spec.PoolEnd, err = netip.ParseAddr(e); err != nil {
			return r, fmt.Errorf("-pool: %w", err)
		}
	}
	if gateway != "" {
		if spec.Gateway, err = netip.ParseAddr(gateway); err != nil {
			return r, fmt.Errorf("-gateway: %w", err)
		}
	}
	if dns != "" {
		a, err := netip.ParseAddr(dns)
		if err != nil {
			return r, fmt.Errorf("-dns: %w", err)
		}
		spec.DNS = []netip.Addr{a}
	}
	if r.Subnet, err = c.EnsureSubnet(ctx, spec); err != nil {
		return r, err
	}
	if r.Server, err = c.Launch(ctx, launch.ServerSpec{Name: name, Flavor: r.Flavor.ID, Image: r.Image.ID, Network: r.Network.ID, SecurityGroups: []string{"default"}, KeyName: key}); err != nil {
		return r, err
	}
	if r.Console, err = c.ConsoleURL(ctx, r.Server.ID); err != nil {
		// A cloud without VNC still launched the server: report, go on.
		fmt.Fprintln(os.Stderr, "console:", err)
		err = nil
	}
	return r, err
}

func verb(created bool) string {
	if created {
		return "created"
	}
	return "found  "
}

func printText(r *report) {
	if r.Preflight != nil {
		fmt.Println(r.Preflight)
	}
	if f := r.Flavor; f != nil {
		fmt.Printf("%s flavor   %s (%s): %d vCPU, %d MiB, %d GiB\n", verb(f.Created), f.Name, f.ID, f.VCPUs, f.RAMMiB, f.DiskGiB)
	}
	if k := r.Keypair; k != nil {
		fmt.Printf("%s keypair  %s %s %s\n", verb(k.Created), k.Name, k.Fingerprint, k.PrivateKeyPath)
	}
	for _, ru := range r.Rules {
		fmt.Printf("%s rule     %s %s %s %d-%d from %s (%s)\n", verb(ru.Created), ru.Direction, ru.EtherType, ru.Protocol, ru.PortMin, ru.PortMax, ru.Remote, ru.ID)
	}
	if im := r.Image; im != nil {
		fmt.Printf("found   image    %s (%s) %s %s\n", im.Name, im.ID, im.DiskFormat, im.Status)
	}
	if n := r.Network; n != nil {
		fmt.Printf("%s network  %s (%s) %s on %s shared=%t external=%t\n", verb(n.Created), n.Name, n.ID, n.Type, n.PhysicalNetwork, n.Shared, n.External)
	}
	if s := r.Subnet; s != nil {
		fmt.Printf("%s subnet   %s (%s) %s gw %s pool %s-%s dhcp=%t\n", verb(s.Created), s.Name, s.ID, s.CIDR, s.Gateway, s.PoolStart, s.PoolEnd, s.DHCP)
	}
	if s := r.Server; s != nil {
		fmt.Printf("%s server   %s (%s) %s on host %s as %s after %d polls\n", verb(s.Created), s.Name, s.ID, s.Status, s.Host, s.InstanceName, s.Polls)
		for _, p := range s.Ports {
			for _, ip := range p.FixedIPs {
				fmt.Printf("        port     %s %s %s vif_type=%s host=%s\n", p.ID, p.MAC, ip.Address, p.VIFType, p.HostID)
			}
		}
	}
	if r.Console != "" {
		fmt.Println("        console ", r.Console)
	}
	if fe := r.Fault; fe != nil {
		fmt.Printf("ERROR   server   %s (%s): fault %d %s\n", fe.ServerName, fe.ServerID, fe.Fault.Code, fe.Fault.Message)
		for _, e := range fe.Explain() {
			fmt.Println("        because ", e)
		}
	}
}

func fatal(err error) {
	fmt.Fprintln(os.Stderr, err)
	os.Exit(1)
}
