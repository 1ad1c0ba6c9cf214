//go:build acceptance

package launch_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/base64"
	"encoding/binary"
	"errors"
	"fmt"
	"io"
	"net"
	"net/http"
	"net/netip"
	"net/url"
	"os"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/launch"
)

// Acceptance tests drive a real OpenStack, by default the project's
// all-in-one Zed of aio/ (`sudo aio/up.sh`):
//
//	OS_CLOUD=vifpath-aio go test -tags acceptance -count=1 -v ./launch/
//
// The cloud comes from OS_CLOUD (+ OS_CLIENT_CONFIG_FILE) or an openrc's
// OS_* variables. The defaults are the walkthrough's names, which aio/
// and the acceptance/ suite use, so CI needs no other variable:
// VIFPATH_ACCEPTANCE_IMAGE (default "cirros"), VIFPATH_ACCEPTANCE_PHYSNET
// (default "provider"), VIFPATH_ACCEPTANCE_NETWORK (default "provider1"),
// VIFPATH_ACCEPTANCE_SUBNET (default "provider1subnet") and
// VIFPATH_ACCEPTANCE_SUBNET_RANGE (default 192.168.31.64/27, pool .70-.79,
// gateway 192.168.31.1, DNS 8.8.4.4 as in the walkthrough; other ranges
// get Neutron's default pool and gateway). Neutron allows one flat network
// per physnet, so the flat provider network is created when missing and
// found when it exists; then it must match. What a test creates it
// deletes at the end, so the acceptance/ suite (which creates the same
// walkthrough objects) finds the cloud as before. Without a cloud the
// tests skip, or fail under CI.

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

// launchingClient is acceptanceClient for a test that creates: its ctx
// ends after timeout, and everything the client created is deleted when
// the test ends (Client.Cleanup).
func launchingClient(t *testing.T, timeout time.Duration) (*launch.Client, context.Context) {
	t.Helper()
	c := acceptanceClient(t)
	ctx, cancel := context.WithTimeout(context.Background(), timeout)
	t.Cleanup(func() {
		cancel()
		if err := c.Cleanup(context.Background()); err != nil {
			t.Errorf("Cleanup: %v", err)
		}
	})
	return c, ctx
}

func env(name, def string) string {
	if v := os.Getenv(name); v != "" {
		return v
	}
	return def
}

// walkthroughSubnet is the walkthrough's provider1subnet (and aio's).
var walkthroughSubnet = launch.SubnetSpec{
	CIDR:      netip.MustParsePrefix("192.168.31.64/27"),
	PoolStart: netip.MustParseAddr("192.168.31.70"),
	PoolEnd:   netip.MustParseAddr("192.168.31.79"),
	Gateway:   netip.MustParseAddr("192.168.31.1"),
	DNS:       []netip.Addr{netip.MustParseAddr("8.8.4.4")},
}

// ensureProviderNetwork finds or creates the flat provider network and its
// subnet (see the package comment for the variables).
func ensureProviderNetwork(ctx context.Context, t *testing.T, c *launch.Client, pass int) (*launch.Network, *launch.Subnet) {
	t.Helper()
	nw, err := c.EnsureNetwork(ctx, launch.NetworkSpec{Name: env("VIFPATH_ACCEPTANCE_NETWORK", "provider1"), Type: launch.NetworkFlat,
		PhysicalNetwork: env("VIFPATH_ACCEPTANCE_PHYSNET", "provider"), Shared: true, External: true})
	if err != nil {
		t.Fatalf("pass %d: %v", pass, err)
	}
	spec := launch.SubnetSpec{CIDR: walkthroughSubnet.CIDR}
	if r := os.Getenv("VIFPATH_ACCEPTANCE_SUBNET_RANGE"); r != "" {
		spec.CIDR, err = netip.ParsePrefix(r)
		if err != nil {
			t.Fatalf("VIFPATH_ACCEPTANCE_SUBNET_RANGE: %v", err)
		}
	}
	if spec.CIDR == walkthroughSubnet.CIDR {
		spec = walkthroughSubnet
	}
	spec.Name, spec.Network = env("VIFPATH_ACCEPTANCE_SUBNET", "provider1subnet"), nw.ID
	sn, err := c.EnsureSubnet(ctx, spec)
	if err != nil {
		t.Fatalf("pass %d: %v", pass, err)
	}
	if sn.NetworkID != nw.ID || sn.CIDR != spec.CIDR || !sn.DHCP || (spec.PoolStart.IsValid() && (sn.PoolStart != spec.PoolStart || sn.PoolEnd != spec.PoolEnd || sn.Gateway != spec.Gateway)) {
		t.Errorf("pass %d: subnet = %+v; want %+v", pass, sn, spec)
	}
	t.Logf("pass %d: network %s (%s) created=%t, subnet %s %s created=%t", pass, nw.Name, nw.ID, nw.Created, sn.Name, sn.CIDR, sn.Created)
	return nw, sn
}

func TestAcceptanceWalkthroughTwice(t *testing.T) {
	c, ctx := launchingClient(t, 15*time.Minute)
	suffix := time.Now().UTC().Format("150405")
	names := struct{ flavor, key, server string }{"vpt-nano-" + suffix, "vpt-key-" + suffix, "vpt-cirros-" + suffix}
	keyPath := filepath.Join(t.TempDir(), "id_ed25519")
	image := env("VIFPATH_ACCEPTANCE_IMAGE", "cirros")

	type result struct {
		created map[string]bool
		srv     *launch.Server
		net     *launch.Network
		sub     *launch.Subnet
		kp      *launch.Keypair
	}
	run := func(pass int) result {
		r := result{created: map[string]bool{}}
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
		r.created["flavor"] = fl.Created
		// The second pass names another private key file: the keypair
		// exists, so nothing may be written there.
		r.kp, err = c.EnsureKeypair(ctx, launch.KeypairSpec{Name: names.key, PrivateKeyPath: keyPath + map[int]string{1: "", 2: ".second"}[pass]})
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		r.created["keypair"] = r.kp.Created
		rules, err := c.EnsureSecurityGroupRules(ctx, "default", launch.WalkthroughRules())
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		if len(rules) != 2 {
			t.Errorf("pass %d: %d rules, want ICMP and SSH: %+v", pass, len(rules), rules)
		}
		for _, ru := range rules {
			r.created["rule "+ru.Protocol] = ru.Created
		}
		im, err := c.FindImage(ctx, image)
		if err != nil {
			t.Fatalf("pass %d: %v", pass, err)
		}
		r.net, r.sub = ensureProviderNetwork(ctx, t, c, pass)
		r.created["network"], r.created["subnet"] = r.net.Created, r.sub.Created
		r.srv, err = c.Launch(ctx, launch.ServerSpec{Name: names.server, Flavor: fl.ID, Image: im.ID, Network: r.net.ID, SecurityGroups: []string{"default"}, KeyName: r.kp.Name})
		if err != nil {
			t.Fatalf("pass %d: Launch: %v", pass, err)
		}
		r.created["server"] = r.srv.Created
		return r
	}
	r1 := run(1)
	t.Logf("first pass created %v; server %s on %s (%s) ACTIVE after %s and %d polls", r1.created, r1.srv.ID, r1.srv.Host, r1.srv.InstanceName, r1.srv.Waited, r1.srv.Polls)
	for _, what := range []string{"flavor", "keypair", "server"} {
		if !r1.created[what] {
			t.Errorf("first pass found an existing %s (created %v); want it created", what, r1.created)
		}
	}
	s1 := r1.srv
	if s1.Status != launch.StatusActive || s1.Host == "" || !strings.HasPrefix(s1.InstanceName, "instance-") || len(s1.Ports) != 1 {
		t.Fatalf("server = %+v; want ACTIVE on a host, with an instance name and one port", s1)
	}
	if p := s1.Ports[0]; p.VIFType != "bridge" || p.HostID != s1.Host || p.NetworkID != r1.net.ID || len(p.MAC) != 6 ||
		len(p.FixedIPs) != 1 || p.FixedIPs[0].SubnetID != r1.sub.ID || !r1.sub.CIDR.Contains(p.FixedIPs[0].Address) {
		t.Errorf("port = %+v; want bound by linuxbridge (vif_type bridge) on %s, one address in %s", p, s1.Host, r1.sub.CIDR)
	}
	if len(s1.Addresses) != 1 || s1.Addresses[0].Network != r1.net.Name || s1.Addresses[0].Addr != s1.Ports[0].FixedIPs[0].Address {
		t.Errorf("addresses = %+v; want the port's address on %s", s1.Addresses, r1.net.Name)
	}
	if s1.Polls < 1 || s1.Polls > 10 {
		t.Errorf("%d status polls; want 1..10", s1.Polls)
	}
	if fi, err := os.Stat(keyPath); err != nil || fi.Mode().Perm() != 0o600 || r1.kp.PrivateKeyPath != keyPath {
		t.Errorf("private key %s: %v %v (keypair says %q); want a 0600 file", keyPath, fi, err, r1.kp.PrivateKeyPath)
	}

	r2 := run(2)
	for what, cr := range r2.created {
		if cr {
			t.Errorf("second pass created %s again (%v)", what, r2.created)
		}
	}
	if r2.srv.ID != s1.ID || r2.net.ID != r1.net.ID || r2.sub.ID != r1.sub.ID || r2.kp.Fingerprint != r1.kp.Fingerprint {
		t.Errorf("second pass found server %s network %s subnet %s key %s; first had %s %s %s %s", r2.srv.ID, r2.net.ID, r2.sub.ID, r2.kp.Fingerprint, s1.ID, r1.net.ID, r1.sub.ID, r1.kp.Fingerprint)
	}
	if _, err := os.Stat(keyPath + ".second"); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("second pass wrote a private key for an existing keypair: %v", err)
	}

	checkConsole(ctx, t, c, s1.ID)

	// Cleanup removes what the first pass created (the second created
	// nothing) and leaves the cloud as it found it.
	created := c.Created()
	if err := c.Cleanup(ctx); err != nil {
		t.Fatalf("Cleanup of %v: %v", created, err)
	}
	if left := c.Created(); len(left) != 0 {
		t.Errorf("after Cleanup still recorded: %v", left)
	}
	if _, err := c.FindFlavor(ctx, names.flavor); !errors.Is(err, launch.ErrNotFound) {
		t.Errorf("flavor %s after Cleanup: %v; want not found", names.flavor, err)
	}
	if _, err := c.EnsureKeypair(ctx, launch.KeypairSpec{Name: names.key}); err == nil || errors.Is(err, launch.ErrMismatch) {
		t.Errorf("keypair %s after Cleanup: %v; want it gone", names.key, err)
	}
	if _, err := os.Stat(keyPath); !errors.Is(err, os.ErrNotExist) {
		t.Errorf("private key file after Cleanup: %v; want removed", err)
	}
	if r1.net.Created {
		if _, err := c.FindNetwork(ctx, r1.net.ID); !errors.Is(err, launch.ErrNotFound) {
			t.Errorf("network %s after Cleanup: %v; want not found", r1.net.ID, err)
		}
	}
	t.Logf("cleaned up %d objects: %v", len(created), created)
}

// checkConsole asks for the server's noVNC console. On a cloud with VNC
// (aio enables it with nova-novncproxy) the URL must be the proxy's with a
// token and the proxy must serve it; with VNC off the error must be Nova's
// 400 with launch's hint.
func checkConsole(ctx context.Context, t *testing.T, c *launch.Client, id string) {
	t.Helper()
	u, err := c.ConsoleURL(ctx, id)
	if err != nil {
		var ae *launch.APIError
		if !errors.As(err, &ae) || ae.Status != http.StatusBadRequest || !strings.Contains(ae.Message, "novnc") || !strings.Contains(err.Error(), "[vnc] enabled") {
			t.Fatalf("ConsoleURL: %v; want a URL, or Nova's 400 \"Unavailable console type novnc\" with the [vnc] hint", err)
		}
		if os.Getenv("VIFPATH_ACCEPTANCE_CONSOLE") == "required" {
			t.Fatalf("ConsoleURL: %v; VIFPATH_ACCEPTANCE_CONSOLE=required", err)
		}
		t.Logf("console unavailable on this cloud (VNC off), the clear error: %v", err)
		return
	}
	pu, err := url.Parse(u)
	if err != nil || (pu.Scheme != "http" && pu.Scheme != "https") || !strings.Contains(pu.RawQuery, "token") {
		t.Fatalf("ConsoleURL = %q (%v); want the proxy's URL with a token", u, err)
	}
	resp, err := http.Get(u)
	if err != nil {
		t.Fatalf("GET console URL (token redacted) %s://%s%s: %v", pu.Scheme, pu.Host, pu.Path, err)
	}
	body, _ := io.ReadAll(io.LimitReader(resp.Body, 1<<20))
	resp.Body.Close()
	if resp.StatusCode != http.StatusOK || !strings.Contains(string(body), "noVNC") {
		t.Errorf("GET console URL %s://%s%s: HTTP %d, %d bytes; want noVNC's page", pu.Scheme, pu.Host, pu.Path, resp.StatusCode, len(body))
	}
	t.Logf("console URL %s://%s%s served noVNC (%d bytes)", pu.Scheme, pu.Host, pu.Path, len(body))
	// The page alone proves little: open the websocket noVNC would open
	// with the URL's token and read the guest's VNC server greeting
	// through the proxy.
	greeting, err := vncGreeting(pu)
	if err != nil {
		t.Fatalf("console websocket through %s: %v", pu.Host, err)
	}
	if !strings.HasPrefix(greeting, "RFB 003.") {
		t.Errorf("console websocket gave %q; want the guest's VNC greeting \"RFB 003.xxx\"", greeting)
	}
	t.Logf("console websocket with the token reached the guest's VNC server: %q", strings.TrimSpace(greeting))
}

// vncGreeting opens noVNC's websocket on the console URL's proxy with the
// URL's token (Zed puts it in ?path=%3Ftoken%3D…) and returns the first
// binary message, the VNC server's protocol version. The token never
// appears in what it returns.
func vncGreeting(u *url.URL) (string, error) {
	token := u.Query().Get("token")
	if p := u.Query().Get("path"); token == "" && p != "" {
		if q, err := url.ParseQuery(strings.TrimPrefix(p, "?")); err == nil {
			token = q.Get("token")
		}
	}
	if token == "" {
		return "", errors.New("no token in the console URL")
	}
	c, err := net.DialTimeout("tcp", u.Host, 10*time.Second)
	if err != nil {
		return "", err
	}
	defer c.Close()
	c.SetDeadline(time.Now().Add(30 * time.Second))
	key := make([]byte, 16)
	rand.Read(key)
	req := "GET /?token=" + url.QueryEscape(token) + " HTTP/1.1\r\n" +
		"Host: " + u.Host + "\r\nUpgrade: websocket\r\nConnection: Upgrade\r\n" +
		"Sec-WebSocket-Key: " + base64.StdEncoding.EncodeToString(key) + "\r\n" +
		"Sec-WebSocket-Version: 13\r\nSec-WebSocket-Protocol: binary\r\n" +
		"Origin: " + u.Scheme + "://" + u.Host + "\r\n\r\n"
	if _, err := io.WriteString(c, req); err != nil {
		return "", err
	}
	br := bufio.NewReader(c)
	resp, err := http.ReadResponse(br, nil)
	if err != nil {
		return "", fmt.Errorf("upgrade response: %w", err)
	}
	if resp.StatusCode != http.StatusSwitchingProtocols {
		return "", fmt.Errorf("upgrade answered HTTP %d, want 101", resp.StatusCode)
	}
	// One server frame: unmasked, FIN, binary (or text), short payload.
	var hdr [2]byte
	if _, err := io.ReadFull(br, hdr[:]); err != nil {
		return "", fmt.Errorf("first frame: %w", err)
	}
	n := int(hdr[1] & 0x7f)
	switch n {
	case 126:
		var ext [2]byte
		if _, err := io.ReadFull(br, ext[:]); err != nil {
			return "", err
		}
		n = int(binary.BigEndian.Uint16(ext[:]))
	case 127:
		return "", errors.New("first frame longer than 64 KiB")
	}
	if op := hdr[0] & 0x0f; op != 2 && op != 1 {
		return "", fmt.Errorf("first frame has opcode %d, want a binary message", op)
	}
	payload := make([]byte, n)
	if _, err := io.ReadFull(br, payload); err != nil {
		return "", err
	}
	return string(payload), nil
}

func TestAcceptanceFlavorTooLargeFaultReachesCaller(t *testing.T) {
	c, ctx := launchingClient(t, 10*time.Minute)
	suffix := time.Now().UTC().Format("150405")
	// A 64 TiB root disk: no host has it, so placement offers no candidate
	// and the scheduler answers "No valid host". (Not RAM or vCPUs: Nova's
	// default quotas, 50 GiB and 20 cores, refuse those with a 403 before
	// the server exists; there is no disk quota.)
	fl, err := c.EnsureFlavor(ctx, launch.FlavorSpec{Name: "vpt-huge-" + suffix, VCPUs: 1, RAMMiB: 128, DiskGiB: 64 << 10})
	if err != nil {
		t.Fatal(err)
	}
	im, err := c.FindImage(ctx, env("VIFPATH_ACCEPTANCE_IMAGE", "cirros"))
	if err != nil {
		t.Fatal(err)
	}
	pf, err := c.Preflight(ctx, nil)
	if err != nil || !pf.Ready {
		t.Fatalf("preflight: %v %v", pf, err)
	}
	nw, _ := ensureProviderNetwork(ctx, t, c, 1)
	start := time.Now()
	srv, err := c.Launch(ctx, launch.ServerSpec{Name: "vpt-toobig-" + suffix, Flavor: fl.ID, Image: im.ID, Network: nw.ID})
	var fe *launch.FaultError
	if !errors.As(err, &fe) {
		t.Fatalf("Launch with a 64 TiB disk flavor: server %+v, error %v; want *FaultError", srv, err)
	}
	if !errors.Is(err, launch.ErrServerError) || srv != nil {
		t.Errorf("Launch = %v, %v; want nil and an error that is ErrServerError", srv, err)
	}
	if !strings.Contains(fe.Fault.Message, "No valid host") || fe.Fault.Code != 500 || fe.Fault.Created.IsZero() {
		t.Errorf("fault = %+v; want Nova's code 500 \"No valid host was found\" with its time", fe.Fault)
	}
	if !strings.Contains(err.Error(), "No valid host") || !strings.Contains(err.Error(), fe.ServerID) {
		t.Errorf("error text %q; want Nova's fault message and the server ID", err)
	}
	// Never scheduled: no host; the compute services say whether one was down.
	if fe.Host != "" || len(fe.Compute) == 0 {
		t.Errorf("fault error host %q, compute %+v; want no host and the compute services listed", fe.Host, fe.Compute)
	}
	// Explained by placement: the host's DISK_GB cannot hold 64 TiB.
	if ex := strings.Join(fe.Explain(), "; "); fe.Kind != launch.FaultNoValidHost || fe.Placement == nil || !strings.Contains(ex, "GiB disk") || !strings.Contains(ex, "DISK_GB: total") || !strings.Contains(ex, "disk_allocation_ratio") {
		t.Errorf("kind %q, explain %q; want No valid host explained by the hosts' DISK_GB inventory", fe.Kind, ex)
	}
	// ERROR is noticed within one poll: the scheduler fails in seconds,
	// so a handful of polls at most.
	if fe.Polls < 1 || fe.Polls > 5 {
		t.Errorf("%d polls before ERROR was reported", fe.Polls)
	}
	t.Logf("ERROR reported after %s and %d polls: %v", time.Since(start).Round(time.Second), fe.Polls, err)
}
