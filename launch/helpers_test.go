package launch_test

import (
	"context"
	"log/slog"
	"net/http"
	"net/netip"
	"os"
	"path/filepath"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

// openFake writes a clouds.yaml for the fake and opens a Client through
// launch.Open (the real auth path: clouds.Parse, Keystone v3, catalog),
// with the fake reached in-process so the test can run in a synctest bubble.
func openFake(tb testing.TB, fake *fakecloud.Cloud, cfg *launch.Config) *launch.Client {
	tb.Helper()
	dir := tb.TempDir()
	path := filepath.Join(dir, "clouds.yaml")
	if err := os.WriteFile(path, []byte(fake.CloudsYAML("fake")), 0o600); err != nil {
		tb.Fatal(err)
	}
	var c launch.Config
	if cfg != nil {
		c = *cfg
	}
	c.Cloud, c.CloudsFile = "fake", path
	if c.HTTPClient == nil {
		c.HTTPClient = &http.Client{Transport: fake.Transport()}
	}
	cl, err := launch.Open(context.Background(), &c)
	if err != nil {
		tb.Fatalf("Open: %v", err)
	}
	return cl
}

// walkResult is what one run of the walkthrough's controller steps found or
// created.
type walkResult struct {
	Preflight *launch.PreflightReport
	Flavor    *launch.Flavor
	Keypair   *launch.Keypair
	Rules     []launch.Rule
	Image     *launch.Image
	Network   *launch.Network
	Subnet    *launch.Subnet
	Server    *launch.Server
	Console   string
}

// walk runs the walkthrough's controller steps against the fake (the
// recorded cloud's names: image aio-tiny, physnet provider).
func walk(ctx context.Context, c *launch.Client, keyPath string) (*walkResult, error) {
	var r walkResult
	var err error
	if r.Preflight, err = c.Preflight(ctx, &launch.PreflightOptions{Host: fakecloud.Host}); err != nil {
		return &r, err
	}
	if r.Flavor, err = c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "m1.nano", VCPUs: 1, RAMMiB: 64, DiskGiB: 1, ID: "0"}); err != nil {
		return &r, err
	}
	if r.Keypair, err = c.EnsureKeypair(ctx, launch.KeypairSpec{Name: "mykey", PrivateKeyPath: keyPath}); err != nil {
		return &r, err
	}
	if r.Rules, err = c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules()); err != nil {
		return &r, err
	}
	if r.Image, err = c.FindImage(ctx, "aio-tiny"); err != nil {
		return &r, err
	}
	if r.Network, err = c.EnsureNetwork(ctx, launch.NetworkSpec{Name: "provider", Type: launch.NetworkFlat, PhysicalNetwork: "provider", Shared: true, External: true}); err != nil {
		return &r, err
	}
	if r.Subnet, err = c.EnsureSubnet(ctx, launch.SubnetSpec{Name: "provider", Network: "provider", CIDR: netip.MustParsePrefix("203.0.113.0/24"),
		PoolStart: netip.MustParseAddr("203.0.113.101"), PoolEnd: netip.MustParseAddr("203.0.113.250"), Gateway: netip.MustParseAddr("203.0.113.1"),
		DNS: []netip.Addr{netip.MustParseAddr("8.8.4.4")}}); err != nil {
		return &r, err
	}
	if r.Server, err = c.Launch(ctx, launch.ServerSpec{Name: "cirros1", Flavor: "m1.nano", Image: "aio-tiny", Network: "provider", SecurityGroups: []string{"default"}, KeyName: "mykey"}); err != nil {
		return &r, err
	}
	if r.Console, err = c.ConsoleURL(ctx, r.Server.ID); err != nil {
		return &r, err
	}
	return &r, nil
}

// recordHandler keeps every slog record, with all attributes, as text.
type recordHandler struct {
	out *[]string
}

func newRecorder() (*slog.Logger, *[]string) {
	var out []string
	return slog.New(&recordHandler{out: &out}), &out
}

func (h *recordHandler) Enabled(context.Context, slog.Level) bool { return true }
func (h *recordHandler) Handle(_ context.Context, r slog.Record) error {
	s := r.Level.String() + " " + r.Message
	r.Attrs(func(a slog.Attr) bool {
		s += " " + a.Key + "=" + a.Value.String()
		return true
	})
	*h.out = append(*h.out, s)
	return nil
}
func (h *recordHandler) WithAttrs([]slog.Attr) slog.Handler { return h }
func (h *recordHandler) WithGroup(string) slog.Handler      { return h }
