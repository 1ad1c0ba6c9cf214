package launch

import (
	"context"
	"errors"
	"fmt"
	"math"
	"slices"
	"sort"
	"strings"

	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/hypervisors"
	"github.com/gophercloud/gophercloud/v2/openstack/placement/v1/resourceproviders"
)

// Resource classes a flavor asks placement for.
const (
	ClassVCPU     = "VCPU"
	ClassMemoryMB = "MEMORY_MB"
	ClassDiskGB   = "DISK_GB"
)

// Inventory is one resource class of a resource provider, with what is
// allocated from it.
type Inventory struct {
	// Total, Reserved, MinUnit, MaxUnit, StepSize and AllocationRatio are placement's inventory fields.
	Total           int     `json:"total"`
	Reserved        int     `json:"reserved"`
	MinUnit         int     `json:"min_unit"`
	MaxUnit         int     `json:"max_unit"`
	StepSize        int     `json:"step_size"`
	AllocationRatio float64 `json:"allocation_ratio"`
	// Used is the sum of the allocations against it (the provider's usages).
	Used int `json:"used"`
}

// Capacity is what placement lets be allocated in all:
// (total − reserved) × allocation_ratio, rounded down as placement does.
func (i Inventory) Capacity() int {
	return int(math.Floor(float64(i.Total-i.Reserved) * i.AllocationRatio))
}

// Free is Capacity minus Used (never below 0).
func (i Inventory) Free() int { return max(i.Capacity()-i.Used, 0) }

// Fits reports whether placement would grant n units: n within
// [min_unit, max_unit], a multiple of step_size, and no more than Free.
func (i Inventory) Fits(n int) bool {
	if n <= 0 {
		return true
	}
	if n < i.MinUnit || (i.MaxUnit > 0 && n > i.MaxUnit) || (i.StepSize > 1 && n%i.StepSize != 0) {
		return false
	}
	return n <= i.Free()
}

// ResourceProvider is a placement resource provider (a compute node is one,
// named after its hypervisor hostname) with its inventories.
type ResourceProvider struct {
	// UUID, Name and Generation are placement's resource provider fields.
	UUID       string `json:"uuid"`
	Name       string `json:"name"`
	Generation int    `json:"generation"`
	// Inventories by resource class (VCPU, MEMORY_MB, DISK_GB, …).
	Inventories map[string]Inventory `json:"inventories"`
}

// Hypervisor is one row of Nova's hypervisor list: a compute node Nova
// knows in one of its cells.
type Hypervisor struct {
	// ID is the hypervisor's Nova ID.
	ID string `json:"id"`
	// Hostname is hypervisor_hostname, the compute node's name (the
	// resource provider's name).
	Hostname string `json:"hostname"`
	// Host is the nova-compute service's host.
	Host   string `json:"host"`
	State  string `json:"state"`  // "up" or "down"
	Status string `json:"status"` // "enabled" or "disabled"
	Type   string `json:"type"`   // "QEMU", …
}

// Check names one verdict of the placement and agents checks. The zero
// value means no check.
type Check string

// Checks, in the order nova-status and the walkthrough run them.
const (
	// CheckPlacementReachable: placement answers (it is in the catalog
	// and its API responds).
	CheckPlacementReachable Check = "placement-reachable"
	// CheckComputeUp: nova-compute on the host is up and enabled.
	CheckComputeUp Check = "compute-up"
	// CheckHypervisor: the host is in Nova's hypervisor list (its compute
	// node is registered and the host mapped to a cell).
	CheckHypervisor Check = "hypervisor"
	// CheckResourceProvider: placement has a resource provider for the
	// host's compute node.
	CheckResourceProvider Check = "resource-provider"
	// CheckInventory: the provider's VCPU, MEMORY_MB and DISK_GB can hold
	// the flavor.
	CheckInventory Check = "inventory"
	// CheckL2Agent: the Linux bridge agent on the host is alive and up.
	CheckL2Agent Check = "l2-agent"
	// CheckDHCPAgent: a live DHCP agent hosts the network.
	CheckDHCPAgent Check = "dhcp-agent"
	// CheckVIFPlugging: the ports bound to the host became ACTIVE (the
	// agent wired them) before Nova's vif_plugging_timeout.
	CheckVIFPlugging Check = "vif-plugging"
)

// Problem is one failed check: which, on which host, what was found and
// the command that fixes it.
type Problem struct {
	// Check is what failed, Host where, Detail what was found and Fix what to do.
	Check  Check  `json:"check"`
	Host   string `json:"host,omitempty"`
	Detail string `json:"detail"`
	Fix    string `json:"fix,omitempty"`
}

// String is "detail (fix)".
func (p Problem) String() string {
	if p.Fix == "" {
		return p.Detail
	}
	return p.Detail + ": " + p.Fix
}

// PlacementReport is the `nova-status upgrade check` of the walkthrough,
// through the APIs: placement, the compute hosts' resource providers and
// their inventories against a flavor, and Nova's hypervisor list.
type PlacementReport struct {
	// Reachable is false when placement is not in the catalog or did not
	// answer (Problems says why).
	Reachable   bool               `json:"reachable"`
	Providers   []ResourceProvider `json:"providers"`
	Hypervisors []Hypervisor       `json:"hypervisors"`
	// Flavor checked against the inventories (nil: capacity not checked).
	Flavor *Flavor `json:"flavor,omitempty"`
	// Fits lists the hosts that pass every check (for the flavor, when
	// one was given).
	Fits []string `json:"fits"`
	// Problems lists every failed check.
	Problems []Problem `json:"problems"`
}

// Placement reads placement's resource providers (with inventories and
// usages), Nova's hypervisors and compute services, and judges them with
// JudgePlacement for flavor (nil: capacity not checked). Placement being
// unreachable is a Problem in the report, not an error; errors are
// failures to read Nova.
func (c *Client) Placement(ctx context.Context, flavor *Flavor) (*PlacementReport, error) {
	svcs, err := c.ComputeServices(ctx, "")
	if err != nil {
		return nil, err
	}
	hvs, err := c.Hypervisors(ctx)
	if err != nil {
		return nil, err
	}
	rps, perr := c.ResourceProviders(ctx)
	return JudgePlacement(svcs, hvs, rps, perr, flavor), nil
}

// Hypervisors lists Nova's hypervisors (compute nodes of every cell).
func (c *Client) Hypervisors(ctx context.Context) ([]Hypervisor, error) {
	var out []Hypervisor
	err := c.call(ctx, "list hypervisors", false, func(ctx context.Context) error {
		pages, err := hypervisors.List(c.compute, hypervisors.ListOpts{}).AllPages(ctx)
		if err != nil {
			return err
		}
		l, err := hypervisors.ExtractHypervisors(pages)
		if err != nil {
			return err
		}
		out = make([]Hypervisor, 0, len(l))
		for _, h := range l {
			out = append(out, Hypervisor{ID: h.ID, Hostname: h.HypervisorHostname, Host: h.Service.Host, State: h.State, Status: h.Status, Type: h.HypervisorType})
		}
		return nil
	})
	return out, err
}

// ErrNoPlacement: the catalog has no placement endpoint.
var ErrNoPlacement = errors.New("launch: no placement endpoint in the catalog")

// ResourceProviders lists placement's resource providers with their
// inventories and usages (two requests per provider).
func (c *Client) ResourceProviders(ctx context.Context) ([]ResourceProvider, error) {
	if c.placement == nil {
		return nil, fmt.Errorf("%w (openstack endpoint list --service placement; New found none from the compute client's catalog)", ErrNoPlacement)
	}
	var list []resourceproviders.ResourceProvider
	err := c.call(ctx, "list resource providers", false, func(ctx context.Context) error {
		pages, err := resourceproviders.List(c.placement, resourceproviders.ListOpts{}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = resourceproviders.ExtractResourceProviders(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	out := make([]ResourceProvider, 0, len(list))
	for _, rp := range list {
		p := ResourceProvider{UUID: rp.UUID, Name: rp.Name, Generation: rp.Generation, Inventories: map[string]Inventory{}}
		var inv *resourceproviders.ResourceProviderInventories
		var use *resourceproviders.ResourceProviderUsage
		err := c.call(ctx, "get inventories of resource provider "+rp.Name, false, func(ctx context.Context) error {
			var err error
			inv, err = resourceproviders.GetInventories(ctx, c.placement, rp.UUID).Extract()
			return err
		})
		if err == nil {
			err = c.call(ctx, "get usages of resource provider "+rp.Name, false, func(ctx context.Context) error {
				var err error
				use, err = resourceproviders.GetUsages(ctx, c.placement, rp.UUID).Extract()
				return err
			})
		}
		if err != nil {
			return nil, err
		}
		for class, i := range inv.Inventories {
			p.Inventories[class] = Inventory{Total: i.Total, Reserved: i.Reserved, MinUnit: i.MinUnit, MaxUnit: i.MaxUnit, StepSize: i.StepSize, AllocationRatio: roundRatio(i.AllocationRatio), Used: use.Usages[class]}
		}
		out = append(out, p)
	}
	return out, nil
}

// roundRatio undoes float32's noise (1.5 stays 1.5, 16.0 stays 16, 0.9
// does not become 0.8999999761581421).
func roundRatio(f float32) float64 { return math.Round(float64(f)*1e6) / 1e6 }

// JudgePlacement is the pure verdict of Placement from what was read:
// Nova's compute services and hypervisors, placement's providers (perr:
// why they could not be read, nil when they were) and a flavor (nil: no
// capacity check). For every enabled nova-compute host it checks that the
// service is up, the host is in the hypervisor list, a resource provider
// exists for each of its compute nodes, and that the provider's VCPU,
// MEMORY_MB and DISK_GB can hold the flavor. Each failure carries the
// command that fixes it.
func JudgePlacement(svcs []ComputeService, hvs []Hypervisor, rps []ResourceProvider, perr error, flavor *Flavor) *PlacementReport {
	r := &PlacementReport{Reachable: perr == nil, Providers: rps, Hypervisors: hvs, Flavor: flavor, Fits: []string{}, Problems: []Problem{}}
	if r.Providers == nil {
		r.Providers = []ResourceProvider{}
	}
	if r.Hypervisors == nil {
		r.Hypervisors = []Hypervisor{}
	}
	if perr != nil {
		r.Problems = append(r.Problems, Problem{Check: CheckPlacementReachable, Detail: "placement did not answer: " + perr.Error(),
			Fix: "check the placement service (uwsgi on :8778 on the project's cloud) and its endpoint: `openstack endpoint list --service placement`, then `nova-status upgrade check`"})
	}
	byName := map[string]*ResourceProvider{}
	for i := range rps {
		byName[rps[i].Name] = &rps[i]
	}
	hosts := []string{}
	for _, s := range svcs {
		if s.Binary == BinaryNovaCompute && s.Enabled && !slices.Contains(hosts, s.Host) {
			hosts = append(hosts, s.Host)
		}
	}
	sort.Strings(hosts)
	for _, h := range hosts {
		ok := true
		for _, s := range svcs {
			if s.Binary == BinaryNovaCompute && s.Host == h && !s.Up() {
				ok = false
				r.Problems = append(r.Problems, Problem{Check: CheckComputeUp, Host: h, Detail: fmt.Sprintf("nova-compute on %s is %s (last update %s)", h, orUnknown(string(s.State)), s.Updated.Format("2006-01-02T15:04:05Z")),
					Fix: "start nova-compute on " + h + " and look at its log (/var/log/nova/nova-compute.log)"})
			}
		}
		var nodes []string
		for _, hv := range hvs {
			if hv.Host == h {
				nodes = append(nodes, hv.Hostname)
			}
		}
		if len(nodes) == 0 {
			ok = false
			r.Problems = append(r.Problems, Problem{Check: CheckHypervisor, Host: h, Detail: fmt.Sprintf("host %s runs nova-compute but is not in Nova's hypervisor list (no compute node registered, or the host is not mapped to a cell)", h),
				Fix: "nova-manage cell_v2 discover_hosts --verbose (on the controller), then `openstack hypervisor list`"})
			nodes = []string{h}
		}
		if perr != nil {
			continue
		}
		for _, n := range nodes {
			rp := byName[n]
			if rp == nil {
				ok = false
				r.Problems = append(r.Problems, Problem{Check: CheckResourceProvider, Host: h, Detail: fmt.Sprintf("placement has no resource provider for compute node %s of host %s: the scheduler cannot place anything there", n, h),
					Fix: fmt.Sprintf("restart nova-compute on %s (it creates its provider at start and every update_resources_interval; check its [placement] credentials if it does not), then `openstack resource provider list` and `nova-manage cell_v2 discover_hosts --verbose`", h)})
				continue
			}
			if flavor == nil {
				continue
			}
			for _, want := range []struct {
				class string
				n     int
				unit  string
				ratio string
			}{{ClassVCPU, flavor.VCPUs, "vCPU", "cpu_allocation_ratio"}, {ClassMemoryMB, flavor.RAMMiB, "MiB RAM", "ram_allocation_ratio"}, {ClassDiskGB, flavor.DiskGiB, "GiB disk", "disk_allocation_ratio"}} {
				if want.n <= 0 {
					continue
				}
				inv, has := rp.Inventories[want.class]
				if !has {
					ok = false
					r.Problems = append(r.Problems, Problem{Check: CheckInventory, Host: h, Detail: fmt.Sprintf("resource provider %s has no %s inventory; flavor %s asks %d %s", n, want.class, flavor.Name, want.n, want.unit),
						Fix: "restart nova-compute on " + h + " so it reports its inventory, then `openstack resource provider inventory list " + rp.UUID + "`"})
					continue
				}
				if !inv.Fits(want.n) {
					ok = false
					r.Problems = append(r.Problems, Problem{Check: CheckInventory, Host: h,
						Detail: fmt.Sprintf("flavor %s asks %d %s; %s's %s: total %d, reserved %d, allocation ratio %g, used %d: %d free, at most %d per server", flavor.Name, want.n, want.unit, n, want.class, inv.Total, inv.Reserved, inv.AllocationRatio, inv.Used, inv.Free(), inv.MaxUnit),
						Fix:    fmt.Sprintf("use a smaller flavor, free resources on %s, or raise %s in nova.conf on %s (`openstack resource provider inventory list %s`)", h, want.ratio, h, rp.UUID)})
				}
			}
		}
		if ok && perr == nil {
			r.Fits = append(r.Fits, h)
		}
	}
	if len(hosts) == 0 {
		r.Problems = append(r.Problems, Problem{Check: CheckComputeUp, Detail: "no enabled nova-compute service",
			Fix: "start nova-compute on a compute host, then `nova-manage cell_v2 discover_hosts --verbose` and `openstack compute service list`"})
	}
	return r
}

// Ready reports whether some host passes every check.
func (r *PlacementReport) Ready() bool { return r != nil && r.Reachable && len(r.Fits) > 0 }

// String summarises the report in one line.
func (r *PlacementReport) String() string {
	if r.Ready() && len(r.Problems) == 0 {
		return "placement: ok on " + strings.Join(r.Fits, ", ")
	}
	var l []string
	for _, p := range r.Problems {
		l = append(l, p.String())
	}
	return "placement: " + strings.Join(l, "; ")
}
