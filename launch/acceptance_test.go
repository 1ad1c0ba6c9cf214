//go:build acceptance

package launch_test

import (
	"context"
	"errors"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/launch"
)

// Acceptance tests drive a real OpenStack (the all-in-one Zed of
// scripts/aio): `go test -tags acceptance ./launch/`. The cloud comes from
// OS_CLOUD (+ OS_CLIENT_CONFIG_FILE); the image from
// VIFPATH_ACCEPTANCE_IMAGE (default "cirros"), the provider network's
// physnet from VIFPATH_ACCEPTANCE_PHYSNET (default "provider"), the flat
// network and its subnet from VIFPATH_ACCEPTANCE_NETWORK (default
// "provider"), VIFPATH_ACCEPTANCE_SUBNET (default: the network's name) and
// VIFPATH_ACCEPTANCE_SUBNET_RANGE (default 203.0.113.0/24). Without a
// cloud the tests skip, or fail under CI.

func acceptanceClient(t *testing.T) *launch.Client {
	t.Helper()
	if os.Getenv("OS_CLOUD") == "" && os.Getenv("OS_AUTH_URL") == "" {
		testutil.SkipOrFail(t, "no cloud configured: set OS_CLOUD (and OS_CLIENT_CONFIG_FILE) or source an openrc; the all-in-one bring-up writes one")
	}
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	c, err := launch.Open(ctx, &launch.Config{})
	if err != nil {
		testutil.SkipOrFail(t, "cloud configured but not reachable: %v", err)
	}
	return c
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

func TestAcceptanceWalkthroughTwice(t *testing.T) {
	c := acceptanceClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 15*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := c.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	suffix := time.Now().UTC().Format("150405")
	names := struct{ flavor, key, net, server string }{"vpt-nano-" + suffix, "vpt-key-" + suffix, "vpt-net-" + suffix, "vpt-cirros-" + suffix}
	keyPath := filepath.Join(t.TempDir(), "id_ed25519")
	image := env("VIFPATH_ACCEPTANCE_IMAGE", "cirros")
	physnet := env("VIFPATH_ACCEPTANCE_PHYSNET", "provider")

	run := func(pass int) (created []bool, srv *launch.Server) {
		pf, err := c.Preflight(ctx, nil)
		if err != nil {
			t.Fatalf("pass %d: Preflight: %v", pass, err)
		}
		if !pf.Ready {
			t.Fatalf("pass %d: %s", pass, pf)
		}
		fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: names.flavor, VCPUs: 1, RAMMiB: 128, DiskGiB: 1})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		kp, err := c.EnsureKeypair(ctx, launch.KeypairSpec{Name: names.key, PrivateKeyPath: keyPath + map[int]string{1: "", 2: ".second"}[pass]})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		rules, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules())
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		im, err := c.FindImage(ctx, image)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		// Neutron allows one flat network per physnet: the walkthrough's
		// provider network is created on a fresh cloud and found on one
		// where it exists (then name and CIDR must match it).
		nw, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: names.net, Type: launch.NetworkFlat, PhysicalNetwork: physnet, Shared: true, External: true})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		sn, err := c.EnsureSubnet(ctx, launch.SubnetSpec{Name: env("VIFPATH_ACCEPTANCE_SUBNET", names.net), Network: nw.ID, CIDR: netip.MustParsePrefix(env("VIFPATH_ACCEPTANCE_SUBNET_RANGE", "203.0.113.0/24"))})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		t.Logf("pass %d: network %s created=%t, subnet %s %s created=%t", pass, nw.Name, nw.Created, sn.Name, sn.CIDR, sn.Created)
		srv, err = c.Launch(ctx, launch.ServerSpec{Name: names.server, Flavor: fl.ID, Image: im.ID, Network: nw.ID, SecurityGroups: []string{"default"}, KeyName: kp.Name})
		if err != nil {
			t.Fatalf("pass %d: Launch: %v", pass, err)
		}
		created = []bool{fl.Created, kp.Created, srv.Created, nw.Created, sn.Created}
		for _, r := range rules {
			created = append(created, r.Created)
		}
		return created, srv
	}
	c1, s1 := run(1)
	if !c1[0] || !c1[1] || !c1[2] {
		t.Errorf("first pass created %v; want at least flavor, keypair, server", c1)
	}
	if s1.Status != launch.StatusActive || s1.Host == "" || !strings.HasPrefix(s1.InstanceName, "instance-") || len(s1.Ports) != 1 || s1.Ports[0].VIFType == "binding_failed" {
		t.Errorf("server = %+v", s1)
	}
	if s1.Polls > 10 {
		t.Errorf("%d status polls", s1.Polls)
	}
	c2, s2 := run(2)
	for i, cr := range c2 {
		if cr {
			t.Errorf("second pass created object %d (%v)", i, c2)
		}
	}
	if s2.ID != s1.ID {
		t.Errorf("second pass found server %s, first made %s", s2.ID, s1.ID)
	}
	if _, err := c.ConsoleURL(ctx, s1.ID); err != nil {
		var ae *launch.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest {
			t.Errorf("ConsoleURL: %v", err)
		} else {
			t.Logf("console unavailable on this cloud (VNC off): %v", err)
		}
	}
}

func TestAcceptanceFlavorTooLargeFaultReachesCaller(t *testing.T) {
	c := acceptanceClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), 10*time.Minute)
	defer cancel()
	t.Cleanup(func() {
		if err := c.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	suffix := time.Now().UTC().Format("150405")
	fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "vpt-huge-" + suffix, VCPUs: 1, RAMMiB: 4 << 20, DiskGiB: 1})
	if err != nil {
		t.Fatal(err)
	}
	im, err := c.FindImage(ctx, env("VIFPATH_ACCEPTANCE_IMAGE", "cirros"))
	if err != nil {
		t.Fatal(err)
	}
	nets, err := c.Preflight(ctx, nil)
	if err != nil || !nets.Ready {
		t.Fatalf("preflight: %v %v", nets, err)
	}
	network := env("VIFPATH_ACCEPTANCE_NETWORK", "provider")
	start := time.Now()
	_, err = c.Launch(ctx, launch.ServerSpec{Name: "vpt-toobig-" + suffix, Flavor: fl.ID, Image: im.ID, Network: network})
	var fe *launch.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Launch with a 4 TiB flavor: %v; want *FaultError", err)
	}
	if !strings.Contains(fe.Fault.Message, "No valid host") {
		t.Errorf("fault = %+v; want Nova's No valid host", fe.Fault)
	}
	t.Logf("ERROR reported after %s and %d polls: %v", time.Since(start).Round(time.Second), fe.Polls, err)
}
