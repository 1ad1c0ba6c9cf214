package libvirtinspect

import (
	"context"
	"errors"
	"net"
	"sync"
	"testing"
	"time"
)

// blockDialer never returns until released.
type blockDialer struct{ release chan struct{} }

func (b blockDialer) Dial() (net.Conn, error) {
	<-b.release
	return nil, errors.New("released")
}

// silentDialer connects to a peer that reads everything and never answers:
// a hung libvirtd, without a daemon.
type silentDialer struct {
	mu    sync.Mutex
	peers []net.Conn
}

func (s *silentDialer) Dial() (net.Conn, error) {
	a, b := net.Pipe()
	s.mu.Lock()
	s.peers = append(s.peers, b)
	s.mu.Unlock()
	go func() {
		buf := make([]byte, 4096)
		for {
			if _, err := b.Read(buf); err != nil {
				return
			}
		}
	}()
	return a, nil
}

func TestDialTimeout(t *testing.T) {
	bd := blockDialer{release: make(chan struct{})}
	defer close(bd.release)
	c := New(bd, "test:///default", &Config{DialTimeout: 100 * time.Millisecond})
	defer c.Close()
	start := time.Now()
	_, err := c.Domains(context.Background())
	if !errors.Is(err, ErrUnavailable) {
		t.Fatalf("got %v, want ErrUnavailable", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("dial timeout 100ms took %v", d)
	}
}

func TestHungHandshakeHonoursCtx(t *testing.T) {
	sd := &silentDialer{}
	c := New(sd, "test:///default", nil)
	ctx, cancel := context.WithTimeout(context.Background(), 150*time.Millisecond)
	defer cancel()
	start := time.Now()
	_, err := c.Stats(ctx, nil)
	if !errors.Is(err, context.DeadlineExceeded) {
		t.Fatalf("got %v, want DeadlineExceeded", err)
	}
	if d := time.Since(start); d > time.Second {
		t.Errorf("ctx of 150ms held the caller %v", d)
	}
	done := make(chan struct{})
	go func() { c.Close(); close(done) }()
	select {
	case <-done:
	case <-time.After(10 * time.Second):
		t.Fatal("Close did not return on a hung peer")
	}
}

func TestClosedClient(t *testing.T) {
	c := New(&silentDialer{}, "", nil)
	c.Close()
	if _, err := c.Domains(context.Background()); !errors.Is(err, ErrClosed) {
		t.Errorf("after Close: %v", err)
	}
	if err := c.Close(); err != nil {
		t.Errorf("second Close: %v", err)
	}
}
