package trace_test

import (
	"encoding/json"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/vifpath/vifpath/trace"
)

// TestObservationOwnersTypesReadRecordings checks that observations
// recorded while trace still had its own copies of other packages' types
// (PortFacts, FixedIP, HostRow, LeaseRow, ARPReply: version 1, before
// launch.Port, dhcpns.Host, dhcpns.Lease and dhcpns.ARPReply replaced
// them) load into the owners' types with every recorded field kept. It
// reads each file twice, as the typed Observation and as plain JSON, and
// compares field by field, so a renamed JSON key fails here instead of
// silently reading as zero. The lease's recorded "renewed" must agree
// with dhcpns.Lease.Renewed, which the lease hop now asks.
func TestObservationOwnersTypesReadRecordings(t *testing.T) {
	files, _ := filepath.Glob(filepath.Join("testdata", "observations", "*.json"))
	var ports, leases, hosts, replies int
	for _, f := range files {
		if strings.HasSuffix(f, ".trace.json") {
			continue
		}
		obs, err := trace.ReadObservationFile(f)
		if err != nil {
			t.Fatal(err)
		}
		b, err := os.ReadFile(f)
		if err != nil {
			t.Fatal(err)
		}
		var raw rawObs
		if err := json.Unmarshal(b, &raw); err != nil {
			t.Fatal(err)
		}
		if raw.API != nil {
			for i, rs := range raw.API.Servers {
				for j, rp := range rs.Ports {
					p := obs.API.Servers[i].Ports[j]
					got := rawPort{ID: p.ID, DeviceID: p.DeviceID, NetworkID: p.NetworkID, MAC: p.MAC.String(), Status: p.Status, VIFType: p.VIFType, HostID: p.HostID, AdminDown: p.AdminDown}
					for _, a := range p.FixedIPs {
						got.FixedIPs = append(got.FixedIPs, rawFixedIP{Address: a.Address.String(), SubnetID: a.SubnetID})
					}
					if diff := cmp.Diff(rp, got); diff != "" {
						t.Errorf("%s: server %d port %d as launch.Port (-recorded +read):\n%s", f, i, j, diff)
					}
					ports++
				}
			}
		}
		if raw.DHCP == nil {
			continue
		}
		for i, rn := range raw.DHCP.Networks {
			n := obs.DHCP.Networks[i]
			for j, rl := range rn.Leases {
				l := n.Leases[j]
				got := rawLease{MAC: l.MAC.String(), IP: addrText(l.IP.String()), Hostname: l.Hostname, ClientID: l.ClientID, Origin: l.Origin.String(), Line: l.Line}
				if rl.Renewed != nil {
					renewed := l.Renewed()
					got.Renewed = &renewed
				}
				if !l.Expiry.IsZero() {
					got.Expiry = l.Expiry.Format("2006-01-02T15:04:05Z07:00")
				}
				if diff := cmp.Diff(rl, got); diff != "" {
					t.Errorf("%s: network %d lease %d as dhcpns.Lease (-recorded +read):\n%s", f, i, j, diff)
				}
				leases++
			}
			for j, rh := range rn.Hosts {
				h := n.Hosts[j]
				got := rawHost{MAC: h.MAC.String(), IP: addrText(h.IP.String()), Hostname: h.Hostname, Line: h.Line}
				if diff := cmp.Diff(rh, got); diff != "" {
					t.Errorf("%s: network %d hosts row %d as dhcpns.Host (-recorded +read):\n%s", f, i, j, diff)
				}
				hosts++
			}
			for j, ra := range rn.ARP {
				for k, rr := range ra.Replies {
					r := n.ARP[j].Replies[k]
					if got := (rawReply{MAC: r.MAC.String(), RTT: int64(r.RTT)}); got != rr {
						t.Errorf("%s: network %d ARP %d reply %d as dhcpns.ARPReply = %+v, recorded %+v", f, i, j, k, got, rr)
					}
					replies++
				}
			}
		}
	}
	// The recordings hold every kind at least once; a glob or key that
	// matched nothing would otherwise pass.
	for what, n := range map[string]int{"ports": ports, "leases": leases, "hosts rows": hosts, "ARP replies": replies} {
		if n < 10 {
			t.Errorf("compared only %d %s across %d files", n, what, len(files))
		}
	}
}

// TestReadObservationRefusesOtherVersions: the JSON of the owners' types
// kept version 1's keys, so ObservationVersion stayed 1; a file of another
// version is refused with an error naming both versions.
func TestReadObservationRefusesOtherVersions(t *testing.T) {
	if trace.ObservationVersion != 1 {
		t.Fatalf("ObservationVersion = %d: a new version needs its recordings re-recorded and this test updated", trace.ObservationVersion)
	}
	_, err := trace.ReadObservation(strings.NewReader(`{"version": 2}`))
	if err == nil || !strings.Contains(err.Error(), "version 2") || !strings.Contains(err.Error(), "version 1") {
		t.Errorf("version 2: %v, want an error naming version 2 and version 1", err)
	}
}

// The recorded JSON, as plain values (the keys of version 1).
type rawObs struct {
	API *struct {
		Servers []struct {
			Ports []rawPort `json:"ports"`
		} `json:"servers"`
	} `json:"api"`
	DHCP *struct {
		Networks []struct {
			Hosts  []rawHost  `json:"hosts"`
			Leases []rawLease `json:"leases"`
			ARP    []struct {
				Replies []rawReply `json:"replies"`
			} `json:"arp"`
		} `json:"networks"`
	} `json:"dhcp"`
}

type rawPort struct {
	ID        string       `json:"id"`
	DeviceID  string       `json:"device_id"`
	NetworkID string       `json:"network_id"`
	MAC       string       `json:"mac"`
	FixedIPs  []rawFixedIP `json:"fixed_ips"`
	Status    string       `json:"status"`
	VIFType   string       `json:"vif_type"`
	HostID    string       `json:"host_id"`
	AdminDown bool         `json:"admin_down"`
}

type rawFixedIP struct {
	Address  string `json:"address"`
	SubnetID string `json:"subnet_id"`
}

type rawHost struct {
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	Line     int    `json:"line"`
}

type rawLease struct {
	MAC      string `json:"mac"`
	IP       string `json:"ip"`
	Hostname string `json:"hostname"`
	ClientID string `json:"client_id"`
	Expiry   string `json:"expiry"`
	Origin   string `json:"origin"`
	// Renewed was a field of older recordings (dhcpns.Lease.Renewed is a
	// method of Origin now; current recordings have no "renewed"): nil
	// when the file has none.
	Renewed *bool `json:"renewed"`
	Line    int   `json:"line"`
}

type rawReply struct {
	MAC string `json:"mac"`
	RTT int64  `json:"rtt"`
}

// addrText is the recorded text of a possibly absent address ("" when
// the key was omitted).
func addrText(s string) string {
	if s == "invalid IP" {
		return ""
	}
	return s
}
