package dhcpns

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// How ReadLeaseFile waits out a rewrite in progress.
const (
	leasePause     = 2 * time.Millisecond   // between two reads
	leaseEmptyHold = 50 * time.Millisecond  // an empty file must stay empty this long
	leaseMaxWait   = 250 * time.Millisecond // then the last read is taken as it is
)

// ReadLeaseFile reads and parses dnsmasq's lease file at path.
//
// dnsmasq rewrites its lease file in place (rewind, truncate, write, fsync),
// not by renaming a new file over it, so a reader can catch it empty or cut
// short. ReadLeaseFile reads until two reads 2 ms apart agree in content and
// modification time and the content ends in a newline; an empty file must
// stay empty for 50 ms (a rewrite leaves it empty for microseconds). After
// 250 ms it parses the last read as it is. A missing file is an error
// satisfying errors.Is(err, fs.ErrNotExist).
func ReadLeaseFile(path string) (*Leases, error) {
	b, err := readSettled(path, leasePause, leaseEmptyHold, leaseMaxWait)
	if err != nil {
		return nil, fmt.Errorf("dhcpns: read lease file: %w", err)
	}
	return ParseLeasesBytes(b)
}

// readSettled reads path until two consecutive reads, pause apart, return
// the same bytes with the same modification time, and those bytes end in a
// newline, or are empty and have been for emptyHold; after maxWait it
// returns the last read. (A rewrite's truncation and its write each set
// the time, so two reads of one half-written state are told from two reads
// of a settled file.)
func readSettled(path string, pause, emptyHold, maxWait time.Duration) ([]byte, error) {
	start := time.Now()
	prev, prevT, err := readStamped(path)
	if err != nil {
		return nil, err
	}
	emptySince := start
	for time.Since(start) < maxWait {
		time.Sleep(pause)
		cur, curT, err := readStamped(path)
		if err != nil {
			return nil, err
		}
		same := curT.Equal(prevT) && bytes.Equal(cur, prev)
		switch {
		case !same:
			emptySince = time.Now()
		case len(cur) == 0:
			if time.Since(emptySince) >= emptyHold {
				return cur, nil
			}
		case cur[len(cur)-1] == '\n':
			return cur, nil
		}
		prev, prevT = cur, curT
	}
	return prev, nil
}

// readStamped reads the file and returns its modification time taken after
// the read.
func readStamped(path string) ([]byte, time.Time, error) {
	f, err := os.Open(path)
	if err != nil {
		return nil, time.Time{}, err
	}
	defer f.Close()
	b, err := io.ReadAll(f)
	if err != nil {
		return nil, time.Time{}, err
	}
	fi, err := f.Stat()
	if err != nil {
		return nil, time.Time{}, err
	}
	return b, fi.ModTime(), nil
}
