package fakecloud

import (
	"bytes"
	"net/http"
)

// Version discovery: what keystoneauth, openstacksdk and the openstack
// CLI fetch before anything else. Keystone's documents were not
// recorded; they are Keystone Zed's (identity API v3.14, the version
// Keystone has reported since Ussuri), with hrefs pointing at the fake.

// keystoneV3 is Keystone's GET /v3 document, unauthenticated.
func (c *Cloud) keystoneV3() obj {
	return obj{
		"id":      "v3.14",
		"status":  "stable",
		"updated": "2020-04-07T00:00:00Z",
		"links":   []obj{{"rel": "self", "href": c.base + "/identity/v3/"}},
		"media-types": []obj{{
			"base": "application/json",
			"type": "application/vnd.openstack.identity-v3+json",
		}},
	}
}

// identityVersions answers GET /identity/ (300, the list of versions) and
// GET /identity/v3/ (200, the v3 document), as Keystone does without a
// token. It reports whether it answered.
func (c *Cloud) identityVersions(w http.ResponseWriter, r *http.Request) bool {
	if r.Method != http.MethodGet && r.Method != http.MethodHead {
		return false
	}
	switch r.URL.Path {
	case "/identity", "/identity/":
		writeJSON(w, http.StatusMultipleChoices, obj{"versions": obj{"values": []obj{c.keystoneV3()}}})
	case "/identity/v3", "/identity/v3/":
		writeJSON(w, http.StatusOK, obj{"version": c.keystoneV3()})
	default:
		return false
	}
	return true
}

// recordedHosts are the endpoints the recorded version documents name;
// the fake serves them rewritten to its own base, so a client that
// follows a document's links (keystoneauth and openstacksdk do) comes
// back to the fake, never to a real service on this machine.
var recordedHosts = [][2]string{
	{"http://127.0.0.1:8774", "/compute"},
	{"http://127.0.0.1:9696", "/network"},
	{"http://127.0.0.1:9292", "/image"},
}

// rebase rewrites the recorded endpoints in a recorded body to the fake's.
func (c *Cloud) rebase(b []byte) []byte {
	for _, h := range recordedHosts {
		b = bytes.ReplaceAll(b, []byte(h[0]), []byte(c.base+h[1]))
	}
	return b
}

// isVersionRoot reports whether path is the version document at the
// root of Nova, Neutron or Glance, which the services answer without a
// token (openstacksdk asks without one first).
func isVersionRoot(path string) bool {
	switch path {
	case "/compute", "/compute/", "/network", "/network/", "/image", "/image/":
		return true
	}
	return false
}

// rebaseWriter holds a response until the handler is done, then writes it
// with the recorded endpoints rewritten to the fake's (Cloud.rebase): the
// recorded bodies' links (a flavor's, a server's, Glance's versions) then
// lead back to the fake.
type rebaseWriter struct {
	http.ResponseWriter
	status int
	buf    bytes.Buffer
}

func (w *rebaseWriter) WriteHeader(code int) {
	if w.status == 0 {
		w.status = code
	}
}

func (w *rebaseWriter) Write(b []byte) (int, error) {
	if w.status == 0 {
		w.status = http.StatusOK
	}
	return w.buf.Write(b)
}

// flush sends the held response; nothing when the handler answered
// nothing (a connection reset hijacked the connection).
func (w *rebaseWriter) flush(c *Cloud) {
	if w.status == 0 {
		return
	}
	w.ResponseWriter.WriteHeader(w.status)
	w.ResponseWriter.Write(c.rebase(w.buf.Bytes()))
}
