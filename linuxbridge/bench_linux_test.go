package linuxbridge_test

import (
	"context"
	"encoding/binary"
	"errors"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"slices"
	"strings"
	"testing"
	"time"

	"github.com/vishvananda/netlink"
	"golang.org/x/sys/unix"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// buildScale makes nb bridges with np veth ports each in a fresh namespace
// (peers, up, in a second namespace), with one `ip -batch` per namespace.
func buildScale(tb testing.TB, nb, np int) (host, peers *testutil.NetNS) {
	tb.Helper()
	testutil.RequireRoot(tb)
	testutil.RequireBinary(tb, "ip", "iproute2")
	testutil.RequireBinary(tb, "bridge", "iproute2")
	host, peers = testutil.NewNetNS(tb), testutil.NewNetNS(tb)
	noIPv6(tb, peers) // the peers stay quiet; the host keeps IPv6 as a compute node does
	var hb, pb strings.Builder
	for b := 0; b < nb; b++ {
		br := fmt.Sprintf("lbbr%d", b)
		fmt.Fprintf(&hb, "link add %s up type bridge\n", br)
		for p := 0; p < np; p++ {
			port, peer := fmt.Sprintf("lbp%d.%d", b, p), fmt.Sprintf("lbq%d.%d", b, p)
			fmt.Fprintf(&hb, "link add %s master %s up type veth peer name %s netns %s\n", port, br, peer, peers.Name)
			fmt.Fprintf(&pb, "link set %s up\n", peer)
		}
	}
	dir := tb.TempDir()
	run := func(ns *testutil.NetNS, script string) {
		f := filepath.Join(dir, ns.Name)
		if err := os.WriteFile(f, []byte(script), 0o644); err != nil {
			tb.Fatal(err)
		}
		if out, err := exec.Command("ip", "-n", ns.Name, "-batch", f).CombinedOutput(); err != nil {
			tb.Fatalf("ip -batch in %s: %v\n%s", ns.Name, err, out)
		}
	}
	start := time.Now()
	run(host, hb.String())
	run(peers, pb.String())
	tb.Logf("built %d bridges x %d ports in %v", nb, np, time.Since(start))
	// Let IPv6 address configuration and carrier events on the new links
	// settle: until then they hold the RTNL lock and interrupt dumps.
	time.Sleep(2 * time.Second)
	// Every peer sends a frame so each bridge learns one MAC per port, as
	// a compute node's bridges know their guests'.
	links, err := peers.Handle(tb).LinkList()
	if err != nil {
		tb.Fatal(err)
	}
	send := func() error {
		return peers.Do(func() error {
			fd, err := unix.Socket(unix.AF_PACKET, unix.SOCK_RAW|unix.SOCK_CLOEXEC, 0)
			if err != nil {
				return err
			}
			defer unix.Close(fd)
			frame := make([]byte, 60)
			copy(frame, []byte{0xff, 0xff, 0xff, 0xff, 0xff, 0xff})
			binary.BigEndian.PutUint16(frame[12:], testutil.EtherTypeTest)
			for _, l := range links {
				if l.Type() != "veth" {
					continue
				}
				copy(frame[6:12], l.Attrs().HardwareAddr)
				sa := &unix.SockaddrLinklayer{Ifindex: l.Attrs().Index, Halen: 6}
				copy(sa.Addr[:], frame[:6])
				if err := unix.Sendto(fd, frame, 0, sa); err != nil {
					return fmt.Errorf("send on %s: %w", l.Attrs().Name, err)
				}
			}
			return nil
		})
	}
	for try := 0; ; try++ {
		if err := send(); err != nil {
			tb.Fatalf("send frames from peers: %v", err)
		}
		time.Sleep(200 * time.Millisecond)
		fdb, err := host.Handle(tb).NeighList(0, unix.AF_BRIDGE)
		if err != nil && !errors.Is(err, netlink.ErrDumpInterrupted) {
			tb.Fatal(err)
		}
		learned := 0
		for _, e := range fdb {
			if e.MasterIndex != 0 && e.State&unix.NUD_PERMANENT == 0 {
				learned++
			}
		}
		if learned >= nb*np {
			break
		}
		if try == 20 {
			tb.Fatalf("bridges learned %d of %d peer MACs", learned, nb*np)
		}
	}
	return host, peers
}

// iproute2Once times `bridge -j link show` plus `bridge -j fdb show` run as
// commands against the namespace, as an operator would (bridge -n NAME).
func iproute2Once(tb testing.TB, ns *testutil.NetNS) time.Duration {
	tb.Helper()
	start := time.Now()
	for _, args := range [][]string{{"-n", ns.Name, "-j", "link", "show"}, {"-n", ns.Name, "-j", "fdb", "show"}} {
		if out, err := exec.Command("bridge", args...).Output(); err != nil || len(out) < 2 {
			tb.Fatalf("bridge %v: %v", args, err)
		}
	}
	return time.Since(start)
}

func median(ds []time.Duration) time.Duration {
	s := slices.Clone(ds)
	slices.Sort(s)
	return s[len(s)/2]
}

// BenchmarkSnapshot times a full inspection (bridges, ports, STP states,
// flags, counters, addresses, FDB) against iproute2's two commands, timed
// in the same run, and reports the ratio and the netlink requests per
// call.
func BenchmarkSnapshot(b *testing.B) {
	for _, tc := range []struct{ bridges, ports int }{{100, 10}, {1, 500}} {
		b.Run(fmt.Sprintf("%dx%d", tc.bridges, tc.ports), func(b *testing.B) {
			host, _ := buildScale(b, tc.bridges, tc.ports)
			in, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: host.Dir}, host.Name)
			if err != nil {
				b.Fatal(err)
			}
			defer in.Close()
			ctx := context.Background()
			snap, err := in.Snapshot(ctx)
			if err != nil {
				b.Fatal(err)
			}
			nports := 0
			for _, br := range snap.Bridges {
				nports += len(br.Ports)
			}
			if len(snap.Bridges) != tc.bridges || nports != tc.bridges*tc.ports || len(snap.FDB) < 2*nports {
				b.Fatalf("snapshot has %d bridges, %d ports, %d fdb entries; want %d, %d, >= %d (own and learned MAC of each port)", len(snap.Bridges), nports, len(snap.FDB), tc.bridges, tc.bridges*tc.ports, 2*nports)
			}
			// The machine is shared: interleave the two, one iproute2 run
			// every 8 inspections, and compare medians, so both see the
			// same load.
			req0 := linuxbridge.Requests(in)
			var oursT, ipT []time.Duration
			i := 0
			for b.Loop() {
				if i%8 == 0 {
					b.StopTimer()
					ipT = append(ipT, iproute2Once(b, host))
					b.StartTimer()
				}
				i++
				t0 := time.Now()
				if _, err := in.Snapshot(ctx); err != nil {
					b.Fatal(err)
				}
				oursT = append(oursT, time.Since(t0))
			}
			b.StopTimer()
			reqs := float64(linuxbridge.Requests(in)-req0) / float64(len(oursT))
			ours, ipt := median(oursT), median(ipT)
			b.ReportMetric(float64(ours.Nanoseconds()), "median-ns/op")
			b.ReportMetric(float64(ipt.Nanoseconds()), "iproute2-median-ns/op")
			b.ReportMetric(float64(ipt)/float64(ours), "x-faster-than-iproute2")
			b.ReportMetric(reqs, "netlink-requests/op")
			b.ReportMetric(float64(ours.Nanoseconds())/float64(nports), "ns/port")
			b.ReportMetric(float64(len(snap.FDB)), "fdb-entries")
		})
	}
}

// BenchmarkSnapshotQdiscs times a Snapshot with Config.Qdiscs (one more
// netlink dump, every device's qdiscs) against one without, interleaved
// on the same 200-port namespace in the same run, and reports the ratio.
func BenchmarkSnapshotQdiscs(b *testing.B) {
	host, _ := buildScale(b, 20, 10)
	open := func(q bool) *linuxbridge.Inspector {
		in, err := linuxbridge.OpenNamespace(context.Background(), &linuxbridge.Config{NetNSDir: host.Dir, Qdiscs: q}, host.Name)
		if err != nil {
			b.Fatal(err)
		}
		b.Cleanup(func() { in.Close() })
		return in
	}
	off, on := open(false), open(true)
	ctx := context.Background()
	var offT, onT []time.Duration
	for b.Loop() {
		for _, x := range []struct {
			in *linuxbridge.Inspector
			ts *[]time.Duration
		}{{off, &offT}, {on, &onT}} {
			t0 := time.Now()
			if _, err := x.in.Snapshot(ctx); err != nil {
				b.Fatal(err)
			}
			*x.ts = append(*x.ts, time.Since(t0))
		}
	}
	b.StopTimer()
	mo, mq := median(offT), median(onT)
	b.ReportMetric(float64(mo.Nanoseconds()), "without-median-ns/op")
	b.ReportMetric(float64(mq.Nanoseconds()), "with-qdiscs-median-ns/op")
	b.ReportMetric(float64(mq)/float64(mo), "x-with-qdiscs")
}
