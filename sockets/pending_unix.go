//go:build unix

package sockets

import (
	"net"
	"syscall"
)

// kernelPending reports whether bytes are waiting to be read on c's socket, without
// consuming them and without blocking. It returns 0 when it cannot tell.
func kernelPending(c net.Conn) int {
	sc, ok := c.(syscall.Conn)
	if !ok {
		return 0
	}
	rc, err := sc.SyscallConn()
	if err != nil {
		return 0
	}
	var n int
	var buf [1]byte
	rc.Read(func(fd uintptr) bool {
		m, _, err := syscall.Recvfrom(int(fd), buf[:], syscall.MSG_PEEK|syscall.MSG_DONTWAIT)
		if err == nil {
			n = m
		}
		return true
	})
	return n
}
