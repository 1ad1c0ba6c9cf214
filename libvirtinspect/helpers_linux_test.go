package libvirtinspect_test

import (
	"bufio"
	"context"
	"crypto/rand"
	"encoding/binary"
	"encoding/hex"
	"fmt"
	"net"
	"strings"
	"sync"
	"testing"
	"time"

	libvirt "github.com/digitalocean/go-libvirt"
	"github.com/digitalocean/go-libvirt/socket/dialers"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// procConnectGetAllDomainStats is remote_protocol's REMOTE_PROC_CONNECT_GET_ALL_DOMAIN_STATS.
const procConnectGetAllDomainStats = 344

// The handshake procedures (REMOTE_PROC_AUTH_LIST, _AUTH_POLKIT,
// _CONNECT_OPEN) a new connection sends, the stats connection included.
const (
	procAuthList    = 66
	procAuthPolkit  = 70
	procConnectOpen = 1
)

// warmStats makes the first Stats call, which opens the Client's stats
// connection, and checks that it sent the handshake once and exactly one
// ConnectGetAllDomainStats; the counter is reset afterwards.
func warmStats(tb testing.TB, c *libvirtinspect.Client, counter *rpcCounter) {
	tb.Helper()
	counter.reset()
	if _, err := c.Stats(context.Background(), nil); err != nil {
		tb.Fatal(err)
	}
	got := counter.reset()
	if got[procConnectGetAllDomainStats] != 1 || got[procAuthList] != 1 || got[procConnectOpen] != 1 || got[procAuthPolkit] > 1 || len(got) > 4 {
		tb.Fatalf("first Stats sent %v, want the stats connection's handshake (%d, %d, maybe %d) once and one ConnectGetAllDomainStats",
			got, procAuthList, procConnectOpen, procAuthPolkit)
	}
}

// rpcCounter is a Dialer that counts the RPC calls written on its
// connections, by procedure number, parsing libvirt's framing (4-byte
// length, then program, version, procedure, type, serial, status).
type rpcCounter struct {
	inner interface{ Dial() (net.Conn, error) }
	mu    sync.Mutex
	procs map[uint32]int
}

func newRPCCounter(socket string) *rpcCounter {
	return &rpcCounter{inner: dialers.NewLocal(dialers.WithSocket(socket)), procs: map[uint32]int{}}
}

func (r *rpcCounter) Dial() (net.Conn, error) {
	c, err := r.inner.Dial()
	if err != nil {
		return nil, err
	}
	return &countConn{Conn: c, r: r}, nil
}

// snapshot returns a copy of the counts and resets them.
func (r *rpcCounter) reset() map[uint32]int {
	r.mu.Lock()
	defer r.mu.Unlock()
	p := r.procs
	r.procs = map[uint32]int{}
	return p
}

type countConn struct {
	net.Conn
	r   *rpcCounter
	buf []byte
}

func (c *countConn) Write(b []byte) (int, error) {
	c.buf = append(c.buf, b...)
	for len(c.buf) >= 28 {
		n := binary.BigEndian.Uint32(c.buf[0:4])
		if n < 28 || uint32(len(c.buf)) < n {
			break
		}
		proc := binary.BigEndian.Uint32(c.buf[12:16])
		typ := binary.BigEndian.Uint32(c.buf[16:20])
		if typ == 0 { // a call
			c.r.mu.Lock()
			c.r.procs[proc]++
			c.r.mu.Unlock()
		}
		c.buf = c.buf[n:]
	}
	return c.Conn.Write(b)
}

// countedClient is a Client of the test driver through socket whose RPCs
// counter counts, connected (one Domains call) and closed at cleanup.
func countedClient(t testing.TB, socket string) (*rpcCounter, *libvirtinspect.Client) {
	t.Helper()
	counter := newRPCCounter(socket)
	c := libvirtinspect.New(counter, "test:///default", nil)
	t.Cleanup(func() { c.Close() })
	ctx, cancel := context.WithTimeout(context.Background(), time.Minute)
	defer cancel()
	if _, err := c.Domains(ctx); err != nil {
		t.Fatal(err)
	}
	return counter, c
}

// readOnlyClient dials the read-only socket (ten seconds at most); the
// Client is closed at cleanup.
func readOnlyClient(t testing.TB, socket string) *libvirtinspect.Client {
	t.Helper()
	c, err := libvirtinspect.Dial(ctxT(t, 10*time.Second), &libvirtinspect.Config{Socket: socket})
	if err != nil {
		t.Fatal(err)
	}
	t.Cleanup(func() { c.Close() })
	return c
}

// admin is a go-libvirt connection the test uses to create what the
// library (read-only) inspects.
func admin(t testing.TB, socket, uri string) *libvirt.Libvirt {
	t.Helper()
	return testutil.LibvirtAdmin(t, socket, uri)
}

func randHex(n int) string {
	b := make([]byte, (n+1)/2)
	rand.Read(b)
	return hex.EncodeToString(b)[:n]
}

// testDomainXML is a test-driver domain with the given interfaces XML.
func testDomainXML(name, ifaces string) string {
	return fmt.Sprintf(`<domain type='test'><name>%s</name><memory unit='KiB'>8192</memory>
<os><type>hvm</type></os><devices>%s</devices></domain>`, name, ifaces)
}

// defineTest defines (and starts when start is set) a test-driver domain,
// removed (destroy + undefine) at cleanup.
func defineTest(t testing.TB, l *libvirt.Libvirt, xml string, start bool) libvirt.Domain {
	t.Helper()
	return testutil.DefineDomain(t, l, xml, start)
}

// virshTable parses `virsh list`-style tables into rows of fields.
func virshTable(s string) [][]string {
	var rows [][]string
	sc := bufio.NewScanner(strings.NewReader(s))
	header := true
	for sc.Scan() {
		line := sc.Text()
		if strings.HasPrefix(strings.TrimSpace(line), "---") {
			header = false
			continue
		}
		if header || strings.TrimSpace(line) == "" {
			continue
		}
		rows = append(rows, strings.Fields(line))
	}
	return rows
}

// virshKV parses `virsh domstats` into domain -> key -> value.
func virshKV(s string) map[string]map[string]string {
	out := map[string]map[string]string{}
	var cur map[string]string
	for _, line := range strings.Split(s, "\n") {
		line = strings.TrimSpace(line)
		if n, ok := strings.CutPrefix(line, "Domain: "); ok {
			cur = map[string]string{}
			out[strings.Trim(n, "'")] = cur
			continue
		}
		if k, v, ok := strings.Cut(line, "="); ok && cur != nil {
			cur[k] = v
		}
	}
	return out
}

func ctxT(t testing.TB, d time.Duration) context.Context {
	ctx, cancel := context.WithTimeout(context.Background(), d)
	t.Cleanup(cancel)
	return ctx
}

func parseMAC(s string) (hwaddr.MAC, error) { return hwaddr.Parse(s) }
