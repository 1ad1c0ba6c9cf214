package demo

import (
	"context"
	"errors"
	"fmt"
	"net"
	"net/http"
	"net/netip"
	"os"
	"os/exec"
	"path/filepath"
	"strconv"
	"strings"
	"syscall"
	"time"

	"github.com/vishvananda/netlink"

	"github.com/vifpath/vifpath/internal/neutronconf"
	"github.com/vifpath/vifpath/internal/sandbox"
)

// demoMTUFault is the MTU BreakMTU gives the uplink: less than the 1500
// that dnsmasq advertises (option:mtu,1500).
const demoMTUFault = 1400

// metadataState is what the demo holds for its proxy.
type metadataState struct {
	agent *http.Server
}

// startMetadataProxy does what Neutron's DHCP agent does for a network
// with isolated metadata: 169.254.169.254/32 on the ns- device, the
// option 121 route to it in the opts file (dnsmasq rereads it on SIGHUP),
// haproxy with Neutron's configuration in the qdhcp namespace (daemon,
// pid file), and a stand-in for the metadata agent on its unix socket.
// Without haproxy it says why in MetadataWhy and carries on.
func (p *Path) startMetadataProxy(ctx context.Context) error {
	bin, err := exec.LookPath("haproxy")
	if err != nil {
		p.MetadataWhy = "haproxy not found (apt-get install haproxy): no metadata proxy"
		p.log.Info("demo: no metadata proxy", "why", p.MetadataWhy)
		return nil
	}
	p.MetadataPIDDir = filepath.Join(p.Dir, "external", "pids")
	p.MetadataProxyDir = filepath.Join(p.Dir, "ns-metadata-proxy")
	p.MetadataAgentSocket = filepath.Join(p.Dir, "metadata_proxy")
	for _, d := range []string{p.MetadataPIDDir, p.MetadataProxyDir} {
		if err := os.MkdirAll(d, 0o755); err != nil {
			return fmt.Errorf("demo: %w", err)
		}
	}
	h, err := sandbox.NetNSAt(p.DHCP).NewHandle()
	if err != nil {
		return err
	}
	err = sandbox.AddAddr(h, p.DHCPIf, netip.MustParsePrefix("169.254.169.254/32"))
	h.Close()
	if err != nil {
		return err
	}
	opts := filepath.Join(p.StateDir, p.NetworkID, "opts")
	f, err := os.OpenFile(opts, os.O_APPEND|os.O_WRONLY, 0)
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	_, err = fmt.Fprintf(f, "tag:tag0,option:classless-static-route,169.254.169.254/32,%s,0.0.0.0/0,%s\ntag:tag0,249,169.254.169.254/32,%s,0.0.0.0/0,%s\n",
		pathDHCPIP, pathGateway, pathDHCPIP, pathGateway)
	f.Close()
	if err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	if p.dnsmasq != nil {
		p.dnsmasq.Reload()
	}

	// The metadata agent's stand-in: Nova's version list for a request
	// the proxy marked with this network (what the real agent forwards).
	l, err := net.Listen("unix", p.MetadataAgentSocket)
	if err != nil {
		return fmt.Errorf("demo: metadata agent socket: %w", err)
	}
	os.Chmod(p.MetadataAgentSocket, 0o777) // haproxy runs as nobody
	p.md.agent = &http.Server{ReadHeaderTimeout: 5 * time.Second, Handler: http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		if r.Header.Get("X-Neutron-Network-ID") != p.NetworkID {
			http.Error(w, "no X-Neutron-Network-ID for this network", http.StatusBadRequest)
			return
		}
		fmt.Fprint(w, "1.0\n2007-01-19\n2009-04-04\nlatest")
	})}
	go p.md.agent.Serve(l)

	return p.startHaproxy(ctx, bin)
}

func (p *Path) haproxyPIDFile() string {
	return filepath.Join(p.MetadataPIDDir, p.NetworkID+".pid.haproxy")
}

func (p *Path) startHaproxy(ctx context.Context, bin string) error {
	pidFile := p.haproxyPIDFile()
	conf := filepath.Join(p.MetadataProxyDir, p.NetworkID+".conf")
	text := neutronconf.HaproxyConfig(neutronconf.HaproxyMetadata{NetworkID: p.NetworkID, PIDFile: pidFile,
		Backend: p.MetadataAgentSocket, User: "nobody", Group: "nogroup", NoSyslog: true})
	if err := os.WriteFile(conf, []byte(text), 0o644); err != nil {
		return fmt.Errorf("demo: %w", err)
	}
	cmd := exec.Command(bin, "-f", conf)
	if err := sandbox.NetNSAt(p.DHCP).Do(func() error {
		out, err := cmd.CombinedOutput()
		if err != nil {
			return fmt.Errorf("%w: %s", err, out)
		}
		return nil
	}); err != nil {
		return fmt.Errorf("demo: start haproxy -f %s: %w", conf, err)
	}
	deadline := time.Now().Add(5 * time.Second)
	for {
		b, err := os.ReadFile(pidFile)
		if err == nil {
			if pid, err := strconv.Atoi(strings.TrimSpace(string(b))); err == nil && pid > 0 {
				p.HaproxyPID = pid
				p.log.Info("demo: haproxy metadata proxy started", "pid", pid, "config", conf)
				return nil
			}
		}
		if time.Now().After(deadline) {
			return fmt.Errorf("demo: haproxy wrote no pid to %s within 5 s", pidFile)
		}
		select {
		case <-ctx.Done():
			return ctx.Err()
		case <-time.After(5 * time.Millisecond):
		}
	}
}

// stopMetadataProxy kills haproxy (waiting up to 3 s for it and its
// threads to exit), stops the agent's stand-in and removes their files.
// Idempotent.
func (p *Path) stopMetadataProxy() error {
	var errs []error
	if pid := p.HaproxyPID; pid > 0 {
		p.HaproxyPID = 0
		if err := syscall.Kill(pid, syscall.SIGKILL); err != nil && !errors.Is(err, syscall.ESRCH) {
			errs = append(errs, fmt.Errorf("demo: kill haproxy %d: %w", pid, err))
		}
		waitExited(pid, 3*time.Second)
	}
	if p.md.agent != nil {
		errs = append(errs, p.md.agent.Close())
		p.md.agent = nil
	}
	if p.MetadataPIDDir != "" {
		for _, d := range []string{filepath.Dir(p.MetadataPIDDir), p.MetadataProxyDir, p.MetadataAgentSocket} {
			if err := os.RemoveAll(d); err != nil {
				errs = append(errs, fmt.Errorf("demo: %w", err))
			}
		}
	}
	return errors.Join(errs...)
}

// waitExited waits until pid is gone or a zombie with no other thread
// left (PID 1 reaps the daemon lazily).
func waitExited(pid int, d time.Duration) {
	deadline := time.Now().Add(d)
	for time.Now().Before(deadline) {
		b, err := os.ReadFile(fmt.Sprintf("/proc/%d/stat", pid))
		if err != nil {
			return
		}
		tasks, _ := os.ReadDir(fmt.Sprintf("/proc/%d/task", pid))
		if i := strings.LastIndexByte(string(b), ')'); i > 0 && i+2 < len(b) && (b[i+2] == 'Z' || b[i+2] == 'X') && len(tasks) <= 1 {
			return
		}
		time.Sleep(10 * time.Millisecond)
	}
}

// breakMetadata kills the metadata proxy, as when haproxy died: its pid
// file stays behind (stale), as Neutron's does.
func (p *Path) breakMetadata() error {
	if p.HaproxyPID == 0 {
		return fmt.Errorf("demo: break %s: no metadata proxy runs (%s)", BreakMetadata, p.MetadataWhy)
	}
	pid := p.HaproxyPID
	p.HaproxyPID = 0
	if err := syscall.Kill(pid, syscall.SIGKILL); err != nil {
		return fmt.Errorf("demo: kill haproxy %d: %w", pid, err)
	}
	waitExited(pid, 3*time.Second)
	return nil
}

// breakMTU lowers the uplink's MTU below what DHCP advertises: the bridge
// follows it down, and the guest's full-size packets are dropped there.
func (p *Path) breakMTU() error {
	return sandbox.NetNSAt(p.HostPath).WithLink(p.Uplink, func(h *netlink.Handle, l netlink.Link) error { return h.LinkSetMTU(l, demoMTUFault) })
}
