package dhcpns

import (
	"errors"
	"io/fs"
	"os"
	"path/filepath"
	"sync"
	"testing"
	"time"
)

const threeLeases = `1700000000 fa:16:3e:00:00:01 192.0.2.11 host-192-0-2-11 01:fa:16:3e:00:00:01
1700000000 fa:16:3e:00:00:02 192.0.2.12 host-192-0-2-12 01:fa:16:3e:00:00:02
1700000000 fa:16:3e:00:00:03 192.0.2.13 * *
`

// rewriteInPlace rewrites path as dnsmasq does (truncate, then write the
// rows in two halves), every period, until stop closes. Each rewrite leaves
// the file empty, then half written, for about window.
func rewriteInPlace(t *testing.T, path string, period, window time.Duration, stop <-chan struct{}) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	half := len(threeLeases) / 2
	for {
		select {
		case <-stop:
			return
		case <-time.After(period):
		}
		f.Truncate(0)
		time.Sleep(window / 2)
		f.WriteAt([]byte(threeLeases[:half]), 0)
		time.Sleep(window / 2)
		f.WriteAt([]byte(threeLeases[half:]), int64(half))
	}
}

func TestReadLeaseFileDuringInPlaceRewrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	if err := os.WriteFile(path, []byte(threeLeases), 0o644); err != nil {
		t.Fatal(err)
	}
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); rewriteInPlace(t, path, 3*time.Millisecond, 600*time.Microsecond, stop) }()
	defer func() { close(stop); wg.Wait() }()

	// The writer really tears naive reads: os.ReadFile sees a short file.
	torn, naive := 0, 0
	for deadline := time.Now().Add(3 * time.Second); torn == 0 && time.Now().Before(deadline); naive++ {
		b, err := os.ReadFile(path)
		if err != nil {
			t.Fatal(err)
		}
		if len(b) != len(threeLeases) {
			torn++
		}
		time.Sleep(50 * time.Microsecond)
	}
	if torn == 0 {
		t.Fatalf("%d plain reads never caught a rewrite in progress: the test does not exercise the race", naive)
	}
	for i := 0; i < 60; i++ {
		ls, err := ReadLeaseFile(path)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if len(ls.Rows) != 3 {
			t.Fatalf("read %d: %d rows, want 3 (a torn read got through)", i, len(ls.Rows))
		}
	}
}

func TestReadLeaseFileMissingAndEmpty(t *testing.T) {
	dir := t.TempDir()
	if _, err := ReadLeaseFile(filepath.Join(dir, "leases")); !errors.Is(err, fs.ErrNotExist) {
		t.Errorf("missing file: %v, want fs.ErrNotExist", err)
	}
	empty := filepath.Join(dir, "empty")
	if err := os.WriteFile(empty, nil, 0o644); err != nil {
		t.Fatal(err)
	}
	start := time.Now()
	ls, err := ReadLeaseFile(empty)
	if err != nil || len(ls.Rows) != 0 {
		t.Errorf("empty file: %+v, %v; want no rows, no error", ls, err)
	}
	if el := time.Since(start); el > 20*time.Millisecond {
		t.Errorf("a settled empty file took %v to read; want one pause (~2 ms)", el)
	}
}
