package libvirtinspect

import (
	"bytes"
	"encoding/xml"
	"fmt"
	"net/netip"
	"strconv"
	"strings"
	"time"

	"github.com/vifpath/vifpath/hwaddr"
)

// NovaNamespacePrefix starts the XML namespace of Nova's domain metadata
// ("http://openstack.org/xmlns/libvirt/nova/1.1" on Zed; 1.0 and 1.2 exist).
const NovaNamespacePrefix = "http://openstack.org/xmlns/libvirt/nova/"

// DomainXML is what this package reads from a domain's XML.
type DomainXML struct {
	// Type is the domain type ("qemu", "kvm").
	Type string `json:"type"`
	// Name is the domain name ("instance-00000002").
	Name string `json:"name"`
	// UUID is the domain UUID, which for Nova is the instance UUID.
	UUID string `json:"uuid"`
	// Nova is nil when the XML carries no Nova metadata.
	Nova       *NovaInstance `json:"nova,omitempty"`
	Interfaces []Interface   `json:"interfaces"`
	// Serials are the domain's <serial> devices (Nova's is a pty whose
	// output libvirt also writes to <log file>: console.log in the
	// instance directory). ConsoleLogPath picks the file to read.
	Serials []Serial `json:"serials,omitempty"`
}

// Serial is one <serial> device of a domain.
type Serial struct {
	// Type is "pty", "file", "tcp", "unix", …
	Type string `json:"type"`
	// SourcePath is <source path>: the pty's device, or for a "file"
	// serial the file the guest's output goes to.
	SourcePath string `json:"source_path,omitempty"`
	// LogFile is <log file>: the file libvirt (virtlogd) copies the
	// serial output to; "" when none is declared.
	LogFile string `json:"log_file,omitempty"`
	// Port is <target port>.
	Port int `json:"port"`
}

// NovaInstance is Nova's <nova:instance> metadata block. The Nova instance
// UUID is the domain UUID (Domain.UUID); it is repeated here for joins.
type NovaInstance struct {
	// InstanceUUID is the Nova instance UUID (the domain UUID).
	InstanceUUID string `json:"instance_uuid"`
	// Name is the server's display name (`openstack server show` name).
	Name         string     `json:"name"`
	Package      string     `json:"package,omitempty"`
	CreationTime time.Time  `json:"creation_time,omitzero"`
	Flavor       NovaFlavor `json:"flavor"`
	UserUUID     string     `json:"user_uuid,omitempty"`
	UserName     string     `json:"user_name,omitempty"`
	ProjectUUID  string     `json:"project_uuid,omitempty"`
	ProjectName  string     `json:"project_name,omitempty"`
	// RootType is "image" or "volume"; RootUUID its id.
	RootType string     `json:"root_type,omitempty"`
	RootUUID string     `json:"root_uuid,omitempty"`
	Ports    []NovaPort `json:"ports,omitempty"`
}

// NovaFlavor is the flavor as Nova wrote it into the domain.
type NovaFlavor struct {
	// Name is the flavor's name ("m1.tiny").
	Name string `json:"name"`
	// MemoryMiB, DiskGiB, SwapMiB, Ephemeral (GiB) and VCPUs are the
	// flavor's sizes.
	MemoryMiB int `json:"memory_mib"`
	DiskGiB   int `json:"disk_gib"`
	SwapMiB   int `json:"swap_mib"`
	Ephemeral int `json:"ephemeral_gib"`
	VCPUs     int `json:"vcpus"`
}

// NovaPort is a Neutron port Nova recorded, with its fixed IPs.
type NovaPort struct {
	// UUID is the Neutron port ID.
	UUID string `json:"uuid"`
	// IPs are the port's addresses as Nova recorded them.
	IPs []NovaIP `json:"ips,omitempty"`
}

// NovaIP is one <nova:ip>.
type NovaIP struct {
	// Type is Nova's address type, "fixed" or "floating".
	Type string `json:"type"`
	// Address is the address; invalid when Nova wrote something that does
	// not parse.
	Address netip.Addr `json:"address,omitzero"`
	// Version is 4 or 6, as Nova wrote it.
	Version int `json:"version"`
}

// Interface is one <interface> of a domain (`virsh domiflist` row).
type Interface struct {
	// Type is the interface type: "bridge", "network", "direct",
	// "hostdev", "ethernet", "vhostuser", ...
	Type string `json:"type"`
	// Source is what virsh prints in the Source column: the bridge,
	// network or device name; "" when the type has none (hostdev).
	Source string `json:"source,omitempty"`
	// Bridge, Network and Dev are the individual <source> attributes.
	Bridge  string `json:"bridge,omitempty"`
	Network string `json:"network,omitempty"`
	Dev     string `json:"dev,omitempty"`
	// Target is the host-side device (tap) name; "" when there is none
	// (hostdev/SR-IOV interfaces, inactive domains without a fixed name).
	Target string `json:"target,omitempty"`
	// MAC is the guest MAC. The host tap usually has the same low five
	// bytes with the first byte 0xfe.
	MAC hwaddr.MAC `json:"mac,omitempty"`
	// Model is the NIC model ("virtio", "e1000"); "" when unset.
	Model string `json:"model,omitempty"`
	// MTU is the <mtu size>; 0 when unset.
	MTU int `json:"mtu,omitempty"`
	// Alias is the device alias ("net0").
	Alias string `json:"alias,omitempty"`
	// PCI is the host PCI address of a hostdev interface's source
	// ("0000:06:10.2"); "" otherwise.
	PCI string `json:"pci,omitempty"`
}

type xmlDomain struct {
	XMLName  xml.Name `xml:"domain"`
	Type     string   `xml:"type,attr"`
	Name     string   `xml:"name"`
	UUID     string   `xml:"uuid"`
	Metadata struct {
		Items []xmlNovaInstance `xml:"instance"`
	} `xml:"metadata"`
	Devices struct {
		Interfaces []xmlInterface `xml:"interface"`
		Serials    []xmlSerial    `xml:"serial"`
	} `xml:"devices"`
}

type xmlNovaInstance struct {
	XMLName xml.Name
	Package struct {
		Version string `xml:"version,attr"`
	} `xml:"package"`
	Name         string `xml:"name"`
	CreationTime string `xml:"creationTime"`
	Flavor       struct {
		Name      string `xml:"name,attr"`
		Memory    string `xml:"memory"`
		Disk      string `xml:"disk"`
		Swap      string `xml:"swap"`
		Ephemeral string `xml:"ephemeral"`
		VCPUs     string `xml:"vcpus"`
	} `xml:"flavor"`
	Owner struct {
		User    xmlNamed `xml:"user"`
		Project xmlNamed `xml:"project"`
	} `xml:"owner"`
	Root struct {
		Type string `xml:"type,attr"`
		UUID string `xml:"uuid,attr"`
	} `xml:"root"`
	Ports []xmlNovaPort `xml:"ports>port"`
}

type xmlNovaPort struct {
	UUID string      `xml:"uuid,attr"`
	IPs  []xmlNovaIP `xml:"ip"`
}

type xmlNovaIP struct {
	Type    string `xml:"type,attr"`
	Address string `xml:"address,attr"`
	Version string `xml:"ipVersion,attr"`
}

type xmlSerial struct {
	Type   string `xml:"type,attr"`
	Source struct {
		Path string `xml:"path,attr"`
	} `xml:"source"`
	Log struct {
		File string `xml:"file,attr"`
	} `xml:"log"`
	Target struct {
		Port string `xml:"port,attr"`
	} `xml:"target"`
}

type xmlNamed struct {
	UUID string `xml:"uuid,attr"`
	Name string `xml:",chardata"`
}

type xmlInterface struct {
	Type string `xml:"type,attr"`
	MAC  struct {
		Address string `xml:"address,attr"`
	} `xml:"mac"`
	Source struct {
		Bridge  string `xml:"bridge,attr"`
		Network string `xml:"network,attr"`
		Dev     string `xml:"dev,attr"`
		Address struct {
			Domain   string `xml:"domain,attr"`
			Bus      string `xml:"bus,attr"`
			Slot     string `xml:"slot,attr"`
			Function string `xml:"function,attr"`
		} `xml:"address"`
	} `xml:"source"`
	Target struct {
		Dev string `xml:"dev,attr"`
	} `xml:"target"`
	Model struct {
		Type string `xml:"type,attr"`
	} `xml:"model"`
	MTU struct {
		Size string `xml:"size,attr"`
	} `xml:"mtu"`
	Alias struct {
		Name string `xml:"name,attr"`
	} `xml:"alias"`
}

// ParseDomainXML decodes a domain XML document (`virsh dumpxml` output).
// It never panics; malformed XML gives an error, and fields it cannot
// parse (a bad MAC, a non-numeric MTU) are left zero.
func ParseDomainXML(b []byte) (*DomainXML, error) {
	x, ok := scanDomainXML(b)
	if !ok {
		var err error
		if x, err = decodeDomainXML(b); err != nil {
			return nil, err
		}
	}
	out := &DomainXML{Type: x.Type, Name: strings.TrimSpace(x.Name), UUID: strings.ToLower(strings.TrimSpace(x.UUID)), Interfaces: []Interface{}}
	for _, n := range x.Metadata.Items {
		if !strings.HasPrefix(n.XMLName.Space, NovaNamespacePrefix) {
			continue
		}
		nv := &NovaInstance{
			InstanceUUID: out.UUID,
			Name:         strings.TrimSpace(n.Name),
			Package:      n.Package.Version,
			UserUUID:     n.Owner.User.UUID,
			UserName:     strings.TrimSpace(n.Owner.User.Name),
			ProjectUUID:  n.Owner.Project.UUID,
			ProjectName:  strings.TrimSpace(n.Owner.Project.Name),
			RootType:     n.Root.Type,
			RootUUID:     n.Root.UUID,
			Flavor: NovaFlavor{
				Name:      n.Flavor.Name,
				MemoryMiB: atoi(n.Flavor.Memory),
				DiskGiB:   atoi(n.Flavor.Disk),
				SwapMiB:   atoi(n.Flavor.Swap),
				Ephemeral: atoi(n.Flavor.Ephemeral),
				VCPUs:     atoi(n.Flavor.VCPUs),
			},
		}
		if t, err := time.Parse(time.DateTime, strings.TrimSpace(n.CreationTime)); err == nil {
			nv.CreationTime = t.UTC()
		}
		for _, p := range n.Ports {
			np := NovaPort{UUID: p.UUID}
			for _, ip := range p.IPs {
				a, _ := netip.ParseAddr(strings.TrimSpace(ip.Address))
				np.IPs = append(np.IPs, NovaIP{Type: ip.Type, Address: a, Version: atoi(ip.Version)})
			}
			nv.Ports = append(nv.Ports, np)
		}
		out.Nova = nv
		break
	}
	for _, xi := range x.Devices.Interfaces {
		i := Interface{
			Type:    xi.Type,
			Bridge:  xi.Source.Bridge,
			Network: xi.Source.Network,
			Dev:     xi.Source.Dev,
			Target:  xi.Target.Dev,
			Model:   xi.Model.Type,
			MTU:     atoi(xi.MTU.Size),
			Alias:   xi.Alias.Name,
		}
		if m, err := hwaddr.Parse(xi.MAC.Address); err == nil {
			i.MAC = m
		}
		switch {
		case i.Bridge != "":
			i.Source = i.Bridge
		case i.Network != "":
			i.Source = i.Network
		case i.Dev != "":
			i.Source = i.Dev
		}
		if a := xi.Source.Address; a.Bus != "" {
			i.PCI = fmt.Sprintf("%04x:%02x:%02x.%x", hexu(a.Domain), hexu(a.Bus), hexu(a.Slot), hexu(a.Function))
		}
		out.Interfaces = append(out.Interfaces, i)
	}
	for _, xs := range x.Devices.Serials {
		out.Serials = append(out.Serials, Serial{Type: xs.Type, SourcePath: xs.Source.Path, LogFile: xs.Log.File, Port: atoi(xs.Target.Port)})
	}
	return out, nil
}

// decodeDomainXML decodes b with encoding/xml: what scanDomainXML gives
// faster for libvirt's documents, and the judge of every other document.
func decodeDomainXML(b []byte) (xmlDomain, error) {
	var x xmlDomain
	if err := xml.NewDecoder(bytes.NewReader(b)).Decode(&x); err != nil {
		return x, fmt.Errorf("libvirtinspect: parse domain XML: %w", err)
	}
	return x, nil
}

func atoi(s string) int {
	n, err := strconv.Atoi(strings.TrimSpace(s))
	if err != nil {
		return 0
	}
	return n
}

func hexu(s string) uint64 {
	n, err := strconv.ParseUint(strings.TrimPrefix(strings.TrimSpace(s), "0x"), 16, 32)
	if err != nil {
		return 0
	}
	return n
}
