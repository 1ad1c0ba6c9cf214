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

// rewriter rewrites a lease file as dnsmasq does (truncate, then the rows
// in one write), every period, leaving it empty for about window each
// time, and records when each rewrite began and ended.
type rewriter struct {
	mu      sync.Mutex
	windows [][2]time.Time
	open    time.Time // start of the rewrite in progress (zero between rewrites)
}

func (w *rewriter) run(t *testing.T, path string, period, window time.Duration, stop <-chan struct{}) {
	f, err := os.OpenFile(path, os.O_RDWR, 0)
	if err != nil {
		t.Error(err)
		return
	}
	defer f.Close()
	for {
		select {
		case <-stop:
			return
		case <-time.After(period):
		}
		t0 := time.Now()
		w.mu.Lock()
		w.open = t0
		w.mu.Unlock()
		f.Truncate(0)
		time.Sleep(window)
		f.WriteAt([]byte(threeLeases), 0)
		w.mu.Lock()
		w.windows = append(w.windows, [2]time.Time{t0, time.Now()})
		w.open = time.Time{}
		w.mu.Unlock()
	}
}

// stalled reports whether a rewrite that left the file empty for at least
// d overlapped [from, to]: then the file really was empty that long, which
// no reader can tell from an empty lease file.
func (w *rewriter) stalled(from, to time.Time, d time.Duration) bool {
	w.mu.Lock()
	defer w.mu.Unlock()
	for _, iv := range w.windows {
		if iv[1].Sub(iv[0]) >= d && iv[0].Before(to) && iv[1].After(from) {
			return true
		}
	}
	// A rewrite still in progress (the writer descheduled between
	// truncate and write) that has already left the file empty for d.
	return !w.open.IsZero() && w.open.Before(to) && time.Since(w.open) >= d
}

func TestReadLeaseFileDuringInPlaceRewrites(t *testing.T) {
	path := filepath.Join(t.TempDir(), "leases")
	if err := os.WriteFile(path, []byte(threeLeases), 0o644); err != nil {
		t.Fatal(err)
	}
	var w rewriter
	stop := make(chan struct{})
	var wg sync.WaitGroup
	wg.Add(1)
	go func() { defer wg.Done(); w.run(t, path, 3*time.Millisecond, 500*time.Microsecond, stop) }()
	defer func() { close(stop); wg.Wait() }()

	// The writer really tears naive reads: os.ReadFile sees an empty file.
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
	stalls := 0
	for i := 0; i < 60; i++ {
		from := time.Now()
		ls, err := ReadLeaseFile(path)
		if err != nil {
			t.Fatalf("read %d: %v", i, err)
		}
		if len(ls.Rows) != 3 {
			if w.stalled(from, time.Now(), leaseEmptyHold) {
				// The writer was descheduled between truncate and
				// write for longer than the empty hold (a loaded
				// machine): the file was empty that long.
				stalls++
				continue
			}
			t.Fatalf("read %d: %d rows, want 3 (a torn read got through)", i, len(ls.Rows))
		}
	}
	if stalls > 10 {
		t.Errorf("%d of 60 reads overlapped a writer stall of %v or more: the machine is too loaded to tell", stalls, leaseEmptyHold)
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
	// An empty file is believed once it stayed empty for the hold.
	if el := time.Since(start); el < leaseEmptyHold || el > leaseMaxWait {
		t.Errorf("a settled empty file took %v to read; want between %v and %v", el, leaseEmptyHold, leaseMaxWait)
	}
	full := filepath.Join(dir, "full")
	if err := os.WriteFile(full, []byte(threeLeases), 0o644); err != nil {
		t.Fatal(err)
	}
	start = time.Now()
	if ls, err := ReadLeaseFile(full); err != nil || len(ls.Rows) != 3 {
		t.Errorf("settled file: %v rows, %v", ls, err)
	}
	if el := time.Since(start); el > 20*time.Millisecond {
		t.Errorf("a settled file took %v to read; want about one pause (2 ms)", el)
	}
}
