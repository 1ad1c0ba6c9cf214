package linuxbridge_test

import (
	"context"
	"encoding/json"
	"errors"
	"fmt"
	"log"
	"os"

	"github.com/vifpath/vifpath/hwaddr"
	"github.com/vifpath/vifpath/linuxbridge"
)

// A `brctl show` for one Neutron network on this host. Needs no
// privileges in the process's own namespace.
func ExampleInspector_BridgeForNetwork() {
	in, err := linuxbridge.Open(context.Background(), nil)
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	br, err := in.BridgeForNetwork(context.Background(), "c3e375fb-0ac1-4b91-9c66-d297e7d090e6")
	if linuxbridge.IsNotFound(err) {
		fmt.Println("network not wired on this host")
		return
	}
	if err != nil {
		log.Fatal(err)
	}
	for _, p := range br.Ports {
		fmt.Printf("%s %s %s %s port=%s\n", p.Name, p.Kind, p.OperState, p.STPState, p.Neutron.IDPrefix)
	}
}

// Which port of which bridge learned a guest's MAC, inside a named
// namespace (needs CAP_SYS_ADMIN to enter it).
func ExampleInspector_WhereIs() {
	in, err := linuxbridge.OpenNamespace(context.Background(), nil, "qdhcp-c3e375fb-0ac1-4b91-9c66-d297e7d090e6")
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	mac := hwaddr.MustParse("fa:16:3e:57:19:35")
	es, err := in.WhereIs(context.Background(), mac)
	if errors.Is(err, linuxbridge.ErrNotFound) {
		fmt.Println("no bridge saw", mac)
		return
	}
	for _, e := range es {
		fmt.Println(e)
	}
}

func ExampleParseDeviceName() {
	for _, name := range []string{"brqc3e375fb-0a", "tap31f2d3e9-8d", "ns-10a8e6a2-5d", "eth2"} {
		d := linuxbridge.ParseDeviceName(name)
		fmt.Printf("%s: %s %s\n", name, d.Kind, d.IDPrefix)
	}
	// Output:
	// brqc3e375fb-0a: bridge c3e375fb-0a
	// tap31f2d3e9-8d: tap 31f2d3e9-8d
	// ns-10a8e6a2-5d: ns 10a8e6a2-5d
	// eth2: other
}

func ExampleTapMAC() {
	port := hwaddr.MustParse("fa:16:3e:57:19:35") // the Neutron port's MAC
	tap := linuxbridge.TapMAC(port)               // what libvirt gives the tap
	fmt.Println(tap, linuxbridge.SameNIC(tap, port))
	// Output: fe:16:3e:57:19:35 true
}

func ExampleNetworkBridgeName() {
	fmt.Println(linuxbridge.NetworkBridgeName("c3e375fb-0ac1-4b91-9c66-d297e7d090e6"))
	fmt.Println(linuxbridge.PortTapName("31f2d3e9-8d9d-4393-b25f-e9e4ead0ec80"))
	// Output:
	// brqc3e375fb-0a
	// tap31f2d3e9-8d
}

// The main path: open the namespace the bridges live in, take one
// snapshot, and print it as JSON (MACs as colon text, states as words),
// which reads back into a Snapshot.
func ExampleInspector_Snapshot() {
	ctx := context.Background()
	in, err := linuxbridge.Open(ctx, nil) // or &linuxbridge.Config{NetNSPath: "/run/netns/…"}
	if err != nil {
		log.Fatal(err)
	}
	defer in.Close()
	snap, err := in.Snapshot(ctx)
	if err != nil {
		log.Fatal(err)
	}
	if err := json.NewEncoder(os.Stdout).Encode(snap); err != nil {
		log.Fatal(err)
	}
}

// A forwarding database entry in JSON: the MAC is text, the state a word.
func ExampleFDBEntry() {
	e := linuxbridge.FDBEntry{
		MAC:    hwaddr.MustParse("fa:16:3e:57:19:35"),
		Bridge: "brqc3e375fb-0a", Port: "tap31f2d3e9-8d",
		State: linuxbridge.FDBReachable,
	}
	b, _ := json.Marshal(e)
	fmt.Println(string(b))
	fmt.Println(e)
	// Output:
	// {"mac":"fa:16:3e:57:19:35","bridge":"brqc3e375fb-0a","bridge_index":0,"port":"tap31f2d3e9-8d","port_index":0,"state":"learned"}
	// fa:16:3e:57:19:35 dev tap31f2d3e9-8d master brqc3e375fb-0a
}
