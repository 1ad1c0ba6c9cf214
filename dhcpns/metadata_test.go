package dhcpns

import (
	"net/netip"
	"os"
	"testing"

	"github.com/google/go-cmp/cmp"

	"github.com/vifpath/vifpath/internal/neutronconf"
)

func TestOptsMetadataRouteAndMTU(t *testing.T) {
	b, err := os.ReadFile("testdata/opts.txt")
	if err != nil {
		t.Fatal(err)
	}
	opts, err := ParseOptsBytes(b)
	if err != nil {
		t.Fatal(err)
	}
	if len(opts) != 4 || opts[1].Code != OptionClasslessStaticRoute || opts[2].Code != OptionMSClasslessRoute || opts[3].Code != OptionRouter {
		t.Fatalf("opts.txt parsed as %+v", opts)
	}
	via, ok := MetadataRoute(opts)
	if !ok || via != netip.MustParseAddr("192.168.31.70") {
		t.Errorf("MetadataRoute = %v, %v; want 192.168.31.70 (the DHCP port, option 121 of the Zed cloud's opts file)", via, ok)
	}
	if _, ok := OptionMTUValue(opts); ok {
		t.Error("the Zed opts file has no MTU option, but one was found")
	}
	cl, err := os.ReadFile("testdata/dnsmasq-cmdline.txt")
	if err != nil {
		t.Fatal(err)
	}
	c, err := ParseCmdline(cl)
	if err != nil {
		t.Fatal(err)
	}
	if mtu, ok := OptionMTUValue(c.DHCPOptions()); !ok || mtu != 1500 {
		t.Errorf("command line MTU = %d, %v; want 1500 (--dhcp-option-force=option:mtu,1500)", mtu, ok)
	}
	if o, ok := ParseDHCPOption("tag:tag0,26,1450"); !ok || o.Code != OptionMTU || o.Values[0] != "1450" {
		t.Errorf("Pike-style numeric MTU option parsed as %+v", o)
	}
	if _, ok := MetadataRoute([]DHCPOption{{Code: 121, Values: []string{"0.0.0.0/0", "192.168.31.1"}}}); ok {
		t.Error("a 121 option without 169.254.169.254/32 gave a metadata route")
	}
}

func TestParseProxyConfigNeutronTemplate(t *testing.T) {
	text := neutronconf.HaproxyConfig(neutronconf.HaproxyMetadata{NetworkID: "c3e375fb-0ac1-4b91-9c66-d297e7d090e6",
		PIDFile: "/var/lib/neutron/external/pids/c3e375fb-0ac1-4b91-9c66-d297e7d090e6.pid.haproxy", Backend: "/var/lib/neutron/metadata_proxy",
		User: "neutron", Group: "neutron", BindInterface: "ns-10a8e6a2-5d"})
	got := ParseProxyConfig([]byte(text))
	want := &ProxyConfig{
		Binds:          []netip.AddrPort{netip.MustParseAddrPort("169.254.169.254:80"), netip.MustParseAddrPort("[fe80::a9fe:a9fe]:80")},
		BindInterfaces: []string{"ns-10a8e6a2-5d"},
		Backend:        "/var/lib/neutron/metadata_proxy",
		NetworkID:      "c3e375fb-0ac1-4b91-9c66-d297e7d090e6",
		PIDFile:        "/var/lib/neutron/external/pids/c3e375fb-0ac1-4b91-9c66-d297e7d090e6.pid.haproxy",
		User:           "neutron", Group: "neutron",
	}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
		t.Errorf("ParseProxyConfig (-want +got):\n%s", d)
	}
}

// The configuration Neutron Zed's DHCP agent wrote on the project's cloud
// (testdata/zed-aio-haproxy.conf) parses, and is what neutronconf writes
// for the same inputs, byte for byte.
func TestProxyConfigZedCloud(t *testing.T) {
	b, err := os.ReadFile("testdata/zed-aio-haproxy.conf")
	if err != nil {
		t.Fatal(err)
	}
	const net = "c3a83b33-e2ee-4a42-a65f-87a0249782e4"
	c := ParseProxyConfig(b)
	if len(c.Binds) != 2 || c.Binds[0] != netip.MustParseAddrPort("169.254.169.254:80") || c.NetworkID != net ||
		c.Backend != "/var/lib/neutron/metadata_proxy" || c.User != "neutron" || len(c.BindInterfaces) != 1 || c.BindInterfaces[0] != "ns-be197903-c1" {
		t.Errorf("Zed's haproxy config parsed as %+v", c)
	}
	ours := neutronconf.HaproxyConfig(neutronconf.HaproxyMetadata{NetworkID: net, PIDFile: c.PIDFile, Backend: c.Backend,
		User: "neutron", Group: "neutron", BindInterface: "ns-be197903-c1"})
	if d := cmp.Diff(string(b), ours); d != "" {
		t.Errorf("neutronconf.HaproxyConfig differs from what Neutron wrote (-neutron +ours):\n%s", d)
	}
}

func TestParseProcNetTCP(t *testing.T) {
	// /proc/<haproxy>/net/tcp read in TestIntegrationMetadataProxy's
	// namespace (one listener on 169.254.169.254:80), plus an established
	// row and a tcp6 wildcard listener.
	tcp := []byte(`  sl  local_address rem_address   st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: FEA9FEA9:0050 00000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 111274 1 0000000000000000 100 0 0 10 0
   1: FEA9FEA9:0050 FEA9FEA9:96F0 01 00000000:00000000 00:00000000 00000000     0        0 111280 1 0000000000000000 20 4 30 10 -1
`)
	tcp6 := []byte(`  sl  local_address                         remote_address                        st tx_queue rx_queue tr tm->when retrnsmt   uid  timeout inode
   0: 00000000000000000000000000000000:0035 00000000000000000000000000000000:0000 0A 00000000:00000000 00:00000000 00000000     0        0 2222 1 0000000000000000 100 0 0 10 0
`)
	got := append(ParseProcNetTCP(tcp), ParseProcNetTCP(tcp6)...)
	want := []Listener{{Addr: netip.MustParseAddrPort("169.254.169.254:80"), Inode: 111274}, {Addr: netip.MustParseAddrPort("[::]:53"), Inode: 2222}}
	if d := cmp.Diff(want, got, cmp.Comparer(func(a, b netip.AddrPort) bool { return a == b })); d != "" {
		t.Errorf("ParseProcNetTCP (-want +got):\n%s", d)
	}
	if !got[1].Covers(netip.MustParseAddrPort("[::]:53")) || got[0].Covers(netip.MustParseAddrPort("169.254.169.254:8080")) {
		t.Error("Covers is wrong")
	}
}

func FuzzMetadataParsers(f *testing.F) {
	if b, err := os.ReadFile("testdata/opts.txt"); err == nil {
		f.Add(b)
	}
	f.Add([]byte(neutronconf.HaproxyConfig(neutronconf.HaproxyMetadata{NetworkID: "n", PIDFile: "p", Backend: "b", User: "u", Group: "g"})))
	f.Add([]byte("  sl local\n 0: FEA9FEA9:0050 00000000:0000 0A 0:0 0:0 0 0 0 111 1\n"))
	f.Fuzz(func(t *testing.T, b []byte) {
		opts, _ := ParseOptsBytes(b)
		MetadataRoute(opts)
		OptionMTUValue(opts)
		ParseProxyConfig(b)
		for _, l := range ParseProcNetTCP(b) {
			if !l.Addr.IsValid() {
				t.Fatalf("invalid listener address from %q", b)
			}
		}
	})
}
