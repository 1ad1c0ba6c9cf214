package linuxbridge_test

import (
	"context"
	"testing"

	"github.com/vifpath/vifpath/internal/testutil"
	"github.com/vifpath/vifpath/linuxbridge"
)

// TestIntegrationSnapshotLinkCache checks when Snapshot may use the light
// dumps: only after a full link dump, and never after the kernel reported a
// link change (a port set down, a port added) until a full dump again.
func TestIntegrationSnapshotLinkCache(t *testing.T) {
	tp := newTopo(t)
	ctx := context.Background()
	in := inspectorIn(t, tp.host)
	snap := func(step string, wantReqs uint32) *linuxbridge.Snapshot {
		t.Helper()
		req0 := linuxbridge.Requests(in)
		s, err := in.Snapshot(ctx)
		if err != nil {
			t.Fatalf("%s: %v", step, err)
		}
		if reqs := linuxbridge.Requests(in) - req0; reqs != wantReqs {
			t.Errorf("%s: %d netlink requests, want %d (3: full link dump, 5: light dumps)", step, reqs, wantReqs)
		}
		return s
	}
	port := func(s *linuxbridge.Snapshot, name string) (linuxbridge.Port, bool) {
		for _, b := range s.Bridges {
			if p, ok := b.Port(name); ok {
				return p, true
			}
		}
		return linuxbridge.Port{}, false
	}
	snap("first", 3)
	snap("second, nothing changed", 5)

	// A port set down: the notification forces a full dump, which sees it.
	tp.host.SetDown(t, tp.eth)
	if p, ok := port(snap("after a port went down", 3), tp.eth); !ok || p.Up {
		t.Errorf("%s after set down: %+v (found %v), want down", tp.eth, p, ok)
	}
	if p, _ := port(snap("again, nothing changed", 5), tp.eth); p.Up {
		t.Errorf("%s up in the light snapshot after set down", tp.eth)
	}

	// A new tap on a bridge: its kind is only in the full dump.
	tap := testutil.RandName("lbtap")
	tp.host.Tap(t, tap)
	tp.host.Enslave(t, tap, tp.br1)
	if p, ok := port(snap("after a tap was added", 3), tap); !ok || p.Kind != linuxbridge.PortTap {
		t.Errorf("new %s: %+v (found %v), want a tap port", tap, p, ok)
	}
	if p, ok := port(snap("light, with the new tap cached", 5), tap); !ok || p.Kind != linuxbridge.PortTap {
		t.Errorf("new %s in the light snapshot: %+v (found %v), want a tap port", tap, p, ok)
	}
}
