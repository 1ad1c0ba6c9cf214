package apitest

import (
	"encoding/json"
	"fmt"
	"go/ast"
	"go/parser"
	"go/token"
	"net/netip"
	"os"
	"path/filepath"
	"reflect"
	"sort"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/firewall"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/guestlog"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
	"github.com/vifpath/vifpath/trace"
)

// results maps "package.Type" to a value of every exported type that is a
// result: something the library hands out and callers print, store or
// diff as JSON. The test fills each with non-zero values by reflection and
// checks marshal → unmarshal → equal. A type the packages declare that is
// neither here nor in notResults fails the test, so a new type cannot slip
// by.
var results = map[string]any{
	"hwaddr.MAC": hwaddr.MAC{},

	"linuxbridge.AgentMappings": linuxbridge.AgentMappings{},
	"linuxbridge.Bridge":        linuxbridge.Bridge{},
	"linuxbridge.DeviceKind":    linuxbridge.DeviceKind(0),
	"linuxbridge.DeviceName":    linuxbridge.DeviceName{},
	"linuxbridge.FDBEntry":      linuxbridge.FDBEntry{},
	"linuxbridge.FDBState":      linuxbridge.FDBState(0),
	"linuxbridge.OperState":     linuxbridge.OperState(0),
	"linuxbridge.Port":          linuxbridge.Port{},
	"linuxbridge.Qdisc":         linuxbridge.Qdisc{},
	"linuxbridge.PortKind":      linuxbridge.PortKind(0),
	"linuxbridge.STPState":      linuxbridge.STPState(0),
	"linuxbridge.Snapshot":      linuxbridge.Snapshot{},
	"linuxbridge.Stats":         linuxbridge.Stats{},
	"linuxbridge.VethPeer":      linuxbridge.VethPeer{},

	"dhcpns.ARPReply":      dhcpns.ARPReply{},
	"dhcpns.ARPResult":     dhcpns.ARPResult{},
	"dhcpns.Addr":          dhcpns.Addr{},
	"dhcpns.BindMode":      dhcpns.BindMode(0),
	"dhcpns.Check":         dhcpns.Check{},
	"dhcpns.CheckStatus":   dhcpns.CheckStatus(0),
	"dhcpns.DHCPOffer":     dhcpns.DHCPOffer{},
	"dhcpns.DHCPRange":     dhcpns.DHCPRange{},
	"dhcpns.DnsmasqConfig": dhcpns.DnsmasqConfig{},
	"dhcpns.DnsmasqStatus": dhcpns.DnsmasqStatus{},
	"dhcpns.Health":        dhcpns.Health{},
	"dhcpns.Host":          dhcpns.Host{},
	"dhcpns.InspectResult": dhcpns.InspectResult{},
	"dhcpns.Lease":         dhcpns.Lease{},
	"dhcpns.LeaseOrigin":   dhcpns.LeaseOrigin(0),
	"dhcpns.Leases":        dhcpns.Leases{},
	"dhcpns.Link":          dhcpns.Link{},
	"dhcpns.NamespaceInfo": dhcpns.NamespaceInfo{},
	"dhcpns.Neighbor":      dhcpns.Neighbor{},
	"dhcpns.OperState":     dhcpns.OperState(0),
	"dhcpns.Process":       dhcpns.Process{},
	"dhcpns.ReachOutcome":  dhcpns.ReachOutcome(""),
	"dhcpns.ReachResult":   dhcpns.ReachResult{},
	"dhcpns.Reason":        dhcpns.Reason(0),
	"dhcpns.Route":         dhcpns.Route{},
	"dhcpns.Snapshot":      dhcpns.Snapshot{},

	"libvirtinspect.AddrReport":     libvirtinspect.AddrReport{},
	"libvirtinspect.AddrSource":     libvirtinspect.AddrSource(0),
	"libvirtinspect.BalloonStats":   libvirtinspect.BalloonStats{},
	"libvirtinspect.BlockStats":     libvirtinspect.BlockStats{},
	"libvirtinspect.CPUStats":       libvirtinspect.CPUStats{},
	"libvirtinspect.Details":        libvirtinspect.Details{},
	"libvirtinspect.Domain":         libvirtinspect.Domain{},
	"libvirtinspect.DomainStats":    libvirtinspect.DomainStats{},
	"libvirtinspect.DomainXML":      libvirtinspect.DomainXML{},
	"libvirtinspect.IfAddrs":        libvirtinspect.IfAddrs{},
	"libvirtinspect.Interface":      libvirtinspect.Interface{},
	"libvirtinspect.InterfaceStats": libvirtinspect.InterfaceStats{},
	"libvirtinspect.NovaFlavor":     libvirtinspect.NovaFlavor{},
	"libvirtinspect.NovaIP":         libvirtinspect.NovaIP{},
	"libvirtinspect.NovaInstance":   libvirtinspect.NovaInstance{},
	"libvirtinspect.NovaPort":       libvirtinspect.NovaPort{},
	"libvirtinspect.Param":          libvirtinspect.Param{},
	"libvirtinspect.Reason":         libvirtinspect.Reason{},
	"libvirtinspect.State":          libvirtinspect.State(0),
	"libvirtinspect.StateStats":     libvirtinspect.StateStats{},
	"libvirtinspect.StatsGroup":     libvirtinspect.StatsGroup(0),
	"libvirtinspect.VCPUStat":       libvirtinspect.VCPUStat{},
	"libvirtinspect.VCPUStats":      libvirtinspect.VCPUStats{},

	"linuxbridge.Link": linuxbridge.Link{},

	"firewall.RuleDelta":         firewall.RuleDelta{},
	"firewall.Packet":            firewall.Packet{},
	"firewall.Result":            firewall.Result{},
	"firewall.EbResult":          firewall.EbResult{},
	"firewall.Frame":             firewall.Frame{},
	"firewall.Policy":            firewall.Policy{},
	"firewall.AddressPair":       firewall.AddressPair{},
	"firewall.SecurityGroup":     firewall.SecurityGroup{},
	"firewall.SecurityGroupRule": firewall.SecurityGroupRule{},
	"firewall.BackendSplit":      firewall.BackendSplit{},
	"firewall.OtherBackend":      firewall.OtherBackend{},
	"firewall.Port":              firewall.Port{},
	"firewall.Snapshot":          firewall.Snapshot{},
	"firewall.BridgeHook":        firewall.BridgeHook{},
	"firewall.EbtablesTool":      firewall.EbtablesTool{},
	"firewall.Table":             firewall.Table{},
	"firewall.Chain":             firewall.Chain{},
	"firewall.Rule":              firewall.Rule{},
	"firewall.Match":             firewall.Match{},
	"firewall.PortRange":         firewall.PortRange{},
	"firewall.ICMPMatch":         firewall.ICMPMatch{},
	"firewall.Set":               firewall.Set{},
	"firewall.EbTable":           firewall.EbTable{},
	"firewall.EbChain":           firewall.EbChain{},
	"firewall.EbRule":            firewall.EbRule{},
	"firewall.Direction":         firewall.Direction(""),
	"firewall.Backend":           firewall.Backend(""),
	"firewall.Family":            firewall.Family(""),
	"firewall.TableRead":         firewall.TableRead{},
	"firewall.ReadVia":           firewall.ReadVia(""),
	"firewall.ReadPart":          firewall.ReadPart(""),
	// issue 13: console, metadata, MTU
	"dhcpns.DHCPOption":            dhcpns.DHCPOption{},
	"dhcpns.Listener":              dhcpns.Listener{},
	"dhcpns.MetadataProbeResult":   dhcpns.MetadataProbeResult{},
	"dhcpns.MetadataProxy":         dhcpns.MetadataProxy{},
	"dhcpns.ProxyConfig":           dhcpns.ProxyConfig{},
	"dhcpns.ProxyKind":             dhcpns.ProxyKind(""),
	"libvirtinspect.ConsoleLog":    libvirtinspect.ConsoleLog{},
	"libvirtinspect.ConsoleSource": libvirtinspect.ConsoleSource(""),
	"libvirtinspect.Serial":        libvirtinspect.Serial{},
	"guestlog.Event":               guestlog.Event{},
	"guestlog.Kind":                guestlog.Kind(""),
	"guestlog.Source":              guestlog.Source(""),
	"guestlog.Summary":             guestlog.Summary{},

	// issue 11: trace and launch walked too
	"trace.APIFacts":          trace.APIFacts{},
	"trace.ARPFacts":          trace.ARPFacts{},
	"trace.BridgeFacts":       trace.BridgeFacts{},
	"trace.ConsoleFacts":      trace.ConsoleFacts{},
	"trace.ConsoleMissing":    trace.ConsoleMissing(""),
	"trace.DHCPFacts":         trace.DHCPFacts{},
	"trace.DHCPPortFacts":     trace.DHCPPortFacts{},
	"trace.DomainFacts":       trace.DomainFacts{},
	"trace.Evidence":          trace.Evidence{},
	"trace.FirewallFacts":     trace.FirewallFacts{},
	"trace.FirewallObs":       trace.FirewallObs{},
	"trace.GuestFacts":        trace.GuestFacts{},
	"trace.Hop":               trace.Hop{},
	"trace.HostFacts":         trace.HostFacts{},
	"trace.HostsHit":          trace.HostsHit{},
	"trace.HostsSearch":       trace.HostsSearch{},
	"trace.Identity":          trace.Identity{},
	"trace.Kind":              trace.Kind(""),
	"trace.LibvirtFacts":      trace.LibvirtFacts{},
	"trace.LinkFacts":         trace.LinkFacts{},
	"trace.MACSource":         trace.MACSource(""),
	"trace.MTUElement":        trace.MTUElement{},
	"trace.MTUFacts":          trace.MTUFacts{},
	"trace.MTURole":           trace.MTURole(""),
	"trace.MetadataFacts":     trace.MetadataFacts{},
	"trace.MetadataObs":       trace.MetadataObs{},
	"trace.NMDevice":          trace.NMDevice{},
	"trace.NMFacts":           trace.NMFacts{},
	"trace.NetworkFacts":      trace.NetworkFacts{},
	"trace.DHCPServersFacts":  trace.DHCPServersFacts{},
	"trace.NetworkInfo":       trace.NetworkInfo{},
	"trace.NodeTrace":         trace.NodeTrace{},
	"trace.NovaFacts":         trace.NovaFacts{},
	"trace.Observation":       trace.Observation{},
	"trace.Orphan":            trace.Orphan{},
	"trace.OrphanKind":        trace.OrphanKind(""),
	"launch.Port":             launch.Port{},
	"trace.ProviderFacts":     trace.ProviderFacts{},
	"trace.Request":           trace.Request{},
	"trace.RequestMode":       trace.RequestMode(""),
	"trace.Role":              trace.Role(""),
	"trace.ServerFacts":       trace.ServerFacts{},
	"trace.ServerFault":       trace.ServerFault{},
	"trace.ServerTrace":       trace.ServerTrace{},
	"trace.Settings":          trace.Settings{},
	"trace.Target":            trace.Target{},
	"trace.Trace":             trace.Trace{},
	"trace.LinkEnd":           trace.LinkEnd{},
	"trace.UnicastARPFacts":   trace.UnicastARPFacts{},
	"trace.Verdict":           trace.Verdict(0),
	"launch.APIError":         launch.APIError{},
	"launch.Address":          launch.Address{},
	"launch.Check":            launch.Check(""),
	"launch.ComputeService":   launch.ComputeService{},
	"launch.Fault":            launch.Fault{},
	"launch.FaultError":       launch.FaultError{},
	"launch.FaultKind":        launch.FaultKind(""),
	"launch.FixedIP":          launch.FixedIP{},
	"launch.Flavor":           launch.Flavor{},
	"launch.FlavorSpec":       launch.FlavorSpec{},
	"launch.HostPort":         launch.HostPort{},
	"launch.Hypervisor":       launch.Hypervisor{},
	"launch.Image":            launch.Image{},
	"launch.Inventory":        launch.Inventory{},
	"launch.Keypair":          launch.Keypair{},
	"launch.KeypairSpec":      launch.KeypairSpec{},
	"launch.Network":          launch.Network{},
	"launch.NetworkAgent":     launch.NetworkAgent{},
	"launch.NetworkSpec":      launch.NetworkSpec{},
	"launch.NetworkType":      launch.NetworkType(""),
	"launch.PlacementReport":  launch.PlacementReport{},
	"launch.PortAgents":       launch.PortAgents{},
	"launch.AgentConfig":      launch.AgentConfig{},
	"launch.AgentList":        launch.AgentList{},
	"launch.PreflightOptions": launch.PreflightOptions{},
	"launch.PreflightReport":  launch.PreflightReport{},
	"launch.Problem":          launch.Problem{},
	"launch.ResourceProvider": launch.ResourceProvider{},
	"launch.Rule":             launch.Rule{},
	"launch.SecurityGroup":    launch.SecurityGroup{},
	"launch.Server":           launch.Server{},
	"launch.ServerSpec":       launch.ServerSpec{},
	"launch.State":            launch.State(""),
	"launch.Status":           launch.Status(""),
	"launch.Subnet":           launch.Subnet{},
	"launch.SubnetSpec":       launch.SubnetSpec{},
}

// notResults are exported types that are not results, each with why.
var notResults = map[string]string{
	// Handles: they hold sockets and connections, not data.
	"linuxbridge.Inspector":       "handle (netlink sockets)",
	"dhcpns.Namespace":            "handle (netlink handle in a namespace)",
	"dhcpns.ARPProber":            "handle (AF_PACKET socket)",
	"libvirtinspect.Client":       "handle (libvirtd connections)",
	"libvirtinspect.Dialer":       "interface: the seam New takes",
	"dhcpns.NamespaceError":       "error type",
	"libvirtinspect.OpError":      "error type",
	"linuxbridge.Config":          "configuration with a *slog.Logger",
	"dhcpns.Config":               "configuration with a *slog.Logger",
	"libvirtinspect.Config":       "configuration with a *slog.Logger",
	"dhcpns.ARPOptions":           "request options, not a result",
	"dhcpns.DHCPProbeOptions":     "request options, not a result",
	"libvirtinspect.StatsRequest": "request options, not a result",
	"dhcpns.ReachOptions":         "request options, not a result",
	"dhcpns.MetadataProbeOptions": "request options, not a result",

	"firewall.Config": "configuration (paths of the pinned tools)",

	"trace.Config":        "configuration with a *slog.Logger and a *libvirtinspect.Client",
	"trace.HTMLReport":    "interface: what RenderHTML takes",
	"trace.AgentMappings": "alias of linuxbridge.AgentMappings (walked there)",
	"trace.MAC":           "alias of hwaddr.MAC (walked there)",
	"launch.Client":       "handle (gophercloud service clients)",
	"launch.Config":       "configuration with an *http.Client, a *slog.Logger and a *gophercloud.ServiceClient",
	"metrics.Collector":   "handle (a prometheus.Collector over the node's handles)",
	"metrics.Config":      "configuration with funcs and a *slog.Logger",
	"metrics.BridgesFunc": "func type: the seam Config takes",
	"metrics.StatsFunc":   "func type: the seam Config takes",
	"metrics.TraceFunc":   "func type: the seam Config takes",
}

// packages are the module's non-internal packages with an API (examples
// are commands, acceptance is tests).
var packages = []string{".", "hwaddr", "linuxbridge", "dhcpns", "libvirtinspect", "trace", "launch", "metrics", "firewall", "guestlog"}

// exportedTypes parses dir's non-test Go files (every GOOS) and returns
// "pkg.Type" for each exported type declaration.
func exportedTypes(t *testing.T, root, dir string) []string {
	t.Helper()
	fset := token.NewFileSet()
	ents, err := os.ReadDir(filepath.Join(root, dir))
	if err != nil {
		t.Fatal(err)
	}
	seen := map[string]bool{}
	for _, e := range ents {
		n := e.Name()
		if !strings.HasSuffix(n, ".go") || strings.HasSuffix(n, "_test.go") {
			continue
		}
		f, err := parser.ParseFile(fset, filepath.Join(root, dir, n), nil, parser.SkipObjectResolution)
		if err != nil {
			t.Fatal(err)
		}
		for _, d := range f.Decls {
			g, ok := d.(*ast.GenDecl)
			if !ok || g.Tok != token.TYPE {
				continue
			}
			for _, s := range g.Specs {
				if ts := s.(*ast.TypeSpec); ts.Name.IsExported() {
					seen[f.Name.Name+"."+ts.Name.Name] = true
				}
			}
		}
	}
	var out []string
	for k := range seen {
		out = append(out, k)
	}
	sort.Strings(out)
	return out
}

func excluded(name string) (string, bool) {
	if why, ok := notResults[name]; ok {
		return why, true
	}
	why, ok := notResults[strings.SplitN(name, ".", 2)[0]+".*"]
	return why, ok
}

func TestEveryExportedTypeIsListed(t *testing.T) {
	root := filepath.Join("..", "..")
	var n int
	for _, dir := range packages {
		for _, name := range exportedTypes(t, root, dir) {
			n++
			_, isResult := results[name]
			_, isExcluded := excluded(name)
			switch {
			case isResult && isExcluded:
				t.Errorf("%s is both a result and excluded", name)
			case !isResult && !isExcluded:
				t.Errorf("%s is a new exported type: add a sample to results in %s (or, if it is not a result, a reason to notResults)", name, "internal/apitest/roundtrip_test.go")
			}
		}
	}
	if n < len(results) {
		t.Errorf("found %d exported types, fewer than the %d results listed: is the module root right?", n, len(results))
	}
}

// fixed values for types whose zero or arbitrary bytes do not round-trip.
var (
	sampleTime = time.Date(2026, 12, 6, 12, 34, 56, 789000000, time.UTC)
	special    = map[reflect.Type]any{
		reflect.TypeFor[netip.Addr]():            netip.MustParseAddr("192.168.31.72"),
		reflect.TypeFor[netip.Prefix]():          netip.MustParsePrefix("192.168.31.64/27"),
		reflect.TypeFor[netip.AddrPort]():        netip.MustParseAddrPort("192.168.31.70:67"),
		reflect.TypeFor[hwaddr.MAC]():            hwaddr.MustParse("fa:16:3e:57:19:35"),
		reflect.TypeFor[time.Time]():             sampleTime,
		reflect.TypeFor[time.Duration]():         1500 * time.Millisecond,
		reflect.TypeFor[libvirtinspect.Reason](): libvirtinspect.Reason{State: libvirtinspect.StateRunning, Code: 1},
		// A role outside aio/compute/network refuses to marshal (on purpose).
		reflect.TypeFor[trace.Role](): trace.RoleCompute,
	}
)

// fill sets every exported, JSON-visible field of v to a non-zero value.
func fill(v reflect.Value, depth int) {
	if s, ok := special[v.Type()]; ok {
		v.Set(reflect.ValueOf(s))
		return
	}
	if depth > 6 {
		return
	}
	switch v.Kind() {
	case reflect.Bool:
		v.SetBool(true)
	case reflect.Int, reflect.Int8, reflect.Int16, reflect.Int32, reflect.Int64:
		v.SetInt(1) // 1: a named state in every enum
	case reflect.Uint, reflect.Uint8, reflect.Uint16, reflect.Uint32, reflect.Uint64:
		v.SetUint(1)
	case reflect.Float32, reflect.Float64:
		v.SetFloat(1.5)
	case reflect.String:
		v.SetString("x")
	case reflect.Pointer:
		p := reflect.New(v.Type().Elem())
		fill(p.Elem(), depth+1)
		v.Set(p)
	case reflect.Slice:
		s := reflect.MakeSlice(v.Type(), 1, 1)
		fill(s.Index(0), depth+1)
		v.Set(s)
	case reflect.Map:
		m := reflect.MakeMap(v.Type())
		k := reflect.New(v.Type().Key()).Elem()
		fill(k, depth+1)
		e := reflect.New(v.Type().Elem()).Elem()
		fill(e, depth+1)
		m.SetMapIndex(k, e)
		v.Set(m)
	case reflect.Interface:
		if v.Type().NumMethod() == 0 {
			v.Set(reflect.ValueOf("x")) // what JSON gives back for any
		}
	case reflect.Struct:
		for i := range v.NumField() {
			f := v.Type().Field(i)
			if !f.IsExported() || f.Tag.Get("json") == "-" {
				continue
			}
			fill(v.Field(i), depth+1)
		}
	case reflect.Array:
		for i := range v.Len() {
			fill(v.Index(i), depth+1)
		}
	}
}

var cmpOpts = cmp.Options{
	cmpopts.EquateComparable(netip.Addr{}, netip.Prefix{}, netip.AddrPort{}),
	cmp.Comparer(func(a, b time.Time) bool { return a.Equal(b) }),
	// APIError's wrapped gophercloud error stays in the process; its JSON
	// is the facts drawn from it (status, message, URL), which are compared.
	cmpopts.IgnoreUnexported(launch.APIError{}),
	// A Snapshot's index (Snapshot.Indexed) is derived from its tables and
	// stays in the process; the tables are compared.
	cmpopts.IgnoreUnexported(firewall.Snapshot{}),
	// Fields JSON skips (an error kept next to its text) are not compared.
	cmp.FilterPath(func(p cmp.Path) bool {
		sf, ok := p.Last().(cmp.StructField)
		if !ok {
			return false
		}
		f, ok := p.Index(-2).Type().FieldByName(sf.Name())
		return ok && f.Tag.Get("json") == "-"
	}, cmp.Ignore()),
}

func TestJSONRoundTrip(t *testing.T) {
	names := make([]string, 0, len(results))
	for k := range results {
		names = append(names, k)
	}
	sort.Strings(names)
	for _, name := range names {
		t.Run(name, func(t *testing.T) {
			typ := reflect.TypeOf(results[name])
			in := reflect.New(typ)
			fill(in.Elem(), 0)
			if in.Elem().IsZero() {
				t.Fatalf("%s: the sample is still zero after filling: teach fill this type", name)
			}
			b, err := json.Marshal(in.Interface())
			if err != nil {
				t.Fatalf("marshal %s: %v", name, err)
			}
			out := reflect.New(typ)
			if err := json.Unmarshal(b, out.Interface()); err != nil {
				t.Fatalf("unmarshal %s from %s: %v", name, b, err)
			}
			var diff string
			func() {
				defer func() {
					if r := recover(); r != nil {
						diff = fmt.Sprint("cannot compare: ", r)
					}
				}()
				diff = cmp.Diff(in.Interface(), out.Interface(), cmpOpts)
			}()
			if diff != "" {
				t.Errorf("%s does not round-trip through %s (-marshalled +unmarshalled):\n%s", name, b, diff)
			}
		})
	}
}
