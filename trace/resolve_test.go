package trace

import (
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/launch"
	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestResolveMACOrderOfTrust: the port MAC comes from the target, else
// Neutron, else the domain's interface, else the hosts file's row of the
// same NIC, else the tap's MAC with the fe: rule reversed, and says so.
func TestResolveMACOrderOfTrust(t *testing.T) {
	const netID = "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	const tap = "tap31f2d3e9-8d"
	guest := hwaddr.MustParse("fa:16:3e:11:22:33")
	other := hwaddr.MustParse("fa:16:3e:44:55:66")
	libv := hwaddr.MustParse("fa:16:3e:77:88:99")
	hostsOnly := hwaddr.MustParse("fc:16:3e:11:22:33") // same NIC as the tap, another first byte
	obs := func(withDomain, withHosts bool) *Observation {
		br := linuxbridge.Bridge{Name: linuxbridge.NetworkBridgeName(netID), Neutron: linuxbridge.DeviceName{Kind: linuxbridge.DeviceBridge, IDPrefix: netID[:11]},
			Ports: []linuxbridge.Port{{Name: tap, Kind: linuxbridge.PortTap, MAC: linuxbridge.TapMAC(guest)}}}
		o := &Observation{Role: RoleAllInOne, Bridges: &BridgeFacts{Before: &linuxbridge.Snapshot{Bridges: []linuxbridge.Bridge{br}}},
			DHCP:    &DHCPFacts{Namespaces: []string{netID}, Networks: []NetworkFacts{{NetworkID: netID, HostsPath: "/x/host"}}},
			Libvirt: &LibvirtFacts{}, Settings: Settings{Libvirt: true}}
		if withDomain {
			o.Libvirt.Domains = []DomainFacts{{Name: "instance-1", UUID: "u1", State: libvirtinspect.StateRunning, Running: true,
				Interfaces: []libvirtinspect.Interface{{Type: "bridge", Target: tap, MAC: libv}},
				Stats:      []libvirtinspect.InterfaceStats{{Name: tap}}}}
		}
		if withHosts {
			o.DHCP.Networks[0].Hosts = []dhcpns.Host{{MAC: hostsOnly, Line: 3}}
		}
		return o
	}
	neutron := &portHint{port: &launch.Port{ID: "31f2d3e9-8d00-4b0e-9a43-3f3c2f4b1a10", NetworkID: netID, MAC: other}}
	for _, c := range []struct {
		name   string
		obs    *Observation
		target Target
		hint   *portHint
		mac    hwaddr.MAC
		src    MACSource
	}{
		{"target", obs(true, true), Target{MAC: guest}, neutron, guest, MACFromTarget},
		{"neutron", obs(true, true), Target{Tap: tap}, neutron, other, MACFromNeutron},
		{"libvirt", obs(true, true), Target{Tap: tap}, nil, libv, MACFromLibvirt},
		{"hosts file", obs(false, true), Target{Tap: tap}, nil, hostsOnly, MACFromHosts},
		{"tap guess", obs(false, false), Target{Tap: tap}, nil, guest, MACFromTap},
	} {
		v := resolve(c.obs, c.target, c.hint)
		if !v.id.MAC.Equal(c.mac) || v.id.MACSource != c.src || v.id.MACFrom == "" {
			t.Errorf("%s: MAC %s from %s (%q), want %s from %s", c.name, v.id.MAC, v.id.MACSource, v.id.MACFrom, c.mac, c.src)
		}
		if v.id.Tap != tap || v.id.NetworkID != netID {
			t.Errorf("%s: tap %q network %q", c.name, v.id.Tap, v.id.NetworkID)
		}
		if c.src == MACFromTap && v.id.exact() {
			t.Errorf("%s: a guessed MAC counts as exact", c.name)
		}
	}
}
