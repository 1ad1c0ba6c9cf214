package guestlog_test

import (
	"fmt"

	"github.com/vifpath/vifpath/guestlog"
)

// A console where udhcpc never got an offer: three DISCOVERs, no lease.
func ExampleSummarize() {
	console := []byte("vifpath-guest: eth0 fa:16:3e:3b:c2:01 at 8.66s\r\n" +
		"udhcpc: started, v1.35.0\r\n" +
		"udhcpc: broadcasting discover\r\n" +
		"udhcpc: broadcasting discover\r\n" +
		"udhcpc: broadcasting discover\r\n")
	s := guestlog.Summarize(guestlog.Parse(console))
	fmt.Printf("bound=%t discovers=%d unanswered=%d\n", s.Bound(), s.Discovers, s.DiscoversSinceLease)
	// Output: bound=false discovers=3 unanswered=3
}

func ExampleParseLine() {
	e, ok := guestlog.ParseLine("udhcpc: lease of 192.168.31.74 obtained from 192.168.31.70, lease time 86400")
	fmt.Println(ok, e.Kind, e.IP, e.Server)
	// Output: true dhcp-lease 192.168.31.74 192.168.31.70
}
