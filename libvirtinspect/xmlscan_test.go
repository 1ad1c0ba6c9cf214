package libvirtinspect

import (
	"os"
	"reflect"
	"strings"
	"testing"
	"time"
)

// testDriverXML is a domain of libvirt's test driver as `virsh dumpxml`
// prints it for BenchmarkNode200's domains (a tap on a brq bridge, a
// file serial console).
const testDriverXML = `<domain type='test' id='2'>
  <name>pf1a2b3c-1</name>
  <uuid>6695eb01-f6a4-8304-79aa-97f2502e193f</uuid>
  <memory unit='KiB'>8192</memory>
  <currentMemory unit='KiB'>8192</currentMemory>
  <vcpu placement='static'>1</vcpu>
  <os>
    <type arch='i686'>hvm</type>
    <boot dev='hd'/>
  </os>
  <clock offset='utc'/>
  <on_poweroff>destroy</on_poweroff>
  <on_reboot>restart</on_reboot>
  <on_crash>destroy</on_crash>
  <devices>
    <interface type='bridge'>
      <mac address='52:54:00:10:00:01'/>
      <source bridge='brq3f1c2d4e-5a'/>
      <target dev='tap8b0e1f2a-3c'/>
      <model type='virtio'/>
      <address type='pci' domain='0x0000' bus='0x00' slot='0x03' function='0x0'/>
    </interface>
    <serial type='file'>
      <source path='/tmp/consoles/console-1.log'/>
      <target port='0'/>
    </serial>
    <console type='file'>
      <source path='/tmp/consoles/console-1.log'/>
      <target type='serial' port='0'/>
    </console>
  </devices>
</domain>
`

// scanSeeds are documents the fast path must read as encoding/xml does,
// and corner cases of the XML it must hand over or read the same way.
func scanSeeds(t testing.TB) [][]byte {
	nova, err := os.ReadFile("testdata/domain-instance-00000002.xml")
	if err != nil {
		t.Fatal(err)
	}
	seeds := [][]byte{nova, []byte(testDriverXML)}
	for _, s := range []string{
		`<domain/>`,
		`<domain type="kvm"></domain>`,
		`  <domain type='a' type='b'><name>x</name><name>y</name></domain>`,
		`<domain><name>a<b>skipped</b>c</name><uuid>&lt;u&amp;&gt;&apos;&quot;</uuid></domain>`,
		`<domain><metadata><nova:instance xmlns:nova="http://openstack.org/xmlns/libvirt/nova/1.1"><nova:name>n</nova:name>` +
			`<nova:owner><nova:user uuid="u">alice</nova:user><nova:project uuid="p">proj</nova:project></nova:owner>` +
			`<nova:ports><nova:port uuid="p1"><nova:ip type="fixed" address="10.0.0.2" ipVersion="4"/></nova:port></nova:ports>` +
			`</nova:instance><instance xmlns="urn:other"><name>other</name></instance><x:instance><name>unbound</name></x:instance></metadata></domain>`,
		`<domain><metadata><instance xmlns="http://openstack.org/xmlns/libvirt/nova/1.0"><name>default ns</name><flavor name="f"><memory>64</memory><vcpus>1</vcpus></flavor></instance></metadata></domain>`,
		`<domain><devices><interface type='hostdev'><mac address='fa:16:3e:00:00:01'/><source><address type='pci' domain='0x0000' bus='0x06' slot='0x10' function='0x2'/></source></interface>` +
			`<interface type='bridge'><mac address='a'/><mac address='b'/><mtu size='1450'/><alias name='net1'/></interface><serial type='pty'><log file='/l'/><target port='0'/></serial></devices></domain>`,
		`<domain><devices><interface xmlns:type="t" type="u"/></devices></domain>`,
		`<domain><name>a</name></domain>trailing <garbage`,
		`<domain><name>a</nam></domain>`,
		`<domain><name>a&b</name></domain>`,
		`<domain><name>a&#65;</name></domain>`,
		`<domain><!-- c --><name>a</name></domain>`,
		`<domain><name><![CDATA[x]]></name></domain>`,
		"<domain><name>a\r\nb</name></domain>",
		`<?xml version="1.0"?><domain/>`,
		`<other/>`,
		`<domain><name>open`,
		`<domain a=b/>`,
		`<domain a="x<y"/>`,
		`<domain a="1"b="2"/>`,
		`<domain><a:b:c/></domain>`,
		`<xml:domain/>`,
		`<domain ><name >x</name ></domain >`,
		`<domain><devices><serial type='file'><source path='/a'/></serial><serial type='file'><source path='/b'/></serial></devices><devices><interface/></devices></domain>`,
		strings.Repeat("<a>", 80) + strings.Repeat("</a>", 80),
		`<domain>` + strings.Repeat("<x>", 70) + strings.Repeat("</x>", 70) + `</domain>`,
	} {
		seeds = append(seeds, []byte(s))
	}
	return seeds
}

// checkScan fails when the fast path read b and its result differs from
// encoding/xml's, or accepted a document encoding/xml rejects.
func checkScan(t *testing.T, b []byte) {
	x, ok := scanDomainXML(b)
	want, err := decodeDomainXML(b)
	if !ok {
		return // encoding/xml decides
	}
	if err != nil {
		t.Fatalf("the scan read a document encoding/xml rejects (%v):\n%q", err, b)
	}
	if !reflect.DeepEqual(x, want) {
		t.Fatalf("scan and encoding/xml differ on\n%q\nscan:     %+v\nencoding: %+v", b, x, want)
	}
}

func TestScanDomainXMLEqualsDecode(t *testing.T) {
	for _, b := range scanSeeds(t) {
		checkScan(t, b)
	}
}

// TestScanDomainXMLTakes checks that libvirt's documents take the fast
// path (else the speed is silently lost) and that what it hands over is
// still parsed or refused as before.
func TestScanDomainXMLTakes(t *testing.T) {
	seeds := scanSeeds(t)
	for _, b := range seeds[:2] {
		if _, ok := scanDomainXML(b); !ok {
			t.Errorf("the scan hands over a libvirt document:\n%.200s", b)
		}
	}
	for _, s := range []string{`<domain><!-- c --><name>a</name></domain>`, `<domain><name>a&#65;</name></domain>`} {
		if _, ok := scanDomainXML([]byte(s)); ok {
			t.Errorf("the scan took %q, outside its subset", s)
		}
		x, err := ParseDomainXML([]byte(s))
		if err != nil || x.Name == "" {
			t.Errorf("ParseDomainXML(%q) = %+v, %v: want encoding/xml's reading", s, x, err)
		}
	}
	for _, s := range []string{`<domain><name>a</nam></domain>`, `<other/>`, `<domain><name>open`} {
		if _, err := ParseDomainXML([]byte(s)); err == nil {
			t.Errorf("ParseDomainXML(%q) accepted a malformed or foreign document", s)
		}
	}
}

// FuzzScanDomainXML: wherever the fast path reads a document, it reads
// it as encoding/xml does; no input panics.
func FuzzScanDomainXML(f *testing.F) {
	for _, b := range scanSeeds(f) {
		f.Add(b)
	}
	f.Fuzz(func(t *testing.T, b []byte) {
		checkScan(t, b)
		ParseDomainXML(b)
	})
}

// BenchmarkParseDomainXML times the fast path and encoding/xml on the
// same documents in one run (ns/op is the fast path's; x-faster the
// ratio), for a test-driver domain and a Nova domain.
func BenchmarkParseDomainXML(b *testing.B) {
	seeds := scanSeeds(b)
	for _, c := range []struct {
		name string
		doc  []byte
	}{{"test-driver", seeds[1]}, {"nova", seeds[0]}} {
		b.Run(c.name, func(b *testing.B) {
			if _, ok := scanDomainXML(c.doc); !ok {
				b.Fatal("the document is not scanned")
			}
			b.ReportAllocs()
			var fast, slow float64
			for b.Loop() {
				t0 := nanotime()
				scanDomainXML(c.doc)
				t1 := nanotime()
				decodeDomainXML(c.doc)
				fast += float64(t1 - t0)
				slow += float64(nanotime() - t1)
			}
			b.ReportMetric(fast/float64(b.N), "scan-ns")
			b.ReportMetric(slow/float64(b.N), "encoding-xml-ns")
			b.ReportMetric(slow/fast, "x-faster")
		})
	}
}

func nanotime() int64 { return time.Now().UnixNano() }
