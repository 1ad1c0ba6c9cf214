package libvirtinspect

import (
	"bytes"
	"encoding/xml"
	"errors"
	"unicode/utf8"
)

// scanDomainXML fills x from a domain XML document exactly as
// encoding/xml's Decode into xmlDomain does, without reflection and
// without building a token for every element: a node's domains are
// parsed hundreds at a time (trace's node mode), where encoding/xml took
// most of the client's CPU. It reads only the subset of XML that libvirt
// writes: elements, attributes, character data and the five predefined
// entities, in ASCII names. ok is false for anything else (comments,
// CDATA, processing instructions, directives, character references,
// carriage returns, control characters, invalid UTF-8, nesting deeper
// than scanMaxDepth, malformed markup): the caller then decodes the
// document with encoding/xml, which decides. FuzzScanDomainXML holds the
// two to the same result wherever ok is true.
func scanDomainXML(b []byte) (x xmlDomain, ok bool) {
	if !scannable(b) {
		return x, false
	}
	s := &domScan{b: b}
	// Decode skips what comes before the first start element: here only
	// white space.
	s.space()
	t, err := s.startTag()
	if err != nil || string(t.local) != "domain" {
		return x, false
	}
	x.XMLName = xml.Name{Space: s.resolve(t.prefix), Local: "domain"}
	setAttr(t, "type", &x.Type)
	err = s.content(t, nil, func(c *tag) error {
		switch string(c.local) {
		case "name":
			return s.text(c, &x.Name)
		case "uuid":
			return s.text(c, &x.UUID)
		case "metadata":
			return s.content(c, nil, func(c *tag) error {
				if string(c.local) != "instance" {
					return s.skip(c)
				}
				x.Metadata.Items = append(x.Metadata.Items, xmlNovaInstance{})
				return s.novaInstance(c, &x.Metadata.Items[len(x.Metadata.Items)-1])
			})
		case "devices":
			return s.content(c, nil, func(c *tag) error {
				switch string(c.local) {
				case "interface":
					x.Devices.Interfaces = append(x.Devices.Interfaces, xmlInterface{})
					return s.iface(c, &x.Devices.Interfaces[len(x.Devices.Interfaces)-1])
				case "serial":
					x.Devices.Serials = append(x.Devices.Serials, xmlSerial{})
					return s.serial(c, &x.Devices.Serials[len(x.Devices.Serials)-1])
				}
				return s.skip(c)
			})
		}
		return s.skip(c)
	})
	return x, err == nil
}

// scanMaxDepth is the deepest element nesting scanDomainXML reads
// (libvirt's documents nest about 6 deep).
const scanMaxDepth = 64

// errScan stops a scan: the document is left to encoding/xml.
var errScan = errors.New("libvirtinspect: not in the scanned subset")

// scannable rejects, before any parsing, documents with bytes or
// constructs outside the subset.
func scannable(b []byte) bool {
	for _, c := range b {
		if c < 0x20 && c != '\t' && c != '\n' {
			return false // control characters and \r (which XML rewrites)
		}
	}
	return utf8.Valid(b) && !bytes.Contains(b, []byte("<!")) && !bytes.Contains(b, []byte("<?")) &&
		!bytes.Contains(b, []byte("]]>")) && !bytes.Contains(b, []byte("&#")) &&
		!bytes.Contains(b, []byte("\uFFFE")) && !bytes.Contains(b, []byte("\uFFFF"))
}

// domScan is one document's scan.
type domScan struct {
	b     []byte
	i     int
	depth int
	// ns holds the namespace bindings in scope, innermost last.
	ns []nsBinding
	// tags are the start tags being read, by depth.
	tags []tag
}

type nsBinding struct{ prefix, url string }

// tag is a start tag, its bindings pushed on domScan.ns from nsMark on.
type tag struct {
	name, prefix, local []byte
	attrs               []rawAttr
	empty               bool // <x/>
	nsMark              int
}

// rawAttr is an attribute: its local name (any prefix dropped, as
// encoding/xml's field matching ignores it) and its value as written.
type rawAttr struct{ local, val []byte }

// value decodes the attribute's entities (already checked by startTag).
func (a rawAttr) value() string { return unescape(a.val) }

func (s *domScan) space() {
	for s.i < len(s.b) {
		switch s.b[s.i] {
		case ' ', '\t', '\n':
			s.i++
		default:
			return
		}
	}
}

// startTag reads "<name attr='v' …>" or "…/>" at s.i, into the tag of
// the current depth.
func (s *domScan) startTag() (*tag, error) {
	if s.i >= len(s.b) || s.b[s.i] != '<' {
		return nil, errScan
	}
	s.i++
	// One tag per depth, reused: a tag is done with once its element is.
	if s.depth == len(s.tags) {
		// (A parent's *tag may still point into the old array: it
		// stays valid, and only the parent uses it.)
		s.tags = append(s.tags, tag{})
	}
	t := &s.tags[s.depth]
	*t = tag{nsMark: len(s.ns), attrs: t.attrs[:0]}
	var err error
	if t.name, t.prefix, t.local, err = s.name(); err != nil {
		return nil, err
	}
	if p := string(t.prefix); p == "xml" || p == "xmlns" {
		return nil, errScan // names encoding/xml leaves untranslated
	}
	for {
		s.space()
		if s.i >= len(s.b) {
			return nil, errScan
		}
		switch s.b[s.i] {
		case '>':
			s.i++
			return t, nil
		case '/':
			if s.i+1 >= len(s.b) || s.b[s.i+1] != '>' {
				return nil, errScan
			}
			s.i += 2
			t.empty = true
			return t, nil
		}
		_, prefix, local, err := s.name()
		if err != nil {
			return nil, err
		}
		s.space()
		if s.i >= len(s.b) || s.b[s.i] != '=' {
			return nil, errScan
		}
		s.i++
		s.space()
		if s.i >= len(s.b) || (s.b[s.i] != '"' && s.b[s.i] != '\'') {
			return nil, errScan
		}
		q := s.b[s.i]
		s.i++
		end := bytes.IndexByte(s.b[s.i:], q)
		if end < 0 {
			return nil, errScan
		}
		val := s.b[s.i : s.i+end]
		s.i += end + 1
		if bytes.IndexByte(val, '<') >= 0 || !entitiesOK(val) {
			return nil, errScan
		}
		switch {
		case prefix == nil && string(local) == "xmlns":
			s.ns = append(s.ns, nsBinding{"", unescape(val)})
		case string(prefix) == "xmlns":
			s.ns = append(s.ns, nsBinding{string(local), unescape(val)})
		}
		t.attrs = append(t.attrs, rawAttr{local: local, val: val})
	}
}

// name reads an ASCII XML name with at most one colon, not at either
// end (encoding/xml's rule for a prefixed name).
func (s *domScan) name() (name, prefix, local []byte, err error) {
	start := s.i
	colon := -1
	for s.i < len(s.b) {
		c := s.b[s.i]
		switch {
		case c >= 'a' && c <= 'z', c >= 'A' && c <= 'Z', c == '_':
		case s.i > start && (c >= '0' && c <= '9' || c == '-' || c == '.'):
		case s.i > start && c == ':' && colon < 0:
			colon = s.i
		default:
			goto done
		}
		s.i++
	}
done:
	name = s.b[start:s.i]
	if len(name) == 0 || colon == s.i-1 {
		return nil, nil, nil, errScan
	}
	if colon < 0 {
		return name, nil, name, nil
	}
	return name, s.b[start:colon], s.b[colon+1 : s.i], nil
}

// resolve is the namespace of an element prefix, as encoding/xml
// translates it: the innermost binding, else the default namespace for
// no prefix, else the prefix itself.
func (s *domScan) resolve(prefix []byte) string {
	for i := len(s.ns) - 1; i >= 0; i-- {
		if s.ns[i].prefix == string(prefix) {
			return s.ns[i].url
		}
	}
	return string(prefix)
}

// content reads the content of t up to and including its end tag, and
// pops t's bindings. Character data directly inside t is appended to
// *text when text is not nil; each child element is read by child, or
// skipped when child is nil.
func (s *domScan) content(t *tag, text *[]byte, child func(*tag) error) error {
	defer func() { s.ns = s.ns[:t.nsMark] }()
	if t.empty {
		return nil
	}
	s.depth++
	defer func() { s.depth-- }()
	if s.depth > scanMaxDepth {
		return errScan
	}
	for {
		lt := bytes.IndexByte(s.b[s.i:], '<')
		if lt < 0 {
			return errScan // the document ends inside t
		}
		data := s.b[s.i : s.i+lt]
		if !entitiesOK(data) {
			return errScan
		}
		if text != nil {
			*text = append(*text, data...)
		}
		s.i += lt
		if s.i+1 < len(s.b) && s.b[s.i+1] == '/' {
			s.i += 2
			name, _, _, err := s.name()
			if err != nil || !bytes.Equal(name, t.name) {
				return errScan
			}
			s.space()
			if s.i >= len(s.b) || s.b[s.i] != '>' {
				return errScan
			}
			s.i++
			return nil
		}
		c, err := s.startTag()
		if err != nil {
			return err
		}
		if child == nil {
			err = s.skip(c)
		} else {
			err = child(c)
		}
		if err != nil {
			return err
		}
	}
}

// skip reads a child element the result does not need.
func (s *domScan) skip(t *tag) error { return s.content(t, nil, nil) }

// text reads an element into a string field: its own character data
// (child elements skipped), replacing what an earlier one gave.
func (s *domScan) text(t *tag, dst *string) error {
	var raw []byte
	if err := s.content(t, &raw, nil); err != nil {
		return err
	}
	*dst = unescape(raw)
	return nil
}

// setAttr sets *dst to the value of t's last attribute of local name
// name, if it has one (as encoding/xml does for an attr field).
func setAttr(t *tag, name string, dst *string) {
	for i := len(t.attrs) - 1; i >= 0; i-- {
		if string(t.attrs[i].local) == name {
			*dst = t.attrs[i].value()
			return
		}
	}
}

func (s *domScan) novaInstance(t *tag, n *xmlNovaInstance) error {
	n.XMLName = xml.Name{Space: s.resolve(t.prefix), Local: string(t.local)}
	return s.content(t, nil, func(c *tag) error {
		switch string(c.local) {
		case "package":
			setAttr(c, "version", &n.Package.Version)
		case "name":
			return s.text(c, &n.Name)
		case "creationTime":
			return s.text(c, &n.CreationTime)
		case "flavor":
			f := &n.Flavor
			setAttr(c, "name", &f.Name)
			return s.content(c, nil, func(c *tag) error {
				switch string(c.local) {
				case "memory":
					return s.text(c, &f.Memory)
				case "disk":
					return s.text(c, &f.Disk)
				case "swap":
					return s.text(c, &f.Swap)
				case "ephemeral":
					return s.text(c, &f.Ephemeral)
				case "vcpus":
					return s.text(c, &f.VCPUs)
				}
				return s.skip(c)
			})
		case "owner":
			return s.content(c, nil, func(c *tag) error {
				switch string(c.local) {
				case "user":
					return s.named(c, &n.Owner.User)
				case "project":
					return s.named(c, &n.Owner.Project)
				}
				return s.skip(c)
			})
		case "root":
			setAttr(c, "type", &n.Root.Type)
			setAttr(c, "uuid", &n.Root.UUID)
		case "ports":
			return s.content(c, nil, func(c *tag) error {
				if string(c.local) != "port" {
					return s.skip(c)
				}
				n.Ports = append(n.Ports, xmlNovaPort{})
				p := &n.Ports[len(n.Ports)-1]
				setAttr(c, "uuid", &p.UUID)
				return s.content(c, nil, func(c *tag) error {
					if string(c.local) != "ip" {
						return s.skip(c)
					}
					p.IPs = append(p.IPs, xmlNovaIP{})
					ip := &p.IPs[len(p.IPs)-1]
					setAttr(c, "type", &ip.Type)
					setAttr(c, "address", &ip.Address)
					setAttr(c, "ipVersion", &ip.Version)
					return s.skip(c)
				})
			})
		}
		return s.skip(c)
	})
}

// named reads an xmlNamed: its uuid attribute and its character data.
func (s *domScan) named(t *tag, n *xmlNamed) error {
	setAttr(t, "uuid", &n.UUID)
	return s.text(t, &n.Name)
}

func (s *domScan) iface(t *tag, x *xmlInterface) error {
	setAttr(t, "type", &x.Type)
	return s.content(t, nil, func(c *tag) error {
		switch string(c.local) {
		case "mac":
			setAttr(c, "address", &x.MAC.Address)
		case "source":
			src := &x.Source
			setAttr(c, "bridge", &src.Bridge)
			setAttr(c, "network", &src.Network)
			setAttr(c, "dev", &src.Dev)
			return s.content(c, nil, func(c *tag) error {
				if string(c.local) == "address" {
					a := &src.Address
					setAttr(c, "domain", &a.Domain)
					setAttr(c, "bus", &a.Bus)
					setAttr(c, "slot", &a.Slot)
					setAttr(c, "function", &a.Function)
				}
				return s.skip(c)
			})
		case "target":
			setAttr(c, "dev", &x.Target.Dev)
		case "model":
			setAttr(c, "type", &x.Model.Type)
		case "mtu":
			setAttr(c, "size", &x.MTU.Size)
		case "alias":
			setAttr(c, "name", &x.Alias.Name)
		}
		return s.skip(c)
	})
}

func (s *domScan) serial(t *tag, x *xmlSerial) error {
	setAttr(t, "type", &x.Type)
	return s.content(t, nil, func(c *tag) error {
		switch string(c.local) {
		case "source":
			setAttr(c, "path", &x.Source.Path)
		case "log":
			setAttr(c, "file", &x.Log.File)
		case "target":
			setAttr(c, "port", &x.Target.Port)
		}
		return s.skip(c)
	})
}

// entitiesOK reports whether every & in b starts one of the five
// predefined entities.
func entitiesOK(b []byte) bool {
	for {
		i := bytes.IndexByte(b, '&')
		if i < 0 {
			return true
		}
		b = b[i:]
		n := entityLen(b)
		if n == 0 {
			return false
		}
		b = b[n:]
	}
}

var entities = [...]struct {
	ref string
	c   byte
}{{"&lt;", '<'}, {"&gt;", '>'}, {"&amp;", '&'}, {"&apos;", '\''}, {"&quot;", '"'}}

// entityLen is the length of the predefined entity b starts with, 0 if
// none.
func entityLen(b []byte) int {
	for _, e := range entities {
		if bytes.HasPrefix(b, []byte(e.ref)) {
			return len(e.ref)
		}
	}
	return 0
}

// unescape decodes the predefined entities of b (checked by entitiesOK).
func unescape(b []byte) string {
	if bytes.IndexByte(b, '&') < 0 {
		return string(b)
	}
	out := make([]byte, 0, len(b))
	for len(b) > 0 {
		if b[0] != '&' {
			out = append(out, b[0])
			b = b[1:]
			continue
		}
		for _, e := range entities {
			if bytes.HasPrefix(b, []byte(e.ref)) {
				out = append(out, e.c)
				b = b[len(e.ref):]
				break
			}
		}
	}
	return string(out)
}
