package fwlayout

import (
	"encoding/json"
	"net/netip"
	"os"
	"strings"
	"testing"

	"github.com/google/go-cmp/cmp"
	"github.com/google/go-cmp/cmp/cmpopts"
	"github.com/vifpath/vifpath/firewall"
)

// TestLayoutMatchesRecorded renders the layout for the port recorded on
// the project's Zed cloud (its policy from the API) and compares it, chain
// by chain, with the agent's own iptables-save and ebtables listing
// recorded at the same time (firewall/testdata/zed-aio/healthy).
func TestLayoutMatchesRecorded(t *testing.T) {
	dir := "../../firewall/testdata/zed-aio/healthy/"
	var pol firewall.Policy
	b, err := os.ReadFile(dir + "policy.json")
	if err != nil {
		t.Fatal(err)
	}
	if err := json.Unmarshal(b, &pol); err != nil {
		t.Fatal(err)
	}
	port := Port{ID: pol.PortID, MAC: pol.MAC, IPs: pol.FixedIPs}
	for _, g := range pol.SecurityGroups {
		grp := Group{ID: g.ID, Members: pol.FixedIPs}
		for _, r := range g.Rules {
			grp.Rules = append(grp.Rules, Rule{Direction: r.Direction, Ethertype: r.EtherType, Protocol: r.Protocol,
				PortMin: r.PortRangeMin, PortMax: r.PortRangeMax, RemoteIPPrefix: r.RemoteIPPrefix, RemoteGroupID: r.RemoteGroupID})
		}
		port.Groups = append(port.Groups, grp)
	}
	rec, err := os.ReadFile(dir + "iptables-save-nft.txt")
	if err != nil {
		t.Fatal(err)
	}
	recorded, err := firewall.ParseIPTablesSave(string(rec), firewall.BackendNFT, firewall.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	rendered, err := firewall.ParseIPTablesSave(IPTablesRestore([]Port{port}), firewall.BackendNFT, firewall.IPv4)
	if err != nil {
		t.Fatal(err)
	}
	want := (&firewall.Snapshot{Tables: recorded}).Table(firewall.BackendNFT, firewall.IPv4)
	got := (&firewall.Snapshot{Tables: rendered}).Table(firewall.BackendNFT, firewall.IPv4)
	specs := func(c *firewall.Chain) []string {
		var s []string
		for _, r := range c.Rules {
			// The DHCP port's "trusted" ACCEPTs are not the VM port's layout.
			if !strings.Contains(r.Comment, "trusted") {
				s = append(s, strings.ReplaceAll(r.Spec, "-m mac --mac-source FA:", "-m mac --mac-source fa:"))
			}
		}
		return s
	}
	for _, c := range got.Chains {
		wc := want.Chain(c.Name)
		if wc == nil {
			t.Errorf("rendered chain %s is not in the recorded table", c.Name)
			continue
		}
		g := specs(&c)
		if d := cmp.Diff(specs(wc), lowerMAC(g)); d != "" {
			t.Errorf("chain %s (-recorded +rendered):\n%s", c.Name, d)
		}
	}
	// ebtables: the rendered restore input against ebtables-nft-save.
	ebRec, err := os.ReadFile(dir + "ebtables-save.txt")
	if err != nil {
		t.Fatal(err)
	}
	ew, err := firewall.ParseIPTablesSave(string(ebRec), firewall.BackendNFT, "")
	if err != nil {
		t.Fatal(err)
	}
	eg, err := firewall.ParseIPTablesSave(EbtablesRestore([]Port{port}), firewall.BackendNFT, "")
	if err != nil {
		t.Fatal(err)
	}
	if d := cmp.Diff(ew[0].Chains, eg[0].Chains, cmpopts.IgnoreFields(firewall.Rule{}, "Packets", "Bytes"), cmpopts.IgnoreFields(firewall.Chain{}, "Packets", "Bytes"), cmp.Comparer(func(a, b netip.Prefix) bool { return a == b })); d != "" {
		t.Errorf("ebtables nat (-recorded +rendered):\n%s", d)
	}
}

// lowerMAC writes --mac-source in lower case, as iptables-save prints it.
func lowerMAC(specs []string) []string {
	for i, s := range specs {
		if j := strings.Index(s, "--mac-source "); j >= 0 {
			k := j + len("--mac-source ") + 17
			if k <= len(s) {
				specs[i] = s[:j] + strings.ToLower(s[j:k]) + s[k:]
			}
		}
	}
	return specs
}
