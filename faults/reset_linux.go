package faults

import (
	"net"
	"syscall"
	"unsafe"
)

// disconnect resets tc in place: connect(2) with AF_UNSPEC makes Linux
// send an RST, drop the queued data and record ECONNRESET as the socket's
// error, exactly as a peer's RST does, while the descriptor stays open, so
// the next read (the driver's, or a pool's liveness check on the
// descriptor) fails with ECONNRESET. It reports whether it worked.
func disconnect(tc *net.TCPConn) bool {
	rc, err := tc.SyscallConn()
	if err != nil {
		return false
	}
	var errno syscall.Errno
	err = rc.Control(func(fd uintptr) {
		sa := syscall.RawSockaddr{Family: syscall.AF_UNSPEC}
		_, _, errno = syscall.Syscall(syscall.SYS_CONNECT, fd, uintptr(unsafe.Pointer(&sa)), unsafe.Sizeof(sa))
	})
	return err == nil && errno == 0
}
