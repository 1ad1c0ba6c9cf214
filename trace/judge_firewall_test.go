package trace

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"strings"
	"testing"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/firewall"
)

func loadFacts(t *testing.T, name string) FirewallFacts {
	t.Helper()
	b, err := os.ReadFile(filepath.Join("testdata", "firewall", name+".json"))
	if err != nil {
		t.Fatal(err)
	}
	var f FirewallFacts
	if err := json.Unmarshal(b, &f); err != nil {
		t.Fatalf("%s: %v", name, err)
	}
	return f
}

// TestJudgeFirewallRecorded replays the facts recorded on the project's
// Zed cloud (testdata/firewall/README.md) through the three judges.
func TestJudgeFirewallRecorded(t *testing.T) {
	type want struct {
		verdict Verdict
		has     []string
	}
	for _, tc := range []struct {
		name             string
		sg, spoof, reach want
	}{
		{"healthy",
			want{OK, []string{"ICMP and SSH", "every ingress rule"}},
			want{OK, []string{"fa:16:3e:1a:7f:cf", "192.168.31.74"}},
			want{OK, []string{"ping 192.168.31.74 answered", "refused"}}},
		{"icmp-rule-deleted",
			want{Fail, []string{"ICMP to 192.168.31.74 is dropped by neutron-linuxbri-sg-fallback#1", "no ingress rule in default"}},
			want{OK, nil},
			want{Warn, []string{"ping 192.168.31.74 silent: dropped by neutron-linuxbri-sg-fallback#1", "group members", "192.168.31.70"}}},
		{"ssh-drop-inserted",
			want{Fail, []string{"SSH to 192.168.31.74 is dropped by neutron-linuxbri-i63035db3-5#1 (-p tcp -m tcp --dport 22 -j DROP), a rule the agent does not write"}},
			want{OK, nil},
			want{Fail, []string{"tcp/22 192.168.31.74 silent: dropped by neutron-linuxbri-i63035db3-5#1"}}},
		{"mac-removed",
			want{OK, nil},
			want{Fail, []string{"frames from the port's MAC fa:16:3e:1a:7f:cf are dropped by neutronMAC-tap63035db3-59#1"}},
			want{Fail, []string{"dropped by neutronMAC-tap63035db3-59#1"}}},
	} {
		t.Run(tc.name, func(t *testing.T) {
			f := loadFacts(t, tc.name)
			for _, c := range []struct {
				hop  Hop
				kind Kind
				w    want
			}{{JudgeSecurityGroup(f), KindSecurityGroup, tc.sg}, {JudgeAntiSpoofing(f), KindAntiSpoofing, tc.spoof}, {JudgeReachability(f), KindReachability, tc.reach}} {
				if c.hop.Kind != c.kind || c.hop.Verdict != c.w.verdict {
					t.Errorf("%s: %s %s %q, want %s", c.kind, c.hop.Kind, c.hop.Verdict, c.hop.Summary, c.w.verdict)
				}
				for _, s := range c.w.has {
					if !strings.Contains(c.hop.Summary, s) {
						t.Errorf("%s summary %q lacks %q", c.kind, c.hop.Summary, s)
					}
				}
				if c.hop.Verdict > OK && (c.hop.Cause == "" || c.hop.Next == "") {
					t.Errorf("%s: %s without cause or next step", c.kind, c.hop.Verdict)
				}
			}
		})
	}
}

// TestJudgeFirewallVariants derives the other situations the judges
// tell apart from the recorded healthy facts.
func TestJudgeFirewallVariants(t *testing.T) {
	base := loadFacts(t, "healthy")
	clone := func() FirewallFacts {
		b, _ := json.Marshal(base)
		var f FirewallFacts
		json.Unmarshal(b, &f)
		return f
	}
	t.Run("role network: unknown, run on the compute node", func(t *testing.T) {
		f := clone()
		f.Snapshot, f.Role = nil, RoleNetwork
		for _, h := range []Hop{JudgeSecurityGroup(f), JudgeAntiSpoofing(f)} {
			if h.Verdict != Unknown || !strings.Contains(h.Summary, "compute") {
				t.Errorf("%s: %s %q, want unknown naming the compute node", h.Kind, h.Verdict, h.Summary)
			}
		}
	})
	t.Run("role compute: reachability unknown", func(t *testing.T) {
		f := clone()
		f.Probes, f.Role = nil, RoleCompute
		if h := JudgeReachability(f); h.Verdict != Unknown || !strings.Contains(h.Summary, "network") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("agent's chains gone", func(t *testing.T) {
		f := clone()
		for i := range f.Snapshot.Tables {
			var keep []firewall.Chain
			for _, c := range f.Snapshot.Tables[i].Chains {
				if !strings.HasPrefix(c.Name, "neutron-") {
					keep = append(keep, c)
				}
			}
			f.Snapshot.Tables[i].Chains = keep
		}
		if h := JudgeSecurityGroup(f); h.Verdict != Fail || !strings.Contains(h.Summary, "no Neutron firewall") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("port not bound here: its chains missing", func(t *testing.T) {
		f := clone()
		f.Tap = "tap00000000-00"
		if h := JudgeSecurityGroup(f); h.Verdict != Fail || !strings.Contains(h.Summary, "neutron-linuxbri-i00000000-0") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("port security off with chains left", func(t *testing.T) {
		f := clone()
		f.Policy.PortSecurityEnabled = false
		if h := JudgeSecurityGroup(f); h.Verdict != Warn {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
		if h := JudgeAntiSpoofing(f); h.Verdict != Warn {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("a group rule missing from the chain", func(t *testing.T) {
		f := clone()
		g := &f.Policy.SecurityGroups[0]
		g.Rules = append(g.Rules, firewall.SecurityGroupRule{ID: "extra-rule", Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortRangeMin: 80, PortRangeMax: 80})
		if h := JudgeSecurityGroup(f); h.Verdict != Fail || !strings.Contains(h.Summary, "extra-rule") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("a chain rule no group asks for", func(t *testing.T) {
		f := clone()
		var kept []firewall.SecurityGroupRule
		for _, r := range f.Policy.SecurityGroups[0].Rules {
			if r.Protocol != "tcp" {
				kept = append(kept, r)
			}
		}
		f.Policy.SecurityGroups[0].Rules = kept
		h := JudgeSecurityGroup(f)
		if h.Verdict != Warn || !strings.Contains(h.Summary, "--dport 22") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("allowed address pair not in the ARP chain", func(t *testing.T) {
		f := clone()
		f.Policy.AllowedAddressPairs = []firewall.AddressPair{{IP: netip.MustParsePrefix("192.168.31.99/32")}}
		if h := JudgeAntiSpoofing(f); h.Verdict != Fail || !strings.Contains(h.Summary, "192.168.31.99") || !strings.Contains(h.Summary, "lacks --arp-ip-src 192.168.31.99") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("unreachable", func(t *testing.T) {
		f := clone()
		f.Probes[0].ICMP, f.Probes[0].TCP = dhcpns.ReachUnreachable, dhcpns.ReachUnreachable
		if h := JudgeReachability(f); h.Verdict != Fail || !strings.Contains(h.Summary, "unreachable") {
			t.Errorf("%s %q", h.Verdict, h.Summary)
		}
	})
	t.Run("host checks", func(t *testing.T) {
		f := clone()
		hops := JudgeFirewallHost(f.Snapshot, []string{f.Tap})
		for _, h := range hops {
			if h.Verdict != OK {
				t.Errorf("healthy host check %s: %s %q", h.Name, h.Verdict, h.Summary)
			}
		}
		// The other backend with a DROP FORWARD policy.
		for i := range f.Snapshot.Tables {
			tb := &f.Snapshot.Tables[i]
			if tb.Backend == firewall.BackendLegacy && tb.Family == firewall.IPv4 {
				for j := range tb.Chains {
					if tb.Chains[j].Name == "FORWARD" {
						tb.Chains[j].Policy = "DROP"
					}
				}
			}
		}
		hops = JudgeFirewallHost(f.Snapshot, []string{"tapother"})
		if hops[0].Verdict != Fail || !strings.Contains(hops[0].Summary, "DROP FORWARD policy") {
			t.Errorf("backend split: %s %q", hops[0].Verdict, hops[0].Summary)
		}
		if last := hops[len(hops)-1]; last.Name != "firewall-stale" || last.Verdict != Warn || !strings.Contains(last.Summary, f.Tap) {
			t.Errorf("stale: %s %s %q", last.Name, last.Verdict, last.Summary)
		}
	})
}
