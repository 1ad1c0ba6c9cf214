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

// versionDoc is the handler of a service's version document (recorded
// doc, rebased on the fake's URL), answered with status and no token.
func (c *Cloud) versionDoc(doc *[]byte, status int) func(http.ResponseWriter, *http.Request, []byte) {
	return func(w http.ResponseWriter, _ *http.Request, _ []byte) {
		w.Header().Set("Content-Type", "application/json")
		w.WriteHeader(status)
		w.Write(c.rebase(*doc))
	}
}

// versionRoutes registers a service's version document at its root
// ("/compute" and "/compute/").
func (c *Cloud) versionRoutes(root string, doc *[]byte, status int) {
	c.public("GET "+root, c.versionDoc(doc, status))
	c.public("GET "+root+"/{$}", c.versionDoc(doc, status))
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
