package launch

import (
	"context"
	"crypto/tls"
	"crypto/x509"
	"errors"
	"fmt"
	"log/slog"
	"net/http"
	"os"
	"strconv"
	"strings"
	"sync"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/config/clouds"
	"github.com/gophercloud/gophercloud/v2/openstack/identity/v3/tokens"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/fwaas_v2/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
)

// Config tunes a Client. A nil *Config means all defaults.
type Config struct {
	// Cloud names the clouds.yaml entry to use. Zero: the OS_CLOUD
	// environment variable; when that is empty too, the OS_* variables of
	// an openrc (OS_AUTH_URL, OS_USERNAME, OS_PASSWORD, OS_PROJECT_NAME, …).
	Cloud string
	// CloudsFile is the clouds.yaml to read (secure.yaml next to it is
	// merged). Zero: OS_CLIENT_CONFIG_FILE, then ./clouds.yaml,
	// ~/.config/openstack/clouds.yaml, /etc/openstack/clouds.yaml.
	CloudsFile string
	// Region overrides the cloud's region_name. Zero: the cloud's region
	// (or OS_REGION_NAME).
	Region string
	// HTTPClient carries every request. Zero: a client whose TLS
	// verification is on unless the cloud config says verify: false (its
	// cacert, cert and key are honoured; OS_CACERT for an openrc).
	// When set, its Transport is used as is (TLS settings are then the
	// caller's).
	HTTPClient *http.Client
	// Logger receives one debug record per HTTP request (method, URL
	// without credentials, status, duration) and info records for what is
	// created or found. Headers and bodies are never logged. Nil: silent.
	Logger *slog.Logger
	// MaxAttempts bounds the tries of one API call on transient errors
	// (5xx, 429, 409 on create, connection resets). Zero: 5.
	MaxAttempts int
	// RetryBase is the first back-off between tries; it doubles up to
	// RetryMax, with ±20 % jitter. Zero: 500 ms.
	RetryBase time.Duration
	// RetryMax caps one back-off, including a server's Retry-After.
	// Zero: 30 s.
	RetryMax time.Duration
	// PollFirst is the wait before the first status poll of a server; each
	// next wait is 1.5 times longer, up to PollMax. Zero: 2 s.
	PollFirst time.Duration
	// PollMax caps the wait between status polls. Zero: 10 s.
	PollMax time.Duration
	// ComputeMicroversion is sent to Nova. Zero: "2.79" (Train and later;
	// fault, instance_name and remote consoles need ≥ 2.6).
	ComputeMicroversion string
	// Placement is the placement service client New uses. Zero: New looks
	// placement up in the catalog of the compute client's provider (Open
	// always does); without one, the placement checks report placement
	// unreachable.
	Placement *gophercloud.ServiceClient
}

// orDefault returns a copy of c (nil: the zero Config) with every zero
// field set to its documented default, the module's one way to fill
// defaults.
func (c *Config) orDefault() Config {
	var out Config
	if c != nil {
		out = *c
	}
	if out.MaxAttempts <= 0 {
		out.MaxAttempts = 5
	}
	if out.RetryBase <= 0 {
		out.RetryBase = 500 * time.Millisecond
	}
	if out.RetryMax <= 0 {
		out.RetryMax = 30 * time.Second
	}
	if out.PollFirst <= 0 {
		out.PollFirst = 2 * time.Second
	}
	if out.PollMax <= 0 {
		out.PollMax = 10 * time.Second
	}
	if out.ComputeMicroversion == "" {
		out.ComputeMicroversion = "2.79"
	}
	return out
}

// Client talks to Nova, Neutron and Glance for one project.
//
// A Client is safe for concurrent use. Close is not needed: it holds no
// resource beyond idle HTTP connections.
type Client struct {
	cfg     Config
	log     *slog.Logger
	compute *gophercloud.ServiceClient
	network *gophercloud.ServiceClient
	image   *gophercloud.ServiceClient
	// placement is nil when the catalog has none.
	placement *gophercloud.ServiceClient
	project   string

	mu      sync.Mutex
	created []createdResource
}

// Open authenticates with the cloud named by cfg (clouds.yaml + secure.yaml,
// or the OS_* variables of an openrc) through gophercloud's own config
// support and returns a Client whose token is renewed when it expires.
func Open(ctx context.Context, cfg *Config) (*Client, error) {
	c := cfg.orDefault()
	var (
		ao     gophercloud.AuthOptions
		eo     gophercloud.EndpointOpts
		tlsCfg *tls.Config
		err    error
		source string
	)
	cloud := c.Cloud
	if cloud == "" {
		cloud = os.Getenv("OS_CLOUD")
	}
	if cloud != "" {
		opts := []clouds.ParseOption{clouds.WithCloudName(cloud)}
		if c.CloudsFile != "" {
			opts = append(opts, clouds.WithLocations(c.CloudsFile))
		}
		if c.Region != "" {
			opts = append(opts, clouds.WithRegion(c.Region))
		}
		ao, eo, tlsCfg, err = clouds.Parse(opts...)
		if err != nil {
			return nil, fmt.Errorf("launch: reading cloud %q from clouds.yaml: %w (set OS_CLIENT_CONFIG_FILE or Config.CloudsFile to the file that defines it)", cloud, err)
		}
		source = "clouds.yaml entry " + strconv.Quote(cloud)
	} else {
		ao, err = openstack.AuthOptionsFromEnv()
		if err != nil {
			return nil, fmt.Errorf("launch: no cloud configured: OS_CLOUD is empty and the openrc variables are incomplete (%w): set OS_CLOUD and a clouds.yaml, or source your openrc", err)
		}
		eo.Region = os.Getenv("OS_REGION_NAME")
		if c.Region != "" {
			eo.Region = c.Region
		}
		if ca := os.Getenv("OS_CACERT"); ca != "" {
			pem, err := os.ReadFile(ca)
			if err != nil {
				return nil, fmt.Errorf("launch: reading OS_CACERT: %w", err)
			}
			pool := x509.NewCertPool()
			if !pool.AppendCertsFromPEM(pem) {
				return nil, fmt.Errorf("launch: OS_CACERT %s holds no PEM certificate", ca)
			}
			tlsCfg = &tls.Config{RootCAs: pool, MinVersion: tls.VersionTLS12}
		}
		source = "OS_* environment"
	}
	ao.AllowReauth = true

	hc := http.Client{}
	if c.HTTPClient != nil {
		hc = *c.HTTPClient
	} else {
		tr := http.DefaultTransport.(*http.Transport).Clone()
		if tlsCfg != nil {
			tr.TLSClientConfig = tlsCfg
		}
		hc.Transport = tr
	}
	base := hc.Transport
	if base == nil {
		base = http.DefaultTransport
	}
	log := c.Logger
	if log == nil {
		log = slog.New(discard{})
	}
	hc.Transport = &logTransport{base: base, log: log}

	// The provider is Open's own, so the retry hooks go on it directly
	// (authentication is retried too); New puts them on its copy again.
	provider, err := openstack.NewClient(ao.IdentityEndpoint)
	if err != nil {
		return nil, fmt.Errorf("launch: the auth URL of the %s: %w", source, err)
	}
	provider.HTTPClient = hc
	setRetryHooks(provider, &c, log)
	err = call(ctx, "authenticate", false, func(ctx context.Context) error {
		return openstack.Authenticate(ctx, provider, ao)
	})
	if err != nil {
		if isStatus(err, http.StatusUnauthorized) {
			return nil, fmt.Errorf("%w (check the username, password and project of the %s; the password is in secure.yaml or OS_PASSWORD)", err, source)
		}
		return nil, err
	}
	compute, err := openstack.NewComputeV2(provider, eo)
	if err != nil {
		return nil, fmt.Errorf("launch: finding Nova in the catalog of the %s: %w", source, err)
	}
	network, err := openstack.NewNetworkV2(provider, eo)
	if err != nil {
		return nil, fmt.Errorf("launch: finding Neutron in the catalog of the %s: %w", source, err)
	}
	image, err := openstack.NewImageV2(provider, eo)
	if err != nil {
		return nil, fmt.Errorf("launch: finding Glance in the catalog of the %s: %w", source, err)
	}
	if cfg == nil || cfg.Placement == nil {
		pc := c
		pc.Placement, err = openstack.NewPlacementV1(provider, eo)
		if err != nil {
			log.LogAttrs(ctx, slog.LevelInfo, "no placement endpoint in the catalog", slog.String("source", source), slog.String("error", err.Error()))
			pc.Placement = nil
		}
		cfg = &pc
	}
	return New(compute, network, image, cfg)
}

// New returns a Client on service clients the caller built (for tests and
// for programs that already hold an authenticated gophercloud provider).
// image may be nil when images are always given by ID. Requests go through
// the clients' own HTTP client: the Config's HTTPClient is not used, and
// requests are logged only if the caller's transport logs them. The
// caller's clients are never changed: the Client works on copies (with
// Config.ComputeMicroversion on its copy of compute), and its retries are
// gophercloud's RetryFunc and RetryBackoffFunc hooks on its own copy of
// each ProviderClient, which shares the caller's token: a
// re-authentication on either side reaches the other.
func New(compute, network, image *gophercloud.ServiceClient, cfg *Config) (*Client, error) {
	if compute == nil || network == nil {
		return nil, errors.New("launch: New needs a compute and a network service client")
	}
	c := cfg.orDefault()
	log := c.Logger
	if log == nil {
		log = slog.New(discard{})
	}
	cp := clientCopier{cfg: &c, log: log, providers: map[*gophercloud.ProviderClient]*gophercloud.ProviderClient{}}
	cc := cp.service(compute)
	cc.Microversion = c.ComputeMicroversion
	cl := &Client{cfg: c, log: log, compute: cc, network: cp.service(network)}
	if image != nil {
		cl.image = cp.service(image)
	}
	if c.Placement != nil {
		cl.placement = cp.service(c.Placement)
	} else if cc.ProviderClient != nil && cc.ProviderClient.EndpointLocator != nil {
		if pc, err := openstack.NewPlacementV1(cc.ProviderClient, gophercloud.EndpointOpts{Region: c.Region}); err == nil {
			cl.placement = pc
		}
	}
	if ar := compute.ProviderClient.GetAuthResult(); ar != nil {
		if cr, ok := ar.(tokens.CreateResult); ok {
			if p, err := cr.ExtractProject(); err == nil && p != nil {
				cl.project = p.ID
			}
		}
	}
	return cl, nil
}

// ProjectID is the project the token is scoped to ("" when unknown).
func (c *Client) ProjectID() string { return c.project }

type discard struct{}

func (discard) Enabled(context.Context, slog.Level) bool  { return false }
func (discard) Handle(context.Context, slog.Record) error { return nil }
func (d discard) WithAttrs([]slog.Attr) slog.Handler      { return d }
func (d discard) WithGroup(string) slog.Handler           { return d }

// logTransport logs method, URL (without user info) and status. Never
// headers (X-Auth-Token, X-Subject-Token) nor bodies (passwords, adminPass).
type logTransport struct {
	base http.RoundTripper
	log  *slog.Logger
}

func (t *logTransport) RoundTrip(req *http.Request) (*http.Response, error) {
	start := time.Now()
	resp, err := t.base.RoundTrip(req)
	if !t.log.Enabled(req.Context(), slog.LevelDebug) {
		return resp, err
	}
	if err != nil {
		t.log.LogAttrs(req.Context(), slog.LevelDebug, "openstack request failed", slog.String("method", req.Method), slog.String("url", cleanURL(req.URL.String())), slog.String("error", err.Error()), slog.Duration("took", time.Since(start)))
		return resp, err
	}
	t.log.LogAttrs(req.Context(), slog.LevelDebug, "openstack request", slog.String("method", req.Method), slog.String("url", cleanURL(req.URL.String())), slog.Int("status", resp.StatusCode), slog.Duration("took", time.Since(start)))
	return resp, err
}

func sleep(ctx context.Context, d time.Duration) error {
	t := time.NewTimer(d)
	defer t.Stop()
	select {
	case <-t.C:
		return nil
	case <-ctx.Done():
		return ctx.Err()
	}
}

// parseRetryAfter reads a Retry-After header: delay-seconds or an HTTP date.
func parseRetryAfter(h http.Header) time.Duration {
	v := strings.TrimSpace(h.Get("Retry-After"))
	if v == "" {
		return 0
	}
	if s, err := strconv.Atoi(v); err == nil && s >= 0 {
		// A day is already far past RetryMax; larger values would overflow.
		return time.Duration(min(s, 86400)) * time.Second
	}
	if t, err := http.ParseTime(v); err == nil {
		if d := time.Until(t); d > 0 {
			return d
		}
	}
	return 0
}

type createdResource struct {
	kind string // "server", "subnet", "network", "rule", "keypair", "flavor"
	id   string
	name string
	file string // keypair: private key written
}

func (c *Client) record(r createdResource) {
	c.mu.Lock()
	defer c.mu.Unlock()
	c.created = append(c.created, r)
}

// Created lists what this Client created, oldest first, as "kind name (id)".
func (c *Client) Created() []string {
	c.mu.Lock()
	defer c.mu.Unlock()
	out := make([]string, 0, len(c.created))
	for _, r := range c.created {
		out = append(out, fmt.Sprintf("%s %s (%s)", r.kind, r.name, r.id))
	}
	return out
}

// Cleanup deletes, newest first, everything this Client created (servers,
// waiting until they are gone; subnets; networks; security group rules;
// keypairs with the private key files it wrote; flavors). What existed
// before is never touched. It tries every resource and returns the joined
// errors; what it deleted is forgotten, what failed stays for a retry.
func (c *Client) Cleanup(ctx context.Context) error {
	c.mu.Lock()
	list := append([]createdResource(nil), c.created...)
	c.mu.Unlock()
	var errs []error
	var left []createdResource
	for i := len(list) - 1; i >= 0; i-- {
		r := list[i]
		var err error
		switch r.kind {
		case "server":
			err = c.DeleteServer(ctx, r.id)
		case "subnet":
			err = c.del(ctx, "delete subnet "+r.name, func(ctx context.Context) error { return subnets.Delete(ctx, c.network, r.id).ExtractErr() })
		case "network":
			err = c.del(ctx, "delete network "+r.name, func(ctx context.Context) error { return networks.Delete(ctx, c.network, r.id).ExtractErr() })
		case "rule":
			err = c.del(ctx, "delete security group rule", func(ctx context.Context) error { return rules.Delete(ctx, c.network, r.id).ExtractErr() })
		case "keypair":
			err = c.del(ctx, "delete keypair "+r.name, func(ctx context.Context) error {
				return keypairs.Delete(ctx, c.compute, r.name, keypairs.DeleteOpts{}).ExtractErr()
			})
			if err == nil && r.file != "" {
				if rerr := os.Remove(r.file); rerr != nil && !errors.Is(rerr, os.ErrNotExist) {
					err = fmt.Errorf("launch: removing private key file: %w", rerr)
				}
			}
		case "flavor":
			err = c.del(ctx, "delete flavor "+r.name, func(ctx context.Context) error { return flavors.Delete(ctx, c.compute, r.id).ExtractErr() })
		}
		if err != nil && !errors.Is(err, ErrNotFound) {
			errs = append(errs, err)
			left = append(left, r)
			continue
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "deleted", slog.String("kind", r.kind), slog.String("name", r.name), slog.String("id", r.id))
	}
	c.mu.Lock()
	c.created = left
	c.mu.Unlock()
	return errors.Join(errs...)
}

func (c *Client) del(ctx context.Context, op string, fn func(context.Context) error) error {
	return c.call(ctx, op, false, fn)
}
