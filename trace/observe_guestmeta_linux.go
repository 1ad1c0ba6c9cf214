package trace

import (
	"context"
	"os"
	"path/filepath"
	"sync"

	"github.com/vifpath/vifpath/dhcpns"
	"github.com/vifpath/vifpath/libvirtinspect"
)

// consoleSource is what the observation reads the domains' consoles
// through (*libvirtinspect.Client: the log file the domain XML declares,
// read-only, never the console stream).
type consoleSource interface {
	ConsoleLog(ctx context.Context, ref string, max int) (*libvirtinspect.ConsoleLog, error)
}

// metadataSource is what the observation reads a qdhcp namespace's
// metadata side through (dhcpns.FindMetadataProxy, dhcpns.ProbeMetadata).
type metadataSource interface {
	FindMetadataProxy(ctx context.Context, networkID string) (*dhcpns.MetadataProxy, error)
	ProbeMetadata(ctx context.Context, networkID string) (*dhcpns.MetadataProbeResult, error)
}

// metadataPkg is metadataSource on the dhcpns package.
type metadataPkg struct{ cfg *dhcpns.Config }

func (m metadataPkg) FindMetadataProxy(ctx context.Context, networkID string) (*dhcpns.MetadataProxy, error) {
	return dhcpns.FindMetadataProxy(ctx, m.cfg, networkID)
}

func (m metadataPkg) ProbeMetadata(ctx context.Context, networkID string) (*dhcpns.MetadataProbeResult, error) {
	return dhcpns.ProbeMetadata(ctx, m.cfg, networkID, nil)
}

// dhcpnsConfig is the dhcpns configuration of c.
func dhcpnsConfig(c *Config) *dhcpns.Config {
	return &dhcpns.Config{NetNSDir: c.NetNSDir, ProcDir: c.ProcDir, StateDir: c.StateDir, Logger: c.Logger,
		MetadataPIDDir: c.MetadataPIDDir, MetadataProxyDir: c.MetadataProxyDir, MetadataAgentSocket: c.MetadataAgentSocket}
}

// readConsoles reads the console log of every domain in lv (each an XML
// RPC, a bounded file read and its parse), 4 domains at a time as
// observeDomains reads their details: a node's 200 consoles read one
// after the other would each wait its RPC's round trip.
func (o *observer) readConsoles(ctx context.Context, lv *LibvirtFacts) {
	if o.console == nil || o.c.NoConsole || lv == nil || lv.Error != "" {
		return
	}
	var wg sync.WaitGroup
	sem := make(chan struct{}, 4)
	for i := range lv.Domains {
		if ctx.Err() != nil {
			break
		}
		d := &lv.Domains[i]
		wg.Add(1)
		sem <- struct{}{}
		go func() {
			defer func() { <-sem; wg.Done() }()
			d.Console = consoleFacts(o.readConsole(ctx, d.UUID))
		}()
	}
	wg.Wait()
}

// consoleFile is a console log file a domain's XML declares.
type consoleFile struct {
	path   string
	source libvirtinspect.ConsoleSource
}

// noteConsole keeps the console log file of a domain whose details were
// read (called on the domains' goroutine, before readConsoles).
func (o *observer) noteConsole(det *libvirtinspect.Details) {
	if det.ConsoleLog == "" {
		return
	}
	if o.consoles == nil {
		o.consoles = map[string]consoleFile{}
	}
	o.consoles[det.UUID] = consoleFile{det.ConsoleLog, det.ConsoleSource}
}

// readConsole reads a domain's console log: the file its details named
// (no RPC), else through the console source (its XML read again).
func (o *observer) readConsole(ctx context.Context, uuid string) (*libvirtinspect.ConsoleLog, error) {
	f, ok := o.consoles[uuid]
	if !ok {
		return o.console.ConsoleLog(ctx, uuid, 0)
	}
	if err := ctx.Err(); err != nil {
		return nil, err
	}
	l, err := libvirtinspect.ReadConsoleLog(f.path, 0)
	if err != nil {
		return nil, err
	}
	l.Domain, l.Source = uuid, f.source
	return l, nil
}

// readOpts reads a network's DHCP options: dnsmasq's command line and its
// opts file (the one the command line names, else Neutron's
// <state>/<network>/opts).
func (o *observer) readOpts(n *NetworkFacts, h *dhcpns.Health) {
	n.OptsPath = filepath.Join(o.c.StateDir, n.NetworkID, "opts")
	if h.Dnsmasq != nil {
		if conf := h.Dnsmasq.Config(); conf != nil {
			n.CmdlineOpts = conf.DHCPOptions()
			if conf.OptsFile != "" {
				n.OptsPath = conf.OptsFile
			}
		}
	}
	b, err := os.ReadFile(n.OptsPath)
	if err != nil {
		n.OptsError = err.Error()
		return
	}
	opts, err := dhcpns.ParseOptsBytes(b)
	if err != nil {
		n.OptsError = err.Error()
	}
	n.Opts = opts
}

// readMetadata reads a network's metadata proxy and the link holding
// 169.254.169.254 (the probe comes later: probeMetadata).
func (o *observer) readMetadata(ctx context.Context, n *NetworkFacts, h *dhcpns.Health) {
	if o.meta == nil {
		return
	}
	m := &MetadataObs{}
	n.Metadata = m
	if h.Snapshot != nil {
		m.AddrLink, _ = h.Snapshot.MetadataAddrLink()
		m.AddrKnown = true
	}
	p, err := o.meta.FindMetadataProxy(ctx, n.NetworkID)
	if err != nil {
		m.ProxyError = err.Error()
		return
	}
	m.Proxy = p
}

// probeMetadata sends one HTTP GET to 169.254.169.254:80 from inside
// each observed qdhcp namespace that has a metadata proxy configured,
// after the ARP sweep.
func (o *observer) probeMetadata(ctx context.Context) {
	if o.meta == nil || o.c.NoMetadataProbe || o.obs.DHCP == nil {
		return
	}
	var wg sync.WaitGroup
	for i := range o.obs.DHCP.Networks {
		n := &o.obs.DHCP.Networks[i]
		m := n.Metadata
		if m == nil || m.Proxy == nil || (m.Proxy.ConfigMissing && m.Proxy.PIDFileMissing) {
			continue // no proxy configured: nothing to ask
		}
		wg.Add(1)
		go func() {
			defer wg.Done()
			r, err := o.meta.ProbeMetadata(ctx, n.NetworkID)
			if err != nil {
				m.ProbeError = err.Error()
				return
			}
			m.Probe = r
		}()
	}
	wg.Wait()
}
