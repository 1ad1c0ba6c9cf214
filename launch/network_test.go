package launch_test

import (
	"context"
	"testing"
	"testing/synctest"

	"github.com/vifpath/vifpath/internal/testutil/fakecloud"
	"github.com/vifpath/vifpath/launch"
)

func TestCreatedNetworkFields(t *testing.T) {
	synctest.Test(t, func(t *testing.T) {
		fake := fakecloud.New(&fakecloud.Config{Fresh: true})
		c := openFake(t, fake, nil)
		n, err := c.EnsureNetwork(context.Background(), launch.NetworkSpec{Name: "p", Type: launch.NetworkVLAN, PhysicalNetwork: "provider", SegmentationID: 42, Shared: true, External: true})
		if err != nil || n.ID == "" || n.Type != launch.NetworkVLAN || n.PhysicalNetwork != "provider" || n.SegmentationID != 42 || !n.Shared || !n.External || !n.Created {
			t.Fatalf("created = %+v, %v", n, err)
		}
		f, err := c.FindNetwork(context.Background(), n.ID)
		f.Created = true
		if err != nil || f.ID != n.ID || f.SegmentationID != 42 || !f.External || f.MTU != n.MTU {
			t.Fatalf("found = %+v, %v; created %+v", f, err, n)
		}
	})
}
