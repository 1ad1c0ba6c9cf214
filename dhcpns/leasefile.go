package dhcpns

import (
	"bytes"
	"fmt"
	"io"
	"os"
	"time"
)

// leaseReadTries bounds ReadLeaseFile's re-reads of a file caught mid-rewrite.
const leaseReadTries = 20

// ReadLeaseFile reads and parses dnsmasq's lease file at path.
//
// dnsmasq rewrites its lease file in place (rewind, truncate, write, fsync),
// not by renaming a new file over it, so a reader can catch it empty or cut
// short. ReadLeaseFile reads until two reads a moment apart agree and the
// content ends in a newline, at most 20 times (about 40 ms), then parses the
// last read. A missing file is an error satisfying
// errors.Is(err, fs.ErrNotExist).
func ReadLeaseFile(path string) (*Leases, error) {
	b, err := readSettled(path, leaseReadTries, 2*time.Millisecond)
	if err != nil {
		return nil, fmt.Errorf("dhcpns: read lease file: %w", err)
	}
	return ParseLeasesBytes(b)
}

// readSettled reads path until two consecutive reads, pause apart, return
// the same bytes with the same modification time, and those bytes are empty
// or end in a newline; after tries reads it returns the last one. (A
// rewrite's truncation and its write each set the time, so two reads of
// one half-written state are told from two reads of a settled file.)
func readSettled(path string, tries int, pause time.Duration) ([]byte, error) {
	prev, prevT, err := readStamped(path)
	if err != nil {
		return nil, err
	}
	for i := 1; i < tries; i++ {
		time.Sleep(pause)
		cur, curT, err := readStamped(path)
		if err != nil {
			return nil, err
		}
		if curT.Equal(prevT) && bytes.Equal(cur, prev) && (len(cur) == 0 || cur[len(cur)-1] == '\n') {
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
