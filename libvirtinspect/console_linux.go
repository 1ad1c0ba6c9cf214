package libvirtinspect

import "syscall"

// oNoCTTYNonblock keeps a console log open from ever becoming a
// controlling terminal or blocking (ReadConsoleLog refuses non-regular
// files after the open; these flags make the open itself harmless).
const oNoCTTYNonblock = syscall.O_NOCTTY | syscall.O_NONBLOCK
