package fakecloud

import (
	"context"
	"fmt"
	"io"
	"log"
	"net"
	"net/http"
	"net/netip"
	"sync"
	"time"
)

// Server serves a Cloud over HTTP on a loopback TCP address. Create it
// with Start or Cloud.Listen; Close stops it.
//
// A Server is safe for concurrent use; Close is idempotent.
type Server struct {
	cloud *Cloud
	url   string
	hs    *http.Server
	conns sync.WaitGroup
	done  chan struct{}
	stop  func() bool

	once sync.Once
	err  error
}

// Start creates a Cloud from cfg (nil: defaults) and serves it on
// 127.0.0.1 at a port the kernel picks, until Close or until ctx ends.
func Start(ctx context.Context, cfg *Config) (*Server, error) {
	return New(cfg).Listen(ctx, "")
}

// Listen serves the fake on addr until Close or until ctx ends, and points
// the catalog the fake's Keystone returns at it. addr must be a loopback
// IP and port ("127.0.0.1:0", "[::1]:8080"); "" means "127.0.0.1:0". The
// fake never listens on another address: it has no authentication worth
// the name.
//
// Listen may be called again on the same Cloud (the catalog then names
// the newest address); each Server must be closed.
func (c *Cloud) Listen(ctx context.Context, addr string) (*Server, error) {
	if addr == "" {
		addr = "127.0.0.1:0"
	}
	host, _, err := net.SplitHostPort(addr)
	if err != nil {
		return nil, fmt.Errorf("fakecloud: listen on %q: %w: want a loopback IP and port such as 127.0.0.1:0", addr, err)
	}
	if ip, err := netip.ParseAddr(host); err != nil || !ip.IsLoopback() {
		return nil, fmt.Errorf("fakecloud: listen on %q: the fake serves loopback addresses only: use 127.0.0.1:0 or [::1]:0", addr)
	}
	var lc net.ListenConfig
	ln, err := lc.Listen(ctx, "tcp", addr)
	if err != nil {
		return nil, fmt.Errorf("fakecloud: listen on %s: %w", addr, err)
	}
	s := &Server{cloud: c, url: "http://" + ln.Addr().String(), done: make(chan struct{})}
	s.hs = &http.Server{
		Handler:           c,
		ReadHeaderTimeout: 10 * time.Second,
		// net/http's own complaints (a client that hung up) go nowhere:
		// the fake prints nothing.
		ErrorLog: log.New(io.Discard, "", 0),
		ConnState: func(_ net.Conn, st http.ConnState) {
			switch st {
			case http.StateNew:
				s.conns.Add(1)
			case http.StateClosed, http.StateHijacked:
				s.conns.Done()
			}
		},
	}
	c.mu.Lock()
	c.base = s.url
	c.mu.Unlock()
	go func() {
		defer close(s.done)
		s.hs.Serve(ln) // returns http.ErrServerClosed after Close
	}()
	s.stop = context.AfterFunc(ctx, func() { s.Close() })
	return s, nil
}

// URL is the server's base URL, http://127.0.0.1:PORT.
func (s *Server) URL() string { return s.url }

// AuthURL is the Keystone v3 endpoint (the auth_url of a clouds.yaml).
func (s *Server) AuthURL() string { return s.url + "/identity/v3/" }

// Cloud is the fake the server serves.
func (s *Server) Cloud() *Cloud { return s.cloud }

// Close stops listening, closes every connection and waits until the
// server's goroutines (the accept loop and one per connection) have
// ended. It is idempotent; later calls return the first call's error.
func (s *Server) Close() error {
	s.once.Do(func() {
		s.stop()
		s.err = s.hs.Close()
		<-s.done
		s.conns.Wait()
	})
	return s.err
}
