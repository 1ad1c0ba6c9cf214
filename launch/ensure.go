package launch

import (
	"context"
	"crypto/ed25519"
	"crypto/rand"
	"encoding/pem"
	"errors"
	"fmt"
	"log/slog"
	"net/netip"
	"os"
	"regexp"
	"strconv"
	"strings"
	"time"

	"github.com/gophercloud/gophercloud/v2"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/flavors"
	"github.com/gophercloud/gophercloud/v2/openstack/compute/v2/keypairs"
	"github.com/gophercloud/gophercloud/v2/openstack/image/v2/images"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/external"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/mtu"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/provider"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/groups"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/extensions/security/rules"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/networks"
	"github.com/gophercloud/gophercloud/v2/openstack/networking/v2/subnets"
	"golang.org/x/crypto/ssh"
)

var uuidRE = regexp.MustCompile(`^[0-9a-fA-F]{8}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{4}-?[0-9a-fA-F]{12}$`)

func isUUID(s string) bool { return uuidRE.MatchString(s) }

// Flavor is a Nova flavor.
type Flavor struct {
	// ID, Name, VCPUs, RAMMiB and DiskGiB are Nova's flavor fields.
	ID      string `json:"id"`
	Name    string `json:"name"`
	VCPUs   int    `json:"vcpus"`
	RAMMiB  int    `json:"ram_mib"`
	DiskGiB int    `json:"disk_gib"`
	// Created is true when this call created it.
	Created bool `json:"created"`
}

// FlavorSpec asks for a flavor: exact vCPUs, RAM (MiB) and root disk (GiB).
type FlavorSpec struct {
	// Name, VCPUs, RAMMiB and DiskGiB are the flavor wanted (Name is required).
	Name    string `json:"name"`
	VCPUs   int    `json:"vcpus"`
	RAMMiB  int    `json:"ram_mib"`
	DiskGiB int    `json:"disk_gib"`
	// ID to give a new flavor. Zero: Nova picks a UUID.
	ID string `json:"id,omitempty"`
}

func flavorOf(f flavors.Flavor) Flavor {
	return Flavor{ID: f.ID, Name: f.Name, VCPUs: f.VCPUs, RAMMiB: f.RAM, DiskGiB: f.Disk}
}

func (c *Client) listFlavors(ctx context.Context) ([]flavors.Flavor, error) {
	var out []flavors.Flavor
	err := c.call(ctx, "list flavors", false, func(ctx context.Context) error {
		pages, err := flavors.ListDetail(c.compute, flavors.ListOpts{AccessType: flavors.AllAccess}).AllPages(ctx)
		if err != nil {
			return err
		}
		out, err = flavors.ExtractFlavors(pages)
		return err
	})
	return out, err
}

// FindFlavor finds a flavor by ID or exact name.
func (c *Client) FindFlavor(ctx context.Context, nameOrID string) (*Flavor, error) {
	fl, err := c.listFlavors(ctx)
	if err != nil {
		return nil, err
	}
	var hits []flavors.Flavor
	for _, f := range fl {
		if f.ID == nameOrID {
			t := flavorOf(f)
			return &t, nil
		}
		if f.Name == nameOrID {
			hits = append(hits, f)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("launch: flavor %q: %w among %d flavors (create it with EnsureFlavor or `openstack flavor create`)", nameOrID, ErrNotFound, len(fl))
	case 1:
		t := flavorOf(hits[0])
		return &t, nil
	}
	ids := make([]string, 0, len(hits))
	for _, h := range hits {
		ids = append(ids, h.ID)
	}
	return nil, fmt.Errorf("%w: flavor %q matches %d flavors: %s (give an ID)", ErrAmbiguous, nameOrID, len(hits), strings.Join(ids, ", "))
}

// EnsureFlavor returns the flavor named spec.Name, creating it if missing.
// An existing flavor with other vCPUs, RAM or disk is an ErrMismatch error,
// never reused. Creating needs the admin role.
func (c *Client) EnsureFlavor(ctx context.Context, spec FlavorSpec) (*Flavor, error) {
	if spec.Name == "" || spec.VCPUs <= 0 || spec.RAMMiB <= 0 || spec.DiskGiB < 0 {
		return nil, fmt.Errorf("launch: flavor spec %+v: name, vcpus > 0 and ram > 0 are required", spec)
	}
	check := func(f *Flavor) (*Flavor, error) {
		if f.VCPUs != spec.VCPUs || f.RAMMiB != spec.RAMMiB || f.DiskGiB != spec.DiskGiB {
			return nil, fmt.Errorf("%w: flavor %q (%s) has %d vCPU, %d MiB RAM, %d GiB disk where %d/%d/%d was asked: use another name or delete it", ErrMismatch, f.Name, f.ID, f.VCPUs, f.RAMMiB, f.DiskGiB, spec.VCPUs, spec.RAMMiB, spec.DiskGiB)
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "found flavor", slog.String("name", f.Name), slog.String("id", f.ID))
		return f, nil
	}
	f, err := c.FindFlavor(ctx, spec.Name)
	if err == nil {
		return check(f)
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	disk := spec.DiskGiB
	var created *flavors.Flavor
	err = c.call(ctx, "create flavor "+spec.Name, false, func(ctx context.Context) error {
		var err error
		created, err = flavors.Create(ctx, c.compute, flavors.CreateOpts{Name: spec.Name, VCPUs: spec.VCPUs, RAM: spec.RAMMiB, Disk: &disk, ID: spec.ID}).Extract()
		return err
	})
	if isStatus(err, 409) {
		// Someone created it between our list and our create.
		if f, ferr := c.FindFlavor(ctx, spec.Name); ferr == nil {
			return check(f)
		}
	}
	if err != nil {
		return nil, err
	}
	t := flavorOf(*created)
	t.Created = true
	c.record(createdResource{kind: "flavor", id: t.ID, name: t.Name})
	c.log.LogAttrs(ctx, slog.LevelInfo, "created flavor", slog.String("name", t.Name), slog.String("id", t.ID))
	return &t, nil
}

// KeypairSpec asks for a Nova keypair.
type KeypairSpec struct {
	// Name is the keypair's name (required).
	Name string `json:"name"`
	// PublicKey to import (authorized_keys line). Zero: generate an
	// ed25519 key and write its private half to PrivateKeyPath.
	PublicKey string `json:"public_key,omitempty"`
	// PrivateKeyPath is where a generated private key is written, mode
	// 0600, never over an existing file. Required when PublicKey is zero
	// and the keypair does not exist yet.
	PrivateKeyPath string `json:"private_key_path,omitempty"`
}

// Keypair is a Nova keypair. The private key is never held here.
type Keypair struct {
	// Name, Fingerprint and PublicKey are Nova's keypair fields.
	Name        string `json:"name"`
	Fingerprint string `json:"fingerprint"`
	PublicKey   string `json:"public_key"`
	// PrivateKeyPath is set when this call generated the key and wrote it.
	PrivateKeyPath string `json:"private_key_path,omitempty"`
	Created        bool   `json:"created"`
}

// EnsureKeypair returns the keypair named spec.Name, importing
// spec.PublicKey or generating a key when it is missing. An existing
// keypair whose public key differs from spec.PublicKey is ErrMismatch.
func (c *Client) EnsureKeypair(ctx context.Context, spec KeypairSpec) (*Keypair, error) {
	if spec.Name == "" {
		return nil, errors.New("launch: keypair spec needs a name")
	}
	var got *keypairs.KeyPair
	err := c.call(ctx, "get keypair "+spec.Name, false, func(ctx context.Context) error {
		var err error
		got, err = keypairs.Get(ctx, c.compute, spec.Name, keypairs.GetOpts{}).Extract()
		return err
	})
	if err == nil {
		k := got
		if spec.PublicKey != "" && !sameKey(k.PublicKey, spec.PublicKey) {
			return nil, fmt.Errorf("%w: keypair %q exists with another public key (fingerprint %s): use another name or delete it", ErrMismatch, spec.Name, k.Fingerprint)
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "found keypair", slog.String("name", k.Name), slog.String("fingerprint", k.Fingerprint))
		return &Keypair{Name: k.Name, PublicKey: k.PublicKey, Fingerprint: k.Fingerprint}, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	pub, wrote := spec.PublicKey, ""
	if pub == "" {
		if spec.PrivateKeyPath == "" {
			return nil, fmt.Errorf("launch: keypair %q does not exist and neither a public key nor a private key path was given", spec.Name)
		}
		pub, err = writeNewKey(spec.PrivateKeyPath)
		if err != nil {
			return nil, err
		}
		wrote = spec.PrivateKeyPath
	}
	err = c.call(ctx, "import keypair "+spec.Name, false, func(ctx context.Context) error {
		var err error
		got, err = keypairs.Create(ctx, c.compute, keypairs.CreateOpts{Name: spec.Name, PublicKey: pub}).Extract()
		return err
	})
	if err != nil {
		if wrote != "" {
			os.Remove(wrote)
		}
		if isStatus(err, 409) {
			return nil, fmt.Errorf("%w (created concurrently by someone else: run again to reuse it)", err)
		}
		return nil, err
	}
	k := &Keypair{Name: got.Name, PublicKey: got.PublicKey, Fingerprint: got.Fingerprint, PrivateKeyPath: wrote, Created: true}
	c.record(createdResource{kind: "keypair", id: k.Name, name: k.Name, file: wrote})
	c.log.LogAttrs(ctx, slog.LevelInfo, "created keypair", slog.String("name", k.Name), slog.String("fingerprint", k.Fingerprint), slog.String("private_key_path", wrote))
	return k, nil
}

func sameKey(a, b string) bool {
	fa, fb := strings.Fields(a), strings.Fields(b)
	return len(fa) >= 2 && len(fb) >= 2 && fa[0] == fb[0] && fa[1] == fb[1]
}

// writeNewKey generates an ed25519 key, writes the private half in OpenSSH
// format to path (O_EXCL, 0600) and returns the authorized_keys line.
func writeNewKey(path string) (string, error) {
	pubRaw, priv, err := ed25519.GenerateKey(rand.Reader)
	if err != nil {
		return "", fmt.Errorf("launch: generating a key: %w", err)
	}
	block, err := ssh.MarshalPrivateKey(priv, "vifpath launch")
	if err != nil {
		return "", fmt.Errorf("launch: encoding the private key: %w", err)
	}
	sshPub, err := ssh.NewPublicKey(pubRaw)
	if err != nil {
		return "", fmt.Errorf("launch: encoding the public key: %w", err)
	}
	f, err := os.OpenFile(path, os.O_WRONLY|os.O_CREATE|os.O_EXCL, 0o600)
	if err != nil {
		if errors.Is(err, os.ErrExist) {
			return "", fmt.Errorf("%w: private key file %s exists: give another path, or import its public key with KeypairSpec.PublicKey", ErrFileExists, path)
		}
		return "", fmt.Errorf("launch: creating private key file: %w", err)
	}
	if err := pem.Encode(f, block); err != nil {
		f.Close()
		os.Remove(path)
		return "", fmt.Errorf("launch: writing private key file %s: %w", path, err)
	}
	if err := f.Close(); err != nil {
		os.Remove(path)
		return "", fmt.Errorf("launch: writing private key file %s: %w", path, err)
	}
	return strings.TrimSpace(string(ssh.MarshalAuthorizedKey(sshPub))), nil
}

// Rule is a security group rule to ensure.
type Rule struct {
	// Direction: "ingress" or "egress". Zero: ingress.
	Direction string `json:"direction"`
	// EtherType: "IPv4" or "IPv6". Zero: IPv4.
	EtherType string `json:"ethertype"`
	// Protocol: "icmp", "tcp", "udp", … Zero: any.
	Protocol string `json:"protocol,omitempty"`
	// PortMin, PortMax: port range for tcp/udp. Zero: any port.
	PortMin int `json:"port_min,omitempty"`
	PortMax int `json:"port_max,omitempty"`
	// Remote prefix. Zero: 0.0.0.0/0 (or ::/0 for IPv6), as the CLI does.
	Remote netip.Prefix `json:"remote"`
	// ID of the rule in Neutron (set in results).
	ID string `json:"id,omitempty"`
	// Created is true when this call created it (results).
	Created bool `json:"created"`
}

// WalkthroughRules are the walkthrough's two rules: ICMP in and TCP 22 in,
// from anywhere over IPv4.
func WalkthroughRules() []Rule {
	return []Rule{
		{Direction: "ingress", EtherType: "IPv4", Protocol: "icmp"},
		{Direction: "ingress", EtherType: "IPv4", Protocol: "tcp", PortMin: 22, PortMax: 22},
	}
}

func (r Rule) norm() Rule {
	if r.Direction == "" {
		r.Direction = "ingress"
	}
	if r.EtherType == "" {
		r.EtherType = "IPv4"
	}
	if r.PortMin != 0 && r.PortMax == 0 {
		r.PortMax = r.PortMin
	}
	if !r.Remote.IsValid() {
		if r.EtherType == "IPv6" {
			r.Remote = netip.MustParsePrefix("::/0")
		} else {
			r.Remote = netip.MustParsePrefix("0.0.0.0/0")
		}
	}
	return r
}

// ruleOf turns a Neutron rule into a Rule; rules with a remote group are
// not comparable to ours (false).
func ruleOf(r rules.SecGroupRule) (Rule, bool) {
	if r.RemoteGroupID != "" {
		return Rule{}, false
	}
	t := Rule{ID: r.ID, Direction: r.Direction, EtherType: r.EtherType, Protocol: r.Protocol, PortMin: r.PortRangeMin, PortMax: r.PortRangeMax}
	if r.RemoteIPPrefix != "" {
		t.Remote, _ = netip.ParsePrefix(r.RemoteIPPrefix)
	}
	return t.norm(), true
}

func (r Rule) same(o Rule) bool {
	a, b := r.norm(), o.norm()
	return a.Direction == b.Direction && a.EtherType == b.EtherType && a.Protocol == b.Protocol && a.PortMin == b.PortMin && a.PortMax == b.PortMax && a.Remote == b.Remote
}

// SecurityGroup is a Neutron security group.
type SecurityGroup struct {
	// ID, Name and ProjectID are Neutron's security group fields.
	ID        string `json:"id"`
	Name      string `json:"name"`
	ProjectID string `json:"project_id"`
}

// FindSecurityGroup finds a group by ID, or by exact name in the client's
// project (all projects when the project is unknown).
func (c *Client) FindSecurityGroup(ctx context.Context, nameOrID string) (*SecurityGroup, error) {
	opts := groups.ListOpts{}
	if isUUID(nameOrID) {
		opts.ID = nameOrID
	} else {
		opts.Name, opts.ProjectID = nameOrID, c.project
	}
	var list []groups.SecGroup
	err := c.call(ctx, "find security group "+nameOrID, false, func(ctx context.Context) error {
		pages, err := groups.List(c.network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = groups.ExtractGroups(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	var hits []SecurityGroup
	for _, g := range list {
		if g.ID == nameOrID || g.Name == nameOrID {
			hits = append(hits, SecurityGroup{ID: g.ID, Name: g.Name, ProjectID: g.ProjectID})
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("launch: security group %q: %w in project %q", nameOrID, ErrNotFound, c.project)
	case 1:
		return &hits[0], nil
	}
	var cands []string
	for _, h := range hits {
		cands = append(cands, h.ID+" (project "+h.ProjectID+")")
	}
	return nil, fmt.Errorf("%w: security group %q matches %d groups: %s (give an ID)", ErrAmbiguous, nameOrID, len(hits), strings.Join(cands, ", "))
}

// EnsureSecurityGroupRules makes sure group (name or ID) has every rule;
// rules already present (or created concurrently: Neutron's 409
// SecurityGroupRuleExists) count as success. It returns the rules with
// their IDs and whether this call created them.
func (c *Client) EnsureSecurityGroupRules(ctx context.Context, group string, wanted []Rule) ([]Rule, error) {
	g, err := c.FindSecurityGroup(ctx, group)
	if err != nil {
		return nil, err
	}
	var list []rules.SecGroupRule
	err = c.call(ctx, "list rules of security group "+g.Name, false, func(ctx context.Context) error {
		pages, err := rules.List(c.network, rules.ListOpts{SecGroupID: g.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = rules.ExtractRules(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	var existing []Rule
	for _, r := range list {
		if t, ok := ruleOf(r); ok {
			existing = append(existing, t)
		}
	}
	out := make([]Rule, 0, len(wanted))
next:
	for _, want := range wanted {
		want = want.norm()
		for _, ex := range existing {
			if ex.same(want) {
				want.ID = ex.ID
				out = append(out, want)
				continue next
			}
		}
		opts := rules.CreateOpts{SecGroupID: g.ID, Direction: rules.RuleDirection(want.Direction), EtherType: rules.RuleEtherType(want.EtherType), RemoteIPPrefix: want.Remote.String(), Protocol: rules.RuleProtocol(want.Protocol)}
		if want.PortMin != 0 {
			opts.PortRangeMin, opts.PortRangeMax = want.PortMin, want.PortMax
		}
		var created *rules.SecGroupRule
		err := c.call(ctx, fmt.Sprintf("create %s %s rule in security group %s", want.Direction, orAny(want.Protocol), g.Name), false, func(ctx context.Context) error {
			var err error
			created, err = rules.Create(ctx, c.network, opts).Extract()
			return err
		})
		if isStatus(err, 409) {
			c.log.LogAttrs(ctx, slog.LevelInfo, "security group rule already exists", slog.String("group", g.Name), slog.String("protocol", want.Protocol))
			out = append(out, want)
			continue
		}
		if err != nil {
			return out, err
		}
		want.ID, want.Created = created.ID, true
		c.record(createdResource{kind: "rule", id: want.ID, name: g.Name + "/" + orAny(want.Protocol)})
		c.log.LogAttrs(ctx, slog.LevelInfo, "created security group rule", slog.String("group", g.Name), slog.String("protocol", want.Protocol), slog.String("id", want.ID))
		out = append(out, want)
	}
	return out, nil
}

func orAny(p string) string {
	if p == "" {
		return "any"
	}
	return p
}

// Image is a Glance image.
type Image struct {
	// ID, Name, Status, DiskFormat, ContainerFormat, SizeBytes, Visibility and Created are Glance's image fields.
	ID              string    `json:"id"`
	Name            string    `json:"name"`
	Status          string    `json:"status"`
	DiskFormat      string    `json:"disk_format"`
	ContainerFormat string    `json:"container_format"`
	SizeBytes       int64     `json:"size_bytes"`
	Visibility      string    `json:"visibility"`
	Created         time.Time `json:"created"`
}

func imageOf(r images.Image) Image {
	return Image{ID: r.ID, Name: r.Name, Status: string(r.Status), DiskFormat: r.DiskFormat, ContainerFormat: r.ContainerFormat, SizeBytes: r.SizeBytes, Visibility: string(r.Visibility), Created: r.CreatedAt.UTC()}
}

// FindImage finds an image by ID or exact name. A name shared by several
// images is an ErrAmbiguous error listing them. Images are found, never
// uploaded.
func (c *Client) FindImage(ctx context.Context, nameOrID string) (*Image, error) {
	if c.image == nil {
		if isUUID(nameOrID) {
			return &Image{ID: nameOrID}, nil
		}
		return nil, fmt.Errorf("launch: image %q: no image service client: give an image ID", nameOrID)
	}
	if isUUID(nameOrID) {
		var r *images.Image
		err := c.call(ctx, "get image "+nameOrID, false, func(ctx context.Context) error {
			var err error
			r, err = images.Get(ctx, c.image, nameOrID).Extract()
			return err
		})
		if err == nil {
			t := imageOf(*r)
			return &t, nil
		}
		if !errors.Is(err, ErrNotFound) {
			return nil, err
		}
	}
	var list []images.Image
	err := c.call(ctx, "find image "+nameOrID, false, func(ctx context.Context) error {
		pages, err := images.List(c.image, images.ListOpts{Name: nameOrID}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = images.ExtractImages(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	var hits []images.Image
	for _, im := range list {
		if im.Name == nameOrID {
			hits = append(hits, im)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("launch: image %q: %w (upload it with `openstack image create`, or check its visibility)", nameOrID, ErrNotFound)
	case 1:
		t := imageOf(hits[0])
		return &t, nil
	}
	var cands []string
	for _, h := range hits {
		cands = append(cands, fmt.Sprintf("%s (%s, %s, created %s)", h.ID, h.Status, h.DiskFormat, h.CreatedAt.UTC().Format(time.RFC3339)))
	}
	return nil, fmt.Errorf("%w: image %q matches %d images: %s (give an ID)", ErrAmbiguous, nameOrID, len(hits), strings.Join(cands, ", "))
}

// NetworkType is a provider network type. The zero value is unknown.
type NetworkType string

// Network types.
const (
	NetworkFlat  NetworkType = "flat"
	NetworkVLAN  NetworkType = "vlan"
	NetworkVXLAN NetworkType = "vxlan"
)

// NetworkSpec asks for a provider network.
type NetworkSpec struct {
	// Name is the network's name (required).
	Name string `json:"name"`
	// Type: NetworkFlat or NetworkVLAN.
	Type NetworkType `json:"type"`
	// PhysicalNetwork is the physnet label (flat_networks /
	// physical_interface_mappings), e.g. "provider".
	PhysicalNetwork string `json:"physical_network"`
	// SegmentationID is the VLAN ID (VLAN only).
	SegmentationID int  `json:"segmentation_id,omitempty"`
	Shared         bool `json:"shared"`
	External       bool `json:"external"`
}

// Network is a Neutron network.
type Network struct {
	// ID, Name, Status, Type, PhysicalNetwork, SegmentationID, Shared, External, MTU, Subnets (IDs) and Created are Neutron's network fields (provider and external extensions included).
	ID              string      `json:"id"`
	Name            string      `json:"name"`
	Status          string      `json:"status"`
	Type            NetworkType `json:"type"`
	PhysicalNetwork string      `json:"physical_network,omitempty"`
	SegmentationID  int         `json:"segmentation_id,omitempty"`
	Shared          bool        `json:"shared"`
	External        bool        `json:"external"`
	MTU             int         `json:"mtu"`
	Subnets         []string    `json:"subnets"`
	Created         bool        `json:"created"`
	// AdminDown is set when the network's admin_state_up is false
	// (`openstack network set --disable`): the DHCP agents remove its
	// qdhcp namespaces.
	AdminDown bool `json:"admin_down,omitempty"`
}

// networkExt is a Neutron network with the provider, external and MTU
// extensions.
type networkExt struct {
	networks.Network
	provider.NetworkProviderExt
	external.NetworkExternalExt
	mtu.NetworkMTUExt
}

func networkOf(r networkExt) Network {
	n := Network{ID: r.ID, Name: r.Name, Status: r.Status, Type: NetworkType(r.NetworkType), PhysicalNetwork: r.PhysicalNetwork, Shared: r.Shared, External: r.External, MTU: r.MTU, Subnets: r.Subnets, AdminDown: !r.AdminStateUp}
	n.SegmentationID, _ = strconv.Atoi(r.SegmentationID)
	return n
}

// networkCreate adds the provider attributes to networks.CreateOpts (the
// provider package only builds multi-segment requests).
type networkCreate struct {
	networks.CreateOptsBuilder
	spec NetworkSpec
}

func (o networkCreate) ToNetworkCreateMap() (map[string]any, error) {
	m, err := o.CreateOptsBuilder.ToNetworkCreateMap()
	if err != nil {
		return nil, err
	}
	n := m["network"].(map[string]any)
	n["provider:network_type"], n["provider:physical_network"] = string(o.spec.Type), o.spec.PhysicalNetwork
	if o.spec.Type == NetworkVLAN && o.spec.SegmentationID != 0 {
		n["provider:segmentation_id"] = o.spec.SegmentationID
	}
	return m, nil
}

func (c *Client) findNetwork(ctx context.Context, nameOrID string) (*Network, error) {
	opts := networks.ListOpts{Name: nameOrID}
	if isUUID(nameOrID) {
		opts = networks.ListOpts{ID: nameOrID}
	}
	var list []networkExt
	err := c.call(ctx, "find network "+nameOrID, false, func(ctx context.Context) error {
		pages, err := networks.List(c.network, opts).AllPages(ctx)
		if err != nil {
			return err
		}
		list = nil
		return networks.ExtractNetworksInto(pages, &list)
	})
	if err != nil {
		return nil, err
	}
	var hits []networkExt
	for _, n := range list {
		if n.ID == nameOrID || n.Name == nameOrID {
			hits = append(hits, n)
		}
	}
	switch len(hits) {
	case 0:
		return nil, fmt.Errorf("launch: network %q: %w (create it with EnsureNetwork)", nameOrID, ErrNotFound)
	case 1:
		t := networkOf(hits[0])
		return &t, nil
	}
	var ids []string
	for _, h := range hits {
		ids = append(ids, h.ID)
	}
	return nil, fmt.Errorf("%w: network %q matches %d networks: %s (give an ID)", ErrAmbiguous, nameOrID, len(hits), strings.Join(ids, ", "))
}

// FindNetwork finds a network by ID or exact name.
func (c *Client) FindNetwork(ctx context.Context, nameOrID string) (*Network, error) {
	return c.findNetwork(ctx, nameOrID)
}

// EnsureNetwork returns the network named spec.Name, creating the provider
// network if missing (needs the admin role). An existing network of that
// name with another type, physnet, VLAN ID, shared or external flag is an
// ErrMismatch error.
func (c *Client) EnsureNetwork(ctx context.Context, spec NetworkSpec) (*Network, error) {
	if spec.Name == "" || (spec.Type != NetworkFlat && spec.Type != NetworkVLAN) || spec.PhysicalNetwork == "" {
		return nil, fmt.Errorf("launch: network spec %+v: name, type flat or vlan and a physical network are required", spec)
	}
	n, err := c.findNetwork(ctx, spec.Name)
	if err == nil {
		if n.Type != spec.Type || n.PhysicalNetwork != spec.PhysicalNetwork || (spec.Type == NetworkVLAN && n.SegmentationID != spec.SegmentationID) || n.Shared != spec.Shared || n.External != spec.External {
			return nil, fmt.Errorf("%w: network %q (%s) is %s on %q (segment %d, shared=%t, external=%t) where %s on %q (segment %d, shared=%t, external=%t) was asked", ErrMismatch, n.Name, n.ID, n.Type, n.PhysicalNetwork, n.SegmentationID, n.Shared, n.External, spec.Type, spec.PhysicalNetwork, spec.SegmentationID, spec.Shared, spec.External)
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "found network", slog.String("name", n.Name), slog.String("id", n.ID))
		return n, nil
	}
	if !errors.Is(err, ErrNotFound) {
		return nil, err
	}
	up := true
	opts := networkCreate{CreateOptsBuilder: external.CreateOptsExt{CreateOptsBuilder: networks.CreateOpts{Name: spec.Name, Shared: &spec.Shared, AdminStateUp: &up}, External: &spec.External}, spec: spec}
	var created networkExt
	err = c.call(ctx, "create network "+spec.Name, false, func(ctx context.Context) error {
		return networks.Create(ctx, c.network, opts).ExtractIntoStructPtr(&created, "network")
	})
	if err != nil {
		return nil, err
	}
	t := networkOf(created)
	t.Created = true
	c.record(createdResource{kind: "network", id: t.ID, name: t.Name})
	c.log.LogAttrs(ctx, slog.LevelInfo, "created network", slog.String("name", t.Name), slog.String("id", t.ID))
	return &t, nil
}

// SubnetSpec asks for an IPv4 subnet with DHCP.
type SubnetSpec struct {
	// Name is the subnet's name (required).
	Name string `json:"name"`
	// Network is the network's name or ID.
	Network string       `json:"network"`
	CIDR    netip.Prefix `json:"cidr"`
	// PoolStart, PoolEnd: the allocation pool. Zero: Neutron's default
	// (the whole CIDR but the gateway).
	PoolStart netip.Addr `json:"pool_start"`
	PoolEnd   netip.Addr `json:"pool_end"`
	// Gateway. Zero: Neutron's default (the first address).
	Gateway netip.Addr `json:"gateway"`
	// DNS servers handed out by DHCP. Zero: none.
	DNS []netip.Addr `json:"dns"`
	// DisableDHCP turns DHCP off. Zero: DHCP on.
	DisableDHCP bool `json:"disable_dhcp"`
}

// Subnet is a Neutron subnet.
type Subnet struct {
	// ID, Name, NetworkID, CIDR, Gateway, PoolStart, PoolEnd (the first allocation pool), DNS, DHCP and Created are Neutron's subnet fields.
	ID        string       `json:"id"`
	Name      string       `json:"name"`
	NetworkID string       `json:"network_id"`
	CIDR      netip.Prefix `json:"cidr"`
	Gateway   netip.Addr   `json:"gateway"`
	PoolStart netip.Addr   `json:"pool_start"`
	PoolEnd   netip.Addr   `json:"pool_end"`
	DNS       []netip.Addr `json:"dns"`
	DHCP      bool         `json:"dhcp"`
	Created   bool         `json:"created"`
}

func subnetOf(r subnets.Subnet) Subnet {
	s := Subnet{ID: r.ID, Name: r.Name, NetworkID: r.NetworkID, DHCP: r.EnableDHCP, DNS: []netip.Addr{}}
	s.CIDR, _ = netip.ParsePrefix(r.CIDR)
	s.Gateway, _ = netip.ParseAddr(r.GatewayIP)
	if len(r.AllocationPools) > 0 {
		s.PoolStart, _ = netip.ParseAddr(r.AllocationPools[0].Start)
		s.PoolEnd, _ = netip.ParseAddr(r.AllocationPools[0].End)
	}
	for _, d := range r.DNSNameservers {
		if a, err := netip.ParseAddr(d); err == nil {
			s.DNS = append(s.DNS, a)
		}
	}
	return s
}

// Subnet reads the subnet with ID id (its DHCP setting, CIDR, pool,
// gateway and DNS servers). A subnet that does not exist is an error
// matching ErrNotFound. Only a GET request.
func (c *Client) Subnet(ctx context.Context, id string) (*Subnet, error) {
	if id == "" {
		return nil, errors.New("launch: Subnet needs a subnet ID")
	}
	var r *subnets.Subnet
	err := c.call(ctx, "show subnet "+id, false, func(ctx context.Context) error {
		var err error
		r, err = subnets.Get(ctx, c.network, id).Extract()
		return err
	})
	if err != nil {
		return nil, err
	}
	s := subnetOf(*r)
	return &s, nil
}

// EnsureSubnet returns the subnet named spec.Name on spec.Network, creating
// it if missing. An existing one with another CIDR, pool, gateway or DHCP
// setting is an ErrMismatch error.
func (c *Client) EnsureSubnet(ctx context.Context, spec SubnetSpec) (*Subnet, error) {
	if spec.Name == "" || spec.Network == "" || !spec.CIDR.IsValid() {
		return nil, fmt.Errorf("launch: subnet spec %+v: name, network and CIDR are required", spec)
	}
	nw, err := c.findNetwork(ctx, spec.Network)
	if err != nil {
		return nil, err
	}
	var list []subnets.Subnet
	err = c.call(ctx, "find subnet "+spec.Name, false, func(ctx context.Context) error {
		pages, err := subnets.List(c.network, subnets.ListOpts{Name: spec.Name, NetworkID: nw.ID}).AllPages(ctx)
		if err != nil {
			return err
		}
		list, err = subnets.ExtractSubnets(pages)
		return err
	})
	if err != nil {
		return nil, err
	}
	var hits []subnets.Subnet
	for _, s := range list {
		if s.Name == spec.Name && s.NetworkID == nw.ID {
			hits = append(hits, s)
		}
	}
	if len(hits) > 1 {
		var ids []string
		for _, h := range hits {
			ids = append(ids, h.ID+" ("+h.CIDR+")")
		}
		return nil, fmt.Errorf("%w: subnet %q on network %s matches %d subnets: %s", ErrAmbiguous, spec.Name, nw.Name, len(hits), strings.Join(ids, ", "))
	}
	if len(hits) == 1 {
		s := subnetOf(hits[0])
		bad := s.CIDR.Masked() != spec.CIDR.Masked() || s.DHCP == spec.DisableDHCP ||
			(spec.Gateway.IsValid() && s.Gateway != spec.Gateway) ||
			(spec.PoolStart.IsValid() && (s.PoolStart != spec.PoolStart || s.PoolEnd != spec.PoolEnd))
		if bad {
			return nil, fmt.Errorf("%w: subnet %q (%s) is %s gateway %s pool %s-%s dhcp=%t where %s gateway %s pool %s-%s dhcp=%t was asked", ErrMismatch, s.Name, s.ID, s.CIDR, s.Gateway, s.PoolStart, s.PoolEnd, s.DHCP, spec.CIDR, spec.Gateway, spec.PoolStart, spec.PoolEnd, !spec.DisableDHCP)
		}
		c.log.LogAttrs(ctx, slog.LevelInfo, "found subnet", slog.String("name", s.Name), slog.String("id", s.ID))
		return &s, nil
	}
	dhcp := !spec.DisableDHCP
	opts := subnets.CreateOpts{Name: spec.Name, NetworkID: nw.ID, IPVersion: gophercloud.IPv4, CIDR: spec.CIDR.Masked().String(), EnableDHCP: &dhcp}
	if spec.Gateway.IsValid() {
		gw := spec.Gateway.String()
		opts.GatewayIP = &gw
	}
	if spec.PoolStart.IsValid() && spec.PoolEnd.IsValid() {
		opts.AllocationPools = []subnets.AllocationPool{{Start: spec.PoolStart.String(), End: spec.PoolEnd.String()}}
	}
	for _, a := range spec.DNS {
		opts.DNSNameservers = append(opts.DNSNameservers, a.String())
	}
	var created *subnets.Subnet
	err = c.call(ctx, "create subnet "+spec.Name, false, func(ctx context.Context) error {
		var err error
		created, err = subnets.Create(ctx, c.network, opts).Extract()
		return err
	})
	if err != nil {
		return nil, err
	}
	s := subnetOf(*created)
	s.Created = true
	c.record(createdResource{kind: "subnet", id: s.ID, name: s.Name})
	c.log.LogAttrs(ctx, slog.LevelInfo, "created subnet", slog.String("name", s.Name), slog.String("id", s.ID), slog.String("cidr", s.CIDR.String()))
	return &s, nil
}
