package libvirtinspect_test

import (
	"context"
	"errors"
	"fmt"

	"github.com/vifpath/vifpath/libvirtinspect"
)

// The tail of a Nova server's console, read from the console.log its
// domain XML declares (on the compute node; compile-only).
func ExampleClient_ConsoleLog() {
	c, err := libvirtinspect.NewFromConfig(&libvirtinspect.Config{ReadOnly: true})
	if err != nil {
		panic(err)
	}
	defer c.Close()
	l, err := c.ConsoleLog(context.Background(), "instance-00000002", 16<<10)
	if errors.Is(err, libvirtinspect.ErrNoConsoleLog) {
		fmt.Println("no console log: use openstack console log show")
		return
	}
	if err != nil {
		panic(err)
	}
	fmt.Printf("%s: %d bytes (of %d)\n", l.Path, len(l.Data), l.Size)
}
