package trace

import (
	"net"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/libvirtinspect"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestDomainHops judges the domain and interface hops from libvirt's
// answers without a daemon (the qemu integration test covers the real
// ones): every verdict branch, including those a real guest cannot easily
// be put in (paused, MAC of another port, stale network, non-bridge type).
func TestDomainHops(t *testing.T) {
	portMAC, _ := net.ParseMAC("fa:16:3e:11:22:33")
	otherMAC, _ := net.ParseMAC("fa:16:3e:44:55:66")
	const tap, br, netID = "tap31f2d3e9-8d", "brqc3e375fb-0a", "c3e375fb-0ac1-4b91-9c66-d297e7d090e6"
	iface := func() *libvirtinspect.Interface {
		return &libvirtinspect.Interface{Type: "bridge", Source: br, Bridge: br, Target: tap, MAC: MAC(portMAC), Model: "virtio", Alias: "net0"}
	}
	det := func(st libvirtinspect.State, i *libvirtinspect.Interface) *DomainFacts {
		d := &DomainFacts{ID: 3, Name: "instance-00000003", UUID: "6b1e7b9e-0c1d-4b0e-9a43-3f3c2f4b1a10", State: st, Reason: "unknown", Type: "qemu"}
		if i != nil {
			d.Interfaces = []libvirtinspect.Interface{*i}
		}
		return d
	}
	// domainResult is what libvirt said about the NIC's domain.
	type domainResult struct {
		err   string
		how   string
		det   *DomainFacts
		iface *libvirtinspect.Interface
	}
	type tc struct {
		name       string
		libvirt    bool
		dom        domainResult
		target     Target
		mac        net.HardwareAddr
		macLibvirt bool
		wantNet    string
		noTap      bool
		wantD      Verdict
		wantI      Verdict
		summary    string // substring of the failing hop's summary
	}
	withIf := func(st libvirtinspect.State, mut func(*libvirtinspect.Interface)) domainResult {
		i := iface()
		if mut != nil {
			mut(i)
		}
		d := det(st, i)
		return domainResult{det: d, iface: &d.Interfaces[0], how: "test"}
	}
	cases := []tc{
		{name: "no client", wantD: Unknown, wantI: Unknown, summary: "no libvirt client"},
		{name: "healthy", libvirt: true, dom: withIf(libvirtinspect.StateRunning, nil), mac: portMAC, wantNet: netID, wantD: OK, wantI: OK},
		{name: "mac from libvirt", libvirt: true, dom: withIf(libvirtinspect.StateRunning, nil), mac: portMAC, macLibvirt: true, wantD: OK, wantI: OK, summary: "not confirmed"},
		{name: "libvirt error", libvirt: true, dom: domainResult{err: "libvirtinspect: libvirtd unavailable"}, wantD: Unknown, wantI: Unknown, summary: "libvirt could not be asked"},
		{name: "named domain missing", libvirt: true, target: Target{Domain: "instance-0000000a"}, wantD: Fail, wantI: Unknown, summary: `libvirt has no domain "instance-0000000a"`},
		{name: "no owner", libvirt: true, wantD: Fail, wantI: Unknown, summary: "no libvirt domain has an interface on " + tap},
		{name: "paused", libvirt: true, dom: withIf(libvirtinspect.StatePaused, nil), mac: portMAC, wantD: Fail, wantI: OK, summary: "paused"},
		{name: "crashed", libvirt: true, dom: withIf(libvirtinspect.StateCrashed, nil), mac: portMAC, noTap: true, wantD: Fail, wantI: Unknown, summary: "not running"},
		{name: "other port's MAC", libvirt: true, dom: withIf(libvirtinspect.StateRunning, func(i *libvirtinspect.Interface) { i.MAC = MAC(otherMAC) }), mac: portMAC, wantD: OK, wantI: Fail, summary: "guest MAC fa:16:3e:44:55:66 is not the port's fa:16:3e:11:22:33"},
		{name: "stale network", libvirt: true, dom: withIf(libvirtinspect.StateRunning, nil), mac: portMAC, wantNet: "0d9e4b1c-5a36-4c7b-9f0e-2b8f1c3d4e5f", wantD: OK, wantI: Fail, summary: "the port's network bridge is brq0d9e4b1c-5a"},
		{name: "moved tap", libvirt: true, dom: withIf(libvirtinspect.StateRunning, func(i *libvirtinspect.Interface) { i.Source, i.Bridge = "virbr0", "virbr0" }), mac: portMAC, wantD: OK, wantI: Fail, summary: "libvirt says " + tap + " is on virbr0, but it is a port of " + br},
		{name: "running without a bridged tap", libvirt: true, dom: withIf(libvirtinspect.StateRunning, nil), mac: portMAC, noTap: true, wantD: OK, wantI: Fail, summary: "is on no bridge"},
		{name: "type ethernet", libvirt: true, dom: withIf(libvirtinspect.StateRunning, func(i *libvirtinspect.Interface) { i.Type = "ethernet" }), mac: portMAC, wantD: OK, wantI: Warn, summary: "interface type ethernet"},
		{name: "no interface", libvirt: true, dom: domainResult{det: det(libvirtinspect.StateRunning, nil)}, mac: portMAC, wantD: OK, wantI: Fail, summary: "has no interface on " + tap},
	}
	for _, c := range cases {
		t.Run(c.name, func(t *testing.T) {
			obs := &Observation{Settings: Settings{Libvirt: c.libvirt}}
			if c.libvirt {
				obs.Libvirt = &LibvirtFacts{Error: c.dom.err, Searched: 1}
			}
			r := &view{obs: obs, id: Identity{Target: c.target, Tap: tap, MAC: MAC(c.mac), MACSource: MACFromNeutron, MACFrom: "Neutron port", WantNetwork: c.wantNet, DomainHow: c.dom.how},
				dom: c.dom.det, iface: c.dom.iface}
			if c.macLibvirt {
				r.id.MACSource, r.id.MACFrom = MACFromLibvirt, "libvirt interface of instance-00000003"
			}
			if !c.noTap {
				r.bridge = &linuxbridge.Bridge{Name: br}
				r.tap = &linuxbridge.Port{Name: tap}
			}
			d, i := r.domainHops()
			if d.Kind != KindDomain || i.Kind != KindInterface || d.Verdict != c.wantD || i.Verdict != c.wantI {
				t.Fatalf("domain %s (%s), interface %s (%s); want %s, %s", d.Verdict, d.Summary, i.Verdict, i.Summary, c.wantD, c.wantI)
			}
			all := d.Summary + " | " + i.Summary
			if !strings.Contains(all, c.summary) {
				t.Errorf("summaries %q do not say %q", all, c.summary)
			}
			for _, h := range []Hop{d, i} {
				if (h.Verdict == Fail || h.Verdict == Warn) && (h.Cause == "" || h.Next == "") {
					t.Errorf("%s %s without cause/next: %+v", h.Kind, h.Verdict, h)
				}
			}
			if c.name == "healthy" {
				for k, want := range map[string]string{"source": br, "target": tap, "mac": portMAC.String(), "model": "virtio", "tap_bridge": br, "network_bridge": br} {
					if v, _ := i.Get(k); v != want {
						t.Errorf("interface evidence %s = %q, want %q", k, v, want)
					}
				}
				if d.Name != "instance-00000003" || i.Name != "instance-00000003/"+tap {
					t.Errorf("names %q, %q", d.Name, i.Name)
				}
			}
		})
	}
}
