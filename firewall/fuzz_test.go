package firewall

import (
	"encoding/json"
	"net/netip"
	"os"
	"path/filepath"
	"testing"
)

func seedFiles(f *testing.F, glob string) {
	paths, _ := filepath.Glob(filepath.Join("testdata", "*", glob))
	for _, p := range paths {
		if b, err := os.ReadFile(p); err == nil {
			f.Add(string(b))
		}
	}
}

// FuzzParseIPTablesSave: no panic on any input; what parses evaluates
// without panicking, marshals to JSON and back, and re-parses its own
// rule lines to the same rules.
func FuzzParseIPTablesSave(f *testing.F) {
	seedFiles(f, "iptables-save*.txt")
	f.Add("*filter\n:FORWARD DROP [1:2]\n:x - [0:0]\n[3:4] -A FORWARD -j x\n[5:6] -A x -p tcp -m multiport --dports 1:2,3 -m set --match-set s src ! -s 10.0.0.0/8 -m comment --comment \"a \\\"b\\\"\" -j RETURN\nCOMMIT\n")
	f.Add("*filter\n-A x -m state --state NEW -p icmp --icmp-type 8/0 -j DROP\n")
	f.Fuzz(func(t *testing.T, text string) {
		tables, err := ParseIPTablesSave(text, BackendNFT, IPv4)
		if err != nil {
			return
		}
		s := &Snapshot{Tables: tables, Sets: []Set{{Name: "s", Members: []netip.Prefix{netip.MustParsePrefix("10.0.0.0/8")}}}}
		for _, tab := range tables {
			tab.Name = "filter"
			s2 := &Snapshot{Tables: []Table{tab}, Sets: s.Sets}
			for _, c := range tab.Chains {
				s2.Evaluate(BackendNFT, c.Name, Packet{Protocol: "tcp", Src: netip.MustParseAddr("10.1.1.1"), Dst: netip.MustParseAddr("10.2.2.2"), DstPort: 22})
			}
			for _, c := range tab.Chains {
				for _, r := range c.Rules {
					again, err := parseRuleLine("-A " + r.Chain + " " + r.Spec)
					if err != nil {
						t.Fatalf("rule %q re-parsed: %v", r.Spec, err)
					}
					again.Packets, again.Bytes, again.Num = r.Packets, r.Bytes, r.Num
					a, _ := json.Marshal(again)
					b, _ := json.Marshal(r)
					if string(a) != string(b) && len(r.Spec) == len(again.Spec) {
						t.Fatalf("rule %q re-parsed differently:\n%s\n%s", r.Spec, a, b)
					}
				}
			}
		}
		b, err := json.Marshal(s)
		if err != nil {
			t.Fatal(err)
		}
		var back Snapshot
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("snapshot does not round-trip: %v\n%s", err, b)
		}
	})
}

// FuzzParseEbtablesList: no panic; what parses evaluates and round-trips.
func FuzzParseEbtablesList(f *testing.F) {
	seedFiles(f, "ebtables*.txt")
	f.Add("Bridge table: nat\n\nBridge chain: PREROUTING, entries: 1, policy: ACCEPT\n-p ARP -i tap1 -j neutronARP-tap1 , pcnt = 1 -- bcnt = 2\n\nBridge chain: neutronARP-tap1, entries: 2, policy: DROP\n-p ARP --arp-ip-src 10.0.0.5 -j ACCEPT , pcnt = 0 -- bcnt = 0\n-i tap1 --among-src fa:16:3e:0:0:1,fa:16:3e:00:00:02 -j RETURN\n-j DROP \n")
	f.Fuzz(func(t *testing.T, text string) {
		eb, err := ParseEbtablesList(text, BackendNFT)
		if err != nil {
			return
		}
		s := &Snapshot{Ebtables: eb}
		s.EvaluateEbtables(Frame{InIface: "tap1", ARP: true, ARPSrcIP: netip.MustParseAddr("10.0.0.5")})
		s.StaleTaps(nil)
		s.Port("tap1", IPv4)
		b, err := json.Marshal(eb)
		if err != nil {
			t.Fatal(err)
		}
		var back EbTable
		if err := json.Unmarshal(b, &back); err != nil {
			t.Fatalf("ebtables table does not round-trip: %v\n%s", err, b)
		}
	})
}

// FuzzParseIPSetSave: no panic; members are valid prefixes.
func FuzzParseIPSetSave(f *testing.F) {
	seedFiles(f, "ipset*.txt")
	f.Add("create NIPv4abc hash:net family inet hashsize 1024 maxelem 65536\nadd NIPv4abc 10.0.0.1\nadd NIPv4abc 10.1.0.0/16\n")
	f.Fuzz(func(t *testing.T, text string) {
		sets, err := ParseIPSetSave(text)
		if err != nil {
			return
		}
		for _, s := range sets {
			for _, m := range s.Members {
				if !m.IsValid() {
					t.Fatalf("set %s: invalid member", s.Name)
				}
			}
		}
	})
}
