package trace

import (
	"net/netip"
	"strings"
	"testing"
	"time"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// TestGuestHopServerAndSilence: the guest's lease server is compared with
// the DHCP namespace's serving address (a rogue server warns, naming
// both), and a running domain's console that stayed empty past
// GuestSilentAfter warns instead of staying unknown.
func TestGuestHopServerAndSilence(t *testing.T) {
	serving := func(addr string) *Observation {
		obs := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
		obs.DHCP.Networks[0].ServingAddrs = []netip.Prefix{netip.MustParsePrefix(addr), netip.MustParsePrefix("169.254.169.254/32")}
		return obs
	}
	wantHop(t, hop(judgeOne(t, serving("192.168.31.70/27")), KindGuest), KindGuest, OK, "leased 192.168.31.74 from 192.168.31.70")
	rogue := hop(judgeOne(t, serving("192.168.31.71/27")), KindGuest)
	wantHop(t, rogue, KindGuest, Warn, "from 192.168.31.70, not from the network's DHCP port 192.168.31.71")
	if !strings.Contains(rogue.Next, "192.168.31.70") {
		t.Errorf("rogue next %q does not name the other server", rogue.Next)
	}
	// A serving address in another subnet is not this NIC's server.
	wantHop(t, hop(judgeOne(t, serving("10.0.0.2/24")), KindGuest), KindGuest, OK, "leased 192.168.31.74 from 192.168.31.70")

	silent := func(age time.Duration, state libvirtinspect.State) Hop {
		obs := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
		d := &obs.Libvirt.Domains[0]
		d.State = state
		d.Console = consoleFacts(&libvirtinspect.ConsoleLog{Path: "/var/lib/nova/instances/x/console.log", ModTime: obs.Started.Add(-age), Data: nil}, nil)
		return hop(judgeOne(t, obs), KindGuest)
	}
	h := silent(300*time.Second, libvirtinspect.StateRunning)
	wantHop(t, h, KindGuest, Warn, "the guest printed nothing in 300 s: image/flavor problem? (too little RAM)")
	if v, _ := h.Get("silent_for"); !strings.HasPrefix(v, "5m0s") {
		t.Errorf("silent_for = %q", v)
	}
	wantHop(t, silent(30*time.Second, libvirtinspect.StateRunning), KindGuest, Unknown, "no console output yet")
	wantHop(t, silent(GuestSilentAfter+time.Second, libvirtinspect.StatePaused), KindGuest, Unknown, "no console output yet")
}

// TestMTUHopFromNetworkMTU: a compute-only node reads no DHCP options and
// the libvirt interface may set no <mtu>: the network's MTU from the API
// is what the guest is told; without it the hop stays unknown.
func TestMTUHopFromNetworkMTU(t *testing.T) {
	computeOnly := func(netMTU, eth2 int) Hop {
		obs := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
		obs.Role = RoleCompute
		for i := range obs.Libvirt.Domains[0].Interfaces {
			obs.Libvirt.Domains[0].Interfaces[i].MTU = 0
		}
		for _, n := range obs.API.Networks {
			n.MTU = netMTU
		}
		for i := range obs.Bridges.Before.Bridges[0].Ports {
			if p := &obs.Bridges.Before.Bridges[0].Ports[i]; p.Name == "eth2" {
				p.MTU = eth2
			}
		}
		return hop(judgeOne(t, obs), KindMTU)
	}
	h := computeOnly(1500, 1500)
	wantHop(t, h, KindMTU, OK, "every element carries the MTU 1500")
	if v, _ := h.Get("guest_told"); !strings.Contains(v, "the network's MTU") {
		t.Errorf("guest_told = %q, want the network's MTU", v)
	}
	wantHop(t, computeOnly(1500, 1400), KindMTU, Fail, "physical eth2 (MTU 1400)")
	// VXLAN: a network of MTU 1450 on an overlay whose device carries 1450.
	wantHop(t, computeOnly(1450, 1450), KindMTU, OK, "every element carries the MTU 1450")
	wantHop(t, computeOnly(0, 1500), KindMTU, Unknown, "run with -cloud")
}

// TestMetadataHopAgentsAndGateway: the metadata hop takes the metadata
// agent's liveness and the DHCP agents' isolated-metadata setting from
// the observation's agent list, and the subnet's gateway from option 3.
func TestMetadataHopAgentsAndGateway(t *testing.T) {
	withAgents := func(metaAlive bool, iso *bool) *Observation {
		obs := guestMetaObs(t, "demo-guest-leased.log", "metadata-alive.json")
		p := obs.API.Servers[0].Ports[0]
		dhcp := launch.NetworkAgent{ID: "d", Type: launch.AgentDHCP, Host: "compute1", Alive: true, AdminUp: true, Config: launch.AgentConfig{IsolatedMetadata: iso}}
		obs.API.Agents = &launch.AgentList{
			Agents: []launch.NetworkAgent{dhcp,
				{ID: "l", Type: launch.AgentLinuxBridge, Host: p.HostID, Alive: true, AdminUp: true},
				{ID: "m", Type: launch.AgentMetadata, Host: "compute1", Alive: metaAlive, AdminUp: true}},
			DHCPNetworks: map[string][]string{"d": {p.NetworkID}},
			Compute:      []launch.ComputeService{{Binary: launch.BinaryNovaCompute, Host: obs.API.Servers[0].Host, State: launch.StateUp, Enabled: true}},
			ReadAt:       obs.Started,
		}
		return obs
	}
	on := true
	h := hop(judgeOne(t, withAgents(true, &on)), KindMetadata)
	wantHop(t, h, KindMetadata, OK, "answered GET / with 200 OK")
	for k, want := range map[string]string{"metadata_agent": "alive=true compute1", "isolated_metadata": "true", "subnet_gateway": "true"} {
		if v, _ := h.Get(k); v != want {
			t.Errorf("metadata evidence %s = %q, want %q", k, v, want)
		}
	}
	tr := judgeOne(t, withAgents(false, nil))
	wantHop(t, hop(tr, KindMetadata), KindMetadata, Fail, "the metadata agent is down (API)")
	wantHop(t, hop(tr, KindAgents), KindAgents, Warn, "no live metadata agent")

	// Isolated metadata off: no proxy is a fact with a router, a warning
	// without one.
	off := false
	f := MetadataFacts{NetworkID: "n", IsolatedMetadata: &off, Proxy: &dhcpns.MetadataProxy{ConfigMissing: true, PIDFileMissing: true}}
	gw := true
	f.SubnetHasGateway = &gw
	wantHop(t, JudgeMetadata(f), KindMetadata, OK, "guests reach metadata through the router")
	nogw := false
	f.SubnetHasGateway = &nogw
	wantHop(t, JudgeMetadata(f), KindMetadata, Warn, "no router to reach metadata through")

	// Option 3 without an address: Neutron's way of saying no gateway.
	for _, c := range []struct {
		opts []string
		want string
	}{
		{[]string{"tag:s,option:router,192.168.31.1"}, "true"},
		{[]string{"tag:s,option:router"}, "false"},
		{[]string{"tag:s,option:dns-server,8.8.4.4"}, "unknown"},
	} {
		var opts []dhcpns.DHCPOption
		for _, s := range c.opts {
			o, ok := dhcpns.ParseDHCPOption(s)
			if !ok {
				t.Fatalf("%s does not parse", s)
			}
			opts = append(opts, o)
		}
		got := "unknown"
		if g := subnetGateway(opts); g != nil {
			got = map[bool]string{true: "true", false: "false"}[*g]
		}
		if got != c.want {
			t.Errorf("subnetGateway(%v) = %s, want %s", c.opts, got, c.want)
		}
	}
}
