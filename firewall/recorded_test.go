package firewall

import (
	"bufio"
	"net/netip"
	"os"
	"path/filepath"
	"slices"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
)

func readFixture(t *testing.T, dir, name string) string {
	t.Helper()
	b, err := os.ReadFile(filepath.Join(dir, name))
	if err != nil {
		t.Fatal(err)
	}
	return string(b)
}

// TestParseRecorded parses the tools' output recorded on the project's
// Zed cloud (testdata/zed-aio/README.md) and checks it against the other
// listings recorded at the same moment: the ebtables -L listing against
// ebtables-nft-save, ipset save against ipset list.
func TestParseRecorded(t *testing.T) {
	const tap = "tap63035db3-59"
	dirs, _ := filepath.Glob(filepath.Join("testdata", "zed-aio", "*"))
	n := 0
	for _, dir := range dirs {
		if st, err := os.Stat(dir); err != nil || !st.IsDir() {
			continue
		}
		n++
		t.Run(filepath.Base(dir), func(t *testing.T) {
			nft, err := ParseIPTablesSave(readFixture(t, dir, "iptables-save-nft.txt"), BackendNFT, IPv4)
			if err != nil {
				t.Fatal(err)
			}
			leg, err := ParseIPTablesSave(readFixture(t, dir, "iptables-save-legacy.txt"), BackendLegacy, IPv4)
			if err != nil {
				t.Fatal(err)
			}
			eb, err := ParseEbtablesList(readFixture(t, dir, "ebtables-nat.txt"), BackendNFT)
			if err != nil {
				t.Fatal(err)
			}
			sets, err := ParseIPSetSave(readFixture(t, dir, "ipset-save.txt"))
			if err != nil {
				t.Fatal(err)
			}
			s := &Snapshot{Tables: append(nft, leg...), Ebtables: eb, Sets: sets}
			bs := s.Backends()
			if !slices.Equal(bs.Neutron, []Backend{BackendNFT}) || len(bs.Others) != 0 {
				t.Errorf("Backends = %+v, want Neutron in nft, nothing else filtering", bs)
			}
			p := s.Port(tap, IPv4)
			if !p.Filtered() || p.Spoof == nil || p.MACChain == nil || p.ARPChain == nil {
				t.Errorf("Port(%s) incomplete: ingress %v egress %v spoof %v jumps %d mac %v arp %v", tap, p.Ingress != nil, p.Egress != nil, p.Spoof != nil, len(p.Jumps), p.MACChain != nil, p.ARPChain != nil)
			}
			for _, tab := range nft {
				for _, c := range tab.Chains {
					for _, r := range c.Rules {
						if len(r.Match.Unknown) > 0 {
							t.Errorf("%s#%d has options the evaluator does not model: %v", r.Chain, r.Num, r.Match.Unknown)
						}
					}
				}
			}
			// ebtables: the listing and ebtables-nft-save agree rule by rule.
			saved, err := ParseIPTablesSave(readFixture(t, dir, "ebtables-save.txt"), BackendNFT, "")
			if err != nil {
				t.Fatal(err)
			}
			for _, c := range saved[0].Chains {
				ec := eb.Chain(c.Name)
				if ec == nil {
					t.Errorf("chain %s of ebtables-save missing from the listing", c.Name)
					continue
				}
				var want, got []string
				for _, r := range c.Rules {
					want = append(want, r.Spec)
				}
				for _, r := range ec.Rules {
					got = append(got, r.Spec)
				}
				if d := cmp.Diff(want, got); d != "" {
					t.Errorf("ebtables %s (-save +listing):\n%s", c.Name, d)
				}
			}
			// ipset: save and list name the same members.
			listed := parseIPSetList(readFixture(t, dir, "ipset-list.txt"))
			for _, set := range sets {
				var got []string
				for _, m := range set.Members {
					got = append(got, m.Addr().String())
				}
				slices.Sort(got)
				if d := cmp.Diff(listed[set.Name], got); d != "" {
					t.Errorf("set %s (-ipset list +ipset save):\n%s", set.Name, d)
				}
			}
		})
	}
	if n < 4 {
		t.Errorf("%d recorded states, want 4", n)
	}
}

// parseIPSetList reads the members of `ipset list` (a test-only reader:
// the library parses `ipset save`).
func parseIPSetList(text string) map[string][]string {
	out := map[string][]string{}
	name, inMembers := "", false
	sc := bufio.NewScanner(strings.NewReader(text))
	for sc.Scan() {
		line := strings.TrimSpace(sc.Text())
		switch {
		case strings.HasPrefix(line, "Name: "):
			name, inMembers = strings.TrimPrefix(line, "Name: "), false
			out[name] = nil
		case line == "Members:":
			inMembers = true
		case inMembers && line != "":
			if a, err := netip.ParseAddr(strings.Fields(line)[0]); err == nil {
				out[name] = append(out[name], a.String())
			}
		}
	}
	for k := range out {
		slices.Sort(out[k])
	}
	return out
}
