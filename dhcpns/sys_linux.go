package dhcpns

import (
	"crypto/rand"
	"io/fs"
	"syscall"

	"golang.org/x/sys/unix"
)

const syscallESRCH = unix.ESRCH

func sysIno(fi fs.FileInfo) uint64 {
	if st, ok := fi.Sys().(*syscall.Stat_t); ok {
		return st.Ino
	}
	return 0
}

func randRead(b []byte) (int, error) { return rand.Read(b) }
