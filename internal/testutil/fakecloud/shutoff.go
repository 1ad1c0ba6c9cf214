package fakecloud

import (
	"bytes"
	"io"
	"net/http"
	"strings"
	"sync/atomic"
)

// ShutoffTransport serves requests through RT and, while On is set (always
// when On is nil), rewrites every server's status in GET …/servers…
// answers from ACTIVE to SHUTOFF, leaving its ports as they are: a server
// stopped while the node's path stays wired. (The fake's own os-stop
// turns the ports DOWN too, as the Linux bridge agent does.)
type ShutoffTransport struct {
	RT http.RoundTripper
	On *atomic.Bool
}

// RoundTrip implements http.RoundTripper.
func (s ShutoffTransport) RoundTrip(r *http.Request) (*http.Response, error) {
	resp, err := s.RT.RoundTrip(r)
	if err != nil || (s.On != nil && !s.On.Load()) || r.Method != http.MethodGet || !strings.Contains(r.URL.Path, "/servers") {
		return resp, err
	}
	b, err := io.ReadAll(resp.Body)
	resp.Body.Close()
	if err != nil {
		return nil, err
	}
	b = bytes.ReplaceAll(b, []byte(`"status": "ACTIVE"`), []byte(`"status": "SHUTOFF"`))
	b = bytes.ReplaceAll(b, []byte(`"status":"ACTIVE"`), []byte(`"status":"SHUTOFF"`))
	resp.Body = io.NopCloser(bytes.NewReader(b))
	resp.ContentLength = int64(len(b))
	resp.Header.Del("Content-Length")
	return resp, nil
}
