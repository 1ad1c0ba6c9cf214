//go:build !linux

package libvirtinspect

// oNoCTTYNonblock is 0 where the package does not rely on Linux open
// flags; ReadConsoleLog still refuses non-regular files.
const oNoCTTYNonblock = 0
