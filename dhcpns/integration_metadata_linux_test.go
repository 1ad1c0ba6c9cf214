package dhcpns

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"net"
	"net/http"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/vifpath/vifpath/internal/neutronconf"
	"github.com/vifpath/vifpath/internal/testutil"
)

// metadataEnv is a qdhcp-<network> namespace (under a temp NetNSDir) whose
// ns- veth holds 169.254.169.254/32, Neutron's directories for the
// metadata proxy under a temp dir, and a fake metadata agent on a unix
// socket: an HTTP server that answers 200 only when the proxy set
// X-Neutron-Network-ID to the network. Names start with "gm".
type metadataEnv struct {
	netID   string
	ns      *testutil.NetNS
	serveIf string
	cfg     *Config
	agent   *http.Server
	haproxy string
}

func newMetadataEnv(t *testing.T) *metadataEnv {
	t.Helper()
	testutil.RequireRoot(t)
	hp := testutil.RequireBinary(t, "haproxy", "haproxy")
	dir := t.TempDir()
	h := testutil.RandNameN("", 32)
	e := &metadataEnv{netID: h[:8] + "-" + h[8:12] + "-" + h[12:16] + "-" + h[16:20] + "-" + h[20:32], haproxy: hp}
	netnsDir := filepath.Join(dir, "netns")
	os.MkdirAll(netnsDir, 0o755)
	e.ns = testutil.NewNetNSAt(t, netnsDir, NamespaceName(e.netID))
	peer := testutil.NewNetNSAt(t, netnsDir, testutil.RandNameN("gmpeer-", 16))
	e.serveIf = "ns-" + testutil.RandNameN("", 8) + "-" + testutil.RandNameN("", 2)
	e.ns.Veth(t, e.serveIf, peer, testutil.RandName("gmtap"))
	e.ns.SetUp(t, "lo")
	e.ns.SetUp(t, e.serveIf)
	e.ns.AddAddr(t, e.serveIf, "169.254.169.254/32")
	e.ns.AddAddr(t, e.serveIf, "192.168.31.70/27")
	e.cfg = &Config{
		NetNSDir:            netnsDir,
		MetadataPIDDir:      filepath.Join(dir, "external", "pids"),
		MetadataProxyDir:    filepath.Join(dir, "ns-metadata-proxy"),
		MetadataAgentSocket: filepath.Join(dir, "metadata_proxy"),
	}
	os.MkdirAll(e.cfg.MetadataPIDDir, 0o755)
	os.MkdirAll(e.cfg.MetadataProxyDir, 0o755)
	e.startAgent(t)
	return e
}

func (e *metadataEnv) startAgent(t *testing.T) {
	t.Helper()
	l, err := net.Listen("unix", e.cfg.MetadataAgentSocket)
	if err != nil {
		t.Fatal(err)
	}
	e.agent = &http.Server{Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Neutron-Network-ID") != e.netID {
			http.Error(w, "no X-Neutron-Network-ID for this network", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "1.0\n2007-01-19\nlatest")
	})}
	go e.agent.Serve(l)
	t.Cleanup(func() { e.stopAgent() })
}

func (e *metadataEnv) stopAgent() {
	if e.agent != nil {
		e.agent.Close()
		e.agent = nil
		os.Remove(e.cfg.MetadataAgentSocket)
	}
}

// startHaproxy writes Neutron's configuration (listening on port) and
// starts haproxy in the namespace as Neutron does (daemon, pid file); it
// returns haproxy's pid and kills it at cleanup.
func (e *metadataEnv) startHaproxy(t *testing.T, port int) int {
	t.Helper()
	pidFile := filepath.Join(e.cfg.MetadataPIDDir, e.netID+".pid.haproxy")
	conf := filepath.Join(e.cfg.MetadataProxyDir, e.netID+".conf")
	// root, not neutron: there is no neutron user here, and the test's
	// agent socket lives in a root-only temp dir.
	text := neutronconf.HaproxyConfig(neutronconf.HaproxyMetadata{NetworkID: e.netID, PIDFile: pidFile, Backend: e.cfg.MetadataAgentSocket,
		User: "root", Group: "root", Port: port, NoSyslog: true})
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		t.Fatal(err)
	}
	os.Remove(pidFile)
	if out, err := e.ns.Command(e.haproxy, "-f", conf).CombinedOutput(); err != nil {
		t.Fatalf("haproxy -f %s: %v\n%s", conf, err, out)
	}
	var pid int
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			if pid, err = strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				break
			}
		}
		if time.Now().After(deadline) {
			t.Fatalf("haproxy wrote no pid to %s within 5s", pidFile)
		}
		time.Sleep(10 * time.Millisecond)
	}
	t.Cleanup(func() { killWait(pid) })
	return pid
}

// killWait SIGKILLs pid and waits (up to 5 s) until it is gone or a zombie
// whose threads have all exited.
func killWait(pid int) {
	syscall.Kill(pid, syscall.SIGKILL)
	for i := 0; i < 500; i++ {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		// The leader turns zombie while its other threads still exit
		// (and hold the listening socket): wait for them too.
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if _, st := parseStat(b); (st == "Z" || st == "X") && len(tasks) <= 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// record writes v as JSON to $VIFPATH_RECORD_DIR/name when that is set:
// how trace/testdata/metadata-*.json were recorded.
func record(t *testing.T, name string, v any) {
	t.Helper()
	dir := os.Getenv("VIFPATH_RECORD_DIR")
	if dir == "" {
		return
	}
	b, err := json.MarshalIndent(v, "", "  ")
	if err != nil {
		t.Fatal(err)
	}
	if err := os.WriteFile(filepath.Join(dir, name), append(b, '\n'), 0o644); err != nil {
		t.Fatal(err)
	}
}

func findProxy(t *testing.T, e *metadataEnv) *MetadataProxy {
	t.Helper()
	m, err := FindMetadataProxy(context.Background(), e.cfg, e.netID)
	if err != nil {
		t.Fatal(err)
	}
	b, _ := json.Marshal(m)
	var back MetadataProxy
	if err := json.Unmarshal(b, &back); err != nil {
		t.Fatalf("MetadataProxy does not round-trip through JSON: %v", err)
	}
	return m
}

func probe(t *testing.T, e *metadataEnv) *MetadataProbeResult {
	t.Helper()
	r, err := ProbeMetadata(context.Background(), e.cfg, e.netID, &MetadataProbeOptions{Timeout: 3 * time.Second})
	if err != nil {
		t.Fatal(err)
	}
	return r
}

// TestIntegrationMetadataProxy runs the real haproxy with Neutron's
// configuration in a throwaway qdhcp namespace and reads it alive and
// listening (the probe's GET answered 200 by the fake agent behind it,
// which proves the proxy set the network header), with the agent gone
// (haproxy answers 503 itself), alive but listening on another port
// (refused), and killed (stale pid file, refused).
func TestIntegrationMetadataProxy(t *testing.T) {
	e := newMetadataEnv(t)
	pid := e.startHaproxy(t, 80)

	m := findProxy(t, e)
	if !m.Alive || !m.InsideNamespace || m.Kind != ProxyHaproxy || !m.Listening || m.PIDFromFile != pid || !m.AgentAccepting || m.Config == nil ||
		m.Config.NetworkID != e.netID || m.Config.Backend != e.cfg.MetadataAgentSocket || len(m.Config.Binds) != 1 || m.Config.Binds[0].String() != "169.254.169.254:80" {
		t.Errorf("alive proxy read as %+v (config %+v)", m, m.Config)
	}
	r := probe(t, e)
	if !r.Answered || r.StatusCode != 200 || !strings.Contains(r.Body, "latest") {
		t.Errorf("probe of the alive proxy: %+v; want 200 with the agent's version list", r)
	}
	t.Logf("alive: listeners %+v; probe %d %q in %v", m.Listeners, r.StatusCode, r.Body, r.Duration)
	record(t, "metadata-alive.json", map[string]any{"proxy": m, "probe": r})

	e.stopAgent()
	m = findProxy(t, e)
	r = probe(t, e)
	if !m.Alive || !m.Listening || m.AgentSocketPresent || m.AgentAccepting || !r.Answered || r.StatusCode != http.StatusServiceUnavailable {
		t.Errorf("agent gone: proxy %+v, probe %+v; want alive, listening, no agent socket, 503", m, r)
	}
	t.Logf("agent gone: probe %q", r.Status)
	record(t, "metadata-agent-gone.json", map[string]any{"proxy": m, "probe": r})
	e.startAgent(t)

	killWait(pid)
	m = findProxy(t, e)
	r = probe(t, e)
	// PID 1 reaps lazily: the killed haproxy may still be a zombie.
	stale := m.PIDFileError != "" || (m.Process != nil && m.Process.Zombie())
	if m.Alive || m.Listening || !stale || r.Answered || !r.Refused {
		t.Errorf("killed proxy: %+v, probe %+v; want not alive, stale pid file (or a zombie), probe refused", m, r)
	}
	t.Logf("killed: pid file error %q; probe error %q", m.PIDFileError, r.Error)
	record(t, "metadata-dead.json", map[string]any{"proxy": m, "probe": r})

	pid = e.startHaproxy(t, 8775)
	m = findProxy(t, e)
	r = probe(t, e)
	if !m.Alive || m.Listening || m.PIDFromFile != pid || len(m.Listeners) == 0 || r.Answered || !r.Refused {
		t.Errorf("proxy on :8775: %+v, probe %+v; want alive, not listening on :80, refused", m, r)
	}
	owned := false
	for _, l := range m.Listeners {
		if l.Owned && l.Addr.Port() == 8775 {
			owned = true
		}
	}
	if !owned {
		t.Errorf("listeners %+v: want haproxy's own socket on :8775", m.Listeners)
	}
	record(t, "metadata-not-listening.json", map[string]any{"proxy": m, "probe": r})
}

// TestIntegrationMetadataNoProxy: a namespace without a proxy (isolated
// metadata off) reads as no config and no pid file, not as an error; the
// probe is refused.
func TestIntegrationMetadataNoProxy(t *testing.T) {
	e := newMetadataEnv(t)
	m := findProxy(t, e)
	if !m.ConfigMissing || !m.PIDFileMissing || m.Alive {
		t.Errorf("no proxy read as %+v", m)
	}
	r := probe(t, e)
	if r.Answered || !r.Refused {
		t.Errorf("probe without proxy: %+v, want refused", r)
	}
	record(t, "metadata-none.json", map[string]any{"proxy": m, "probe": r})
	if _, err := ProbeMetadata(context.Background(), e.cfg, "00000000-0000-0000-0000-000000000000", nil); !errors.Is(err, ErrNotFound) {
		t.Errorf("probe of a missing namespace: %v, want ErrNotFound", err)
	}
	if _, err := exec.LookPath("haproxy"); err != nil {
		t.Log("haproxy not installed")
	}
}
