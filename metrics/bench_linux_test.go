package metrics

import (
	"bytes"
	"compress/gzip"
	"context"
	"fmt"
	"io"
	"net/http"
	"net/http/httptest"
	"runtime"
	"strings"
	"syscall"
	"testing"
	"time"

	"github.com/prometheus/client_golang/prometheus"
	"github.com/prometheus/client_golang/prometheus/promhttp"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// node200 is a node of n VM NICs: the demo's recorded healthy trace
// (testdata/node-healthy.json) copied n times with distinct taps, ports,
// servers and domains, and the sources' matching libvirt stats (one
// interface per domain) and bridge (the n taps plus the uplink and a DHCP
// port, as on a real brq).
func node200(tb testing.TB, n int) (*trace.NodeTrace, []libvirtinspect.DomainStats, *linuxbridge.Snapshot) {
	rec := loadNode(tb, "node-healthy.json")
	nt := *rec
	nt.Traces = nil
	br := linuxbridge.Bridge{Name: "brq08376ae0-5a", Ports: []linuxbridge.Port{{Name: "eth2"}, {Name: "tap76302512-7c"}}}
	var doms []libvirtinspect.DomainStats
	for i := range n {
		t := *rec.Traces[0]
		t.Tap = fmt.Sprintf("tap%08x-%02x", i, i%256)
		t.PortID = fmt.Sprintf("%08x-fb51-3975-1e1c-ebe206186a2c", i)
		t.ServerID = fmt.Sprintf("%08x-d566-71e0-e995-142eaa4f2b09", i)
		t.ServerName = fmt.Sprintf("server-%d", i)
		nt.Traces = append(nt.Traces, &t)
		dom := fmt.Sprintf("instance-%08x", i)
		doms = append(doms, libvirtinspect.DomainStats{
			Domain:     libvirtinspect.Domain{Name: dom, UUID: t.ServerID},
			State:      &libvirtinspect.StateStats{State: libvirtinspect.StateRunning},
			Interfaces: []libvirtinspect.InterfaceStats{{Name: t.Tap, RxBytes: uint64(i) * 1000, TxBytes: uint64(i) * 900}},
		})
		br.Ports = append(br.Ports, linuxbridge.Port{Name: t.Tap, Up: true, OperState: linuxbridge.OperUnknown})
	}
	return &nt, doms, &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{br}}
}

// BenchmarkScrape200NICs is one scrape of a node of 200 VM NICs through
// promhttp (text format, as Prometheus asks without protobuf): time per
// scrape, the page's size, the series count, and the heap the collector's
// kept result holds.
func BenchmarkScrape200NICs(b *testing.B) {
	const n = 200
	var ms0, ms1 runtime.MemStats
	runtime.GC()
	runtime.ReadMemStats(&ms0)
	nt, doms, snap := node200(b, n)
	c, err := New(&Config{
		Trace:   func(context.Context) (*trace.NodeTrace, error) { return nt, nil },
		Stats:   func(context.Context) ([]libvirtinspect.DomainStats, error) { return doms, nil },
		Bridges: func(context.Context) (*linuxbridge.Snapshot, error) { return snap, nil },
	})
	if err != nil {
		b.Fatal(err)
	}
	defer c.Close()
	if err := c.RunOnce(context.Background()); err != nil {
		b.Fatal(err)
	}
	runtime.GC()
	runtime.ReadMemStats(&ms1)
	reg := prometheus.NewRegistry()
	reg.MustRegister(c)
	h := promhttp.HandlerFor(reg, promhttp.HandlerOpts{})
	srv := httptest.NewServer(h)
	defer srv.Close()
	// Plain text, no compression: the size on the wire without gzip.
	req, _ := http.NewRequest("GET", srv.URL, nil)
	req.Header.Set("Accept", "text/plain;version=0.0.4")
	req.Header.Set("Accept-Encoding", "identity")
	var size int
	var body []byte
	var ru0, ru1 syscall.Rusage
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru0)
	b.ResetTimer()
	for b.Loop() {
		r, err := http.DefaultClient.Do(req)
		if err != nil {
			b.Fatal(err)
		}
		body, err = io.ReadAll(r.Body)
		r.Body.Close()
		if err != nil || r.StatusCode != 200 {
			b.Fatal(r.StatusCode, err)
		}
		size = len(body)
	}
	b.StopTimer()
	syscall.Getrusage(syscall.RUSAGE_SELF, &ru1)
	cpu := time.Duration(ru1.Utime.Nano()+ru1.Stime.Nano()-ru0.Utime.Nano()-ru0.Stime.Nano()) / time.Duration(b.N)
	var gz bytes.Buffer
	zw := gzip.NewWriter(&gz)
	zw.Write(body)
	zw.Close()
	series := 0
	for _, l := range strings.Split(string(body), "\n") {
		if l != "" && !strings.HasPrefix(l, "#") {
			series++
		}
	}
	verdicts := strings.Count(string(body), "\nvifpath_hop_verdict{") + strings.Count(string(body), "\nvifpath_nic_verdict{")
	b.ReportMetric(float64(size), "bytes/scrape")
	b.ReportMetric(float64(gz.Len()), "gzip-bytes/scrape")
	b.ReportMetric(float64(cpu.Microseconds())/1000, "cpu-ms/scrape")
	b.ReportMetric(float64(series), "series")
	b.ReportMetric(float64(verdicts), "verdict-series")
	b.ReportMetric(float64(ms1.HeapAlloc)-float64(ms0.HeapAlloc), "heap-bytes")
	b.ReportMetric(float64(n), "nics")
}
