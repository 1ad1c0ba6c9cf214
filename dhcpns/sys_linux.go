package dhcpns

import (
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
