package firewall

import "context"

// ReadNFTScoped runs a scoped read's iptables-nft part alone (both
// families, through netlink unless cfg.NFTCLI), for benchmarks.
func ReadNFTScoped(ctx context.Context, cfg *Config) ([]*Table, []TableRead, error) {
	var ts []*Table
	var rs []TableRead
	for _, t := range readScopedNFT(ctx, cfg.orDefault()) {
		if t.err != nil {
			return nil, nil, t.err
		}
		ts = append(ts, t.table)
		if t.read != nil {
			rs = append(rs, *t.read)
		}
	}
	return ts, rs, nil
}

// ReadNFTSave reads both families' iptables-nft filter tables whole with
// the save tools, as an unscoped Read does, for benchmarks.
func ReadNFTSave(ctx context.Context, cfg *Config) ([]*Table, error) {
	d := cfg.orDefault()
	var ts []*Table
	for _, s := range []struct {
		save string
		f    Family
	}{{d.IPTablesNFTSave, IPv4}, {d.IP6TablesNFTSave, IPv6}} {
		t, missing, err := readSave(ctx, d.NetNSPath, s.save, s.f)
		if err != nil {
			return nil, err
		}
		if missing != "" {
			return nil, errorString(missing)
		}
		ts = append(ts, t)
	}
	return ts, nil
}
