package linuxbridge

import (
	"context"
	"fmt"

	"golang.org/x/sys/unix"
)

// Link returns the interface name of the inspected namespace, on a bridge
// or not (a provider NIC the agent should have enslaved, its VLAN
// parent). It is one link dump, kept apart from the snapshots' state. A
// missing interface is an error satisfying errors.Is(err, ErrNotFound)
// and fs.ErrNotExist.
func (in *Inspector) Link(ctx context.Context, name string) (*Link, error) {
	in.mu.Lock()
	defer in.mu.Unlock()
	if err := in.begin(ctx); err != nil {
		return nil, err
	}
	hdr := make([]byte, ifinfomsgLen)
	hdr[0] = unix.AF_UNSPEC
	var found *rawLink
	err := in.retry(ctx, "link", func() error {
		found = nil
		return in.c.dump(ctx, unix.RTM_GETLINK, hdr, nil, func(typ uint16, p []byte) error {
			if typ != unix.RTM_NEWLINK || found != nil {
				return nil
			}
			var l rawLink
			if decodeLink(p, &l) && l.name == name {
				found = &l
			}
			return nil
		})
	})
	if err != nil {
		return nil, err
	}
	if found == nil {
		return nil, fmt.Errorf("%w: no interface %s%s", ErrNotFound, name, in.where())
	}
	return &Link{Name: found.name, Index: found.index, Up: found.flags&unix.IFF_UP != 0, LowerUp: found.flags&unix.IFF_LOWER_UP != 0,
		OperState: OperState(found.oper), MasterIndex: found.master}, nil
}
