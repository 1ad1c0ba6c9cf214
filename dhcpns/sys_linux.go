package dhcpns

import "golang.org/x/sys/unix"

const syscallESRCH = unix.ESRCH
